"""MSN and PMSN losses on top of ``lightly.loss.MSNLoss``.

* MSN: Assran et al., *Masked Siamese Networks for Label-Efficient Learning*, ECCV 2022 (arXiv 2204.07141); official
  code facebookresearch/msn ``src/losses.py`` (``init_msn_loss``, commit 4388dc1eadbe3042b85d3296d41b9b207656e043).
* PMSN: Assran et al., *The Hidden Uniform Cluster Prior in Self-Supervised Learning*, ICLR 2023 (arXiv 2210.07277):
  MSN with the mean-entropy-maximisation (me-max) term replaced by a KL divergence to a power-law prior
  ``π_k ∝ k^(−τ)``, k = 1..K, τ = 0.25. No official PMSN code was released (facebookresearch/msn issue #20).

Lightly's ``MSNLoss`` equals the official MSN loss bitwise (golden ``msn.npz``): cosine similarities to L2-normalised
prototypes at temperature 0.1, targets sharpened with T = 0.25 (+ 3 Sinkhorn iterations), cross-entropy averaged over
the anchor rows, me-max ``Σ p̄ log p̄ + log K = KL(p̄ ‖ U)``. :class:`MSNLoss` below reuses Lightly's building blocks and
adds two things the official code has: ``terms()`` for logging, and, with ``gather_distributed``, the mean
prediction p̄ averaged across processes (official ``AllReduce``; Lightly keeps p̄ local).

**Prototypes must be learnable.** Pass the ``nn.Parameter`` itself (``loss(anchors, targets, model.prototypes.weight)``).
Lightly's MSN/PMSN examples and benchmarks pass ``prototypes.data``, which detaches them: they never train although
they are in the optimiser. Official MSN learns them (``freeze_proto`` defaults to False). A warning is raised when
the anchors require a gradient but the prototypes do not. Under DDP the official trainer also **sums** the prototypes'
gradient over processes (``AllReduceSum`` after ``backward``) where DDP would average it: the loss cannot do that,
:class:`benchmark.methods.msn.MSN` scales the prototypes' gradient by the world size before DDP's averaging.

**PMSN KL direction.** Lightly's ``PMSNLoss`` computes ``F.kl_div(log p̄, π, reduction="sum") = KL(π ‖ p̄)``; the form
that reduces exactly to MSN's me-max for a uniform prior is ``KL(p̄ ‖ π)``. :class:`PMSNLoss` defaults to the latter
(``kl_direction="mean_to_prior"``) and offers Lightly's with ``kl_direction="prior_to_mean"``
(lightly-ai/lightly ``lightly/loss/pmsn_loss.py``; the paper's term is Assran et al., ICLR 2023, Eq. 9). For
p̄ = [0.1, 0.3, 0.6] and a uniform prior the two give 0.200667 and 0.240516 (computed here).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import lightly.loss
import torch
import torch.distributed as dist
import torch.nn.functional as F
from lightly.loss.msn_loss import prototype_probabilities, sharpen, sinkhorn
from torch import Tensor

__all__ = ["MSNLoss", "PMSNLoss", "power_law_prior"]

PriorName = Literal["power_law", "uniform"]
KLDirection = Literal["mean_to_prior", "prior_to_mean"]
_PRIORS = ("power_law", "uniform")
_DIRECTIONS = ("mean_to_prior", "prior_to_mean")


def power_law_prior(k: int, tau: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """Power-law prior ``π_k = k^(−τ) / Σ_j j^(−τ)`` over ``k`` prototypes (k = 1..K), built in float64.

    "[p_PL(τ)]_k ∝ k^(−τ)", default τ = 0.25 (PMSN; Lightly's ``_power_law_distribution``, which always returns
    float32). τ = 0 is the uniform prior. Computed in float64 and then cast to ``dtype``.

    Raises:
        ValueError: If ``k < 1`` or ``tau`` is negative or not finite.
    """
    if k < 1:
        raise ValueError(f"power_law_prior: number of prototypes k must be >= 1, got {k}")
    if not math.isfinite(tau) or tau < 0:
        raise ValueError(f"power_law_prior: exponent tau must be a finite number >= 0, got {tau}")
    weights = torch.arange(1, k + 1, dtype=torch.float64).pow(-float(tau))
    return (weights / weights.sum()).to(dtype)


def _mean_over_processes(p_bar: Tensor) -> Tensor:
    """Average p̄ over processes with an autograd-aware gather (official MSN ``AllReduce``; identity when single)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        from lightly.utils.dist import gather

        return torch.stack(gather(p_bar), dim=0).mean(dim=0)
    return p_bar


