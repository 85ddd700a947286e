"""MeasureCallback under a real pl.Trainer with the runner's PretrainModule, and through `bench run`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from benchmark.measure import MeasureCallback
from benchmark.methods import MethodContext, build_method
from benchmark.models import BACKBONES
from benchmark.suite.schema import PretrainConfig
from benchmark.train.module import PretrainModule

B, Q = 8, 16


def _module(name: str = "simclr", params: dict | None = None, steps: int = 10) -> PretrainModule:
    torch.manual_seed(0)
    backbone, dim = BACKBONES.get("tiny")(width=4)
    ctx = MethodContext(max_steps=steps, global_batch_size=B, gather_distributed=False, input_size=8)
    params = params if params is not None else {"proj_hidden_dim": 16, "proj_output_dim": Q}
    method = build_method(name, backbone=backbone, feature_dim=dim, params=params, ctx=ctx)
    cfg = PretrainConfig(batch_size_per_device=B, max_steps=steps)
    return PretrainModule(method, None, cfg, steps_per_epoch=steps, max_steps=steps)


def _loader(n_batches: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    v0, v1 = torch.randn(n_batches * B, 3, 8, 8, generator=g), torch.randn(n_batches * B, 3, 8, 8, generator=g)
    ds = [((v0[i], v1[i]), 0) for i in range(n_batches * B)]
    return torch.utils.data.DataLoader(ds, batch_size=B)


def _fit(module: pl.LightningModule, cb: MeasureCallback, steps: int) -> pl.Trainer:
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=1, callbacks=[cb], logger=False,
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                         num_sanity_val_steps=0)
    trainer.fit(module, train_dataloaders=_loader(steps))
    return trainer


def test_callback_times_steps_after_warmup_and_measures_the_loss_alone():
    cb = MeasureCallback(warmup_steps=1, steps=3, loss_only=True)
    _fit(_module(), cb, steps=6)  # 1 warm-up + 1 memory-profiled (CPU) + 3 timed + 1 spare
    s = cb.summary()
    assert s["status"] == "ok" and s["device"] == "cpu"
    assert s["steps_measured"] == 3 and s["step"]["time_s"]["n"] == 3
    assert s["memory_profiled_step_index"] == 1  # right after the warm-up, never timed
    assert s["images_per_step"] == B
    step = s["step"]
    assert step["throughput_images_per_s"] == pytest.approx(B / step["time_s"]["median"])
    assert step["memory"]["tensor_source"] == "torch.profiler[profile_memory]"
    assert step["memory"]["tensor_peak_above_start_bytes"] > 0
    assert len(step["memory"]["per_call"]["rss_peak_bytes"]) == 3
    assert step["cpu_time_s"]["n"] == 3 and step["cpu_time_s"]["median"] > 0
    assert s["iteration"]["time_s"]["n"] == 3  # starts of steps 2..5 give three intervals
    assert s["iteration"]["time_s"]["median"] >= step["time_s"]["min"]
    loss = s["loss_only"]
    assert loss["status"] == "ok" and loss["time_s"]["n"] == 3
    assert loss["input_shapes"] == [[B, Q], [B, Q]]
    assert loss["inputs_bytes"] == 2 * B * Q * 4
    json.dumps(s)  # stored as-is in result.json


def test_loss_measurement_leaves_buffers_and_gradients_untouched():
    module = _module()
    cb = MeasureCallback(warmup_steps=0, steps=1, loss_only=False, profile_cpu_memory=False)
    trainer = _fit(module, cb, steps=2)
    batch = next(iter(_loader(1)))
    buffers = {k: v.clone() for k, v in module.method.named_buffers()}
    grads = {k: None if p.grad is None else p.grad.clone() for k, p in module.method.named_parameters()}
    res = cb.measure_loss(trainer, module, batch)
    assert res["status"] == "ok"
    for k, v in module.method.named_buffers():
        assert torch.equal(v, buffers[k]), k  # BN running stats were updated by loss_inputs, then restored
    for k, p in module.method.named_parameters():
        assert (p.grad is None and grads[k] is None) or torch.equal(p.grad, grads[k]), k


def test_short_run_is_reported_not_crashed_and_loss_oom_is_a_result():
    module = _module()

    def oom(*inputs):
        raise MemoryError("simulated")

    module.method.loss_only = oom  # type: ignore[method-assign]
    cb = MeasureCallback(warmup_steps=2, steps=5, loss_only=True, profile_cpu_memory=False)
    _fit(module, cb, steps=3)  # 2 warm-up + 1 timed of the 5 asked
    s = cb.summary()
    assert s["steps_measured"] == 1
    assert any("only 1 of 5" in n for n in s["notes"])
    assert s["loss_only"]["status"] == "out_of_memory"  # measured at on_train_end on the last batch


def _regularized_module(kind: str, steps: int = 10) -> PretrainModule:
    from benchmark.regularizers import build_regularizer

    plain = _module(steps=steps)
    cfg = PretrainConfig(batch_size_per_device=B, max_steps=steps)
    return PretrainModule(plain.method, build_regularizer(kind, {"gamma": 1e-3}), cfg, steps_per_epoch=steps,
                          max_steps=steps)


def test_regularizer_alone_is_timed_without_touching_gradients_or_the_rng():
    module = _regularized_module("srip")
    cb = MeasureCallback(warmup_steps=1, steps=3, loss_only=False, regularizer_only=True)
    trainer = _fit(module, cb, steps=6)
    reg = cb.summary()["regularizer_only"]
    n_weights = len(module.regularizer.weights(module.method.encoder))
    assert reg["status"] == "ok" and reg["time_s"]["n"] == 3 and reg["time_s"]["mean"] > 0
    assert reg["kind"] == "srip" and reg["gamma"] == 1e-3 and reg["layers"] == n_weights == 3  # tiny: 3 convs
    assert reg["parameters"] == sum(w.numel() for _, w in module.regularizer.weights(module.method.encoder))
    grads = {k: None if p.grad is None else p.grad.clone() for k, p in module.method.named_parameters()}
    rng = torch.random.get_rng_state()
    again = cb.measure_regularizer(module)  # SRIP draws its start vector from the global RNG
    assert again["status"] == "ok"
    assert torch.equal(torch.random.get_rng_state(), rng)
    for k, p in module.method.named_parameters():
        assert (p.grad is None and grads[k] is None) or torch.equal(p.grad, grads[k]), k
    assert trainer.global_step == 6


def test_regularizer_timing_without_a_regularizer_says_so():
    cb = MeasureCallback(warmup_steps=0, steps=1, loss_only=False, regularizer_only=True, profile_cpu_memory=False)
    _fit(_module(), cb, steps=2)
    assert cb.summary()["regularizer_only"]["status"] == "not_applicable"
    off = MeasureCallback(warmup_steps=0, steps=1, loss_only=False, profile_cpu_memory=False)
    _fit(_regularized_module("so"), off, steps=2)
    assert "regularizer_only" not in off.summary()  # off by default


class _OOMAtStep(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3 * 8 * 8, 2)

    def training_step(self, batch, batch_idx):
        if batch_idx == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 64.00 GiB")
        return self.lin(batch[0][0].flatten(1)).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_out_of_memory_in_a_training_step_is_kept_in_the_summary():
    cb = MeasureCallback(warmup_steps=0, steps=3, loss_only=True, profile_cpu_memory=False)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        _fit(_OOMAtStep(), cb, steps=4)
    s = cb.summary()
    assert s["status"] == "out_of_memory"
    assert s["failure"]["step_index"] == 2 and "64.00 GiB" in s["failure"]["error"]
    assert s["steps_measured"] == 2


def test_bench_run_stores_the_measurement_in_the_pretrain_summary(tmp_path: Path):
    from benchmark.cli import main

    suite = tmp_path / "s.yaml"
    suite.write_text(textwrap.dedent(
        """\
        suite: measure_e2e
        defaults:
          data: {dataset: digits, params: {size: 8}, input_size: 8, normalize: none}
          backbone: {name: tiny, width: 4}
          augment: {params: {gaussian_blur: 0.0}}
          pretrain: {epochs: 1, max_steps: 4, batch_size_per_device: 32, optimizer: {name: sgd, lr: 0.05}}
          eval: {probes: [{name: knn, k: 5}]}
          measure: {enabled: true, warmup_steps: 1, steps: 2, loss_only: true}
        experiments:
          - id: vicreg
            method: {name: vicreg, proj_hidden_dim: 16, proj_output_dim: 16}
        """
    ))
    assert main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--no-progress"]) == 0
    rec = json.loads(next((tmp_path / "r" / "runs").rglob("result.json")).read_text())
    m = rec["pretrain"]["measure"]
    assert m["steps_measured"] == 2 and m["images_per_step"] == 32
    assert m["loss_only"]["status"] == "ok" and m["loss_only"]["input_shapes"] == [[32, 16], [32, 16]]


def test_measurement_only_run_skips_feature_extraction(tmp_path: Path, monkeypatch):
    """``eval: {probes: []}`` (spectra off) records the measurement without extracting features or probing."""
    import benchmark.probes.features as features
    from benchmark.cli import main

    def no_features(*args, **kwargs):
        raise AssertionError("features were extracted for a run without probes")

    monkeypatch.setattr(features, "extract_features", no_features)
    suite = tmp_path / "s.yaml"
    suite.write_text(textwrap.dedent(
        """\
        suite: measure_only
        defaults:
          data: {dataset: digits, params: {size: 8}, input_size: 8, normalize: none}
          backbone: {name: tiny, width: 4}
          augment: {params: {gaussian_blur: 0.0}}
          pretrain: {epochs: 1, max_steps: 3, batch_size_per_device: 32, optimizer: {name: sgd, lr: 0.05}}
          eval: {probes: [], spectra: false}
          measure: {enabled: true, warmup_steps: 1, steps: 1, loss_only: false}
        experiments:
          - id: sfrik
            method: {name: sfrik, mlp: [16, 16, 8]}
        """
    ))
    assert main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--no-progress"]) == 0
    rec = json.loads(next((tmp_path / "r" / "runs").rglob("result.json")).read_text())
    assert rec["status"] == "ok" and rec["metrics"] == {}
    assert rec["pretrain"]["measure"]["steps_measured"] == 1
    assert "features" not in rec["timings"]
