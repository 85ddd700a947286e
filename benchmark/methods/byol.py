"""BYOL (Grill et al., NeurIPS 2020, arXiv 2006.07733) with Lightly's heads, loss and momentum update.

Defaults follow solo-learn's CIFAR BYOL (`scripts/pretrain/cifar/byol.yaml`): projector 4096 → 256, predictor
4096, momentum 0.99 → 1.0 on a cosine schedule, symmetric negative-cosine loss (Lightly 1.6 removed
``SymNegCosineSimilarityLoss``; this is 0.5·(NegCos(p0, z1) + NegCos(p1, z0)) as its migration note says, ×2 so the
value matches BYOL's 2 − 2cos form up to the constant).
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from lightly.models.utils import update_momentum
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput, cosine_momentum, momentum_copy


class BYOLParams(MethodParams):
    proj_hidden_dim: int = Field(default=4096, ge=1)
    proj_output_dim: int = Field(default=256, ge=1)
    pred_hidden_dim: int = Field(default=4096, ge=1)
    momentum_start: float = Field(default=0.99, ge=0, le=1)
    momentum_end: float = Field(default=1.0, ge=0, le=1)


@METHODS.register("byol")
class BYOL(SSLMethod):
    Params = BYOLParams
    default_augment = "byol"
    paper = "Grill et al., Bootstrap Your Own Latent, NeurIPS 2020"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: BYOLParams = self.params  # type: ignore[assignment]
        self.projection_head = BYOLProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prediction_head = BYOLPredictionHead(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim)
        self.backbone_momentum = momentum_copy(self.backbone)
        self.projection_head_momentum = momentum_copy(self.projection_head)
        self.criterion = NegativeCosineSimilarity()

    def _online(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    @torch.no_grad()
    def _target(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        x0, x1 = views[0], views[1]
        z0, p0 = self._online(x0)
        _, p1 = self._online(x1)
        t0, t1 = self._target(x0), self._target(x1)
        loss = self.criterion(p0, t1) + self.criterion(p1, t0)
        return StepOutput(loss=loss, logs={"momentum": self._momentum(step)}, embeddings=z0.detach())

    def _momentum(self, step: int) -> float:
        p: BYOLParams = self.params  # type: ignore[assignment]
        return cosine_momentum(step, self.ctx.max_steps, p.momentum_start, p.momentum_end)

    @torch.no_grad()
    def on_step_end(self, *, step: int) -> None:
        m = self._momentum(step)
        update_momentum(self.backbone, self.backbone_momentum, m)
        update_momentum(self.projection_head, self.projection_head_momentum, m)

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        _, p0 = self._online(views[0])
        _, p1 = self._online(views[1])
        return (p0.detach().requires_grad_(), p1.detach().requires_grad_(), self._target(views[0]), self._target(views[1]))

    def loss_only(self, p0: Tensor, p1: Tensor, t0: Tensor, t1: Tensor) -> Tensor:
        return self.criterion(p0, t1) + self.criterion(p1, t0)
