"""Finished runs are recognised across suite edits that do not change the computation (titles, references, notes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.suite.hashing import computation_hash
from benchmark.suite.loader import load_suite
from benchmark.suite.plan import make_plan

SUITE = """\
suite: rerun_e2e
defaults:
  data: {{dataset: digits, params: {{size: 8}}, input_size: 8, normalize: none}}
  backbone: {{name: tiny, width: 4}}
  augment: {{params: {{gaussian_blur: 0.0}}}}
  pretrain: {{epochs: 1, max_steps: 2, batch_size_per_device: 32, optimizer: {{name: sgd, lr: {lr}}}}}
  eval:
    probes: [{{name: knn, k: 5}}]
experiments:
  - id: simclr
    title: {title}
    reproduces: {{table: "{table}"}}
    assumptions: ["{note}"]
    tolerance: {tolerance}
    method: {{name: simclr, proj_hidden_dim: 16, proj_output_dim: 8}}
"""
BASE = {"lr": 0.05, "title": "first title", "table": "Table 1", "note": "an assumption", "tolerance": 1.0}


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], **changes: object) -> tuple[str, dict]:
    suite = tmp_path / "s.yaml"
    suite.write_text(SUITE.format(**{**BASE, **changes}))
    assert main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--no-progress"]) == 0
    out = capsys.readouterr().out + capsys.readouterr().err
    return out, json.loads(next((tmp_path / "r" / "runs").rglob("result.json")).read_text())


def test_descriptive_edits_keep_finished_runs_and_real_changes_rerun(tmp_path: Path, capsys) -> None:
    _, first = _run(tmp_path, capsys)
    out, again = _run(tmp_path, capsys, title="a better title", table="Table 2", note="reworded", tolerance=0.5)
    assert "done already" in out
    assert again == first  # not rerun: the record is untouched
    out, changed = _run(tmp_path, capsys, lr=0.01)
    assert "done already" not in out
    assert changed["config_hash"] != first["config_hash"]
    assert changed["config"]["experiment"]["pretrain"]["optimizer"]["lr"] == 0.01


def test_computation_hash_ignores_exactly_the_descriptive_fields(tmp_path: Path) -> None:
    def run_for(**changes: object):
        path = tmp_path / f"s{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(SUITE.format(**{**BASE, **changes}))
        return make_plan(load_suite(path), None).runs[0]

    base = run_for()
    assert base.computation_hash == computation_hash(base.hashed_config())
    retitled = run_for(title="other", note="other", table="Table 9", tolerance=3.0)
    assert retitled.config_hash != base.config_hash and retitled.computation_hash == base.computation_hash
    assert run_for(lr=0.2).computation_hash != base.computation_hash
