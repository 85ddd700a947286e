"""BYOL (Grill et al., NeurIPS 2020, arXiv 2006.07733) with Lightly's heads and momentum update.

Defaults follow solo-learn's CIFAR BYOL (`scripts/pretrain/cifar/byol.yaml`): projector 4096 → 256, predictor
4096, momentum 0.99 → 1.0 on a cosine schedule.

**Loss scale** (``loss_form``). BYOL regresses each online prediction onto the target projection of the other view
with "2 − 2·⟨q̄, z̄'⟩" (paper Eq. 2) and symmetrises by adding the swapped term (Eq. 5, "L + L̃"):

* ``solo_learn`` (default) = ``Σ_{(p, t) ∈ {(p0, t1), (p1, t0)}} (2 − 2·mean_i cos(p_i, t_i))``, exactly solo-learn's
  ``byol_loss_func`` summed over both directions (vturrisi/solo-learn ``solo/methods/byol.py``, ``training_step``).
  Lightly's ImageNet benchmark (``benchmarks/imagenet/resnet50/byol.py``: ``2 · NegCos`` per direction, summed) has
  the same gradient (its value is 4 lower).
* ``lightly_cifar10`` = ``½ (NegCos(p0, t1) + NegCos(p1, t0))`` = ``−½ Σ mean cos``: Lightly's CIFAR-10 benchmark
  script (``docs/source/getting_started/benchmarks/cifar10_benchmark.py``, ``BYOLModel``), a quarter of the
  gradient of ``solo_learn``; for ``suites/lightly_benchmarks.yaml``.

The scale matters beyond the learning rate: under LARS with weight decay and with BN/bias parameters excluded from
the trust ratio, and next to an orthogonality penalty ``γ·R(W)``, halving the loss doubles the effective weight decay
and γ.

**Feature whitening** (``whitening_weight`` = γ_vic > 0), the "BYOL + whitening" row of the OR paper's Table 1
(He et al., NeurIPS 2024, §5: "we impose the Variance and Covariance regularization from VICREG on the output of the
predictor in BYOL as two additional loss terms ... Following the solo-learn settings, we set the two loss term
hyperparameters to γ_vic and γ_vic*0.004, and then tune the γ_vic from 1e−3 to 1e−5"):
``loss += γ_vic · var + whitening_cov_ratio · γ_vic · cov`` on the **online predictor outputs** p0, p1
(``whitening_on: projector`` uses the projections z0, z1 instead), with solo-learn's VICReg helpers
(``solo/losses/vicreg.py`` ``variance_loss``, ``covariance_loss``), computed on the local batch:

* ``var = Σ_{v ∈ {0, 1}} mean_j relu(1 − sqrt(Var_j(p_v) + 1e-4))`` (VICReg's hinge, std target 1, eps 1e-4 inside the
  square root, unbiased variance; **summed** over the two views as solo-learn does, the official VICReg halves it);
* ``cov = Σ_{v ∈ {0, 1}} Σ_{i≠j} C_v[i, j]² / d`` with ``C_v`` the covariance (divisor n − 1) of p_v.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightly.models.modules.heads import BYOLPredictionHead, BYOLProjectionHead
from pydantic import Field
from torch import Tensor

from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput

LossForm = Literal["solo_learn", "lightly_cifar10"]
WhiteningOn = Literal["predictor", "projector"]
VICREG_EPS = 1e-4  # VICReg / solo-learn: torch.sqrt(x.var(dim=0) + 0.0001)


class BYOLParams(MethodParams):
    proj_hidden_dim: int = Field(default=4096, ge=1)
    proj_output_dim: int = Field(default=256, ge=1)
    pred_hidden_dim: int = Field(default=4096, ge=1)
    momentum_start: float = Field(default=0.99, ge=0, le=1)
    momentum_end: float = Field(default=1.0, ge=0, le=1)
    loss_form: LossForm = Field(
        default="solo_learn", description="solo_learn: Σ_directions (2 − 2cos); lightly_cifar10: ½ Σ_directions (−cos)"
    )
    whitening_weight: float = Field(
        default=0.0, ge=0, description="γ_vic of the OR paper's 'BYOL + whitening' (variance weight; 0 = plain BYOL)"
    )
    whitening_cov_ratio: float = Field(
        default=0.004, ge=0, description="covariance weight / variance weight ('γ_vic and γ_vic*0.004')"
    )
    whitening_on: WhiteningOn = Field(default="predictor", description="online outputs the whitening terms act on")


def byol_pair_loss(p: Tensor, t: Tensor) -> Tensor:
    """``2 − 2 · mean_i cos(p_i, t_i)`` for one (prediction, target) view pair (solo-learn ``byol_loss_func``)."""
    return 2 - 2 * F.cosine_similarity(p, t.detach(), dim=-1).mean()


def variance_term(x: Tensor) -> Tensor:
    """VICReg's variance hinge of one view: ``mean_j relu(1 − sqrt(Var_j(x) + 1e-4))`` (unbiased variance)."""
    return F.relu(1 - torch.sqrt(x.var(dim=0) + VICREG_EPS)).mean()


