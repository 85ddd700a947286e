"""``bench run --until-decided`` end to end on real (bundled) digits images, tiny runs.

A profile planning seed 0 only, two claims sharing both arms: the command must reuse seed 0, add seed 1 to both
arms once (not once per claim), respect ``--budget-hours`` and ``--max-seeds``, print each round, and the report
must judge the extended claims by the confidence sequence.
"""

from __future__ import annotations

import csv
import json
import textwrap

import pytest

from benchmark.cli import main

from .tiny_digits import tiny_digits_defaults

SEQ_SUITE = textwrap.dedent("""\
    suite: seq
    baselines: b.yaml
""") + tiny_digits_defaults(seeds="[0]") + textwrap.dedent("""\
    experiments:
      - id: vicreg
        method: {name: vicreg, proj_hidden_dim: 32, proj_output_dim: 32}
        grid:
          regularizer: [{name: none}, {name: so, gamma: 1.0e-3}]
      - id: other
        method: {name: vicreg, proj_hidden_dim: 32, proj_output_dim: 32}
""")

SEQ_BASELINES = textwrap.dedent("""\
    paper: seq
    citation: "test"
    claims:
      - {id: so_raises_knn, statement: "SO raises kNN top-1", source: {paper: test}, metric: knn.top1,
         treatment: {experiment: vicreg, variant: so-gamma0.001}, control: {experiment: vicreg, variant: none},
         expect: greater}
      - {id: so_lowers_loss, statement: "SO lowers the final loss", source: {paper: test}, metric: pretrain.final_loss,
         treatment: {experiment: vicreg, variant: so-gamma0.001}, control: {experiment: vicreg, variant: none},
         expect: less}
      - {id: other_vs_none, statement: "other vs none", source: {paper: test}, metric: knn.top1,
         treatment: {experiment: other}, control: {experiment: vicreg, variant: none}, expect: greater}
""")


def _records(results):
    return {p.parent.relative_to(results / "runs").as_posix(): json.loads(p.read_text())
            for p in sorted(results.glob("runs/**/result.json"))}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("seq")
    (root / "s.yaml").write_text(SEQ_SUITE)
    (root / "b.yaml").write_text(SEQ_BASELINES)
    return root, root / "results"


def _run(capsys, root, results, *flags):
    code = main(["run", str(root / "s.yaml"), "--results-dir", str(results), "--no-progress", "--only", "vicreg",
                 "--until-decided", *flags])
    return code, capsys.readouterr().out


def test_until_decided_budget_dry_run_then_extension(sequential, capsys):
    root, results = sequential
    # 1. a budget already spent by the profile's own seed: seed 0 runs, no round starts
    code, out = _run(capsys, root, results, "--max-seeds", "2", "--budget-hours", "1e-6")
    assert code == 0, out
    assert sorted(_records(results)) == ["vicreg/none/seed0", "vicreg/so-gamma0.001/seed0"]
    assert "-> budget:" in out and "other_vs_none" in out.split("left out:")[1].splitlines()[0]
    before = {p: (results / "runs" / p / "result.json").read_bytes() for p in _records(results)}

    # 2. a dry run names the next round and runs nothing
    code, out = _run(capsys, root, results, "--max-seeds", "2", "--dry-run")
    assert code == 0 and "would run seq/paper/vicreg/none/seed1" in out and "vicreg/so-gamma0.001/seed1" in out
    assert sorted(_records(results)) == sorted(before)

    # 3. the extension: seed 1 of both arms, once for the two claims sharing them; seed 0 reused as it was
    code, out = _run(capsys, root, results, "--max-seeds", "2")
    assert code == 0, out
    records = _records(results)
    assert sorted(records) == ["vicreg/none/seed0", "vicreg/none/seed1", "vicreg/so-gamma0.001/seed0",
                               "vicreg/so-gamma0.001/seed1"]
    assert all((results / "runs" / p / "result.json").read_bytes() == b for p, b in before.items())
    assert out.count("vicreg/none/seed1: running") == 1 and "vicreg/none/seed0: done already" in out
    assert records["vicreg/none/seed1"]["config"]["experiment"]["seeds"] == [0]  # added beyond the design
    assert "until-decided round 1: seed(s) [1] for 2 claim(s): 2 runs" in out
    assert "-> max seeds: 2 pairs = --max-seeds 2" in out

    claims = {r["claim"]: r for r in csv.DictReader((results / "claims.csv").open())}
    for cid in ("so_raises_knn", "so_lowers_loss"):
        row = claims[cid]
        assert row["n_pairs"] == "2" and row["seeds"] == "0 1", row
        assert row["design"].startswith("seeds added sequentially"), row
        assert "added beyond the profile's seeds" in row["reason"]
        assert row["verdict"].endswith("inconclusive")  # a 95 % confidence sequence is unbounded at 2 pairs
    md = (results / "report.md").read_text()
    verdicts = md.split("## Verdicts", 1)[1].split("\n## ", 1)[0]
    assert "`so_raises_knn` (paper)" in verdicts and "(seeds added by --until-decided)" in verdicts
    assert md.index("## Verdicts") < md.index("## seq — profile `paper`")


def test_sequential_flags_need_until_decided(sequential, capsys):
    root, results = sequential
    code = main(["run", str(root / "s.yaml"), "--results-dir", str(results), "--max-seeds", "4"])
    assert code == 2 and "--max-seeds only apply with --until-decided" in capsys.readouterr().err
    code = main(["run", str(root / "s.yaml"), "--results-dir", str(results), "--until-decided", "--claims", "nope*",
                 "--dry-run"])
    assert code == 2 and "--claims 'nope*' matches no claim id" in capsys.readouterr().err
