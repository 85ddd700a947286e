"""VICReg loss with the official covariance divisor.

Bardes, Ponce, LeCun, *VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning*,
ICLR 2022 (arXiv 2105.04906). Official code: facebookresearch/vicreg ``main_vicreg.py`` (``VICReg.forward``,
commit 4e12602fd495af83efd1631fbe82523e6db092e0); valeoai/sfrik ships a line-for-line copy.

Built on Lightly's helpers ``lightly.loss.vicreg_loss.{invariance_loss, variance_loss, covariance_loss}``, which match
the official conventions bitwise (golden ``vicreg.npz``): eps 1e-4 *inside* the square root, unbiased variance,
covariance ``Zcᵀ Zc / (N − 1)``, sum of squared off-diagonal entries divided by q per view and **summed** over the two
views, the variance hinge halved per view, invariance computed on the local batch before any gather.

What Lightly lacks is the official divisor: ``main_vicreg.py`` divides the covariance by ``args.batch_size − 1``, the
*configured global* batch size, not by the tensor's row count (facebookresearch/vicreg ``main_vicreg.py``,
``VICReg.forward``; SFRIK's copy in valeoai/sfrik ``src/sfrik/ssl.py`` is identical). Pass ``configured_batch_size`` to
reproduce that (they differ only for incomplete batches); leave it ``None`` for Lightly's row-count divisor.
Defaults are the official ``--sim-coeff 25 --std-coeff 25 --cov-coeff 1``; SFRIK's IN20 % VICReg baseline uses
``10 / 10 / 1``.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from lightly.loss.vicreg_loss import covariance_loss, invariance_loss, variance_loss
from torch import Tensor, nn

__all__ = ["VICRegLoss", "covariance_loss_configured"]


def covariance_loss_configured(x: Tensor, batch_size: int) -> Tensor:
    """Official VICReg covariance term of one view with the divisor ``batch_size − 1``.

    ``cov = Zcᵀ Zc / (batch_size − 1)`` with Zc the column-centred (n, q) input; returns
    ``Σ_{i≠j} cov_ij² / q``. Equals ``lightly.loss.vicreg_loss.covariance_loss`` when ``batch_size == n``.
    """
    if batch_size < 2:
        raise ValueError(f"configured batch size must be >= 2 (divisor batch_size - 1), got {batch_size}")
    x = x - x.mean(dim=0)
    q = x.shape[-1]
    cov = (x.T @ x) / (batch_size - 1)
    off_diag = cov.flatten()[:-1].view(q - 1, q + 1)[:, 1:]
    return off_diag.pow(2).sum() / q


class VICRegLoss(nn.Module):
    """VICReg loss ``sim_coeff · inv + std_coeff · var + cov_coeff · cov``, identical to the official code.

    Args:
        sim_coeff: Invariance weight λ (official ``--sim-coeff 25.0``).
        std_coeff: Variance weight μ (official ``--std-coeff 25.0``).
        cov_coeff: Covariance weight ν (official ``--cov-coeff 1.0``).
        eps: Added to the variance inside the square root (official ``0.0001``).
        configured_batch_size: If given, the covariance is divided by ``configured_batch_size − 1`` as in
            ``main_vicreg.py`` (``args.batch_size``, the global batch); ``None`` divides by (rows − 1) like Lightly.
        gather_distributed: If True and ``torch.distributed`` is initialised with several processes, variance and
            covariance use embeddings all-gathered with the autograd-aware ``lightly.utils.dist.gather`` (the official
            ``FullGatherLayer``); the invariance term stays local, as in both the official code and Lightly.

    Raises:
        ValueError: On a configured batch size < 2, or ``gather_distributed`` without ``torch.distributed``.
    """

    def __init__(
        self,
        *,
        sim_coeff: float = 25.0,
        std_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        eps: float = 1e-4,
        configured_batch_size: int | None = None,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if gather_distributed and not dist.is_available():
            raise ValueError("gather_distributed=True but torch.distributed is not available in this torch build")
        if configured_batch_size is not None and configured_batch_size < 2:
            raise ValueError(f"configured_batch_size must be >= 2, got {configured_batch_size}")
        self.sim_coeff = float(sim_coeff)
        self.std_coeff = float(std_coeff)
        self.cov_coeff = float(cov_coeff)
        self.eps = float(eps)
        self.configured_batch_size = configured_batch_size
        self.gather_distributed = gather_distributed

    def _cov(self, x: Tensor) -> Tensor:
        if self.configured_batch_size is None:
            return covariance_loss(x)
        return covariance_loss_configured(x, self.configured_batch_size)

    def terms(self, z_a: Tensor, z_b: Tensor) -> dict[str, Tensor]:
        """Unweighted ``inv``, ``var`` (½ Σ views), ``cov`` (Σ views) and the weighted total ``loss``."""
        if z_a.ndim != 2 or z_a.shape != z_b.shape:
            raise ValueError(
                f"VICRegLoss expects two (n, q) tensors of equal shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
            )
        if z_a.shape[0] < 2:
            raise ValueError(f"VICRegLoss needs at least 2 rows for the unbiased variance, got {z_a.shape[0]}")
        inv = invariance_loss(z_a, z_b)
        if self.gather_distributed and dist.is_initialized() and dist.get_world_size() > 1:
            from lightly.utils.dist import gather

            z_a = torch.cat(gather(z_a), dim=0)
            z_b = torch.cat(gather(z_b), dim=0)
        var = 0.5 * (variance_loss(z_a, eps=self.eps) + variance_loss(z_b, eps=self.eps))
        cov = self._cov(z_a) + self._cov(z_b)
        loss = self.sim_coeff * inv + self.std_coeff * var + self.cov_coeff * cov
        return {"inv": inv, "var": var, "cov": cov, "loss": loss}

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """The total VICReg loss for two (n, q) batches of expander outputs."""
        return self.terms(z_a, z_b)["loss"]

    def extra_repr(self) -> str:
        return (
            f"sim_coeff={self.sim_coeff}, std_coeff={self.std_coeff}, cov_coeff={self.cov_coeff}, eps={self.eps}, "
            f"configured_batch_size={self.configured_batch_size}"
        )
