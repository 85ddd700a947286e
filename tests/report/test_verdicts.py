"""The verdicts block at the top of the report, the power columns of claims.csv, and the sequential design."""

from __future__ import annotations

import csv
import math

import pytest

from benchmark.report import make_report
from benchmark.report.power import minimum_detectable_effect, seeds_needed_fixed
from benchmark.report.sequential import sequential_verdict
from benchmark.results.store import ResultsStore
from tests.report import synthetic


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdicts")
    results, baselines = synthetic.write_results(root)
    return make_report(results, [baselines], figures=False, max_seeds=6)


def test_verdicts_come_first_with_their_scale(report):
    md = report["md"].read_text()
    assert md.index("## Verdicts") < md.index("## synth — profile `cpu`") < md.index("## Claims")
    block = md.split("## Verdicts", 1)[1].split("\n## ", 1)[0]
    assert "3 of 3 judged claims decided" in block
    line = next(ln for ln in block.splitlines() if ln.startswith("- `so_helps_byol`"))
    assert "✓ reproduced" in line and "3 seeds (0–2)" in line
    assert "Δ = 0.7 points, 95 % interval [" in line and "] points (linear.top1)" in line  # the claim's unit
    assert "checked at cpu: npz n=8336, resnet18-w16, 8 ep / 256 steps" in line
    assert "1 have no runs in these results (not checked)" in block
    page = report["html"].read_text()
    assert page.index("<h2 id='verdicts'>Verdicts</h2>") < page.index("<table")


def test_claims_csv_carries_the_power_analysis(report):
    rows = {r["claim"]: r for r in csv.DictReader(report["claims_csv"].open())}
    so = rows["so_helps_byol"]  # synthetic differences 0.6, 0.7, 0.8: sd 0.1
    assert float(so["paired_sd"]) == pytest.approx(0.1, rel=1e-3)
    assert float(so["mde"]) == pytest.approx(minimum_detectable_effect(0.1, 3), rel=1e-3)
    assert so["seeds_needed"] == str(seeds_needed_fixed(0.7, 0.1))
    assert so["design"] == "fixed seeds: 95% t-interval"
    assert rows["never_run"]["paired_sd"] == "" and rows["never_run"]["design"] == ""


def _rec(variant: str, seed: int, top1: float) -> dict:
    return {"suite": "synth", "profile": "cpu", "experiment": "byol_c10", "variant": variant, "seed": seed,
            "status": "ok", "config": {"experiment": {"seeds": [0, 1, 2]}},
            "data": {"dataset": "npz", "n_train": 8336}, "pretrain": {"epochs": 8, "steps": 256},
            "metrics": {"linear": {"top1": top1, "top5": 90.0}}}

def _report_with_paired_differences(tmp_path, diffs: list[float]) -> tuple[dict, dict]:
    """Records of BYOL ± SO whose per-seed differences are ``diffs`` (seed k = diffs[k]), the report over them and
    the ``so_helps_byol`` row of its claims.csv."""
    store = ResultsStore(tmp_path / "results")
    for seed, d in enumerate(diffs):
        store.write(f"byol_c10/so-gamma1e-06/seed{seed}", _rec("so-gamma1e-06", seed, 60.0 + d))
        store.write(f"byol_c10/none/seed{seed}", _rec("none", seed, 60.0))
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    (baselines / "synth.yaml").write_text(synthetic.BASELINES)
    paths = make_report(tmp_path / "results", [baselines], figures=False)
    row = next(r for r in csv.DictReader(paths["claims_csv"].open()) if r["claim"] == "so_helps_byol")
    return paths, row


def test_added_seeds_switch_a_claim_to_the_confidence_sequence(tmp_path):
    """Seeds outside the records' planned ``seeds`` mean --until-decided added them: the t-interval no longer
    holds, the claim is judged by the confidence sequence (here wide enough to stay undecided although the
    t-interval over the same 6 pairs would exclude 0)."""
    diffs = [1.0, 0.2, 1.4, 0.3, 1.1, 0.6]
    paths, row = _report_with_paired_differences(tmp_path, diffs)
    seq = sequential_verdict(diffs, sign=1, margin=0.0)
    assert row["design"].startswith("seeds added sequentially") and row["verdict"].endswith("inconclusive")
    lo, hi = (float(x) for x in row["ci95"].strip("[]").split(", "))
    assert lo == pytest.approx(seq.low, rel=1e-3) and hi == pytest.approx(seq.high, rel=1e-3) and lo < 0 < hi
    mean = sum(diffs) / 6
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 5)
    assert mean - 2.571 * sd / math.sqrt(6) > 0  # the naive t-interval would have called it reproduced
    assert "seeds 3 4 5 added beyond the profile's seeds" in row["reason"]
    block = paths["md"].read_text().split("## Verdicts", 1)[1].split("\n## ", 1)[0]
    assert "95 % confidence sequence" in block and "(seeds added by --until-decided)" in block


def test_a_claim_decided_at_the_profile_seeds_keeps_that_verdict(tmp_path):
    """Seeds added to a shared arm for another claim do not reopen a claim the profile's own seeds decided: the
    procedure stopped it there (what the error bound of the sequential design assumes)."""
    diffs = [0.6, 0.7, 0.8, -3.0, -2.5]  # decided by seeds 0-2; seeds 3-4 (added later) point the other way
    paths, row = _report_with_paired_differences(tmp_path, diffs)
    assert row["verdict"] == "✓ reproduced"
    assert row["design"] == "fixed seeds: 95% t-interval" and row["n_pairs"] == "3" and row["seeds"] == "0 1 2"
    assert "seeds 3 4, added for other claims, not used" in row["reason"]
