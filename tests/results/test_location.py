"""Issue 13: results go outside the repository by default; committed results are read-only; suite.json is portable."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.errors import ResultsError
from benchmark.report import recorded_suite
from benchmark.results.location import check_writable, default_results_dir, results_root
from benchmark.results.store import ResultsStore
from benchmark.results.suite_meta import REPO_ROOT, write_suite_meta
from benchmark.suite.loader import load_suite
from benchmark.suite.plan import make_plan

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_default_results_dir_is_bench_results_or_the_per_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "mine"))
    assert default_results_dir("smoke", "digits") == tmp_path / "mine" / "smoke" / "digits"
    assert results_root()[1] == "$BENCH_RESULTS"
    monkeypatch.delenv("BENCH_RESULTS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # platformdirs' user data dir on Linux
    root, how = results_root()
    assert root == tmp_path / "xdg" / "ssl-repro-bench" / "results" and "per-user" in how
    assert REPO_ROOT not in default_results_dir("smoke", "digits").parents


@pytest.fixture
def git_checkout(tmp_path: Path) -> Path:
    """A git repository with one committed results file under results/e2e/paper."""
    repo = tmp_path / "repo"
    (repo / "results" / "e2e" / "paper").mkdir(parents=True)
    (repo / "results" / "e2e" / "paper" / "report.md").write_text("committed\n")
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "results"], cwd=repo, check=True)
    return repo


@needs_git
def test_committed_results_are_refused_unless_named_explicitly(git_checkout):
    tracked = git_checkout / "results" / "e2e" / "paper"
    with pytest.raises(ResultsError) as info:
        check_writable(tracked, explicit=False)
    assert "tracked by git" in info.value.message and f"--results-dir {tracked}" in (info.value.hint or "")
    warning = check_writable(tracked, explicit=True)
    assert warning and "overwritten" in warning
    assert check_writable(git_checkout / "results" / "e2e" / "other", explicit=False) is None
    assert check_writable(git_checkout.parent / "elsewhere", explicit=False) is None


SUITE = textwrap.dedent(
    """\
    suite: e2e
    defaults:
      data: {dataset: digits, params: {size: 16}, input_size: 16, normalize: none}
      backbone: {name: tiny, width: 8}
      pretrain: {epochs: 1, max_steps: 1, batch_size_per_device: 64}
    experiments:
      - id: a
        method: {name: simclr}
    """
)


@needs_git
def test_bench_run_refuses_committed_results_reached_through_bench_results(git_checkout, tmp_path, monkeypatch, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    monkeypatch.setenv("BENCH_RESULTS", str(git_checkout / "results"))
    assert main(["run", str(suite), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "tracked by git" in err and "--results-dir" in err
    assert sorted(p.name for p in (git_checkout / "results" / "e2e" / "paper").iterdir()) == ["report.md"]


def test_suite_json_stores_repository_relative_paths(tmp_path, monkeypatch):
    plan = make_plan(load_suite(REPO_ROOT / "suites" / "or_neurips24.yaml"), "smoke")
    store = ResultsStore(tmp_path / "results")
    write_suite_meta(plan, store, REPO_ROOT / "baselines" / "or_neurips24.yaml")
    meta = json.loads((tmp_path / "results" / "suite.json").read_text())
    assert meta["suite_file"] == "suites/or_neurips24.yaml"
    assert meta["baselines"] == "baselines/or_neurips24.yaml"
    assert str(REPO_ROOT) not in (tmp_path / "results" / "suite.json").read_text()
    monkeypatch.chdir(tmp_path)  # a report made from anywhere finds the suite file again
    suite, problem = recorded_suite(tmp_path / "results")
    assert problem is None and suite is not None and suite.name == "or_neurips24"