def covariance_term(x: Tensor) -> Tensor:
    """VICReg's covariance term of one view: ``Σ_{i≠j} C[i, j]² / d``, ``C = x_cᵀ x_c / (n − 1)``."""
    n, d = x.shape
    xc = x - x.mean(dim=0)
    cov = (xc.T @ xc) / (n - 1)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / d


@METHODS.register("byol")
class BYOL(MomentumTargetMethod):
    Params = BYOLParams
    default_augment = "byol"
    paper = "Grill et al., Bootstrap Your Own Latent, NeurIPS 2020"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: BYOLParams = self.params  # type: ignore[assignment]
        self.projection_head = BYOLProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prediction_head = BYOLPredictionHead(p.proj_output_dim, p.pred_hidden_dim, p.proj_output_dim)
        self.init_momentum_targets()

    @property
    def whitens(self) -> bool:
        return self.params.whitening_weight > 0  # type: ignore[attr-defined]

    def _online(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z, self.prediction_head(z)

    @torch.no_grad()
    def _target(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def regression_loss(self, p0: Tensor, p1: Tensor, t0: Tensor, t1: Tensor) -> Tensor:
        """The symmetric BYOL loss at the scale of ``loss_form`` (module docstring)."""
        if self.params.loss_form == "lightly_cifar10":  # type: ignore[attr-defined]
            return -0.5 * (F.cosine_similarity(p0, t1.detach(), dim=-1).mean()
                           + F.cosine_similarity(p1, t0.detach(), dim=-1).mean())
        return byol_pair_loss(p0, t1) + byol_pair_loss(p1, t0)

    def whitening_terms(self, a0: Tensor, a1: Tensor) -> dict[str, Tensor]:
        """``var``, ``cov`` (summed over the two views) and the weighted ``loss`` γ·var + ratio·γ·cov."""
        p: BYOLParams = self.params  # type: ignore[assignment]
        var = variance_term(a0) + variance_term(a1)
        cov = covariance_term(a0) + covariance_term(a1)
        loss = p.whitening_weight * var + p.whitening_cov_ratio * p.whitening_weight * cov
        return {"var": var, "cov": cov, "loss": loss}

    def _loss(self, p0: Tensor, p1: Tensor, t0: Tensor, t1: Tensor, z0: Tensor | None, z1: Tensor | None
              ) -> tuple[Tensor, dict[str, float]]:
        loss = self.regression_loss(p0, p1, t0, t1)
        if not self.whitens:
            return loss, {}
        on_predictor = self.params.whitening_on == "predictor"  # type: ignore[attr-defined]
        a0, a1 = (p0, p1) if on_predictor else (z0, z1)
        if a0 is None or a1 is None:
            raise ValueError("BYOL whitening on the projector needs the projections z0, z1")
        terms = self.whitening_terms(a0, a1)
        logs = {"whitening_var": float(terms["var"].detach()), "whitening_cov": float(terms["cov"].detach())}
        return loss + terms["loss"], logs

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        x0, x1 = views[0], views[1]
        z0, p0 = self._online(x0)
        z1, p1 = self._online(x1)
        t0, t1 = self._target(x0), self._target(x1)
        loss, logs = self._loss(p0, p1, t0, t1, z0, z1)
        return StepOutput(loss=loss, logs={"momentum": self._momentum(step), **logs}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        """``(p0, p1, t0, t1)``, plus ``(z0, z1)`` when the whitening acts on the projections."""
        z0, p0 = self._online(views[0])
        z1, p1 = self._online(views[1])
        inputs = (p0.detach().requires_grad_(), p1.detach().requires_grad_(), self._target(views[0]),
                  self._target(views[1]))
        if self.whitens and self.params.whitening_on == "projector":  # type: ignore[attr-defined]
            inputs += (z0.detach().requires_grad_(), z1.detach().requires_grad_())
        return inputs

    def loss_only(self, p0: Tensor, p1: Tensor, t0: Tensor, t1: Tensor, z0: Tensor | None = None,
                  z1: Tensor | None = None) -> Tensor:
        """The trained loss (regression + whitening) on the outputs of :meth:`loss_inputs`."""
        return self._loss(p0, p1, t0, t1, z0, z1)[0]
