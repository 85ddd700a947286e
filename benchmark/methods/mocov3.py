"""MoCo v3 (Chen, Xie, He, ICCV 2021, arXiv 2104.02057) with Lightly's heads and momentum update.

A BYOL-shaped asymmetric pair (online backbone → projector → predictor; momentum backbone → projector) trained with
a contrastive loss instead of BYOL's regression: ``ctr(q0, k1) + ctr(q1, k0)``, ``ctr`` = 2τ·InfoNCE of the queries
against the keys of the whole (gathered) batch, no queue (:class:`benchmark.losses.MoCoV3Loss`).

Heads as in MoCo v3 and solo-learn's ``mocov3``: projector = ``proj_layers`` Linear layers (no bias) with BN + ReLU
between them and a final BN without affine parameters ("following SimCLR"); predictor = 2 layers, final BN only if
``pred_last_bn`` (solo-learn: off for ResNets, on for ViTs, whose projector has 3 layers). Built from Lightly's
``ProjectionHead`` blocks. Defaults follow solo-learn ``scripts/pretrain/cifar/mocov3.yaml``: projector 4096 → 256,
predictor 4096, τ = 0.2, momentum 0.99 → 1.0 (cosine), asymmetric BYOL augmentations; LARS lr 0.3, wd 1e-6 are the
suite's to set. Difference: the predictor's last Linear has a bias here (Lightly's block default without BN), none in
solo-learn.
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.models.modules.heads import ProjectionHead
from pydantic import Field
from torch import Tensor, nn

from benchmark.losses import MoCoV3Loss
from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput


class MoCoV3Params(MethodParams):
    proj_hidden_dim: int = Field(default=4096, ge=1)
    proj_output_dim: int = Field(default=256, ge=1)
    proj_layers: int = Field(default=2, ge=2, le=3, description="2 for ResNets, 3 for ViTs (MoCo v3 / solo-learn)")
    pred_hidden_dim: int = Field(default=4096, ge=1)
    pred_last_bn: bool = Field(default=False, description="BN without affine after the predictor (ViT recipe)")
    temperature: float = Field(default=0.2, gt=0)
    momentum_start: float = Field(default=0.99, ge=0, le=1)
    momentum_end: float = Field(default=1.0, ge=0, le=1)


def _mlp(in_dim: int, hidden: int, out: int, layers: int, last_bn: bool) -> ProjectionHead:
    """``layers`` Linear layers with BN + ReLU between them; a non-affine BN after the last one if ``last_bn``."""
    blocks: list[tuple[Any, ...]] = []
    for i in range(layers):
        d_in = in_dim if i == 0 else hidden
        if i < layers - 1:
            blocks.append((d_in, hidden, nn.BatchNorm1d(hidden), nn.ReLU()))
        elif last_bn:
            blocks.append((d_in, out, nn.BatchNorm1d(out, affine=False), None))
        else:
            blocks.append((d_in, out, None, None))
    return ProjectionHead(blocks)


@METHODS.register("mocov3")
class MoCoV3(MomentumTargetMethod):
    Params = MoCoV3Params
    default_augment = "byol"
    paper = "Chen, Xie, He, An Empirical Study of Training Self-Supervised Vision Transformers (MoCo v3), ICCV 2021"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: MoCoV3Params = self.params  # type: ignore[assignment]
        self.projection_head = _mlp(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim, p.proj_layers, True)
        self.prediction_head = _mlp(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim, 2, p.pred_last_bn)
        self.init_momentum_targets()
        self.criterion = MoCoV3Loss(temperature=p.temperature, gather_distributed=self.ctx.gather_distributed)

    def _query(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    @torch.no_grad()
    def _key(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0, q0 = self._query(views[0])
        _, q1 = self._query(views[1])
        k0, k1 = self._key(views[0]), self._key(views[1])
        loss = self.criterion(q0, k1) + self.criterion(q1, k0)
        return StepOutput(loss=loss, logs={"momentum": self._momentum(step)}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        _, q0 = self._query(views[0])
        _, q1 = self._query(views[1])
        return (q0.detach().requires_grad_(), q1.detach().requires_grad_(), self._key(views[0]), self._key(views[1]))

    def loss_only(self, q0: Tensor, q1: Tensor, k0: Tensor, k1: Tensor) -> Tensor:
        return self.criterion(q0, k1) + self.criterion(q1, k0)
