"""Diverged, collapsed and out-of-memory runs are recorded as failed; the suite goes on; failures are retried."""

from __future__ import annotations

from .conftest import SUITE, comparable, record, run_in_process

FAILING = SUITE.replace(
    "experiments:\n",
    """experiments:
  - id: diverge
    method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
    pretrain: {optimizer: {name: sgd, lr: 1.0e+6, base_batch_size: 64}}
  - id: collapse
    method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
    pretrain: {collapse_std_threshold: 1.0}   # std of normalised embeddings is always < 1: flagged as collapsed
  - id: oom
    method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
  - id: nan
    method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
""",
).replace("""  - id: byol
    method: {name: byol, proj_hidden_dim: 32, proj_output_dim: 16, pred_hidden_dim: 32, momentum_start: 0.9}
""", "")


def test_failed_runs_are_recorded_reported_and_retried(tmp_path, monkeypatch, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(FAILING)
    res = tmp_path / "results"
    monkeypatch.setenv("BENCH_FAULT", "oom_at_step:2@oom/*,nan_at_step:3@nan/*")
    from benchmark.cli import main

    monkeypatch.setenv("BENCH_THREADS", "1")
    assert main(["run", str(suite), "--results-dir", str(res), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "5 runs (4 failed)" in out

    assert record(res, "simclr/seed0")["status"] == "ok", "the suite went on after the failures"
    failures = {run: record(res, f"{run}/seed0") for run in ("diverge", "collapse", "oom", "nan")}
    assert {r: rec["status"] for r, rec in failures.items()} == dict.fromkeys(failures, "failed")
    kinds = {r: rec["failure"]["kind"] for r, rec in failures.items()}
    assert kinds == {"diverge": "diverged", "collapse": "collapsed", "oom": "out_of_memory", "nan": "diverged"}
    assert failures["oom"]["failure"]["step"] == 2 and "out of memory" in failures["oom"]["failure"]["reason"]
    assert failures["nan"]["failure"]["step"] == 3 and "nan" in failures["nan"]["failure"]["reason"].lower()
    assert 0 <= failures["diverge"]["failure"]["step"] < 7
    assert failures["collapse"]["failure"]["step"] == 7 and "collapsed" in failures["collapse"]["failure"]["reason"]
    for rec in failures.values():
        assert "metrics" not in rec and rec["config_hash"] and rec["provenance"]["packages"]

    report = (res / "report.md").read_text()
    for run, rec in failures.items():
        f = rec["failure"]
        assert f"{f['kind']} at step {f['step']}" in report, run

    # Rerun: the finished run is skipped, every failed run is tried again (the injected faults are gone now).
    done_mtime = (res / "runs/simclr/seed0/result.json").stat().st_mtime_ns
    assert run_in_process(suite, res, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "simclr/seed0: done already" in out and out.count("running") == 4
    assert (res / "runs/simclr/seed0/result.json").stat().st_mtime_ns == done_mtime
    for run in ("oom", "nan"):  # resumed from the step-2 checkpoint written before the fault, and exact
        rec = record(res, f"{run}/seed0")
        assert rec["status"] == "ok" and rec["pretrain"]["resumes"] == [2]
        assert comparable(rec) == comparable(record(res, "simclr/seed0")), "same training config as `simclr`"
    assert record(res, "diverge/seed0")["failure"]["kind"] == "diverged"
    assert record(res, "collapse/seed0")["failure"]["kind"] == "collapsed"
