"""Transfer by linear classification (``eval.transfer``): the frozen encoder is probed on other datasets."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np

from benchmark.cli import main

SUITE = """\
suite: transfer_e2e
defaults:
  data: {dataset: digits, params: {size: 8}, input_size: 8, normalize: none}
  backbone: {name: tiny, width: 4}
  augment: {params: {gaussian_blur: 0.0}}
  pretrain: {epochs: 1, max_steps: 2, batch_size_per_device: 32, optimizer: {name: sgd, lr: 0.05}}
  eval:
    probes: [{name: knn, k: 5}]
    transfer:
      - name: blobs
        data: {dataset: npz, params: {path: blobs.npz}, input_size: 8, normalize: none}
      - name: blobs_linear
        data: {dataset: npz, params: {path: blobs.npz}, input_size: 8, normalize: none, test_subset: {per_class: 5}}
        probes: [{name: linear, epochs: 2, milestones: [1]}]
experiments:
  - id: simclr
    method: {name: simclr, proj_hidden_dim: 16, proj_output_dim: 8}
"""


def _write_blobs(path: Path) -> None:
    """Three classes of 8x8 RGB images that differ in colour: separable by any reasonable encoder."""
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 3
        x = rng.integers(0, 60, size=(n, 8, 8, 3)).astype(np.uint8)
        for c in range(3):
            x[y == c, :, :, c] += 180
        return x, y

    x_train, y_train = split(60)
    x_test, y_test = split(30)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def test_transfer_metrics_are_recorded_per_target_and_reported(tmp_path: Path) -> None:
    _write_blobs(tmp_path / "blobs.npz")
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    results = tmp_path / "r"
    assert main(["run", str(suite), "--results-dir", str(results), "--data-root", str(tmp_path), "--no-progress"]) == 0
    rec = json.loads(next((results / "runs").rglob("result.json")).read_text())
    assert set(rec["metrics"]) == {"knn", "blobs/knn", "blobs_linear/linear"}
    assert rec["metrics"]["blobs/knn"]["top1"] > 80.0  # the colour classes are easy; chance is 33 %
    blobs = dict(rec["transfer"]["blobs"])
    assert set(blobs.pop("probe_protocol")) == {"knn"}, "the parameters each transfer probe ran with"
    assert blobs == {"dataset": "npz", "source": blobs["source"], "n_train": 60, "n_test": 30, "num_classes": 3}
    assert rec["transfer"]["blobs_linear"]["n_test"] == 15  # its own subset, not the pretraining data's
    assert "transfer/blobs/features" in rec["timings"]
    report = (results / "report.md").read_text()
    assert "blobs/knn.top1" in report and "blobs_linear/linear.top1" in report


def test_unknown_transfer_dataset_is_a_suite_error_with_its_line(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.replace("{dataset: npz, params: {path: blobs.npz}, input_size: 8, normalize: none}",
                                   "{dataset: food10, input_size: 8}"))
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert f"{suite}:11:" in err and "eval.transfer[0].data.dataset" in err
    assert "food101" in err  # did you mean


def test_transfer_names_must_be_unique(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.replace("name: blobs_linear", "name: blobs"))
    assert main(["validate", str(suite)]) == 2
    assert "repeated: blobs" in capsys.readouterr().err


def test_empty_transfer_leaves_config_hashes_unchanged(tmp_path: Path) -> None:
    """Runs without transfer keep the hash they had before the field existed (no forced reruns)."""
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import make_plan

    plain = tmp_path / "plain.yaml"
    plain.write_text(textwrap.dedent(SUITE[: SUITE.index("    transfer:")]) + SUITE[SUITE.index("experiments:"):])
    run = make_plan(load_suite(plain)).runs[0]
    assert "transfer" not in run.hashed_config()["experiment"]["eval"]
    with_transfer = make_plan(load_suite(_write_suite(tmp_path))).runs[0]
    assert with_transfer.config_hash != run.config_hash


def _write_suite(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    return path
