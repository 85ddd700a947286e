"""NNCLR (Dwibedi et al., ICCV 2021, arXiv 2104.14548) with Lightly's heads, nearest-neighbour bank and NT-Xent.

Each projection is replaced by its nearest neighbour in a support set (queue) of past projections, and contrasted
with the prediction of the other view (the support set is updated with view 1 only). ``loss_form`` picks the loss:

* ``solo_learn`` (default): ``½ nnclr(NN(z0), p1) + ½ nnclr(NN(z1), p0)`` with the paper's one-sided cross-entropy of
  each neighbour against the predictions of the whole batch (:class:`benchmark.losses.NNCLRLoss`), exactly
  vturrisi/solo-learn ``solo/methods/nnclr.py`` ``training_step``;
* ``lightly``: ``½ (NTXent(NN(z0), p1) + NTXent(NN(z1), p0))``, Lightly's CIFAR-10 benchmark script
  (``NNCLRModel``): NT-Xent contrasts in both directions, with the neighbours and the predictions of all other
  images as negatives (2n − 1 candidates per row instead of n); for ``suites/lightly_benchmarks.yaml``.

Both are means over rows of a cross-entropy, so their values are of the same order, but they are different losses.

Defaults: projector 2048 → 256, predictor 4096, temperature 0.2 (solo-learn ``scripts/pretrain/cifar/nnclr.yaml``);
support set 4096 (Lightly's CIFAR-10 benchmark; solo-learn 65536, the paper 98304); BYOL augmentations (paper §4.1).
With ``gather_distributed`` the support set is filled with the projections of all processes and the loss contrasts
against the predictions of the global batch.
"""

from __future__ import annotations

from typing import Any, Literal

from lightly.loss import NTXentLoss
from lightly.models.modules import NNMemoryBankModule
from lightly.models.modules.heads import NNCLRPredictionHead, NNCLRProjectionHead
from pydantic import Field
from torch import Tensor, nn

from benchmark.losses import NNCLRLoss
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class NNCLRParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(256, ge=1)
    pred_hidden_dim: int = Field(4096, ge=1)
    temperature: float = Field(0.2, gt=0)
    memory_bank_size: int = Field(4096, ge=1)
    loss_form: Literal["solo_learn", "lightly"] = Field(
        "solo_learn", description="solo_learn: one-sided CE of the neighbours (paper); lightly: two-sided NT-Xent"
    )


@METHODS.register("nnclr")
class NNCLR(SSLMethod):
    Params = NNCLRParams
    default_augment = "byol"
    paper = "Dwibedi et al., With a Little Help from My Friends: Nearest-Neighbor Contrastive Learning, ICCV 2021"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: NNCLRParams = self.params  # type: ignore[assignment]
        self.projection_head = NNCLRProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prediction_head = NNCLRPredictionHead(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim)
        self.memory_bank = NNMemoryBankModule(size=(p.memory_bank_size, p.proj_output_dim))
        self.memory_bank.gather_distributed = self.ctx.gather_distributed  # MemoryBankModule option, not in NN's init
        self.criterion: nn.Module = (
            NTXentLoss(temperature=p.temperature, gather_distributed=self.ctx.gather_distributed)
            if p.loss_form == "lightly"
            else NNCLRLoss(temperature=p.temperature, gather_distributed=self.ctx.gather_distributed)
        )

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    def _neighbours(self, z0: Tensor, z1: Tensor) -> tuple[Tensor, Tensor]:
        nn0 = self.memory_bank(z0.detach(), update=False)
        nn1 = self.memory_bank(z1.detach(), update=True)
        return nn0, nn1

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0, p0 = self._forward(views[0])
        z1, p1 = self._forward(views[1])
        nn0, nn1 = self._neighbours(z0, z1)
        return StepOutput(loss=self.loss_only(nn0, nn1, p0, p1), logs={}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        z0, p0 = self._forward(views[0])
        z1, p1 = self._forward(views[1])
        nn0, nn1 = self._neighbours(z0, z1)
        return nn0, nn1, p0.detach().requires_grad_(), p1.detach().requires_grad_()

    def loss_only(self, nn0: Tensor, nn1: Tensor, p0: Tensor, p1: Tensor) -> Tensor:
        return 0.5 * (self.criterion(nn0, p1) + self.criterion(nn1, p0))
