"""Ctrl-C (issue 13): `bench run` says which run was interrupted, where it resumes and how; the rerun resumes."""

from __future__ import annotations

from .conftest import bench, record


def test_ctrl_c_prints_the_run_its_checkpoint_and_the_resume_command(tmp_path, suite_file):
    suite = suite_file()
    results = tmp_path / "results"
    args = ["run", str(suite), "--results-dir", str(results), "--no-progress"]
    # step 4 completes after the checkpoint of step 4 (every 2 steps): SIGINT in the 2nd run (byol)
    out = bench(*args, fault="sigint_after_step:4@byol/seed0")
    assert out.returncode == 130, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "interrupted during run 2/2 rel/paper/byol/seed0: it resumes from its last checkpoint (step 4)" in out.stderr
    assert f"1 finished runs are kept in {results}" in out.stderr
    assert f"resume with: bench {' '.join(args)}" in out.stderr
    assert (results / "runs" / "simclr" / "seed0" / "result.json").exists()
    assert not (results / "runs" / "byol" / "seed0" / "result.json").exists()

    again = bench(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "done already" in again.stdout
    assert record(results, "byol/seed0")["pretrain"]["resumed_from_step"] == 4
