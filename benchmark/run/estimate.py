"""``bench plan --measure``: the cost of a suite on this machine, from one measured pretraining step per shape.

A run's pretraining cost is its number of optimizer steps times the time of one step; the step time depends on
the method, backbone, regulariser, augmentation, input size and batch (:func:`benchmark.suite.plan.training_shape`),
not on the seed or the budget, so it is measured once per shape: synthetic random images of the dataset's size go
through the run's own training transform (per image, as the loader does with ``num_workers: 0``), then the method's
forward and backward and the OR penalty, on the chosen device. The batch is capped (``max_batch``) and the time
scaled linearly to the per-device batch; one warm-up step, then the median of ``repeats`` steps. Left out: the
optimizer update, data loading from disk, probes and checkpoints, so the estimate is a lower bound on a run's
time, of the right order (the progress of ``bench run`` refines it with measured runs).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.suite.plan import Run


@dataclass(frozen=True)
class StepTime:
    """Measured seconds per optimizer step of one training shape, at ``measured_batch`` and scaled to ``batch``."""

    seconds: float  # per step at the run's per-device batch
    measured_batch: int
    batch: int
    device: str


def _synthetic_images(n: int, size: int, seed: int) -> list[Any]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)) for _ in range(n)]


def measure_step(run: Run, device: str = "cpu", *, max_batch: int = 32, repeats: int = 2) -> StepTime:
    """Time one pretraining step of ``run`` on ``device`` (see the module docstring)."""
    from benchmark.data.transforms import build_train_transform
    from benchmark.methods import MethodContext, build_method
    from benchmark.regularizers import build_regularizer
    from benchmark.run.backbone import build_backbone
    from benchmark.run.pretrain import augment_preset

    cfg = run.config
    per_device = cfg.pretrain.batch_size_per_device
    batch = max(2, min(per_device, max_batch))
    backbone, feat_dim = build_backbone(cfg, run.seed)
    ctx = MethodContext(max_steps=max(1, cfg.pretrain.max_steps or 1000), global_batch_size=batch,
                        gather_distributed=False, input_size=cfg.data.input_size)
    method = build_method(cfg.method.name, backbone=backbone, feature_dim=feat_dim, params=cfg.method.extras(),
                          ctx=ctx).to(device)
    regularizer = build_regularizer(cfg.regularizer.name, cfg.regularizer.extras())
    transform = build_train_transform(augment_preset(cfg), cfg.data, cfg.augment.params)
    images = _synthetic_images(batch, max(cfg.data.input_size, cfg.data.eval_resize or 0), run.seed)

    def step() -> float:
        t0 = time.perf_counter()
        per_image = [transform(img) for img in images]
        views = [torch.stack([v[i] for v in per_image]).to(device) for i in range(len(per_image[0]))]
        loss = method.training_step(views, step=0).loss
        if regularizer is not None:
            loss = loss + regularizer.penalty(method.encoder)[0]
        loss.backward()
        method.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    method.train()
    step()  # warm-up: allocator, cuDNN autotuning, lazy initialisation
    seconds = statistics.median(step() for _ in range(max(1, repeats)))
    return StepTime(seconds=seconds * per_device / batch, measured_batch=batch, batch=per_device, device=device)


def measured_hours(runs: list[Run], device: str, *, n_train: dict[str, int | None] | None = None,
                   max_batch: int = 32, log: Any = None) -> dict[str, float | None]:
    """Pretraining hours of each run (by run id) from one measured step per training shape; None for a run whose
    step count is unknown. ``n_train``: pretraining-set sizes by run id (see :func:`benchmark.suite.plan.estimate`);
    ``log`` (e.g. ``print``) is told about each shape as it is measured."""
    from benchmark.suite.plan import estimate, training_shape

    per_shape: dict[str, StepTime] = {}
    out: dict[str, float | None] = {}
    for run in runs:
        steps = estimate(run, device, (n_train or {}).get(run.run_id))["steps"]
        if run.config.pretrain.epochs == 0:
            out[run.run_id] = 0.0
            continue
        if steps is None:
            out[run.run_id] = None
            continue
        shape = training_shape(run)
        if shape not in per_shape:
            per_shape[shape] = measure_step(run, device, max_batch=max_batch)
            if log is not None:
                st = per_shape[shape]
                log(f"  measured {run.experiment_id}/{run.variant or '-'}: {st.seconds:.3f} s/step on {device} "
                    f"(batch {st.measured_batch}, scaled to {st.batch})")
        out[run.run_id] = steps * per_shape[shape].seconds / 3600
    return out
