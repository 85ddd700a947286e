"""MoCo v2+ (Chen et al., arXiv 2003.04297; "v2+" = symmetric loss as in solo-learn) with Lightly's head and loss.

MoCo v2: a momentum (EMA) key encoder, a 2-layer MLP projector, InfoNCE against a queue of past keys at temperature
0.2 ("τ = 0.2", MoCo v2 §2). solo-learn's ``mocov2plus`` symmetrises the loss,
``½ (InfoNCE(q0, k1; queue_1) + InfoNCE(q1, k0; queue_0))``, with **one queue per view** (its ``queue`` has shape
(2, dim, size)); here each term has its own ``NTXentLoss`` and memory bank, so a query never sees the key of its own
view from the same batch among its negatives (one shared bank would enqueue k1 before the second term).

Defaults: projector 2048 → 256 and temperature 0.2 (solo-learn ``scripts/pretrain/cifar/mocov2plus.yaml``); queue
4096 per view (Lightly's CIFAR-10 benchmark; solo-learn uses 32768, the paper 65536); momentum 0.99 → 1.0 on a cosine
schedule (solo-learn's CIFAR file ends at 0.999). With ``gather_distributed`` the keys of all processes are enqueued
(official MoCo's ``concat_all_gather``). ``memory_bank_size: 0`` uses in-batch negatives instead of a queue.
Shuffle-BN is not emulated (solo-learn does not either; use ``sync_batchnorm``).
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules.heads import MoCoProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput


class MoCoParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(256, ge=1)
    temperature: float = Field(0.2, gt=0)
    memory_bank_size: int = Field(4096, ge=0)
    momentum_start: float = Field(0.99, ge=0, le=1)
    momentum_end: float = Field(1.0, ge=0, le=1)


@METHODS.register("moco")
class MoCo(MomentumTargetMethod):
    Params = MoCoParams
    default_augment = "moco_v2"
    paper = "Chen, Fan, Girshick, He, Improved Baselines with Momentum Contrastive Learning (MoCo v2), arXiv 2020"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: MoCoParams = self.params  # type: ignore[assignment]
        self.projection_head = MoCoProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.init_momentum_targets()
        bank = (p.memory_bank_size, p.proj_output_dim) if p.memory_bank_size > 0 else 0
        # criterion_0 scores queries of view 0 against keys of view 1 (and queues those keys); criterion_1 the reverse.
        self.criterion_0 = NTXentLoss(
            temperature=p.temperature, memory_bank_size=bank, gather_distributed=self.ctx.gather_distributed
        )
        self.criterion_1 = NTXentLoss(
            temperature=p.temperature, memory_bank_size=bank, gather_distributed=self.ctx.gather_distributed
        )

    def _query(self, x: Tensor) -> Tensor:
        return self.projection_head(self.backbone(x))

    @torch.no_grad()
    def _key(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        q0, q1 = self._query(views[0]), self._query(views[1])
        k0, k1 = self._key(views[0]), self._key(views[1])
        loss = self.loss_only(q0, q1, k0, k1)
        return StepOutput(loss=loss, logs={"momentum": self._momentum(step)}, embeddings=q0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        q0, q1 = (self._query(v).detach().requires_grad_() for v in views[:2])
        return q0, q1, self._key(views[0]), self._key(views[1])

    def loss_only(self, q0: Tensor, q1: Tensor, k0: Tensor, k1: Tensor) -> Tensor:
        return 0.5 * (self.criterion_0(q0, k1) + self.criterion_1(q1, k0))
