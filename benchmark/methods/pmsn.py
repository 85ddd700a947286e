"""PMSN (Assran et al., *The Hidden Uniform Cluster Prior in Self-Supervised Learning*, ICLR 2023, arXiv 2210.07277).

MSN (:mod:`benchmark.methods.msn`: same encoder, masking, prototypes and EMA target) with the me-max term replaced by
a KL divergence between the mean anchor prediction p̄ and a power-law prior ``π_k ∝ k^(−τ)``, "τ = 0.25"
(Assran et al., ICLR 2023, Eq. 9; Lightly's and stable-pretraining's default; no official PMSN code exists).
``kl_direction: mean_to_prior`` (default) is KL(p̄ ‖ π), the form that reduces to MSN exactly for a uniform prior;
``prior_to_mean`` is KL(π ‖ p̄), what ``lightly.loss.PMSNLoss`` computes. λ = 1 and 3 Sinkhorn iterations on the
targets as in both reimplementations (the paper's Sinkhorn choice is not transcribed). All other defaults are MSN's.
"""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field

from benchmark.losses import MSNLoss, PMSNLoss
from benchmark.methods.base import METHODS
from benchmark.methods.msn import MSN, MSNParams


class PMSNParams(MSNParams):
    power_law_exponent: float = Field(0.25, ge=0)
    prior: Literal["power_law", "uniform"] = "power_law"
    kl_direction: Literal["mean_to_prior", "prior_to_mean"] = "mean_to_prior"


@METHODS.register("pmsn")
class PMSN(MSN):
    Params = PMSNParams
    default_augment = "msn"
    paper = "Assran et al., The Hidden Uniform Cluster Prior in Self-Supervised Learning, ICLR 2023"

    def _build_criterion(self, p: MSNParams) -> MSNLoss:
        p = cast(PMSNParams, p)  # self.Params is PMSNParams, so build_method passed one
        return PMSNLoss(
            temperature=p.temperature,
            sinkhorn_iterations=p.sinkhorn_iterations,
            regularization_weight=p.regularization_weight,
            power_law_exponent=p.power_law_exponent,
            prior=p.prior,
            kl_direction=p.kl_direction,
            gather_distributed=self.ctx.gather_distributed,
        )
