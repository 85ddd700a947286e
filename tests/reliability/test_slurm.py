"""`bench run --launcher slurm` through submitit's local executor: one job per run, shared results, report."""

from __future__ import annotations

import pytest

from benchmark.cli import main

from .conftest import comparable, record

pytest.importorskip("submitit")


def test_slurm_launcher_runs_one_job_per_run_and_writes_the_report(reference, tmp_path, monkeypatch, capsys):
    suite, ref = reference
    res = tmp_path / "results"
    args = ("run", str(suite), "--results-dir", str(res), "--no-progress", "--launcher", "slurm", "--slurm-local",
            "--slurm-cpus", "1", "--slurm-time", "10")
    monkeypatch.setenv("BENCH_THREADS", "1")  # inherited by the job processes, as the reference run's thread count
    monkeypatch.delenv("BENCH_FAULT", raising=False)
    capsys.readouterr()
    assert main([*args]) == 0
    out = capsys.readouterr().out
    job_ids = [line.rsplit(" ", 1)[1] for line in out.splitlines() if "submitted as job" in line]
    assert len(job_ids) == 2 and len(set(job_ids)) == 2, out
    assert out.count("finished: ok") == 2
    for jid in job_ids:
        assert list((res / "slurm").glob(f"{jid}_0_log.out")), "one submitit job (with its log) per run"
    for run in ("simclr/seed0", "byol/seed0"):
        rec = record(res, run)
        assert rec["status"] == "ok"
        assert comparable(rec) == comparable(record(ref, run)), "same numbers as a local `bench run`"
    assert "| simclr |" in (res / "report.md").read_text()

    # Rerun: nothing left to submit.
    assert main([*args]) == 0
    out = capsys.readouterr().out
    assert out.count("done already") == 2 and "submitted" not in out


def test_without_slurm_the_launcher_says_how_to_proceed(reference, tmp_path, capsys):
    import shutil

    if shutil.which("sbatch"):
        pytest.skip("sbatch is available here: this is a SLURM machine")
    suite, _ = reference
    code = main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--launcher", "slurm"])
    err = capsys.readouterr().err
    assert code == 2 and "no SLURM cluster found" in err and "--slurm-local" in err


def test_slurm_no_wait_returns_after_submitting_and_the_jobs_still_write_their_records(reference, tmp_path,
                                                                                        monkeypatch, capsys):
    import time

    suite, ref = reference
    res = tmp_path / "results"
    monkeypatch.setenv("BENCH_THREADS", "1")
    monkeypatch.delenv("BENCH_FAULT", raising=False)
    capsys.readouterr()
    assert main(["run", str(suite), "--results-dir", str(res), "--no-progress", "--launcher", "slurm", "--slurm-local",
                 "--slurm-cpus", "1", "--slurm-time", "10", "--slurm-no-wait"]) == 0
    out = capsys.readouterr().out
    assert out.count("submitted as job") == 2 and f"2 jobs submitted; when they finish: bench report {res}" in out
    assert "finished: ok" not in out and not (res / "report.md").exists(), "returned without waiting"
    records = [res / "runs" / run / "result.json" for run in ("simclr/seed0", "byol/seed0")]
    deadline = time.monotonic() + 300
    while not all(p.exists() for p in records) and time.monotonic() < deadline:
        time.sleep(1)
    assert all(p.exists() for p in records), "the submitted jobs wrote their records after bench returned"
    for run in ("simclr/seed0", "byol/seed0"):
        assert comparable(record(res, run)) == comparable(record(ref, run))
    assert main(["report", str(res)]) == 0 and (res / "report.md").exists()
