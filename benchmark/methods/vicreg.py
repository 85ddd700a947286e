"""VICReg (Bardes, Ponce, LeCun, ICLR 2022, arXiv 2105.04906) with Lightly's expander and the suite's VICRegLoss.

Loss: ``sim_coeff · inv + std_coeff · var + cov_coeff · cov`` with "λ = μ = 25 and ν = 1" (paper §4.1, official
``--sim-coeff 25 --std-coeff 25 --cov-coeff 1``). :class:`benchmark.losses.VICRegLoss` reproduces the official code
bitwise, including its covariance divisor ``batch_size − 1`` with the *configured global* batch size
(``main_vicreg.py``); this module passes ``ctx.global_batch_size`` (``use_configured_batch_size: false`` gives
Lightly's row-count divisor; the two differ only on incomplete batches).

Defaults follow solo-learn's CIFAR recipe (``scripts/pretrain/cifar/vicreg.yaml``: expander 2048-2048-2048, i.e.
``proj_hidden_dim 2048, proj_output_dim 2048`` with 3 layers, 25/25/1); the ImageNet paper setting is 8192-8192-8192.
Lightly's ``VICRegProjectionHead`` ends in a Linear *with* bias where the official expander has none: the loss is
invariant to a constant shift (every term is centred or a difference), so the bias gets no gradient and changes
nothing. Augmentations: Lightly's ``VICRegTransform`` (preset ``vicreg``, symmetric, solarisation 0.1, close to
solo-learn's CIFAR recipe); the official ImageNet recipe is the asymmetric BYOL one (preset ``byol``).
"""

from __future__ import annotations

from typing import Any

from lightly.models.modules.heads import VICRegProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.losses import VICRegLoss
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class VICRegParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(2048, ge=2)
    proj_num_layers: int = Field(3, ge=2)
    sim_coeff: float = Field(25.0, ge=0)
    std_coeff: float = Field(25.0, ge=0)
    cov_coeff: float = Field(1.0, ge=0)
    eps: float = Field(1e-4, gt=0)
    use_configured_batch_size: bool = True


@METHODS.register("vicreg")
class VICReg(SSLMethod):
    Params = VICRegParams
    default_augment = "vicreg"
    paper = "Bardes, Ponce, LeCun, VICReg: Variance-Invariance-Covariance Regularization for SSL, ICLR 2022"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: VICRegParams = self.params  # type: ignore[assignment]
        self.projection_head = VICRegProjectionHead(
            self.feature_dim, p.proj_hidden_dim, p.proj_output_dim, p.proj_num_layers
        )
        self.criterion = VICRegLoss(
            sim_coeff=p.sim_coeff,
            std_coeff=p.std_coeff,
            cov_coeff=p.cov_coeff,
            eps=p.eps,
            configured_batch_size=self.ctx.global_batch_size if p.use_configured_batch_size else None,
            gather_distributed=self.ctx.gather_distributed,
        )

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0 = self.projection_head(self.backbone(views[0]))
        z1 = self.projection_head(self.backbone(views[1]))
        terms = self.criterion.terms(z0, z1)
        logs = {name: float(terms[name].detach()) for name in ("inv", "var", "cov")}
        return StepOutput(loss=terms["loss"], logs=logs, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return tuple(self.projection_head(self.backbone(v)).detach().requires_grad_() for v in views[:2])

    def loss_only(self, *inputs: Any) -> Tensor:
        return self.criterion(*inputs)
