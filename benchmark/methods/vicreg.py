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

``use_projector: false`` is the OR paper's "VICREG without projector" (App. A.1, Table 8 / Fig. 4: "we discard the
projector and apply the SSL objective directly to the representations"): no expander is built and the loss (and the
collapse check's embeddings) are the backbone's representations; the ``proj_*`` keys then have no meaning and are
rejected.
"""

from __future__ import annotations

from typing import Any

from lightly.models.modules.heads import VICRegProjectionHead
from pydantic import Field, model_validator
from torch import Tensor, nn

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
    use_projector: bool = Field(
        True, description="false: no expander, the loss is applied to the backbone representations (OR paper Table 8)"
    )

    @model_validator(mode="after")
    def _projector_keys_need_a_projector(self) -> VICRegParams:
        given = sorted(k for k in ("proj_hidden_dim", "proj_output_dim", "proj_num_layers") if k in self.model_fields_set)
        if not self.use_projector and given:
            raise ValueError(
                f"{', '.join(repr(k) for k in given)} set with use_projector: false, which builds no projector: "
                f"remove {'it' if len(given) == 1 else 'them'} (the embedding dimension is then the backbone's "
                "feature dimension)"
            )
        return self


@METHODS.register("vicreg")
class VICReg(SSLMethod):
    Params = VICRegParams
    default_augment = "vicreg"
    paper = "Bardes, Ponce, LeCun, VICReg: Variance-Invariance-Covariance Regularization for SSL, ICLR 2022"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: VICRegParams = self.params  # type: ignore[assignment]
        # Without a projector the "projection" is the representation itself: an Identity has no parameters.
        self.projection_head: nn.Module = (
            VICRegProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim, p.proj_num_layers)
            if p.use_projector else nn.Identity()
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
