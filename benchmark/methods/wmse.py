"""W-MSE (Ermolov et al., ICML 2021, arXiv 2007.06346) with Lightly's ``WMSELoss``.

The projections of both views are whitened (Cholesky whitening, ``Whitening2d``) in random sub-batches of
``whitening_size`` images, ``whitening_iters`` times, and pulled together with the MSE of the L2-normalised whitened
vectors (2 − 2 cos). Lightly's loss follows the same algorithm as solo-learn's ``wmse`` (random permutation of the
batch, per-view whitening of each slice, all view pairs, mean over pairs and iterations). Projector as solo-learn:
Linear → BN → ReLU → Linear.

Pair loss as solo-learn: ``wmse_loss_func(x0, x1)`` = ``2 − 2 · mean cos(x0, stopgrad(x1))`` (vturrisi/solo-learn
``solo/losses/wmse.py``, ``simplified=True``, the default its ``solo/methods/wmse.py`` uses): the second whitened view
of each pair is detached, so with two views only view 0's whitening and projections get a gradient. Lightly's
``norm_mse_loss`` and the authors' code (htdt/self-supervised) do not detach; the value is the same, the gradient
is not (the OR paper and the solo-learn tables ran solo-learn's, so it is the one used here).

Defaults follow solo-learn ``scripts/pretrain/cifar/wmse.yaml``: projector 1024 → 64, whitening size 128, one
iteration, eps 0; Adam lr 2e-3, wd 1e-6 and SimCLR-style augmentations with min scale 0.2 and no blur are the suite's
to set. The local batch must be a multiple of ``whitening_size`` (≥ 2 × the embedding size) — Lightly's requirement.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightly.loss import WMSELoss
from lightly.models.modules.heads import ProjectionHead
from pydantic import Field, model_validator
from torch import Tensor, nn

from benchmark.errors import SuiteError
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class WMSEParams(MethodParams):
    proj_hidden_dim: int = Field(default=1024, ge=1)
    proj_output_dim: int = Field(default=64, ge=1)
    whitening_size: int = Field(default=128, ge=2, description="sub-batch size of the whitening (w_size)")
    whitening_iters: int = Field(default=1, ge=1)
    whitening_eps: float = Field(default=0.0, ge=0)
    whitening_momentum: float = Field(default=0.01, gt=0, le=1, description="running statistics momentum")

    @model_validator(mode="after")
    def _size(self) -> WMSEParams:
        if self.whitening_size < 2 * self.proj_output_dim:
            raise ValueError(
                f"whitening_size={self.whitening_size} must be at least 2 x proj_output_dim={self.proj_output_dim} "
                "(Lightly's WMSELoss: smaller slices make the whitening unstable)"
            )
        return self


def wmse_pair_loss(x0: Tensor, x1: Tensor) -> Tensor:
    """``2 − 2 · mean_i cos(x0_i, stopgrad(x1_i))``: solo-learn's ``wmse_loss_func`` (``simplified=True``)."""
    return 2 - 2 * F.cosine_similarity(x0, x1.detach(), dim=-1).mean()


@METHODS.register("wmse")
class WMSE(SSLMethod):
    Params = WMSEParams
    default_augment = "simclr"
    paper = "Ermolov, Siarohin, Sangineto, Sebe, Whitening for Self-Supervised Representation Learning, ICML 2021"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: WMSEParams = self.params  # type: ignore[assignment]
        if self.ctx.global_batch_size % p.whitening_size:
            raise SuiteError(
                f"W-MSE whitens sub-batches of whitening_size={p.whitening_size} images; the global batch "
                f"{self.ctx.global_batch_size} is not a multiple of it",
                key="method.whitening_size",
                hint="choose a whitening_size that divides the per-device batch (e.g. 128 for batch 256)",
            )
        self.projection_head = ProjectionHead([
            (self.feature_dim, p.proj_hidden_dim, nn.BatchNorm1d(p.proj_hidden_dim), nn.ReLU()),
            (p.proj_hidden_dim, p.proj_output_dim, None, None),
        ])
        self.criterion = WMSELoss(embedding_dim=p.proj_output_dim, momentum=p.whitening_momentum, eps=p.whitening_eps,
                                  w_iter=p.whitening_iters, w_size=p.whitening_size, num_samples=2,
                                  loss_fn=wmse_pair_loss)

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0 = self.projection_head(self.backbone(views[0]))
        z1 = self.projection_head(self.backbone(views[1]))
        loss = self.criterion(torch.cat([z0, z1]))
        return StepOutput(loss=loss, logs={}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        z = torch.cat([self.projection_head(self.backbone(v)) for v in views[:2]])
        return (z.detach().requires_grad_(),)

    def loss_only(self, z: Tensor) -> Tensor:
        return self.criterion(z)
