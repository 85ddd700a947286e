"""SIGKILL `bench run` at fixed points, rerun, and get bit-identical results (CPU); same config → same numbers.

The kills come from the test-only ``BENCH_FAULT`` hooks (benchmark/train/faults.py) in real ``python -m
benchmark.cli run`` subprocesses; the uninterrupted reference (and the final clean rerun) run in this process, so the
comparison also shows that results do not depend on the process that produced them. All processes use one thread.
"""

from __future__ import annotations

import signal
from pathlib import Path

from benchmark.train.checkpoint import load_checkpoint

from .conftest import bench, comparable, record, run_in_process

KILLED = -signal.SIGKILL


def _ckpt_step(results: Path, run_path: str) -> int:
    return int(load_checkpoint(results / "runs" / run_path / "checkpoints" / "last.ckpt")["global_step"])


def test_same_suite_and_seed_give_identical_metrics(reference, tmp_path, monkeypatch):
    suite, ref = reference
    assert run_in_process(suite, tmp_path / "again", monkeypatch) == 0
    for run in ("byol/seed0", "simclr/seed0"):
        a, b = record(ref, run), record(tmp_path / "again", run)
        assert a["status"] == b["status"] == "ok"
        assert comparable(a) == comparable(b), run
        assert a["pretrain"]["steps"] == 7 and len(a["pretrain"]["loss_history"]) == 7
    # The comparison is sensitive: the two methods (different losses, same data) do not agree.
    assert comparable(record(ref, "byol/seed0"))["metrics"] != comparable(record(ref, "simclr/seed0"))["metrics"]


def test_kill_at_every_stage_then_resume_is_bit_identical(reference, tmp_path, monkeypatch, capsys):
    suite, ref = reference
    res = tmp_path / "results"
    args = ("run", str(suite), "--results-dir", str(res), "--no-progress")
    byol_dir = res / "runs/byol/seed0"

    # 1. simclr finishes; byol is killed during pretraining, while writing the checkpoint of step 6 (epoch 2, batch 0):
    #    last.ckpt is still the complete step-4 file (mid-epoch 1) and the partial temp file never replaced it
    p = bench(*args, fault="mid_checkpoint:6@byol/*")
    assert p.returncode == KILLED, p.stdout + p.stderr
    assert record(res, "simclr/seed0")["status"] == "ok"
    assert list((byol_dir / "checkpoints").glob(".last.ckpt.*.tmp")), "the kill landed inside the atomic write"
    assert _ckpt_step(res, "byol/seed0") == 4
    assert not (byol_dir / "result.json").exists()
    simclr_mtime = (res / "runs/simclr/seed0/result.json").stat().st_mtime_ns

    # 2. byol resumes from step 4, finishes pretraining (final checkpoint), probes, is killed before the record
    p = bench(*args, fault="before_record@byol/*")
    assert p.returncode == KILLED, p.stdout + p.stderr
    assert "simclr/seed0: done already" in p.stdout
    assert "resuming pretraining from step 4" in p.stdout
    assert not list((byol_dir / "checkpoints").glob(".last.ckpt.*.tmp")), "stale temp files are cleaned up"
    assert _ckpt_step(res, "byol/seed0") == 7, "the end of pretraining is checkpointed"
    assert not (byol_dir / "result.json").exists()

    # 3. byol resumes at its final step (no retraining), probes, is killed while result.json is being written
    p = bench(*args, fault="mid_record@byol/*")
    assert p.returncode == KILLED, p.stdout + p.stderr
    assert "resuming pretraining from step 7" in p.stdout
    assert not (byol_dir / "result.json").exists()
    assert list(byol_dir.glob(".result.json.*.tmp")), "the kill landed inside the atomic write"

    # 4. a clean rerun (in this process: nothing is killed any more) completes the suite without redoing simclr
    capsys.readouterr()
    assert run_in_process(suite, res, monkeypatch) == 0
    assert "simclr/seed0: done already" in capsys.readouterr().out
    assert (res / "runs/simclr/seed0/result.json").stat().st_mtime_ns == simclr_mtime, "finished runs are not redone"
    byol = record(res, "byol/seed0")
    assert byol["status"] == "ok"
    # the history lives in the checkpoint: step 3's resume at 7 wrote no newer checkpoint, so it is not listed twice
    assert byol["pretrain"]["resumed_from_step"] == 7 and byol["pretrain"]["resumes"] == [4, 7]
    assert (res / "report.md").exists()

    for run in ("simclr/seed0", "byol/seed0"):
        assert comparable(record(res, run)) == comparable(record(ref, run)), run


def test_a_wording_edit_between_kill_and_rerun_still_resumes_and_skips(tmp_path, suite_file):
    """Titles and notes are not part of the computation: editing them keeps checkpoints and finished records."""
    from .conftest import SUITE

    res = tmp_path / "results"
    suite = suite_file()
    p = bench("run", str(suite), "--results-dir", str(res), "--no-progress", fault="after_step:4@byol/*")
    assert p.returncode == KILLED, p.stdout + p.stderr
    edited = SUITE.replace("  - id: byol\n", "  - id: byol\n    title: BYOL, retitled after the kill\n").replace(
        "  - id: simclr\n", "  - id: simclr\n    assumptions: [a note added after the run]\n")
    assert edited != SUITE
    suite_file(edited)
    p = bench("run", str(suite), "--results-dir", str(res), "--no-progress")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "simclr/seed0: done already" in p.stdout
    assert "resuming pretraining from step 4" in p.stdout
    assert record(res, "byol/seed0")["status"] == "ok"