class MSNLoss(lightly.loss.MSNLoss):
    """MSN loss: Lightly's ``MSNLoss`` (== official facebookresearch/msn) plus ``terms()`` and a global p̄ under DDP.

    Call as ``loss(anchors, targets, prototypes, target_sharpen_temperature=0.25)`` with anchors (V·n, d) in
    view-major order, targets (n, d) and prototypes (K, d) — the ``nn.Parameter``, never ``.data`` (see the module
    docstring). Defaults are the official ``msn_vits16.yaml`` values (temperature 0.1, 3 Sinkhorn iterations,
    ``memax_weight`` 1; sharpening T = 0.25 per call).

    Args:
        temperature: Softmax temperature τ of anchor and target predictions.
        sinkhorn_iterations: Sinkhorn iterations on the targets (0 disables).
        regularization_weight: Weight λ of the regulariser (me-max here, a prior KL in :class:`PMSNLoss`).
        gather_distributed: Under DDP, Sinkhorn uses global sums (Lightly) and p̄ is averaged across processes
            (official MSN); single-process results are unchanged.
    """

    def __init__(
        self,
        *,
        temperature: float = 0.1,
        sinkhorn_iterations: int = 3,
        regularization_weight: float = 1.0,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__(
            temperature=temperature,
            sinkhorn_iterations=sinkhorn_iterations,
            regularization_weight=regularization_weight,
            gather_distributed=gather_distributed,
        )

    @torch.no_grad()
    def target_probabilities(
        self, targets: Tensor, prototypes: Tensor, target_sharpen_temperature: float = 0.25
    ) -> Tensor:
        """Target distributions (n, K): sharpened softmax of target–prototype cosines, then Sinkhorn if enabled."""
        targets = F.normalize(targets, dim=1)
        prototypes = F.normalize(prototypes, dim=1)
        probs = prototype_probabilities(targets, prototypes, temperature=self.temperature)
        probs = sharpen(probs, temperature=target_sharpen_temperature)
        if self.sinkhorn_iterations > 0:
            probs = sinkhorn(
                probabilities=probs, iterations=self.sinkhorn_iterations, gather_distributed=self.gather_distributed
            )
        return probs

    def terms(
        self, anchors: Tensor, targets: Tensor, prototypes: Tensor, target_sharpen_temperature: float = 0.25
    ) -> dict[str, Tensor]:
        """``ce`` (cross-entropy), ``reg`` (unweighted regulariser on p̄), ``mean_probs`` (p̄, K) and ``loss``."""
        if anchors.ndim != 2 or targets.ndim != 2 or prototypes.ndim != 2:
            raise ValueError("MSN expects 2-D anchors (V*n, d), targets (n, d) and prototypes (K, d)")
        if anchors.shape[0] % targets.shape[0] != 0:
            raise ValueError(
                f"anchor rows ({anchors.shape[0]}) must be a multiple of target rows ({targets.shape[0]}): "
                "anchors are the V anchor views of the n targets, stacked view-major"
            )
        if torch.is_grad_enabled() and anchors.requires_grad and not prototypes.requires_grad:
            warnings.warn(
                "MSN prototypes do not require grad: pass the nn.Parameter, not `.data` (Lightly's examples freeze "
                "the prototypes this way; official MSN learns them)",
                stacklevel=3,
            )
        num_views = anchors.shape[0] // targets.shape[0]
        target_probs = self.target_probabilities(targets, prototypes, target_sharpen_temperature)
        target_probs = target_probs.repeat((num_views, 1))
        anchor_probs = prototype_probabilities(
            F.normalize(anchors, dim=1), F.normalize(prototypes, dim=1), temperature=self.temperature
        )
        # Same expression as Lightly / official MSN: log(p ** -t) is 0 (not NaN) where p underflows and t = 0.
        ce = torch.mean(torch.sum(torch.log(anchor_probs ** (-target_probs)), dim=1))
        mean_probs = torch.mean(anchor_probs, dim=0)
        if self.gather_distributed:
            mean_probs = _mean_over_processes(mean_probs)
        reg = self.regularization_loss(mean_anchor_probs=mean_probs)
        loss = ce + self.regularization_weight * reg if self.regularization_weight > 0 else ce
        return {"ce": ce, "reg": reg, "mean_probs": mean_probs, "loss": loss}

    def forward(
        self, anchors: Tensor, targets: Tensor, prototypes: Tensor, target_sharpen_temperature: float = 0.25
    ) -> Tensor:
        """Mean loss over all anchor rows."""
        return self.terms(anchors, targets, prototypes, target_sharpen_temperature)["loss"]


class PMSNLoss(MSNLoss):
    """PMSN loss: MSN cross-entropy + ``regularization_weight ·`` KL between p̄ and a prior π.

    ``kl_direction="mean_to_prior"`` (default) = KL(p̄ ‖ π) = Σ p̄ (log p̄ − log π), the paper form as reconstructed
    (Assran et al., ICLR 2023, Eq. 9; the direction stable-pretraining's ``methods/pmsn.py`` uses); with
    ``prior="uniform"`` it equals MSN's me-max exactly, so PMSN(uniform) = MSN.
    ``kl_direction="prior_to_mean"`` = KL(π ‖ p̄), what ``lightly.loss.PMSNLoss`` computes (its prior is always built in
    float32; here it is built in p̄'s dtype, so float64 runs are exact). Targets keep Sinkhorn (3 iterations) as in
    Lightly; the paper's choice is not transcribed.

    Args:
        temperature: Softmax temperature τ of anchor and target predictions.
        sinkhorn_iterations: Sinkhorn iterations on the targets (0 disables).
        regularization_weight: Weight λ of the KL term (1 in both reimplementations).
        power_law_exponent: τ of the power law ``π_k ∝ k^(−τ)`` (ignored for ``prior="uniform"``).
        prior: ``"power_law"`` or ``"uniform"``.
        kl_direction: ``"mean_to_prior"`` (KL(p̄‖π)) or ``"prior_to_mean"`` (KL(π‖p̄), Lightly).
        gather_distributed: As in :class:`MSNLoss` (p̄ averaged across processes, global Sinkhorn sums).

    Raises:
        ValueError: On an unknown prior or direction, or a negative exponent.
    """

    def __init__(
        self,
        *,
        temperature: float = 0.1,
        sinkhorn_iterations: int = 3,
        regularization_weight: float = 1.0,
        power_law_exponent: float = 0.25,
        prior: PriorName = "power_law",
        kl_direction: KLDirection = "mean_to_prior",
        gather_distributed: bool = False,
    ) -> None:
        super().__init__(
            temperature=temperature,
            sinkhorn_iterations=sinkhorn_iterations,
            regularization_weight=regularization_weight,
            gather_distributed=gather_distributed,
        )
        if prior not in _PRIORS:
            raise ValueError(f"unknown PMSN prior {prior!r}; expected one of {list(_PRIORS)}")
        if kl_direction not in _DIRECTIONS:
            raise ValueError(f"unknown PMSN kl_direction {kl_direction!r}; expected one of {list(_DIRECTIONS)}")
        if not math.isfinite(power_law_exponent) or power_law_exponent < 0:
            raise ValueError(f"power_law_exponent must be a finite number >= 0, got {power_law_exponent}")
        self.power_law_exponent = float(power_law_exponent)
        self.prior = prior
        self.kl_direction = kl_direction

    def prior_distribution(self, k: int, *, dtype: torch.dtype, device: torch.device | None = None) -> Tensor:
        """The prior π over ``k`` prototypes in ``dtype`` (power law built in float64 first)."""
        if self.prior == "uniform":
            return torch.full((k,), 1.0 / k, dtype=dtype, device=device)
        return power_law_prior(k, self.power_law_exponent, dtype=dtype).to(device)

    def regularization_loss(self, mean_anchor_probs: Tensor) -> Tensor:
        """KL(p̄ ‖ π) or KL(π ‖ p̄) for the mean anchor prediction p̄ (K,)."""
        prior = self.prior_distribution(
            mean_anchor_probs.shape[0], dtype=mean_anchor_probs.dtype, device=mean_anchor_probs.device
        )
        if self.kl_direction == "prior_to_mean":
            # Lightly's expression: Σ π (log π − log p̄).
            return F.kl_div(input=mean_anchor_probs.log(), target=prior, reduction="sum")
        return torch.sum(torch.xlogy(mean_anchor_probs, mean_anchor_probs) - mean_anchor_probs * prior.log())

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, sinkhorn_iterations={self.sinkhorn_iterations}, "
            f"regularization_weight={self.regularization_weight}, prior={self.prior!r}, "
            f"power_law_exponent={self.power_law_exponent}, kl_direction={self.kl_direction!r}"
        )
