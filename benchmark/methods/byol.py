"""BYOL (Grill et al., NeurIPS 2020, arXiv 2006.07733) with Lightly's heads, loss and momentum update.

Defaults follow solo-learn's CIFAR BYOL (`scripts/pretrain/cifar/byol.yaml`): projector 4096 → 256, predictor
4096, momentum 0.99 → 1.0 on a cosine schedule, symmetric negative-cosine loss (Lightly 1.6 removed
``SymNegCosineSimilarityLoss``; this is 0.5·(NegCos(p0, z1) + NegCos(p1, z0)) as its migration note says, ×2 so the
value matches BYOL's 2 − 2cos form up to the constant).

``whitening_weight > 0`` adds VICReg's variance and covariance terms (:class:`benchmark.losses.VICRegLoss` with
no invariance term, coefficients ``whitening_std_coeff``/``whitening_cov_coeff``) on the online projections of both
views: the "BYOL + feature whitening" row of the OR paper's Table 1 (its exact form and weight are not transcribed).
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.losses import VICRegLoss
from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput


class BYOLParams(MethodParams):
    proj_hidden_dim: int = Field(default=4096, ge=1)
    proj_output_dim: int = Field(default=256, ge=1)
    pred_hidden_dim: int = Field(default=4096, ge=1)
    momentum_start: float = Field(default=0.99, ge=0, le=1)
    momentum_end: float = Field(default=1.0, ge=0, le=1)
    whitening_weight: float = Field(
        default=0.0, ge=0, description="OR paper Table 1 'BYOL + whitening': weight of VICReg's variance and "
        "covariance terms on the online projections (0 = plain BYOL)"
    )
    whitening_std_coeff: float = Field(default=25.0, ge=0)
    whitening_cov_coeff: float = Field(default=1.0, ge=0)


@METHODS.register("byol")
class BYOL(MomentumTargetMethod):
    Params = BYOLParams
    default_augment = "byol"
    paper = "Grill et al., Bootstrap Your Own Latent, NeurIPS 2020"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: BYOLParams = self.params  # type: ignore[assignment]
        self.projection_head = BYOLProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prediction_head = BYOLPredictionHead(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim)
        self.init_momentum_targets()
        self.criterion = NegativeCosineSimilarity()
        self.whitening = (
            VICRegLoss(sim_coeff=0.0, std_coeff=p.whitening_std_coeff, cov_coeff=p.whitening_cov_coeff,
                       gather_distributed=self.ctx.gather_distributed)
            if p.whitening_weight > 0 else None
        )

    def _online(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    @torch.no_grad()
    def _target(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        x0, x1 = views[0], views[1]
        z0, p0 = self._online(x0)
        z1, p1 = self._online(x1)
        t0, t1 = self._target(x0), self._target(x1)
        loss = self.criterion(p0, t1) + self.criterion(p1, t0)
        logs = {"momentum": self._momentum(step)}
        if self.whitening is not None:  # decorrelate and keep the variance of the projections (no invariance term)
            terms = self.whitening.terms(z0, z1)
            loss = loss + self.params.whitening_weight * terms["loss"]  # type: ignore[attr-defined]
            logs.update({"whitening_var": float(terms["var"].detach()), "whitening_cov": float(terms["cov"].detach())})
        return StepOutput(loss=loss, logs=logs, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        _, p0 = self._online(views[0])
        _, p1 = self._online(views[1])
        return (p0.detach().requires_grad_(), p1.detach().requires_grad_(), self._target(views[0]), self._target(views[1]))

    def loss_only(self, p0: Tensor, p1: Tensor, t0: Tensor, t1: Tensor) -> Tensor:
        return self.criterion(p0, t1) + self.criterion(p1, t0)
