"""NNBYOL (solo-learn's ``nnbyol``): BYOL whose target is the nearest neighbour of the momentum projection in a queue.

The nearest-neighbour target of NNCLR (Dwibedi et al., ICCV 2021, arXiv 2104.14548) on BYOL (Grill et al., NeurIPS
2020). solo-learn ``solo/methods/nnbyol.py``: "NNBYOL is similar to NNSiam but the queue from which the neighbors are
retrieved is updated using the features of the momentum backbone". For views 1, 2 with online predictions p1, p2 and
L2-normalised momentum projections z1', z2', the loss is solo-learn's ``byol_loss_func`` per pair, summed::

    (2 − 2·mean cos(p1, NN(z2'))) + (2 − 2·mean cos(p2, NN(z1')))        (range [0, 8])

``NN(z)`` is the queue entry with the largest dot product with ``z`` (queue and z unit-norm: the cosine), looked up
before this batch's z1' is enqueued (first-in first-out); the queue starts as random unit vectors. The scale is
computed here (:func:`byol_pair_loss`), independent of :mod:`benchmark.methods.byol`'s.

Defaults (solo-learn ``scripts/pretrain/cifar/nnbyol.yaml``): ``proj_hidden_dim: 4096``, ``pred_hidden_dim: 4096``,
``proj_output_dim: 256``, ``queue_size: 65536`` (here ``memory_bank_size``), momentum ``base_tau: 0.99`` →
``final_tau: 1.0`` on a cosine schedule, ``augmentations: asymmetric.yaml`` (preset ``byol``). With
``gather_distributed`` the queue is filled with the momentum projections of all processes (solo-learn gathers).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules import NNMemoryBankModule
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput

_NEG_COS = NegativeCosineSimilarity()


def byol_pair_loss(p: Tensor, z: Tensor) -> Tensor:
    """solo-learn's ``byol_loss_func``: ``2 − 2 · mean_i cos(p_i, z_i)``, no gradient to ``z``."""
    return 2.0 + 2.0 * _NEG_COS(p, z.detach())  # NegativeCosineSimilarity = −mean cos


class NNBYOLParams(MethodParams):
    proj_hidden_dim: int = Field(4096, ge=1)
    proj_output_dim: int = Field(256, ge=1)
    pred_hidden_dim: int = Field(4096, ge=1)
    memory_bank_size: int = Field(65536, ge=1, description="support-set (queue) size; solo-learn's queue_size")
    momentum_start: float = Field(0.99, ge=0, le=1)
    momentum_end: float = Field(1.0, ge=0, le=1)


@METHODS.register("nnbyol")
class NNBYOL(MomentumTargetMethod):
    Params = NNBYOLParams
    default_augment = "byol"
    paper = "solo-learn NNBYOL: BYOL (Grill et al., NeurIPS 2020) with NNCLR's nearest-neighbour targets (ICCV 2021)"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: NNBYOLParams = self.params  # type: ignore[assignment]
        self.projection_head = BYOLProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prediction_head = BYOLPredictionHead(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim)
        self.init_momentum_targets()
        self.memory_bank = NNMemoryBankModule(size=(p.memory_bank_size, p.proj_output_dim))
        self.memory_bank.gather_distributed = self.ctx.gather_distributed  # MemoryBankModule option, not in NN's init

    def _online(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    @torch.no_grad()
    def _target(self, x: Tensor) -> Tensor:
        """The L2-normalised momentum projection (what the queue holds)."""
        return F.normalize(self.projection_head_momentum(self.backbone_momentum(x)), dim=-1)

    @torch.no_grad()
    def _neighbours(self, t0: Tensor, t1: Tensor, *, update: bool) -> tuple[Tensor, Tensor]:
        """NN(t0), NN(t1) from the queue as it was before this batch; then t0 (view 1's) is enqueued if ``update``."""
        nn1 = self.memory_bank(t1, update=False)
        nn0 = self.memory_bank(t0, update=update)  # the lookup reads the queue before the update
        return nn0, nn1

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0, p0 = self._online(views[0])
        _, p1 = self._online(views[1])
        nn0, nn1 = self._neighbours(self._target(views[0]), self._target(views[1]), update=True)
        loss = self.loss_only(p0, p1, nn0, nn1)
        return StepOutput(loss=loss, logs={"momentum": self._momentum(step)}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        _, p0 = self._online(views[0])
        _, p1 = self._online(views[1])
        nn0, nn1 = self._neighbours(self._target(views[0]), self._target(views[1]), update=False)
        return p0.detach().requires_grad_(), p1.detach().requires_grad_(), nn0, nn1

    def loss_only(self, p0: Tensor, p1: Tensor, nn0: Tensor, nn1: Tensor) -> Tensor:
        return byol_pair_loss(p0, nn1) + byol_pair_loss(p1, nn0)
