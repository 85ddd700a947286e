"""SimCLR (Chen et al., ICML 2020, arXiv 2002.05709) with Lightly's projection head and NT-Xent loss.

Defaults follow solo-learn's CIFAR recipe (`scripts/pretrain/cifar/simclr.yaml`: projector 2048 → 256,
temperature 0.2); Lightly's CIFAR-10 benchmark uses temperature 0.5 and output 128 — set them in the suite.
"""

from __future__ import annotations

from typing import Any

from lightly.loss import NTXentLoss
from lightly.models.modules.heads import SimCLRProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class SimCLRParams(MethodParams):
    proj_hidden_dim: int = Field(default=2048, ge=1)
    proj_output_dim: int = Field(default=256, ge=1)
    proj_num_layers: int = Field(default=2, ge=2)
    temperature: float = Field(default=0.2, gt=0)
    memory_bank_size: int = Field(default=0, ge=0)


@METHODS.register("simclr")
class SimCLR(SSLMethod):
    Params = SimCLRParams
    default_augment = "simclr"
    paper = "Chen et al., A Simple Framework for Contrastive Learning of Visual Representations, ICML 2020"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: SimCLRParams = self.params  # type: ignore[assignment]
        self.projection_head = SimCLRProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim, p.proj_num_layers)
        # Lightly 1.6 needs the bank shape (size, dim): a bare int raises ValueError there.
        bank = (p.memory_bank_size, p.proj_output_dim) if p.memory_bank_size > 0 else 0
        self.criterion = NTXentLoss(
            temperature=p.temperature, memory_bank_size=bank, gather_distributed=self.ctx.gather_distributed
        )

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        x0, x1 = views[0], views[1]
        z0 = self.projection_head(self.backbone(x0))
        z1 = self.projection_head(self.backbone(x1))
        loss = self.criterion(z0, z1)
        return StepOutput(loss=loss, logs={}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return tuple(self.projection_head(self.backbone(v)).detach().requires_grad_() for v in views[:2])

    def loss_only(self, *inputs: Any) -> Tensor:
        return self.criterion(*inputs)
