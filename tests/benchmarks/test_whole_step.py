"""SFRIK vs VICReg whole training step (Zheng et al., ICLR 2023: 8 % / 19 % faster at q = 8192 / 16384 on 8 MI50s).

The whole step as the runner trains it — ``PretrainModule`` under a ``pl.Trainer``, timed and memory-measured by
:class:`benchmark.measure.MeasureCallback` (GPU: ``reset_peak_memory_stats`` at each step start and
``max_memory_allocated`` after, as the SFRIK code) — for both losses with the same backbone, projector widths
``[h, h, q]``, batch, optimizer (LARS, as the official code) and precision, on one synthetic batch already on the
device (data loading excluded; it is identical for both methods). The two methods alternate (SFRIK, VICReg, VICReg,
SFRIK). Out-of-memory is recorded as the result.

Configurations: on CUDA the paper's shapes — ResNet-18 and ResNet-50 (ImageNet stem, 224 px), batch 256 per device,
projector 8192-8192-q, q ∈ {8192, 16384}, precision ``BENCH_PRECISION`` (default ``16-mixed``, the official code's
AMP); on CPU only a small wiring check (tiny ConvNet, 32 px, batch 64, projector 1024-1024-q, q ∈ {256, 4096}).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from tests.benchmarks.conftest import target

pytestmark = pytest.mark.benchmark

GPU_CONFIGS = [(bb, q) for bb in ("resnet18", "resnet50") for q in (8192, 16384)]
CPU_CONFIGS = [("tiny", 256), ("tiny", 4096)]
ORDER = ["sfrik", "vicreg", "vicreg", "sfrik"]


def _shape(backbone: str, device: str) -> dict[str, Any]:
    if device.startswith("cuda"):
        return {"stem": "imagenet", "width": 64, "size": 224, "batch": 256, "hidden": 8192, "warmup": 5, "steps": 20,
                "precision": os.environ.get("BENCH_PRECISION", "16-mixed")}
    return {"stem": "cifar", "width": 16, "size": 32, "batch": 64, "hidden": 1024, "warmup": 2, "steps": 6,
            "precision": "32"}


class _Repeat:
    """The same batch ``n`` times (a list would be read by Lightning as a collection of loaders)."""

    def __init__(self, batch: Any, n: int) -> None:
        self.batch, self.n = batch, n

    def __iter__(self):
        return iter([self.batch] * self.n)

    def __len__(self) -> int:
        return self.n


def one_fit(method_name: str, backbone: str, q: int, device: str) -> dict[str, Any]:
    import pytorch_lightning as pl

    from benchmark.measure import MeasureCallback
    from benchmark.methods import MethodContext, build_method
    from benchmark.models import BACKBONES
    from benchmark.suite.schema import OptimizerConfig, PretrainConfig, ScheduleConfig
    from benchmark.train.module import PretrainModule

    s = _shape(backbone, device)
    torch.manual_seed(0)
    enc, dim = BACKBONES.get(backbone)(stem=s["stem"], width=s["width"])
    steps = s["warmup"] + s["steps"] + 2
    ctx = MethodContext(max_steps=steps, global_batch_size=s["batch"], gather_distributed=False, input_size=s["size"])
    params = ({"mlp": [s["hidden"], s["hidden"], q]} if method_name == "sfrik" else
              {"proj_hidden_dim": s["hidden"], "proj_output_dim": q, "proj_num_layers": 3})
    method = build_method(method_name, backbone=enc, feature_dim=dim, params=params, ctx=ctx)
    pcfg = PretrainConfig(batch_size_per_device=s["batch"], max_steps=steps, precision=s["precision"],
                          optimizer=OptimizerConfig(name="lars", lr=0.2, base_batch_size=256, weight_decay=1e-6),
                          schedule=ScheduleConfig(name="cosine"))
    module = PretrainModule(method, None, pcfg, steps_per_epoch=steps, max_steps=steps)
    g = torch.Generator().manual_seed(1)
    views = [torch.randn(s["batch"], 3, s["size"], s["size"], generator=g).to(device) for _ in range(2)]
    batch = (views, torch.zeros(s["batch"], dtype=torch.long, device=device))
    cb = MeasureCallback(warmup_steps=s["warmup"], steps=s["steps"], loss_only=True)
    trainer = pl.Trainer(accelerator="gpu" if device.startswith("cuda") else "cpu", devices=1, max_steps=steps,
                         max_epochs=1, precision=s["precision"], callbacks=[cb], logger=False,
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                         num_sanity_val_steps=0)
    try:
        trainer.fit(module, train_dataloaders=_Repeat(batch, steps))
    except Exception as exc:
        from benchmark.measure import is_out_of_memory, oom_result

        if not is_out_of_memory(exc):
            raise
        out = cb.summary()
        out.setdefault("failure", oom_result(exc, device))
        out["status"] = "out_of_memory"
        return {"shape": s, "measure": out}
    finally:
        del trainer, module, method
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return {"shape": s, "measure": cb.summary()}


def measure_whole_step(backbone: str, q: int, device: str) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"sfrik": [], "vicreg": []}
    for name in ORDER:
        rounds[name].append(one_fit(name, backbone, q, device))
    out: dict[str, Any] = {"backbone": backbone, "q": q, "rounds": rounds}
    med: dict[str, float | None] = {}
    peak: dict[str, int | None] = {}
    for name, rs in rounds.items():
        ok = [r["measure"] for r in rs if r["measure"].get("status") == "ok"]
        med[name] = float(torch.tensor([m["step"]["time_s"]["median"] for m in ok]).median()) if ok else None
        mems = [m["step"]["memory"] for m in ok]
        key = "tensor_peak_bytes" if device.startswith("cuda") else "tensor_peak_above_start_bytes"
        peak[name] = max((m.get(key) or 0) for m in mems) if mems else None
    out["step_median_s"] = med
    out["step_peak_bytes"] = peak
    if med["sfrik"] and med["vicreg"]:
        out["sfrik_faster_by"] = 1 - med["sfrik"] / med["vicreg"]
    if peak["sfrik"] and peak["vicreg"]:
        out["sfrik_less_memory_by"] = 1 - peak["sfrik"] / peak["vicreg"]
    return out


def _configs() -> list[tuple[str, int]]:
    return GPU_CONFIGS + CPU_CONFIGS


@pytest.mark.parametrize(("backbone", "q"), _configs())
def test_sfrik_vs_vicreg_whole_step(backbone: str, q: int, bench_device: str, perf, benchmark) -> None:
    gpu = bench_device.startswith("cuda")
    if gpu != (backbone != "tiny"):
        pytest.skip(f"{backbone} q={q} runs on {'CUDA' if backbone != 'tiny' else 'CPU (wiring check)'} only")
    header = perf.start()
    res = benchmark.pedantic(measure_whole_step, args=(backbone, q, bench_device), rounds=1, iterations=1)
    benchmark.extra_info.update({k: res.get(k) for k in ("sfrik_faster_by", "sfrik_less_memory_by")})
    paper = {8192: (0.08, 0.03), 16384: (0.19, 0.08)}.get(q)
    targets = [target(f"SFRIK whole step vs VICReg ({backbone}, q={q})",
                      "SFRIK faster and lighter" + (f" (paper, 8×MI50 R50 batch 2048: {paper[0]:.0%} faster, "
                                                    f"{paper[1]:.0%} less memory)" if paper else ""),
                      {"faster_by": res.get("sfrik_faster_by"), "less_memory_by": res.get("sfrik_less_memory_by")},
                      None if res.get("sfrik_faster_by") is None else res["sfrik_faster_by"] > 0)]
    perf.write(f"whole_step_{backbone}_q{q}", header, res, targets, notes=[__doc__.strip().splitlines()[0]])
    assert all(r["measure"].get("status") in ("ok", "out_of_memory") for rs in res["rounds"].values() for r in rs)
