"""The Lightning module that trains any registered method, with optional orthogonality regularization.

Divergence (NaN/inf loss) raises :class:`benchmark.errors.RunFailure` with the step, so the runner records the run
as failed and goes on with the suite.

Resumability (see :mod:`benchmark.train.checkpoint`): the method's per-step update (momentum encoders, schedules) runs
inside :meth:`PretrainModule.optimizer_step`, i.e. before Lightning's ``on_train_batch_end`` callbacks, so the
checkpoint of step k holds the state after the *whole* step k. The checkpoint also stores the loss history, the RNG
states (restored at ``on_train_start``, the last hook before the first resumed step) and the data position.
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
from benchmark.train import faults
from benchmark.train.checkpoint import BENCH_KEY, get_rng_state, set_rng_state
from benchmark.train.optim import build_optimizer, build_scheduler, param_groups, scaled_lr


class PretrainModule(pl.LightningModule):
    """Wraps an :class:`SSLMethod` for ``pl.Trainer.fit``.

    Args:
        method: The SSL method (backbone + heads + loss).
        regularizer: An object with ``penalty(encoder) -> (Tensor, dict[str, float])`` or None.
        cfg: The suite's pretraining block.
        steps_per_epoch: Optimizer steps per epoch (for warm-up and step schedules).
        max_steps: Total optimizer steps of the run.
        history_every: Record the loss every this many steps.
        config_hash: The run's config hash, stored in checkpoints (a checkpoint of another config is never resumed).
        device_augment: Batched multi-view augmentation applied after the batch is on the device
            (:mod:`benchmark.data.device_augment`), or None when the loader already yields views.
        seed: The run's seed (seeds ``device_augment`` per step and rank).
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
        config_hash: str | None = None,
        device_augment: torch.nn.Module | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.method = method
        #: ``augment.on_device``: batches arrive as (uint8 images, labels) and are augmented on the device.
        self.device_augment = device_augment
        self.seed = int(seed)
        self.regularizer = regularizer
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.max_steps_total = max_steps
        self.history_every = max(1, history_every)
        self.loss_history: list[tuple[int, float]] = []
        self.penalty_history: list[tuple[int, float]] = []
        self.last_penalty_layers: dict[str, float] = {}
        self.last_embedding_std: float | None = None
        self.config_hash = config_hash
        #: (epoch, batches of it consumed) after the last completed optimizer step: where the data order resumes.
        self.data_position: tuple[int, int] = (0, 0)
        #: Steps this run was resumed from, oldest first (one entry per interruption).
        self.resumes: list[int] = []
        self._step = 0
        self._pending_rng: dict[str, Any] | None = None

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """``augment.on_device``: (uint8 images, labels) → (views, labels), one generator per step and rank."""
        if self.device_augment is None or not self.training:
            return batch
        from benchmark.data.device_augment import step_seed

        images, labels = batch[0], batch[1]
        generator = torch.Generator(device=images.device)
        generator.manual_seed(step_seed(self.seed, int(self.global_step), int(self.global_rank)))
        return [self.device_augment(images, generator), labels]

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        views = batch[0]
        if isinstance(views, Tensor):
            views = [views]
        step = int(self.global_step)
        self._step = step
        log_now = (step + 1) % self._log_every() == 0  # the steps Lightning hands to the loggers
        if faults.active("oom_at_step", step):
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (injected by BENCH_FAULT at step {step})")
        out = self.method.training_step(list(views), step=step)
        loss = out.loss
        if faults.active("nan_at_step", step):
            loss = loss * float("nan")
        if self.regularizer is not None:
            penalty, per_layer = self.regularizer.penalty(self.method.encoder)
            loss = loss + penalty
            self.last_penalty_layers = per_layer
            if step % self.history_every == 0:
                self.penalty_history.append((step, float(penalty.detach())))
            if log_now:
                self.log("train/or_penalty", penalty.detach(), on_step=True, prog_bar=False)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise RunFailure(f"training loss is {value}", kind="diverged", step=step)
        if out.embeddings is not None:
            self.last_embedding_std = embedding_std(out.embeddings)
        if step % self.history_every == 0:
            self.loss_history.append((step, value))
        if log_now:  # self.log costs ~0.1 ms a call: only on the steps the logger keeps
            self.log("train/loss", loss.detach(), on_step=True, prog_bar=True)
            for key, val in out.logs.items():
                self.log(f"train/{key}", float(val), on_step=True)
        return loss

    def _log_every(self) -> int:
        """The trainer's ``log_every_n_steps`` (1 outside a trainer)."""
        trainer = self._trainer
        return max(1, int(getattr(trainer, "log_every_n_steps", 1) or 1)) if trainer is not None else 1

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        """The optimizer step, then the method's per-step update (so checkpoints see the complete step)."""
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        self.method.on_step_end(step=self._step)
        self.data_position = (int(epoch), int(batch_idx) + 1)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        faults.maybe_kill("after_step", int(self.global_step))  # test-only; runs after this step's checkpoint
        faults.maybe_interrupt("sigint_after_step", int(self.global_step))

    def on_train_start(self) -> None:
        if self._pending_rng is not None:  # resumed: continue the random stream where the checkpoint left it
            set_rng_state(self._pending_rng)
            self._pending_rng = None

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
        # Plain tensors, numbers, strings, lists and dicts only: checkpoints are loaded with weights_only=True.
        checkpoint[BENCH_KEY] = {
            "format": 1,
            "config_hash": self.config_hash,
            "history": {
                "loss": [[int(s), float(v)] for s, v in self.loss_history],
                "penalty": [[int(s), float(v)] for s, v in self.penalty_history],
            },
            "last_penalty_layers": {str(k): float(v) for k, v in self.last_penalty_layers.items()},
            "last_embedding_std": self.last_embedding_std,
            "data_position": {"epoch": self.data_position[0], "batches_done": self.data_position[1]},
            "resumes": list(self.resumes),
            "rng": get_rng_state(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.restore_bench_state(checkpoint.get(BENCH_KEY) or {})
        self.resumes.append(int(checkpoint.get("global_step", 0)))

    def restore_bench_state(self, state: dict[str, Any], *, rng: bool = True) -> None:
        """Histories, last measurements and data position from a checkpoint's bench state; the RNG state is applied
        at ``on_train_start`` (``rng=False`` skips it, e.g. when only reading a finished run's results)."""
        hist = state.get("history") or {}
        self.loss_history = [(int(s), float(v)) for s, v in hist.get("loss", [])]
        self.penalty_history = [(int(s), float(v)) for s, v in hist.get("penalty", [])]
        self.last_penalty_layers = dict(state.get("last_penalty_layers") or {})
        self.last_embedding_std = state.get("last_embedding_std")
        pos = state.get("data_position") or {}
        self.data_position = (int(pos.get("epoch", 0)), int(pos.get("batches_done", 0)))
        self.resumes = [int(s) for s in state.get("resumes", [])]
        self._pending_rng = state.get("rng") if rng else None


def check_collapse(module: PretrainModule, threshold: float, *, step: int | None = None) -> None:
    """Raise RunFailure(kind="collapsed") when the last embeddings' per-dim std is below ``threshold``.

    ``step`` defaults to the trainer's global step (pass it when training ran in spawned processes).
    """
    std = module.last_embedding_std
    if std is not None and std < threshold:
        raise RunFailure(
            f"embeddings collapsed: mean per-dimension std of normalised embeddings {std:.2e} < {threshold:g}",
            kind="collapsed",
            step=int(module.global_step) if step is None else int(step),
        )
