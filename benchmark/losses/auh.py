"""AUH loss: alignment and uniformity on the hypersphere, in the form of the SFRIK paper's baseline.

Wang & Isola, *Understanding Contrastive Representation Learning through Alignment and Uniformity on the
Hypersphere*, ICML 2020 (arXiv 2005.10242), as re-implemented by Zheng et al. (ICLR 2023) in valeoai/sfrik
``src/sfrik/ssl.py`` (commit c6ce16e, class ``AUH``), the "Alignment & Uniformity on the Hypersphere (AUH,
reimplemented by ourselves)" baseline of the README. What the official code computes:

* rows are L2-normalised (``F.normalize(dim=1, p=2)``);
* alignment ``F.mse_loss(x, y)``: a mean over all n·q elements, on the **local** batch, exactly SFRIK's invariance
  term (so its per-sample weight is ``sim_coeff / q``);
* uniformity, per view on the all-gathered batch: ``log mean_{i≠j} exp(−2t (1 − z_iᵀz_j))`` over the n(n − 1)
  **off-diagonal** pairs (``off_diagonal(gram)``), i.e. Wang & Isola's ``log E exp(−t‖u − v‖²)`` since
  ``‖u − v‖² = 2(1 − uᵀv)`` on the sphere; averaged over the two views;
* ``loss = sim_coeff · alignment + unif_coeff · uniformity``; README ``--auh-sim-coeff 3000.0 --auh-unif-coeff 1.0
  --auh-scale 2.5`` ("Scale of the RBF kernel for computing pairwise energy (e.g. 2.5)").

``lightly.loss.HypersphereLoss`` is not this loss: its alignment is ``mean ‖x − y‖^α`` (not divided by q) and its
weights differ, so the README coefficients do not carry over. Uniformity is 0 for collapsed embeddings (its maximum)
and negative otherwise. The log-mean-exp is evaluated as ``logsumexp − log(n(n − 1))`` (the same value, safe for
large t).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor, nn

from benchmark.losses.sphere import check_pair, sphere_pair

__all__ = ["AUHLoss", "auh_uniformity"]


def auh_uniformity(z: Tensor, scale: float) -> Tensor:
    """``log mean_{i≠j} exp(−2·scale·(1 − z_iᵀz_j))`` over the off-diagonal pairs of the rows of ``z``.

    Args:
        z: (n, q) embeddings with L2-normalised rows (not re-normalised here), n >= 2.
        scale: The kernel scale t > 0 (README ``--auh-scale 2.5``).

    Returns:
        0-d tensor in ``[−4·scale, 0]``; 0 when all rows are equal.

    Raises:
        ValueError: If ``z`` is not 2-D with at least two rows, or ``scale <= 0``.
    """
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"auh_uniformity expects a 2-D (n, q) tensor with n >= 2 rows, got shape {tuple(z.shape)}")
    if not scale > 0:
        raise ValueError(f"auh_uniformity: scale must be > 0, got {scale}")
    n = z.shape[0]
    gram = z @ z.T
    off_diagonal = gram[~torch.eye(n, dtype=torch.bool, device=z.device)]
    return torch.logsumexp(-2.0 * scale * (1.0 - off_diagonal), dim=0) - math.log(n * (n - 1))


class AUHLoss(nn.Module):
    """``sim_coeff · MSE(x, y) + unif_coeff · ½ (U(X) + U(Y))`` on L2-normalised projections (valeoai/sfrik ``AUH``).

    Args:
        sim_coeff: Weight of the alignment (MSE over n·q elements) term; README 3000.
        unif_coeff: Weight of the uniformity term; README 1.0.
        scale: Kernel scale t of ``exp(−2t(1 − cos))``; README 2.5.
        gather_distributed: If True and ``torch.distributed`` is initialised with more than one process, the
            uniformity uses embeddings all-gathered with the autograd-aware ``lightly.utils.dist.gather`` (global
            batch) while the alignment stays local, as in the official code.

    Raises:
        ValueError: On a non-positive scale, or ``gather_distributed`` without ``torch.distributed``.
    """

    def __init__(
        self,
        *,
        sim_coeff: float = 3000.0,
        unif_coeff: float = 1.0,
        scale: float = 2.5,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if gather_distributed and not dist.is_available():
            raise ValueError("gather_distributed=True but torch.distributed is not available in this torch build")
        if not scale > 0:
            raise ValueError(f"AUHLoss: scale must be > 0, got {scale}")
        self.sim_coeff = float(sim_coeff)
        self.unif_coeff = float(unif_coeff)
        self.scale = float(scale)
        self.gather_distributed = gather_distributed

    def terms(self, z_a: Tensor, z_b: Tensor) -> dict[str, Tensor]:
        """``inv`` (unweighted MSE), ``unif`` (unweighted ½(unif_a + unif_b)), ``unif_a``, ``unif_b``, ``loss``."""
        check_pair("AUHLoss", z_a, z_b)
        x, y, inv = sphere_pair(z_a, z_b, gather_distributed=self.gather_distributed)
        unif_a = auh_uniformity(x, self.scale)
        unif_b = auh_uniformity(y, self.scale)
        unif = (unif_a + unif_b) / 2
        loss = self.sim_coeff * inv + self.unif_coeff * unif
        return {"inv": inv, "unif": unif, "unif_a": unif_a, "unif_b": unif_b, "loss": loss}

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """The total loss for two (n, q) batches of projector outputs (un-normalised)."""
        return self.terms(z_a, z_b)["loss"]

    def extra_repr(self) -> str:
        return f"sim_coeff={self.sim_coeff}, unif_coeff={self.unif_coeff}, scale={self.scale}"
