"""Barlow Twins (Zbontar et al., ICML 2021, arXiv 2103.03230) with Lightly's projector and loss.

Loss: ``Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²`` on the cross-correlation of the batch-standardised embeddings, with
λ = 0.0051 (official facebookresearch/barlowtwins ``--lambd 0.0051``; the paper rounds it to "5·10⁻³"; Lightly's
default is 0.005). ``gather_distributed`` averages C across processes with an autograd-aware all-reduce (Lightly
1.6 contains the fix of the 1/world-size gradient scaling, lightly-ai/lightly#1977).

Defaults follow solo-learn's CIFAR recipe (``scripts/pretrain/cifar/barlow.yaml``: projector 2048-2048-2048 with
3 layers, ``scale_loss: 0.1``, asymmetric BYOL augmentations); the paper's ImageNet projector is 8192-8192-8192.
``scale_loss`` multiplies the whole loss (1.0 = the official loss).
"""

from __future__ import annotations

from typing import Any

from lightly.loss import BarlowTwinsLoss
from lightly.models.modules.heads import BarlowTwinsProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class BarlowTwinsParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(2048, ge=2)
    lambda_param: float = Field(0.0051, ge=0)
    scale_loss: float = Field(0.1, gt=0)


@METHODS.register("barlow_twins")
class BarlowTwins(SSLMethod):
    Params = BarlowTwinsParams
    default_augment = "byol"
    paper = "Zbontar et al., Barlow Twins: Self-Supervised Learning via Redundancy Reduction, ICML 2021"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: BarlowTwinsParams = self.params  # type: ignore[assignment]
        self.projection_head = BarlowTwinsProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.criterion = BarlowTwinsLoss(lambda_param=p.lambda_param, gather_distributed=self.ctx.gather_distributed)

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0 = self.projection_head(self.backbone(views[0]))
        z1 = self.projection_head(self.backbone(views[1]))
        return StepOutput(loss=self.loss_only(z0, z1), logs={}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return tuple(self.projection_head(self.backbone(v)).detach().requires_grad_() for v in views[:2])

    def loss_only(self, z0: Tensor, z1: Tensor) -> Tensor:
        p: BarlowTwinsParams = self.params  # type: ignore[assignment]
        return p.scale_loss * self.criterion(z0, z1)
