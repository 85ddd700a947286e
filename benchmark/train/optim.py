"""Optimizers and per-step learning-rate schedules from the suite's explicit settings.

The effective lr is ``base_lr × (global_batch / base_batch_size)`` (linear), its square root (sqrt, Lightly's
SimCLR), or ``base_lr`` (none). 1-D parameters (biases, norms) and method-declared ones (prototypes) get no weight
decay when ``exclude_bias_and_norm`` (and no LARS adaptation, as VICReg's and solo-learn's LARS do).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from benchmark.suite.schema import OptimizerConfig, ScheduleConfig


def scaled_lr(cfg: OptimizerConfig, global_batch_size: int) -> float:
    """The peak learning rate after batch-size scaling."""
    ratio = global_batch_size / cfg.base_batch_size
    if cfg.lr_scaling == "linear":
        return cfg.lr * ratio
    if cfg.lr_scaling == "sqrt":
        return cfg.lr * math.sqrt(ratio)
    return cfg.lr


def param_groups(model: nn.Module, cfg: OptimizerConfig, no_decay_extra: Iterable[nn.Parameter] = ()) -> list[dict]:
    """Split trainable parameters into decayed and not-decayed groups."""
    extra = {id(p) for p in no_decay_extra}
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if id(p) in extra or (cfg.exclude_bias_and_norm and p.ndim <= 1):
            no_decay.append(p)
        else:
            decay.append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0, "lars_exclude": True})
    return groups


def build_optimizer(groups: list[dict], cfg: OptimizerConfig, lr: float) -> torch.optim.Optimizer:
    """SGD, LARS (Lightly's), Adam or AdamW."""
    if cfg.name == "sgd":
        clean = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups]
        return torch.optim.SGD(clean, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.name == "lars":
        from lightly.utils.lars import LARS

        return LARS(groups, lr=lr, momentum=cfg.momentum, trust_coefficient=cfg.trust_coefficient)
    clean = [{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups]
    if cfg.name == "adamw":
        return torch.optim.AdamW(clean, lr=lr, betas=cfg.betas)
    return torch.optim.Adam(clean, lr=lr, betas=cfg.betas)


def lr_factor(step: int, *, cfg: ScheduleConfig, max_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the peak lr at optimizer step ``step`` (0-based)."""
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch)) if cfg.name == "warmup_cosine" else 0
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if cfg.name in ("cosine", "warmup_cosine"):
        span = max(max_steps - warmup, 1)
        progress = min(max(step - warmup, 0) / span, 1.0)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.name == "step":
        epoch = step // max(steps_per_epoch, 1)
        return cfg.gamma ** sum(1 for m in cfg.milestones if epoch >= m)
    return 1.0


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, *, max_steps: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR implementing :func:`lr_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg=cfg, max_steps=max_steps, steps_per_epoch=steps_per_epoch)
    )
