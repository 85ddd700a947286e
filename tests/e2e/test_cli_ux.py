"""`bench run` from a new user's side (issue 13): default results directory, command-line overrides in the config
and hash, the CSV logger, optional loggers checked before the first run, `bench --version`."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.results.store import ResultsStore
from benchmark.suite.loader import load_suite
from benchmark.suite.plan import make_plan

SUITE = textwrap.dedent(
    """\
    suite: ux
    defaults:
      data: {dataset: digits, params: {size: 16}, input_size: 16, normalize: none}
      backbone: {name: tiny, width: 8}
      augment: {params: {gaussian_blur: 0.0}}
      pretrain:
        epochs: 1
        max_steps: 6
        batch_size_per_device: 64
        optimizer: {name: sgd, lr: 0.05, base_batch_size: 64}
        schedule: {name: cosine}
        checkpoint_every_n_steps: 2
      eval:
        probes: [{name: knn, k: 10}]
    experiments:
      - id: simclr
        method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16, temperature: 0.5}
    """
)
OVERRIDES = ["method.temperature=0.3", "--seeds", "1", "--steps", "2"]


@pytest.fixture(scope="module")
def overridden_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ux")
    suite = root / "s.yaml"
    suite.write_text(SUITE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_RESULTS", str(root / "bench-results"))
        code = main(["run", str(suite), *OVERRIDES, "--no-progress"])
    return root, suite, root / "bench-results" / "ux" / "paper", code


def test_default_results_dir_is_under_bench_results(overridden_run):
    _, _, results, code = overridden_run
    assert code == 0
    assert (results / "runs" / "simclr" / "seed1" / "result.json").exists()
    assert json.loads((results / "suite.json").read_text())["suite"] == "ux"


def test_overrides_are_in_the_record_config_and_hash(overridden_run):
    _, suite, results, _ = overridden_run
    rec = json.loads((results / "runs" / "simclr" / "seed1" / "result.json").read_text())
    assert rec["overrides"] == ["method.temperature=0.3", "--seeds 1", "--steps 2"]
    exp = rec["config"]["experiment"]
    assert exp["method"]["temperature"] == 0.3 and exp["pretrain"]["max_steps"] == 2 and rec["seed"] == 1
    assert rec["pretrain"]["steps"] == 2
    store = ResultsStore(results)
    plain = [r for r in make_plan(load_suite(suite), overrides=[]).runs]
    from benchmark.suite.overrides import collect

    only_seed = make_plan(load_suite(suite), overrides=collect([], seeds="1")).runs[0]
    assert not store.is_done(only_seed.path, only_seed.config_hash, only_seed.computation_hash), \
        "the un-overridden run (temperature 0.5, 6 steps) must not reuse the overridden record"
    assert plain[0].path == "simclr/seed0"


def test_rerun_with_the_same_overrides_is_skipped(overridden_run, capsys, monkeypatch):
    root, suite, _, _ = overridden_run
    monkeypatch.setenv("BENCH_RESULTS", str(root / "bench-results"))
    assert main(["run", str(suite), *OVERRIDES, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"results directory: {root / 'bench-results' / 'ux' / 'paper'} ($BENCH_RESULTS" in out
    assert "done already" in out


def test_csv_logger_writes_the_loss_into_the_run_dir(overridden_run):
    _, _, results, _ = overridden_run
    run_dir = results / "runs" / "simclr" / "seed1"
    rec = json.loads((run_dir / "result.json").read_text())
    assert rec["pretrain"]["logs"] == {"csv": "logs/csv"}
    rows = list(csv.DictReader((run_dir / "logs" / "csv" / "metrics.csv").open()))
    assert rows and "train/loss" in rows[0]
    logged = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    history = [loss for _, loss in rec["pretrain"]["loss_history"]]
    assert logged and all(any(v == pytest.approx(h, rel=1e-5) for h in history) for v in logged)


def test_missing_logger_package_is_reported_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("benchmark.train.loggers._installed", lambda module: False)
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    code = main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--logger", "tensorboard", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "needs the 'tensorboard' package" in err and "pip install tensorboard" in err
    assert not (tmp_path / "r" / "runs").exists()


def test_tensorboard_logger_when_installed(tmp_path, capsys):
    import importlib.util

    if not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        pytest.skip("neither tensorboard nor tensorboardX is installed (optional: pip install tensorboard)")
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--logger", "tensorboard", "--logger",
                 "csv", "--steps", "2", "--no-progress"]) == 0
    run_dir = tmp_path / "r" / "runs" / "simclr" / "seed0"
    assert list((run_dir / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert (run_dir / "logs" / "csv" / "metrics.csv").exists()


def test_version_names_package_torch_lightly_and_commit(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert out.startswith("ssl-repro-bench ") and "torch " in out and "lightly 1.6" in out
    assert "commit " in out or "not a git checkout" in out
    assert Path(__file__).exists()
