"""SwAV (Caron et al., NeurIPS 2020, arXiv 2006.09882) with Lightly's projection head and loss.

Swapped prediction: Sinkhorn-Knopp codes of each high-resolution view (ε = 0.05, 3 iterations) are predicted from
the prototype scores of every other view at temperature 0.1 ("τ = 0.1", "ε = 0.05", paper §4 / official
``main_swav.py``). Multi-crop follows the transform's views: the first ``n_high_res_views`` (2) get codes, all
others are predicted only. Prototypes are L2-normalised at the start of every step and frozen for the first
``freeze_prototypes_steps`` ("freeze_prototypes_niters 313", about one ImageNet epoch).

Prototypes are a bias-free ``nn.Linear`` as in the official ``resnet50.py`` (``nn.Linear(output_dim,
nmb_prototypes, bias=False)``), normalised with ``lightly.models.utils.normalize_weight``; Lightly's
``SwaVPrototypes`` is not used because its Linear layers carry a bias and it freezes by toggling ``requires_grad``
(rejected by DDP without ``find_unused_parameters``). Freezing here multiplies the prototypes' gradient by zero;
they are excluded from weight decay, so a zero gradient leaves them unchanged with SGD, LARS and AdamW (the official
code sets the gradient to None; weight decay would not matter either, the prototypes are re-normalised each step).

Optional queue (``queue_length > 0``): the normalised projections of the high-resolution views of past batches,
one queue per view, enqueued every step and scored with the current prototypes when computing the codes, from step
``queue_start_step`` on and only once the queue has been filled (official ``epoch_queue_starts``; the queue holds
the local batch of each process, Sinkhorn sums across processes with ``gather_distributed``).

Defaults follow solo-learn's CIFAR recipe (``scripts/pretrain/cifar/swav.yaml``): projector 2048 → 128, 3000
prototypes, temperature 0.1, prototypes frozen 2 of 1000 epochs (here 0.2 % of ``max_steps`` unless given in
steps). solo-learn also uses a 3840-long queue from epoch 50: set ``queue_length: 3840`` (the start then defaults
to 5 % of ``max_steps``); the default here is no queue, as Lightly's CIFAR-10 benchmark.
``embeddings`` are the normalised 128-d projections of view 0.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightly.loss import SwaVLoss
from lightly.loss.memory_bank import MemoryBankModule
from lightly.models.modules.heads import SwaVProjectionHead
from lightly.models.utils import normalize_weight
from pydantic import Field
from torch import Tensor, nn

from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


def _gradient_scaled(t: Tensor, scale: float) -> Tensor:
    """``t`` in the forward pass, ``scale ·`` its gradient in the backward pass (0 freezes, keeps it in the graph)."""
    return t if scale == 1.0 else t * scale + t.detach() * (1.0 - scale)


class SwaVParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(128, ge=1)
    n_prototypes: int = Field(3000, ge=2)
    temperature: float = Field(0.1, gt=0)
    sinkhorn_iterations: int = Field(3, ge=1)
    sinkhorn_epsilon: float = Field(0.05, gt=0)
    freeze_prototypes_steps: int | None = Field(None, ge=0, description="None: 0.2 % of max_steps (2/1000 epochs)")
    n_high_res_views: int = Field(2, ge=1)
    queue_length: int = Field(0, ge=0)
    queue_start_step: int | None = Field(None, ge=0, description="None: 5 % of max_steps (epoch 50 of 1000)")


@METHODS.register("swav")
class SwaV(SSLMethod):
    Params = SwaVParams
    default_augment = "swav"
    paper = "Caron et al., Unsupervised Learning of Visual Features by Contrasting Cluster Assignments, NeurIPS 2020"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: SwaVParams = self.params  # type: ignore[assignment]
        self.projection_head = SwaVProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prototypes = nn.Linear(p.proj_output_dim, p.n_prototypes, bias=False)
        self.criterion = SwaVLoss(
            temperature=p.temperature,
            sinkhorn_iterations=p.sinkhorn_iterations,
            sinkhorn_epsilon=p.sinkhorn_epsilon,
            sinkhorn_gather_distributed=self.ctx.gather_distributed,
        )
        max_steps = max(self.ctx.max_steps, 1)
        self.freeze_steps = round(0.002 * max_steps) if p.freeze_prototypes_steps is None else p.freeze_prototypes_steps
        self.queue_start = round(0.05 * max_steps) if p.queue_start_step is None else p.queue_start_step
        self.queues = nn.ModuleList(
            MemoryBankModule(size=(p.queue_length, p.proj_output_dim), feature_dim_first=False)
            for _ in range(p.n_high_res_views if p.queue_length > 0 else 0)
        )
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long), persistent=False)

    def _project(self, x: Tensor) -> Tensor:
        return F.normalize(self.projection_head(self.backbone(x)), dim=1, p=2)

    def _scores(self, z: Tensor, *, frozen: bool) -> Tensor:
        return F.linear(z, _gradient_scaled(self.prototypes.weight, 0.0 if frozen else 1.0))

    @torch.no_grad()
    def _queue_scores(self, high_res_z: list[Tensor], *, step: int) -> list[Tensor] | None:
        """Scores of the queued projections (before this batch is enqueued); None while the queue is not in use."""
        if not self.queues:
            return None
        p: SwaVParams = self.params  # type: ignore[assignment]
        queued = [queue(z.detach(), update=True)[1] for queue, z in zip(self.queues, high_res_z, strict=True)]
        use = step >= self.queue_start and int(self.queue_filled) >= p.queue_length
        self.queue_filled += high_res_z[0].shape[0]
        if not use:
            return None
        return [F.linear(q.to(z.dtype), self.prototypes.weight) for q, z in zip(queued, high_res_z, strict=True)]

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        p: SwaVParams = self.params  # type: ignore[assignment]
        with torch.no_grad():
            normalize_weight(self.prototypes.weight)
        frozen = step < self.freeze_steps
        z = [self._project(v) for v in views]
        scores = [self._scores(zi, frozen=frozen) for zi in z]
        high, low = scores[: p.n_high_res_views], scores[p.n_high_res_views :]
        queue_scores = self._queue_scores(z[: p.n_high_res_views], step=step)
        loss = self.criterion(high, low, queue_scores).squeeze()
        logs = {"prototypes_frozen": float(frozen), "queue_used": float(queue_scores is not None)}
        return StepOutput(loss=loss, logs=logs, embeddings=z[0].detach())

    def excluded_from_weight_decay(self) -> list[nn.Parameter]:
        return [self.prototypes.weight]

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        """Prototype scores of every view, flat (high-resolution views first); the queue is left out."""
        return tuple(self._scores(self._project(v), frozen=False).detach().requires_grad_() for v in views)

    def loss_only(self, *scores: Tensor) -> Tensor:
        p: SwaVParams = self.params  # type: ignore[assignment]
        return self.criterion(list(scores[: p.n_high_res_views]), list(scores[p.n_high_res_views :])).squeeze()
