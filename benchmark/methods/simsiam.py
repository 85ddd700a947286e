"""SimSiam (Chen & He, CVPR 2021, arXiv 2011.10566) with Lightly's heads and negative cosine similarity.

Loss: "L = ½ D(p1, stopgrad(z2)) + ½ D(p2, stopgrad(z1))" with D the negative cosine similarity (paper Eq. 3–4).
Lightly's 3-layer projector (BN on every layer, the ImageNet design) and 2-layer bottleneck predictor; defaults
follow solo-learn's CIFAR recipe (``scripts/pretrain/cifar/simsiam.yaml``: projector 2048 → 2048, predictor hidden
512) and Lightly's ``SimSiamTransform`` (min scale 0.2, as MoCo v2). The paper's CIFAR projector has 2 layers.
"""

from __future__ import annotations

from typing import Any

from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules.heads import SimSiamPredictionHead, SimSiamProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class SimSiamParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(2048, ge=1)
    pred_hidden_dim: int = Field(512, ge=1)


@METHODS.register("simsiam")
class SimSiam(SSLMethod):
    Params = SimSiamParams
    default_augment = "simsiam"
    paper = "Chen & He, Exploring Simple Siamese Representation Learning, CVPR 2021"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: SimSiamParams = self.params  # type: ignore[assignment]
        self.projection_head = SimSiamProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prediction_head = SimSiamPredictionHead(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim)
        self.criterion = NegativeCosineSimilarity()

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0, p0 = self._forward(views[0])
        z1, p1 = self._forward(views[1])
        loss = self.loss_only(p0, p1, z0.detach(), z1.detach())
        return StepOutput(loss=loss, logs={}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        z0, p0 = self._forward(views[0])
        z1, p1 = self._forward(views[1])
        return p0.detach().requires_grad_(), p1.detach().requires_grad_(), z0.detach(), z1.detach()

    def loss_only(self, p0: Tensor, p1: Tensor, z0: Tensor, z1: Tensor) -> Tensor:
        """½ D(p0, sg(z1)) + ½ D(p1, sg(z0)); z0/z1 must already be detached."""
        return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))
