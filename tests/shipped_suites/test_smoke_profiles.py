"""Each suite's ``smoke`` profile runs end to end: pretraining, probes, records, report with claims and figures.

These are the runs CI makes (a handful of tiny runs per suite, about 1-2 minutes each on 2 cores): digits images,
a tiny ConvNet, at most 5 optimizer steps, probes of at most 5 epochs. Numbers are meaningless; the wiring is not.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from benchmark.cli import main

REPO = Path(__file__).resolve().parents[2]
SMOKE_SUITES = sorted(
    p for p in (REPO / "suites").glob("*.yaml")
    if not p.name.startswith("_") and "smoke" in (yaml.safe_load(p.read_text()).get("profiles") or {})
)


def test_every_paper_suite_has_a_smoke_profile():
    names = {p.stem for p in SMOKE_SUITES}
    assert {"or_neurips24", "sfrik_iclr23", "uniform_prior_iclr23", "lightly_benchmarks",
            "solo_learn_benchmarks"} <= names


@pytest.mark.parametrize("suite", SMOKE_SUITES, ids=[p.stem for p in SMOKE_SUITES])
def test_smoke_profile_runs_end_to_end(suite, tmp_path, capsys):
    import torch

    torch.set_num_threads(1)
    results = tmp_path / "results"
    code = main(["run", str(suite), "--profile", "smoke", "--results-dir", str(results), "--data-root", str(tmp_path),
                 "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]

    assert main(["plan", str(suite), "--profile", "smoke"]) == 0
    planned = [ln.split()[0] for ln in capsys.readouterr().out.splitlines() if f"{suite.stem}/smoke/" in ln]
    records = [json.loads(p.read_text()) for p in sorted(results.glob("runs/**/result.json"))]
    assert sorted(r["run_id"] for r in records) == sorted(planned)
    for rec in records:
        assert rec["status"] == "ok", (rec["run_id"], rec.get("failure"))
        assert 1 <= rec["pretrain"]["steps"] <= 5
        if rec["config"]["experiment"]["eval"]["probes"]:
            for probe, values in rec["metrics"].items():
                assert 0.0 <= values["top1"] <= 100.0, (rec["run_id"], probe)

    md = (results / "report.md").read_text()
    assert f"## {suite.stem} — profile `smoke`" in md
    assert "<table>" in (results / "report.html").read_text()
    claims_csv = results / "claims.csv"
    assert claims_csv.exists()
    claims = list(csv.DictReader(claims_csv.open()))
    baselines = yaml.safe_load((REPO / "baselines" / f"{suite.stem}.yaml").read_text())
    assert {c["claim"] for c in claims} == {c["id"] for c in baselines.get("claims") or []}
    for c in claims:  # one seed per smoke run: nothing can be decided, and nothing may be claimed
        assert c["verdict"].split(" ", 1)[1] in ("inconclusive", "not checked"), c
