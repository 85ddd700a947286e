"""SFRIK loss: invariance + squared MMD to the uniform distribution on the sphere with Legendre kernels.

Zheng, Puy, Riccietti, Pérez, Gribonval, *Self-supervised learning with rotation-invariant kernels*, ICLR 2023
(arXiv 2208.00789). Re-implemented from the formulas and checked against the official code, valeoai/sfrik
``src/sfrik/ssl.py`` (commit c6ce16ed36ecb9c68a3e3c42dce3ec1a27e6c9d9: ``SFRIK.mmd_loss``,
``SFRIK.two_views_forward``, ``legendre_polynomial``) through the golden vectors in ``shared/golden/sfrik.npz``.

What the official code computes (valeoai/sfrik ``src/sfrik/ssl.py`` at the commit above):

* rows are L2-normalised (``F.normalize(dim=1)``); q = embedding dimension (last entry of ``--mlp``);
* kernel ``K(u, v) = Σ_{l=1..L} b_l P_l(q; uᵀv)`` ("K(u,v) = Σ_{ℓ=0}^{L} b_ℓ P_ℓ(q; uᵀv), L ∈ {2,3}, b_ℓ ≥ 0";
  the l = 0 term cancels exactly in the MMD, so it is dropped and no constant is added);
* ``MMD²(Z) = mean over the full n × n Gram matrix, diagonal included`` (a V-statistic);
* ``loss = sim_coeff · MSE(x, y) + mmd_coeff · ½ (MMD²(X) + MMD²(Y))`` with the MSE a mean over all n·q elements;
  README commands use ``--sfrik-sim-coeff 4000 --sfrik-mmd-coeff 1.0 --sfrik-weights 1.0-40.0-40.0``.
* under DDP the invariance term is computed on the local batch and the MMD on the all-gathered batch.

**Precision.** The loss (normalisation, invariance, Gram matrix, Legendre recurrence and MMD) is always evaluated in
float32 or wider, whatever the input dtype and even inside an autocast region: half-precision inputs are upcast and
autocast is disabled locally, and the loss is returned in float32 (float64 inputs stay float64). Under
``precision: 16-mixed`` the projector output is float16, and CUDA autocast ran the Gram ``mm`` in float16 (unit
roundoff 2^-11) and the recurrence on that float16 Gram: a cross-check against the official code (whose autocast keeps
``pow`` in float32) found gradients 8–31 % off in the ``paper`` profile where the official code stays around 3e-4.
In float32 the only remaining error is the rounding of the gradient to the input dtype: at most its unit roundoff
(test_sfrik_identities.py measures 0.43 u for float16 and bfloat16 inputs, and 2–3.5 u for the float16/bfloat16 Gram
at n = 128, q = 512).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn

from benchmark.losses.sphere import check_pair, sphere_pair

__all__ = ["SFRIKLoss", "legendre", "sfrik_mmd"]


def legendre(q: int, degree: int, t: Tensor) -> Tensor:
    """Normalised Legendre (Gegenbauer) polynomial ``P_degree(q; t)`` in dimension ``q``, element-wise.

    ``P_l(q; t) = C_l^{(q-2)/2}(t) / C_l^{(q-2)/2}(1)``, so ``P_l(q; 1) = 1``; ``P_0 = 1``, ``P_1 = t`` and
    ``P_{l+1} = ((2l + q − 2) t P_l − l P_{l−1}) / (l + q − 2)`` (the normalised Gegenbauer recurrence). The
    official code (valeoai/sfrik ``src/sfrik/ssl.py``, ``legendre_polynomial``) hard-codes degrees 1–4; this
    recurrence gives the same polynomials for any degree.

    Args:
        q: Ambient dimension of the sphere S^{q−1} (the embedding dimension); q >= 3.
        degree: Polynomial degree l >= 0.
        t: Cosines (any shape); evaluated element-wise in ``t``'s dtype.

    Returns:
        Tensor of the same shape and dtype as ``t``.

    Raises:
        ValueError: If ``q < 3`` or ``degree < 0``.
    """
    if int(q) != q or q < 3:
        raise ValueError(f"legendre: dimension q must be an integer >= 3, got {q}")
    if int(degree) != degree or degree < 0:
        raise ValueError(f"legendre: degree must be an integer >= 0, got {degree}")
    q, degree = int(q), int(degree)
    if degree == 0:
        return torch.ones_like(t)
    series = _legendre_series(q, degree, t)
    for _ in range(degree - 1):
        next(series)
    return next(series)


def _legendre_series(q: int, max_degree: int, t: Tensor) -> Iterator[Tensor]:
    """Yield ``P_1(q; t), …, P_max_degree(q; t)`` by the three-term recurrence (two live buffers)."""
    p_prev, p = torch.ones_like(t), t
    yield p
    for ell in range(1, max_degree):
        p_prev, p = p, ((2 * ell + q - 2) * t * p - ell * p_prev) / (ell + q - 2)
        yield p


def _compute_dtype(t: Tensor) -> torch.dtype:
    """float32 for half/bfloat16/float32 inputs, float64 for float64 (the goldens' dtype)."""
    return torch.promote_types(t.dtype, torch.float32)


def _check_weights(weights: Sequence[float]) -> tuple[float, ...]:
    w = tuple(float(b) for b in weights)
    if not w:
        raise ValueError("sfrik weights must list at least b_1 (got an empty sequence)")
    if any(b < 0 or b != b for b in w):
        raise ValueError(f"sfrik weights b_l must be >= 0 (positive-definite kernel), got {list(w)}")
    return w


def sfrik_mmd(z: Tensor, weights: Sequence[float]) -> Tensor:
    """Squared MMD between the rows of ``z`` and the uniform distribution on the sphere.

    ``mean_{a,b} Σ_{l=1..L} b_l P_l(q; z_aᵀ z_b)`` over the full n × n Gram matrix, diagonal included, exactly as
    ``SFRIK.mmd_loss`` in valeoai/sfrik. Memory is O(n²): only the n × n Gram and two or three n × n polynomial
    buffers are built, never a q × q matrix. Evaluated in float32 (float64 for float64 input) with autocast disabled;
    half-precision ``z`` is upcast first (see the module docstring).

    Args:
        z: (n, q) embeddings with L2-normalised rows (not re-normalised here).
        weights: Kernel weights ``(b_1, …, b_L)``, all >= 0; zero weights are skipped.

    Returns:
        0-d float32 (float64 for float64 ``z``) tensor; ``sum(weights)`` for collapsed embeddings, about
        ``sum(weights)/n`` for uniform ones.

    Raises:
        ValueError: If ``z`` is not 2-D, q < 3, or a weight is negative.
    """
    if z.ndim != 2:
        raise ValueError(f"sfrik_mmd expects a 2-D (n, q) tensor, got shape {tuple(z.shape)}")
    w = _check_weights(weights)
    q = z.shape[1]
    if q < 3:
        raise ValueError(f"sfrik_mmd: embedding dimension q must be >= 3, got {q}")
    with torch.autocast(device_type=z.device.type, enabled=False):
        return _mmd(z.to(_compute_dtype(z)), w, q)


def _mmd(z: Tensor, w: tuple[float, ...], q: int) -> Tensor:
    t = z @ z.T
    max_degree = max((ell for ell, b in enumerate(w, start=1) if b != 0.0), default=0)
    if max_degree == 0:
        return (t * 0.0).mean()
    psi = torch.zeros_like(t)
    for ell, p in enumerate(_legendre_series(q, max_degree, t), start=1):
        if w[ell - 1] != 0.0:
            psi = psi + w[ell - 1] * p
    return psi.mean()


class SFRIKLoss(nn.Module):
    """SFRIK loss (Zheng et al., ICLR 2023): ``sim_coeff · inv + mmd_coeff · ½ (MMD²(z_a) + MMD²(z_b))``.

    Reproduces ``SFRIK.two_views_forward`` of valeoai/sfrik ``src/sfrik/ssl.py`` (commit c6ce16e). Rows are
    L2-normalised inside the loss (``F.normalize(dim=1, p=2, eps=1e-12)``). Defaults are the README values
    (``--sfrik-sim-coeff 4000.0 --sfrik-mmd-coeff 1.0 --sfrik-weights 1.0-40.0-40.0``, IN20 %, q = 8192); the IN100 %
    R50 run uses ``sim_coeff=40000``. Every term is computed in float32 (float64 for float64 inputs) with autocast
    disabled, and the loss is float32 even for float16/bfloat16 inputs.

    Args:
        sim_coeff: Weight of the invariance (MSE) term.
        mmd_coeff: Weight of the averaged MMD term.
        weights: Kernel weights ``(b_1, …, b_L)``; ``(1, 40, 0)`` is the L = 2 kernel.
        gather_distributed: If True and ``torch.distributed`` is initialised with more than one process, the MMD
            uses embeddings all-gathered with the autograd-aware ``lightly.utils.dist.gather`` (global batch), while
            the invariance term stays local, as in the official code.

    Raises:
        ValueError: On negative or empty weights, or ``gather_distributed`` without ``torch.distributed``.
    """

    def __init__(
        self,
        *,
        sim_coeff: float = 4000.0,
        mmd_coeff: float = 1.0,
        weights: Sequence[float] = (1.0, 40.0, 40.0),
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if gather_distributed and not dist.is_available():
            raise ValueError("gather_distributed=True but torch.distributed is not available in this torch build")
        self.sim_coeff = float(sim_coeff)
        self.mmd_coeff = float(mmd_coeff)
        self.weights = _check_weights(weights)
        self.gather_distributed = gather_distributed

    def terms(self, z_a: Tensor, z_b: Tensor) -> dict[str, Tensor]:
        """All terms: ``inv`` (unweighted MSE), ``mmd`` (unweighted ½(mmd_a + mmd_b)), ``mmd_a``, ``mmd_b``, ``loss``."""
        check_pair("SFRIKLoss", z_a, z_b)
        with torch.autocast(device_type=z_a.device.type, enabled=False):
            return self._terms(z_a.to(_compute_dtype(z_a)), z_b.to(_compute_dtype(z_b)))

    def _terms(self, z_a: Tensor, z_b: Tensor) -> dict[str, Tensor]:
        x, y, inv = sphere_pair(z_a, z_b, gather_distributed=self.gather_distributed)
        mmd_a = sfrik_mmd(x, self.weights)
        mmd_b = sfrik_mmd(y, self.weights)
        mmd = (mmd_a + mmd_b) / 2
        loss = self.sim_coeff * inv + self.mmd_coeff * mmd
        return {"inv": inv, "mmd": mmd, "mmd_a": mmd_a, "mmd_b": mmd_b, "loss": loss}

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        """The total loss for two (n, q) batches of projector outputs (un-normalised)."""
        return self.terms(z_a, z_b)["loss"]

    def extra_repr(self) -> str:
        return f"sim_coeff={self.sim_coeff}, mmd_coeff={self.mmd_coeff}, weights={self.weights}"
