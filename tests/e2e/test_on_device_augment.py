"""``augment.on_device: true`` end to end: the loader ships uint8 images, the module makes the views, runs repeat."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from benchmark.cli import main
from benchmark.data.device_augment import build_device_augment
from benchmark.suite.loader import load_suite
from benchmark.suite.plan import make_plan
from benchmark.suite.schema import DataConfig, PretrainConfig

SUITE = """\
suite: ondev_e2e
defaults:
  data: {{dataset: digits, params: {{size: 16}}, input_size: 16, normalize: none}}
  backbone: {{name: tiny, width: 4}}
  augment: {{params: {{gaussian_blur: 0.0}}{extra}}}
  pretrain: {{epochs: 1, max_steps: 3, batch_size_per_device: 32, optimizer: {{name: sgd, lr: 0.05}}}}
  eval:
    probes: [{{name: knn, k: 5}}]
experiments:
  - id: simclr
    method: {{name: simclr, proj_hidden_dim: 16, proj_output_dim: 8}}
"""


def _run(tmp_path: Path, name: str, extra: str) -> dict:
    suite = tmp_path / f"{name}.yaml"
    suite.write_text(SUITE.format(extra=extra))
    assert main(["run", str(suite), "--results-dir", str(tmp_path / name), "--no-progress"]) == 0
    return json.loads(next((tmp_path / name / "runs").rglob("result.json")).read_text())


def test_on_device_run_trains_and_is_deterministic(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", ", on_device: true")
    b = _run(tmp_path, "b", ", on_device: true")
    cpu = _run(tmp_path, "cpu", "")
    assert a["status"] == "ok" and a["pretrain"]["augment_on_device"] is True
    assert cpu["pretrain"]["augment_on_device"] is False
    assert a["pretrain"]["steps"] == 3
    assert a["pretrain"]["loss_history"] == b["pretrain"]["loss_history"]  # same seed, same views, same losses
    assert a["metrics"] == b["metrics"]
    assert a["pretrain"]["loss_history"] != cpu["pretrain"]["loss_history"]  # really another augmentation path
    assert a["config_hash"] != cpu["config_hash"]


def test_on_device_false_keeps_existing_config_hashes(tmp_path: Path) -> None:
    plain, explicit = tmp_path / "plain.yaml", tmp_path / "explicit.yaml"
    plain.write_text(SUITE.format(extra=""))
    explicit.write_text(SUITE.format(extra=", on_device: false"))
    runs = [make_plan(load_suite(p), None).runs[0] for p in (plain, explicit)]
    assert runs[0].config_hash == runs[1].config_hash


def test_module_augments_after_transfer_with_a_per_step_generator() -> None:
    from benchmark.methods import MethodContext, build_method
    from benchmark.models import create_backbone
    from benchmark.train.module import PretrainModule

    backbone, dim = create_backbone("tiny", width=4)
    method = build_method("simclr", backbone=backbone, feature_dim=dim,
                          params={"proj_hidden_dim": 8, "proj_output_dim": 4},
                          ctx=MethodContext(max_steps=2, global_batch_size=4, input_size=16))
    aug = build_device_augment("simclr", DataConfig(input_size=16, normalize="none"), {})
    module = PretrainModule(method, None, PretrainConfig(), steps_per_epoch=1, max_steps=2, device_augment=aug, seed=5)
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    labels = torch.arange(4)
    module.train()
    views, out_labels = module.on_after_batch_transfer([images, labels], 0)
    again, _ = module.on_after_batch_transfer([images, labels], 0)
    assert len(views) == 2 and views[0].shape == (4, 3, 16, 16) and views[0].dtype == torch.float32
    assert torch.equal(out_labels, labels)
    assert all(torch.equal(v, w) for v, w in zip(views, again, strict=True))  # same step and rank: same draws
    assert not torch.equal(views[0], views[1])  # two independent views
    module.eval()
    assert module.on_after_batch_transfer([images, labels], 0)[0] is images  # no augmentation outside training
