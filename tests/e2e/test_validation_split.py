"""``eval.validation``: probes report on a held-out share of the train set, never on the test set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from benchmark.cli import main
from benchmark.data import load_dataset
from benchmark.run import validation_split
from benchmark.suite.schema import ValidationSplit

SUITE = """\
suite: val_e2e
defaults:
  data: {dataset: digits, params: {size: 8}, input_size: 8, normalize: none}
  backbone: {name: tiny, width: 4}
  augment: {params: {gaussian_blur: 0.0}}
  pretrain: {epochs: 1, max_steps: 2, batch_size_per_device: 32, optimizer: {name: sgd, lr: 0.05}}
  eval:
    probes: [{name: knn, k: 5}]
    validation: {fraction: 0.2, seed: 3}
experiments:
  - id: simclr
    method: {name: simclr, proj_hidden_dim: 16, proj_output_dim: 8}
"""


def test_validation_split_is_stratified_disjoint_deterministic_and_inside_train() -> None:
    splits = load_dataset("digits", {"size": 8}, data_root=".")
    train_idx = np.arange(len(splits.train_labels))
    as_test, fit, held = validation_split(splits, train_idx, ValidationSplit(fraction=0.2, seed=3))
    assert as_test.test is splits.train  # the evaluation side reads train images
    assert not set(fit) & set(held) and len(fit) + len(held) == len(train_idx)
    labels = np.asarray(splits.train_labels)
    per_class = np.bincount(labels[held], minlength=10) / np.bincount(labels, minlength=10)
    assert np.allclose(per_class, 0.2, atol=0.02)
    _, _, again = validation_split(splits, train_idx, ValidationSplit(fraction=0.2, seed=3))
    _, _, other = validation_split(splits, train_idx, ValidationSplit(fraction=0.2, seed=4))
    assert np.array_equal(held, again) and not np.array_equal(held, other)


def test_run_reports_on_the_validation_split(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--no-progress"]) == 0
    rec = json.loads(next((tmp_path / "r" / "runs").rglob("result.json")).read_text())
    held, fit = map(int, re.search(r"validation: (\d+) train images held out.*trained on (\d+)",
                                   rec["data"]["evaluated_on"]).groups())
    assert held + fit == rec["data"]["n_train"] and 0.18 < held / rec["data"]["n_train"] < 0.22
    assert rec["metrics"]["knn"]["top1"] > 0
    assert "probed on a validation split of train" in (tmp_path / "r" / "report.md").read_text()
