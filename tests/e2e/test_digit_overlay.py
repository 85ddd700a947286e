"""The §5.1 toy dataset end to end: MSN and PMSN pretrain on ``digit_overlay`` and are probed on both labels."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.cli import main
from tests.data import fake_formats as ff

SUITE = """\
suite: digit_overlay_e2e
defaults:
  data:
    dataset: digit_overlay
    params: {base: npz, base_path: base.npz, digits: sklearn, exponent: 1.0, patch_size: 14, seed: 0}
    input_size: 32
    normalize: none
  backbone: {name: tiny, width: 4}
  augment: {params: {focal_views: 2, gaussian_blur: 0.0}}
  pretrain: {epochs: 1, max_steps: 2, batch_size_per_device: 32, optimizer: {name: adamw, lr: 1.0e-3}}
  eval:
    probes: [{name: linear, epochs: 3, milestones: [2]}]
    transfer:
      - name: digit
        data:
          dataset: digit_overlay
          params: {base: npz, base_path: base.npz, digits: sklearn, exponent: 1.0, patch_size: 14, seed: 0, label: digit}
          input_size: 32
          normalize: none
experiments:
  - id: msn
    method: {name: msn, proj_hidden_dim: 16, proj_output_dim: 8, n_prototypes: 16}
  - id: pmsn
    method: {name: pmsn, proj_hidden_dim: 16, proj_output_dim: 8, n_prototypes: 16, power_law_exponent: 1.0}
"""


def test_msn_and_pmsn_record_base_and_digit_linear_probes(tmp_path: Path) -> None:
    ff.write_npz(tmp_path / "base.npz", n_train=200, n_test=100, size=32, num_classes=10)
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE)
    assert main(["validate", str(suite)]) == 0
    results = tmp_path / "r"
    assert main(["run", str(suite), "--results-dir", str(results), "--data-root", str(tmp_path), "--no-progress"]) == 0
    records = [json.loads(p.read_text()) for p in (results / "runs").rglob("result.json")]
    assert sorted(r["experiment"] for r in records) == ["msn", "pmsn"]
    for rec in records:
        assert set(rec["metrics"]) == {"linear", "digit/linear"}
        assert 0.0 <= rec["metrics"]["linear"]["top1"] <= 100.0 and 0.0 <= rec["metrics"]["digit/linear"]["top1"] <= 100
        assert rec["transfer"]["digit"]["num_classes"] == 10 and rec["transfer"]["digit"]["n_train"] == 200
        assert "labels: digit" in rec["transfer"]["digit"]["source"]
    report = (results / "report.md").read_text()
    assert "linear.top1" in report and "digit/linear.top1" in report
