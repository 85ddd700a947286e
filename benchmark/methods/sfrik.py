"""SFRIK (Zheng, Puy, Riccietti, Pérez, Gribonval, ICLR 2023, arXiv 2208.00789) with the suite's SFRIKLoss.

Loss: ``sim_coeff · MSE(ẑ_a, ẑ_b) + mmd_coeff · ½ (MMD²(Ẑ_a) + MMD²(Ẑ_b))`` on L2-normalised projections, the MMD
to the uniform distribution on the sphere S^{q−1} with the rotation-invariant kernel ``Σ_{l=1..L} b_l P_l(q; ·)``
(:class:`benchmark.losses.SFRIKLoss`, checked against valeoai/sfrik ``src/sfrik/ssl.py`` commit c6ce16e). Defaults
are the official README values ``--sfrik-sim-coeff 4000 --sfrik-mmd-coeff 1.0 --sfrik-weights 1.0-40.0-40.0``.

Projector as the official ``Projector``: ``Linear → BN → ReLU`` for every hidden layer, a final ``Linear``
**without bias** (built with Lightly's ``ProjectionHead``; the hidden Linear layers drop their bias, which the
following BN cancels). ``mlp`` lists the layer widths after the backbone, the official ``--mlp`` spec; q is its last
entry and must be >= 3 (the Legendre polynomials P_l(q; ·) need q >= 3). The paper's ImageNet runs use
``[8192, 8192, 8192]`` (IN20 %, R18) and ``[8192, 8192, 32768]`` (IN100 %, R50); there is no CIFAR recipe, so the
default here is the smaller **``[2048, 2048, 2048]``** (as solo-learn's CIFAR VICReg expander). The invariance term
is a mean over n·q elements, so its per-sample weight is ``sim_coeff / q`` (sfrik_iclr23.md §2.1): with q = 2048 the
README's 4000 weighs invariance 4× more than in the official q = 8192 runs; ``sim_coeff: 1000`` keeps their balance
(the default stays 4000, the paper's value). Augmentations: the official ``ImageNetVICRegTrainTransform`` is the
asymmetric BYOL recipe (blur 1.0/0.1, solarisation 0/0.2), preset ``byol``.
"""

from __future__ import annotations

from typing import Any

from lightly.models.modules.heads import ProjectionHead
from pydantic import Field, field_validator
from torch import Tensor, nn

from benchmark.losses import SFRIKLoss
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class SFRIKParams(MethodParams):
    mlp: list[int] = Field(default_factory=lambda: [2048, 2048, 2048], description="projector widths; q = last")
    sim_coeff: float = Field(4000.0, ge=0)
    mmd_coeff: float = Field(1.0, ge=0)
    weights: list[float] = Field(default_factory=lambda: [1.0, 40.0, 40.0], description="kernel weights b_1..b_L")

    @field_validator("mlp")
    @classmethod
    def _check_mlp(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("mlp must list at least one layer width (the last one is the embedding dimension q)")
        if any(w < 1 for w in v):
            raise ValueError(f"mlp widths must be positive, got {v}")
        if v[-1] < 3:
            raise ValueError(
                f"the embedding dimension q = mlp[-1] must be >= 3 for the Legendre kernel P_l(q; ·), got q = {v[-1]}"
            )
        return v

    @field_validator("weights")
    @classmethod
    def _check_weights(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("weights must list at least b_1 (e.g. [1.0, 40.0, 40.0])")
        if any(b < 0 for b in v):
            raise ValueError(f"kernel weights b_l must be >= 0 (positive-definite kernel), got {v}")
        return v


def sfrik_projector(input_dim: int, mlp: list[int]) -> ProjectionHead:
    """Official SFRIK projector: ``(Linear → BN → ReLU) × (len(mlp) − 1)`` then ``Linear(bias=False)``."""
    dims = [input_dim, *mlp]
    blocks: list[tuple[int, int, nn.Module | None, nn.Module | None, bool]] = [
        (dims[i], dims[i + 1], nn.BatchNorm1d(dims[i + 1]), nn.ReLU(), False) for i in range(len(mlp) - 1)
    ]
    blocks.append((dims[-2], dims[-1], None, None, False))
    return ProjectionHead(blocks)


@METHODS.register("sfrik")
class SFRIK(SSLMethod):
    Params = SFRIKParams
    default_augment = "byol"
    paper = "Zheng et al., Self-supervised learning with rotation-invariant kernels, ICLR 2023"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: SFRIKParams = self.params  # type: ignore[assignment]
        self.projection_head = sfrik_projector(self.feature_dim, p.mlp)
        self.criterion = SFRIKLoss(
            sim_coeff=p.sim_coeff,
            mmd_coeff=p.mmd_coeff,
            weights=p.weights,
            gather_distributed=self.ctx.gather_distributed,
        )

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0 = self.projection_head(self.backbone(views[0]))
        z1 = self.projection_head(self.backbone(views[1]))
        terms = self.criterion.terms(z0, z1)
        logs = {"inv": float(terms["inv"].detach()), "mmd": float(terms["mmd"].detach())}
        return StepOutput(loss=terms["loss"], logs=logs, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return tuple(self.projection_head(self.backbone(v)).detach().requires_grad_() for v in views[:2])

    def loss_only(self, *inputs: Any) -> Tensor:
        return self.criterion(*inputs)
