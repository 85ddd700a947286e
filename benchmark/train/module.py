"""The Lightning module that trains any registered method, with optional orthogonality regularization.

Divergence (NaN/inf loss) raises :class:`benchmark.errors.RunFailure` with the step, so the runner records the run
as failed and goes on with the suite.
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from benchmark.errors import RunFailure
from benchmark.methods.base import SSLMethod, embedding_std
from benchmark.suite.schema import PretrainConfig
from benchmark.train.optim import build_optimizer, build_scheduler, param_groups, scaled_lr


class PretrainModule(pl.LightningModule):
    """Wraps an :class:`SSLMethod` for ``pl.Trainer.fit``.

    Args:
        method: The SSL method (backbone + heads + loss).
        regularizer: An object with ``penalty(encoder) -> (Tensor, dict[str, float])`` or None.
        cfg: The suite's pretraining block.
        steps_per_epoch: Optimizer steps per epoch (for warm-up and step schedules).
        max_steps: Total optimizer steps of the run.
    """

    def __init__(
        self,
        method: SSLMethod,
        regularizer: Any | None,
        cfg: PretrainConfig,
        *,
        steps_per_epoch: int,
        max_steps: int,
        history_every: int = 1,
    ) -> None:
        super().__init__()
        self.method = method
        self.regularizer = regularizer
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.max_steps_total = max_steps
        self.history_every = max(1, history_every)
        self.loss_history: list[tuple[int, float]] = []
        self.penalty_history: list[tuple[int, float]] = []
        self.last_penalty_layers: dict[str, float] = {}
        self.last_embedding_std: float | None = None
        self._step = 0

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        views = batch[0]
        if isinstance(views, Tensor):
            views = [views]
        step = int(self.global_step)
        self._step = step
        out = self.method.training_step(list(views), step=step)
        loss = out.loss
        if self.regularizer is not None:
            penalty, per_layer = self.regularizer.penalty(self.method.encoder)
            loss = loss + penalty
            self.last_penalty_layers = per_layer
            if step % self.history_every == 0:
                self.penalty_history.append((step, float(penalty.detach())))
            self.log("train/or_penalty", penalty.detach(), on_step=True, prog_bar=False)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise RunFailure(f"training loss is {value}", kind="diverged", step=step)
        if out.embeddings is not None:
            self.last_embedding_std = embedding_std(out.embeddings)
        if step % self.history_every == 0:
            self.loss_history.append((step, value))
        self.log("train/loss", loss.detach(), on_step=True, prog_bar=True)
        for key, val in out.logs.items():
            self.log(f"train/{key}", float(val), on_step=True)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.method.on_step_end(step=self._step)

    def configure_optimizers(self) -> Any:
        opt_cfg = self.cfg.optimizer
        lr = scaled_lr(opt_cfg, self.cfg.global_batch_size)
        groups = param_groups(self.method, opt_cfg, self.method.excluded_from_weight_decay())
        optimizer = build_optimizer(groups, opt_cfg, lr)
        scheduler = build_scheduler(
            optimizer, self.cfg.schedule, max_steps=self.max_steps_total, steps_per_epoch=self.steps_per_epoch
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["bench_history"] = {
            "loss": [list(x) for x in self.loss_history],
            "penalty": [list(x) for x in self.penalty_history],
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hist = checkpoint.get("bench_history") or {}
        self.loss_history = [(int(s), float(v)) for s, v in hist.get("loss", [])]
        self.penalty_history = [(int(s), float(v)) for s, v in hist.get("penalty", [])]


def check_collapse(module: PretrainModule, threshold: float) -> None:
    """Raise RunFailure(kind="collapsed") when the last embeddings' per-dim std is below ``threshold``."""
    std = module.last_embedding_std
    if std is not None and std < threshold:
        raise RunFailure(
            f"embeddings collapsed: mean per-dimension std of normalised embeddings {std:.2e} < {threshold:g}",
            kind="collapsed",
            step=int(module.global_step),
        )


def finite_or_fail(t: torch.Tensor, what: str, step: int | None = None) -> None:
    """Raise RunFailure(kind="diverged") if ``t`` has non-finite values."""
    if not torch.isfinite(t).all():
        raise RunFailure(f"{what} contains NaN/inf", kind="diverged", step=step)
