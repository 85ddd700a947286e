"""AUH: alignment and uniformity on the hypersphere (Wang & Isola, ICML 2020), the SFRIK paper's baseline.

The authors' re-implementation in valeoai/sfrik ``src/sfrik/ssl.py`` (commit c6ce16e, class ``AUH``), with the
suite's :class:`benchmark.losses.AUHLoss`: ``sim_coeff · MSE(ẑ_a, ẑ_b) + unif_coeff · ½ (U(Ẑ_a) + U(Ẑ_b))`` on
L2-normalised projections, ``U(Z) = log mean_{i≠j} exp(−2t (1 − z_iᵀz_j))`` on the gathered batch. Defaults are the
README's IN20 % command ``--auh-sim-coeff 3000.0 --auh-unif-coeff 1.0 --auh-scale 2.5`` (with ``--base-lr 1.0``,
a suite setting).

Projector, ``mlp`` and augmentation as :mod:`benchmark.methods.sfrik` (the official ``SSLMethod`` base builds the
same ``Projector`` for every method): ``Linear → BN → ReLU`` hidden layers, final ``Linear`` without bias, default
``[2048, 2048, 2048]`` (the README uses ``8192-8192-8192``); preset ``byol`` (``ImageNetVICRegTrainTransform``). As
for SFRIK the alignment is a mean over n·q elements, so its per-sample weight is ``sim_coeff / q``. The official AUH
has no multi-crop (``assert self.args.multicrop is None``): ``bench validate`` requires two views.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from torch import Tensor

from benchmark.errors import SuiteError
from benchmark.losses import AUHLoss
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput
from benchmark.methods.sfrik import sfrik_projector


class AUHParams(MethodParams):
    mlp: list[int] = Field(default_factory=lambda: [2048, 2048, 2048], description="projector widths; q = last")
    sim_coeff: float = Field(3000.0, ge=0)
    unif_coeff: float = Field(1.0, ge=0)
    scale: float = Field(2.5, gt=0, description="t in exp(-2t(1 - cos)), README --auh-scale")

    @field_validator("mlp")
    @classmethod
    def _check_mlp(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("mlp must list at least one layer width (the last one is the embedding dimension q)")
        if any(w < 1 for w in v):
            raise ValueError(f"mlp widths must be positive, got {v}")
        return v


@METHODS.register("auh")
class AUH(SSLMethod):
    Params = AUHParams
    default_augment = "byol"
    paper = (
        "Wang & Isola, Understanding Contrastive Representation Learning through Alignment and Uniformity on the "
        "Hypersphere, ICML 2020 (as the baseline of Zheng et al., ICLR 2023)"
    )

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: AUHParams = self.params  # type: ignore[assignment]
        self.projection_head = sfrik_projector(self.feature_dim, p.mlp)
        self.criterion = AUHLoss(
            sim_coeff=p.sim_coeff,
            unif_coeff=p.unif_coeff,
            scale=p.scale,
            gather_distributed=self.ctx.gather_distributed,
        )

    @classmethod
    def check_views(cls, params: AUHParams, view_shapes: list[tuple[int, int]]) -> None:  # type: ignore[override]
        if len(view_shapes) != 2:
            raise SuiteError(
                f"auh trains on 2 views, but the augmentation yields {len(view_shapes)} view(s)",
                hint="use a two-view preset (byol, vicreg, simclr); the official AUH has no multi-crop",
            )

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0 = self.projection_head(self.backbone(views[0]))
        z1 = self.projection_head(self.backbone(views[1]))
        terms = self.criterion.terms(z0, z1)
        logs = {"inv": float(terms["inv"].detach()), "unif": float(terms["unif"].detach())}
        return StepOutput(loss=terms["loss"], logs=logs, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return tuple(self.projection_head(self.backbone(v)).detach().requires_grad_() for v in views[:2])

    def loss_only(self, *inputs: Any) -> Tensor:
        return self.criterion(*inputs)
