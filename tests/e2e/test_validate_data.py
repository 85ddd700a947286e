"""`bench validate --data-root DIR`: the datasets of a profile's runs are checked, as `bench run` does before its first run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.cli import main

SMOKE = Path(__file__).resolve().parents[2] / "suites" / "smoke.yaml"


def _write_npz(path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8), y_train=np.arange(20) % 10,
             x_test=rng.integers(0, 255, (10, 32, 32, 3), dtype=np.uint8), y_test=np.arange(10) % 10)


def test_validate_with_data_root_finds_the_profiles_datasets(tmp_path, capsys):
    _write_npz(tmp_path / "cifar10_subset.npz")
    assert main(["validate", str(SMOKE), "--profile", "cifar10_subset", "--data-root", str(tmp_path)]) == 0
    assert f"datasets of 2 runs present under {tmp_path}" in capsys.readouterr().out


def test_validate_with_data_root_reports_a_missing_dataset_with_the_run_and_the_flag(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(SMOKE), "--profile", "cifar10_subset", "--data-root", str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"{empty}/cifar10_subset.npz" in err and "needed by smoke/cifar10_subset/" in err
    assert "--data-root" in err


def test_validate_without_data_root_does_not_look_for_data(tmp_path, capsys):
    assert main(["validate", str(SMOKE), "--profile", "cifar10_subset"]) == 0
    assert "datasets of" not in capsys.readouterr().out
