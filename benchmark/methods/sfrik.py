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
is a mean over n·q elements (valeoai/sfrik ``src/sfrik/ssl.py``, ``SFRIK.two_views_forward``), so its per-sample
weight is ``sim_coeff / q``: with q = 2048 the README's 4000 weighs invariance 4× more than in the official q = 8192
runs; ``sim_coeff: 1000`` keeps their balance (the default stays 4000, the paper's value). Augmentations: the official
``ImageNetVICRegTrainTransform`` is the asymmetric BYOL recipe (blur 1.0/0.1, solarisation 0/0.2), preset ``byol``.

Multi-crop (``multi_crop``, the official switch ``args.multicrop`` ∈ {None, "OBoW", "SwAV"}, set there by
``--augmentations``): the loss is :class:`benchmark.losses.SFRIKMultiCropLoss` (``obow_multi_crop_forward`` /
``swav_multi_crop_forward``): every view's projection is pulled towards the anchor view(s), the invariance averaged
over (anchor, other view) pairs, and the MMD applied to the anchors, plus every other view with ``reg_small: true``
(official ``--reg_small``, which has no default: it must be given with ``multi_crop``).

* ``multi_crop: swav``: the first ``n_global_views`` views (default 2, official ``--general_indices 0 1``) are the
  anchors; preset ``swav`` with the README's crops ``crop_sizes: [224, 96], crop_counts: [2, 6], crop_min_scales:
  [0.14, 0.05], crop_max_scales: [1.0, 0.14]`` and ``reg_small: false``.
* ``multi_crop: obow``: one anchor, view 0, the OBoW "original" view (resize + centre crop + flip, no colour
  augmentation); preset ``obow`` (2 crops of 160 px + 5 patches of 96 px at 224 px) and ``reg_small: true``.

As in the official loops, views of one shape are forwarded together (``torch.cat`` of the crops of one resolution,
so they share BatchNorm statistics; OBoW's original view alone); ``multi_crop: none`` forwards its two views
separately (``two_views_forward``). ``bench validate`` checks the preset's views against ``multi_crop``
(:meth:`SFRIK.check_views`).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightly.models.modules.heads import ProjectionHead
from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from benchmark.errors import HintedValueError, SuiteError
from benchmark.losses import SFRIKLoss, SFRIKMultiCropLoss
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class SFRIKParams(MethodParams):
    mlp: list[int] = Field(default_factory=lambda: [2048, 2048, 2048], description="projector widths; q = last")
    sim_coeff: float = Field(4000.0, ge=0)
    mmd_coeff: float = Field(1.0, ge=0)
    weights: list[float] = Field(default_factory=lambda: [1.0, 40.0, 40.0], description="kernel weights b_1..b_L")
    multi_crop: Literal["none", "obow", "swav"] = Field("none", description="official args.multicrop (None/OBoW/SwAV)")
    reg_small: bool | None = Field(None, description="multi-crop: MMD also on the non-anchor views (--reg_small)")
    n_global_views: int | None = Field(None, ge=1, description="multi_crop swav: anchors = first n views (None: 2)")

    @model_validator(mode="after")
    def _check_multi_crop(self) -> SFRIKParams:
        if self.multi_crop == "none":
            if self.reg_small is not None:
                raise ValueError("reg_small applies only with multi_crop: obow or swav (multi_crop is 'none')")
            if self.n_global_views is not None:
                raise ValueError("n_global_views applies only with multi_crop: swav (multi_crop is 'none')")
            return self
        if self.reg_small is None:
            raise HintedValueError(
                f"reg_small must be given with multi_crop: {self.multi_crop} (true: MMD on every view, false: on the "
                "anchor views only; the official --reg_small has no default)",
                hint="the README uses reg_small: true with OBoW crops, false with SwAV crops",
            )
        if self.multi_crop == "obow" and self.n_global_views is not None:
            raise ValueError("n_global_views applies only with multi_crop: swav (OBoW has one anchor, the original view)")
        return self

    @property
    def n_anchors(self) -> int:
        """Anchor views at the front of the view list: 1 for OBoW (the original view), the global crops for SwAV."""
        if self.multi_crop == "obow":
            return 1
        return 2 if self.n_global_views is None else self.n_global_views

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
        self.criterion: SFRIKLoss | SFRIKMultiCropLoss
        if p.multi_crop == "none":
            self.criterion = SFRIKLoss(
                sim_coeff=p.sim_coeff,
                mmd_coeff=p.mmd_coeff,
                weights=p.weights,
                gather_distributed=self.ctx.gather_distributed,
            )
        else:
            self.criterion = SFRIKMultiCropLoss(
                sim_coeff=p.sim_coeff,
                mmd_coeff=p.mmd_coeff,
                weights=p.weights,
                n_anchors=p.n_anchors,
                reg_small=bool(p.reg_small),
                gather_distributed=self.ctx.gather_distributed,
            )

    @classmethod
    def check_views(cls, params: SFRIKParams, view_shapes: list[tuple[int, int]]) -> None:  # type: ignore[override]
        """Two views without multi-crop; with it, more than two views whose anchors (the first) are the largest views,
        all of one size."""
        n = len(view_shapes)
        sizes = ", ".join(f"{h}x{w}" for h, w in view_shapes)
        if params.multi_crop == "none":
            if n != 2:
                raise SuiteError(
                    f"sfrik with multi_crop: none trains on 2 views, but the augmentation yields {n} view(s) ({sizes})",
                    hint="set method.multi_crop: swav (global crops first) or obow with reg_small, or use a two-view "
                    "preset (byol, vicreg, simclr)",
                    key="multi_crop",
                )
            return
        preset = "obow" if params.multi_crop == "obow" else "swav with crop_counts [2, k]"
        if n <= 2:
            raise SuiteError(
                f"sfrik with multi_crop: {params.multi_crop} needs multi-crop views, but the augmentation yields {n} "
                f"view(s) ({sizes})",
                hint=f"use augment.preset: {preset}, or multi_crop: none for two views",
                key="multi_crop",
            )
        a = params.n_anchors
        if a >= n:
            raise SuiteError(
                f"sfrik: n_global_views={a} but the augmentation yields only {n} views ({sizes}); nothing to align",
                hint="n_global_views counts the global crops at the front of the views (crop_counts[0])",
                key="n_global_views",
            )
        anchor_area = view_shapes[0][0] * view_shapes[0][1]
        largest_other = max(h * w for h, w in view_shapes[a:])
        if any(shape != view_shapes[0] for shape in view_shapes[:a]) or anchor_area < largest_other:
            raise SuiteError(
                f"sfrik with multi_crop: {params.multi_crop}: the first {a} view(s) are the anchors and must be the "
                f"largest, all of one size, but the augmentation yields {sizes}",
                hint="list the global crop size first (crop_sizes: [global, small]) and set n_global_views to its "
                "crop count" if params.multi_crop == "swav" else "view 0 of preset obow is the original view",
                key="n_global_views" if params.n_global_views is not None else "multi_crop",
            )

    def _project_views(self, views: list[Tensor]) -> list[Tensor]:
        """Projections of all views; consecutive views of one shape go through the network together (one BN batch),
        as the official multi-crop loops do, OBoW's original view (view 0) on its own."""
        p: SFRIKParams = self.params  # type: ignore[assignment]
        groups: list[list[Tensor]] = []
        for i, v in enumerate(views):
            new_group = not groups or v.shape != groups[-1][0].shape or (p.multi_crop == "obow" and i == 1)
            if new_group:
                groups.append([v])
            else:
                groups[-1].append(v)
        out: list[Tensor] = []
        for group in groups:
            z = self.projection_head(self.backbone(torch.cat(group) if len(group) > 1 else group[0]))
            out.extend(z.split([v.shape[0] for v in group]))
        return out

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        if isinstance(self.criterion, SFRIKLoss):
            z = [self.projection_head(self.backbone(v)) for v in views[:2]]
            terms = self.criterion.terms(z[0], z[1])
        else:
            z = self._project_views(views)
            terms = self.criterion.terms(z)
        logs = {k: float(terms[k].detach()) for k in ("inv", "mmd", "mmd_small") if k in terms}
        return StepOutput(loss=terms["loss"], logs=logs, embeddings=z[0].detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        if isinstance(self.criterion, SFRIKLoss):
            z = [self.projection_head(self.backbone(v)) for v in views[:2]]
        else:
            z = self._project_views(views)
        return tuple(t.detach().requires_grad_() for t in z)

    def loss_only(self, *inputs: Any) -> Tensor:
        return self.criterion(*inputs)
