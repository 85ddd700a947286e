"""Issue 13: checks before the first run (no GPU, missing data), the paper-profile-on-CPU warning, and `bench plan`
estimates on the chosen device (nominal, or from a measured step) with readable units."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
import torch

from benchmark.cli import main

SUITE = textwrap.dedent(
    """\
    suite: pre
    defaults:
      data: {dataset: digits, params: {size: 16}, input_size: 16, normalize: none}
      backbone: {name: tiny, width: 8}
      augment: {params: {gaussian_blur: 0.0}}
      pretrain: {epochs: 2, batch_size_per_device: 64, optimizer: {name: sgd, lr: 0.05, base_batch_size: 64},
                 schedule: {name: cosine}}
      eval: {probes: [{name: knn, k: 10}]}
    experiments:
      - id: first
        method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
      - id: second
        method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
        data: {dataset: npz, params: {path: tiny.npz}, input_size: 16, normalize: none}
    """
)


def test_cuda_without_a_gpu_fails_before_the_first_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.replace("path: tiny.npz", "path: absent.npz"))
    code = main(["run", str(suite), "--device", "cuda", "--results-dir", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--device cuda but torch sees no CUDA device" in err and "--device cpu" in err
    assert not (tmp_path / "r" / "runs").exists()


def test_missing_data_fails_before_the_first_run_naming_data_root(tmp_path, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    code = main(["run", str(suite), "--data-root", str(tmp_path / "nowhere"), "--results-dir", str(tmp_path / "r"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "tiny.npz" in err and "needed by pre/paper/second/seed0" in err
    assert f"--data-root (now '{tmp_path / 'nowhere'}')" in err
    assert not (tmp_path / "r" / "runs").exists(), "the digits run must not start when a later run's data is missing"


def test_paper_profile_on_cpu_is_warned_about(tmp_path, capsys):
    code = main(["run", "suites/or_neurips24.yaml", "--profile", "paper", "--device", "cpu", "--data-root",
                 str(tmp_path), "--results-dir", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, "no CIFAR under the empty data root: stopped by the data check, nothing trained"
    warning = next(line for line in err.splitlines() if line.startswith("warning: profile 'paper'"))
    n_runs = int(re.search(r"\((\d+) runs", warning).group(1))
    assert n_runs > 100 and "on the CPU" in warning and "--profile" in warning and "cpu" in warning
    assert "--data-root" in err


@pytest.fixture
def npz_root(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x_train=rng.integers(0, 255, (300, 16, 16, 3), dtype=np.uint8),
             y_train=np.arange(300) % 3, x_test=rng.integers(0, 255, (30, 16, 16, 3), dtype=np.uint8),
             y_test=np.arange(30) % 3)
    return tmp_path


def test_plan_estimates_on_the_chosen_device_in_readable_units(tmp_path, npz_root, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    assert main(["plan", str(suite), "--device", "cpu", "--data-root", str(npz_root)]) == 0
    out = capsys.readouterr().out
    assert "0.00 h" not in out and "estimated total on cpu:" in out and "nominal" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("pre/paper/")}
    assert rows["pre/paper/first/seed0"][1] == str((1347 // 64) * 2), "digits: 21 steps per epoch x 2 epochs"
    assert rows["pre/paper/second/seed0"][1] == str((300 // 64) * 2), "the npz set is counted under --data-root"
    assert rows["pre/paper/first/seed0"][3] in ("s", "min", "h", "d")


def test_plan_measure_times_a_step_per_training_shape(tmp_path, npz_root, capsys):
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    assert main(["plan", str(suite), "--device", "cpu", "--data-root", str(npz_root), "--measure",
                 "--measure-batch", "8"]) == 0
    out = capsys.readouterr().out
    measured = [line for line in out.splitlines() if line.strip().startswith("measured ")]
    assert len(measured) == 1, "both experiments have one training shape (same method, backbone, input, batch)"
    assert "batch 8, scaled to 64" in measured[0]
    assert re.search(r"estimated total on cpu: \d+ (s|min|h|d) from one measured step", out)
