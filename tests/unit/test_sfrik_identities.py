"""SFRIK identities that need no golden file.

Closed forms of valeoai/sfrik ``src/sfrik/ssl.py`` (``legendre_polynomial``, ``SFRIK.mmd_loss``) against the
Gegenbauer recurrence, and moment / collapse / uniform identities of the MMD² (computed here).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from benchmark.losses import SFRIKLoss, legendre, sfrik_mmd


def _sphere(n: int, q: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, q, generator=gen, dtype=torch.float64), dim=1)


def _gegenbauer_normalised(q: int, degree: int, t: torch.Tensor) -> torch.Tensor:
    """Explicit-sum Gegenbauer C_l^α(t)/C_l^α(1), α = (q − 2)/2 (independent of the recurrence)."""
    alpha = (q - 2) / 2

    def c(x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(x)
        for k in range(degree // 2 + 1):
            log_coef = (
                math.lgamma(degree - k + alpha)
                - math.lgamma(alpha)
                - math.lgamma(k + 1)
                - math.lgamma(degree - 2 * k + 1)
            )
            total = total + (-1) ** k * math.exp(log_coef) * (2 * x) ** (degree - 2 * k)
        return total

    return c(t) / c(torch.ones((), dtype=t.dtype))


CLOSED_FORMS = {  # the official code's hard-coded degrees (valeoai/sfrik src/sfrik/ssl.py, legendre_polynomial)
    1: lambda q, t: t,
    2: lambda q, t: (q * t**2 - 1) / (q - 1),
    3: lambda q, t: ((q + 2) * t**3 - 3 * t) / (q - 1),
    4: lambda q, t: ((q + 2) * (q + 4) * t**4 - 6 * (q + 2) * t**2 + 3) / (q**2 - 1),
}


@pytest.mark.parametrize("q", [3, 16, 1024, 8192, 32768])
def test_legendre_matches_closed_forms(q: int) -> None:
    t = torch.linspace(-1, 1, 101, dtype=torch.float64)
    for degree, form in CLOSED_FORMS.items():
        torch.testing.assert_close(legendre(q, degree, t), form(q, t), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("q", [3, 4, 7, 16, 128])
def test_legendre_matches_gegenbauer_definition(q: int) -> None:
    t = torch.linspace(-1, 1, 57, dtype=torch.float64)
    for degree in range(0, 8):
        torch.testing.assert_close(legendre(q, degree, t), _gegenbauer_normalised(q, degree, t), rtol=1e-10, atol=1e-10)


def test_legendre_q3_is_classical_legendre() -> None:
    t = torch.linspace(-1, 1, 11, dtype=torch.float64)
    torch.testing.assert_close(legendre(3, 2, t), (3 * t**2 - 1) / 2)
    torch.testing.assert_close(legendre(3, 5, t), (63 * t**5 - 70 * t**3 + 15 * t) / 8)


def test_legendre_is_one_at_one() -> None:
    one = torch.ones(1, dtype=torch.float64)
    for q in (3, 5, 64, 8192):
        for degree in range(0, 10):
            assert legendre(q, degree, one).item() == pytest.approx(1.0, abs=1e-12)


def test_legendre_zero_mean_under_uniform() -> None:
    # t = first coordinate of a uniform point on S^{q-1}: E[P_l(q; t)] = 0 for l >= 1 (why b_0 drops out).
    t = _sphere(50_000, 16, seed=3)[:, 0]
    for degree in range(1, 5):
        assert abs(legendre(16, degree, t).mean().item()) < 5e-3


def test_invalid_arguments_raise() -> None:
    t = torch.zeros(3)
    with pytest.raises(ValueError, match="q must be"):
        legendre(2, 1, t)
    with pytest.raises(ValueError, match="degree"):
        legendre(3, -1, t)
    with pytest.raises(ValueError, match="q must be >= 3"):
        sfrik_mmd(_sphere(4, 2), (1.0,))
    with pytest.raises(ValueError, match=">= 0"):
        SFRIKLoss(weights=(1.0, -1.0))
    with pytest.raises(ValueError, match="equal shape"):
        SFRIKLoss()(torch.randn(4, 8), torch.randn(5, 8))


@pytest.mark.parametrize("q", [3, 16, 512])
def test_collapse_gives_sum_of_weights(q: int) -> None:
    z = _sphere(1, q).expand(32, q)
    assert sfrik_mmd(z, (1.0, 40.0, 40.0)).item() == pytest.approx(81.0, rel=1e-12)
    assert sfrik_mmd(z, (1.0, 40.0, 0.0)).item() == pytest.approx(41.0, rel=1e-12)
    # Through the loss, with un-normalised identical views: inv = 0, loss = mmd_coeff · Σb.
    terms = SFRIKLoss(mmd_coeff=2.0).terms(3.0 * z, 0.5 * z)
    assert terms["inv"].item() == pytest.approx(0.0, abs=1e-20)
    assert terms["loss"].item() == pytest.approx(162.0, rel=1e-12)


def test_moment_identities() -> None:
    n, q = 64, 12
    z = _sphere(n, q, seed=1)
    z_bar = z.mean(0)
    second = z.T @ z / n
    third = torch.einsum("ia,ib,ic->abc", z, z, z) / n
    l1 = sfrik_mmd(z, (1.0,))
    l2 = sfrik_mmd(z, (0.0, 1.0))
    l3 = sfrik_mmd(z, (0.0, 0.0, 1.0))
    torch.testing.assert_close(l1, z_bar.pow(2).sum(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        l2, q / (q - 1) * (second - torch.eye(q, dtype=z.dtype) / q).pow(2).sum(), rtol=1e-12, atol=1e-14
    )
    torch.testing.assert_close(
        l3, (q + 2) / (q - 1) * third.pow(2).sum() - 3 / (q - 1) * z_bar.pow(2).sum(), rtol=1e-10, atol=1e-14
    )
    # Linear in the weights.
    torch.testing.assert_close(sfrik_mmd(z, (1.0, 40.0, 40.0)), l1 + 40 * l2 + 40 * l3, rtol=1e-12, atol=1e-14)


def test_q3_against_classical_legendre_gram() -> None:
    z = _sphere(20, 3, seed=2)
    t = z @ z.T
    expected = (2 * t + 3 * (3 * t**2 - 1) / 2 + 5 * (5 * t**3 - 3 * t) / 2).mean()
    torch.testing.assert_close(sfrik_mmd(z, (2.0, 3.0, 5.0)), expected, rtol=1e-12, atol=1e-14)


def test_uniform_embeddings_expected_mmd() -> None:
    # E[MMD²] = Σb / n for i.i.d. uniform rows (diagonal contributes Σb/n, off-diagonal terms have mean 0).
    n, q, reps = 32, 16, 300
    z = _sphere(n * reps, q, seed=4).view(reps, n, q)
    values = torch.stack([sfrik_mmd(z[r], (1.0, 40.0, 40.0)) for r in range(reps)])
    assert values.mean().item() == pytest.approx(81.0 / n, rel=0.05)


def test_invariance_is_mean_over_elements_and_gradcheck() -> None:
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    terms = SFRIKLoss().terms(a, b)
    cos = F.cosine_similarity(a, b, dim=1)
    torch.testing.assert_close(terms["inv"], (2 - 2 * cos.mean()) / 5)
    torch.testing.assert_close(terms["mmd"], (terms["mmd_a"] + terms["mmd_b"]) / 2)
    torch.testing.assert_close(terms["loss"], 4000 * terms["inv"] + terms["mmd"])
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, y: SFRIKLoss(sim_coeff=3.0).forward(x, y), (a, b))


# ---------------------------------------------------------------- mixed precision (float32 kernel, whatever the input)

#: Unit roundoff of the input dtypes (half an ulp at 1): float16 2^-11, bfloat16 2^-8.
UNIT_ROUNDOFF = {torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}
#: Relative error of the float32 value vs float64 on the same inputs: float32 unit roundoff (6e-8) times the O(n)
#: growth of the n × n mean, with n = 128 (measured <= 2e-7).
VALUE_RTOL = 1e-5
N_MP, Q_MP = 128, 512


def _views(dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two correlated (n, q) views, rounded to ``dtype`` (the projector output under 16-mixed)."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(N_MP, Q_MP, generator=gen)
    return ((base + 0.3 * torch.randn(N_MP, Q_MP, generator=gen)).to(dtype),
            (base + 0.3 * torch.randn(N_MP, Q_MP, generator=gen)).to(dtype))


def _naive_low_precision_loss(loss: SFRIKLoss, za: torch.Tensor, zb: torch.Tensor, gram: torch.dtype) -> torch.Tensor:
    """The counter-example: what CUDA autocast made of the previous code. Normalisation and MSE in float32, but the
    Gram matrix in ``gram`` (autocast runs ``mm`` in half precision) and the Legendre recurrence in the Gram's dtype."""
    x, y = F.normalize(za.float(), dim=1), F.normalize(zb.float(), dim=1)

    def mmd(e: torch.Tensor) -> torch.Tensor:
        t = e.to(gram) @ e.to(gram).T
        psi = sum(b * legendre(Q_MP, ell, t) for ell, b in enumerate(loss.weights, start=1))
        return psi.float().mean()

    return loss.sim_coeff * F.mse_loss(x, y) + loss.mmd_coeff * (mmd(x) + mmd(y)) / 2


def _value_and_grad(fn, za: torch.Tensor, zb: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and d loss / d za in float64; the backward pass is scaled by ``scale`` as GradScaler does under 16-mixed
    (float16 gradients of this loss are ~1e-6 and would underflow otherwise), then unscaled."""
    a = za.clone().requires_grad_(True)
    value = fn(a, zb)
    (value * scale).backward()
    return value.detach().double(), a.grad.double() / scale


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
@pytest.mark.parametrize("sim_coeff", [0.0, 4000.0 * Q_MP / 8192], ids=["mmd_only", "full"])
def test_half_precision_inputs_match_float64_within_the_input_roundoff(dtype: torch.dtype, sim_coeff: float) -> None:
    """fp16/bf16 embeddings vs float64 on the same (rounded) values.

    Bounds: the value is computed in float32, so its relative error is float32 rounding (VALUE_RTOL). The gradient is
    computed in float32 and then rounded once to the input dtype (autograd returns a gradient of the input's dtype),
    so each element is off by at most the unit roundoff u of that dtype relative to itself: the norm-wise relative
    error is <= u (float16 4.9e-4, bfloat16 3.9e-3), plus float32 noise (1e-5 of slack). The counter-example, the
    half-precision Gram and recurrence, exceeds the gradient bound (its value stays within 2e-6: the error is in the
    gradient, as the golden README's AMP note also finds for the value).
    """
    loss = SFRIKLoss(sim_coeff=sim_coeff)
    za, zb = _views(dtype)
    ref_value, ref_grad = _value_and_grad(loss, za.double(), zb.double(), 1.0)
    scale = 2.0 ** round(-math.log2(ref_grad.abs().max().item()))  # largest gradient element ≈ 1 after scaling
    value, grad = _value_and_grad(loss, za, zb, scale)
    assert loss(za, zb).dtype == torch.float32
    bound = UNIT_ROUNDOFF[dtype] + 1e-5
    value_err = abs(value - ref_value).item() / abs(ref_value).item()
    grad_err = ((grad - ref_grad).norm() / ref_grad.norm()).item()
    assert value_err <= VALUE_RTOL, value_err
    assert grad_err <= bound, (grad_err, bound)

    _, naive_grad = _value_and_grad(lambda a, b: _naive_low_precision_loss(loss, a, b, dtype), za, zb, scale)
    naive_grad_err = ((naive_grad - ref_grad).norm() / ref_grad.norm()).item()
    # Measured here: fixed 0.43 u; naive 3.5 u (kernel alone) and 2.3 u (with the invariance term, which dilutes it).
    assert naive_grad_err > (2 * bound if sim_coeff == 0.0 else bound), (naive_grad_err, bound)


def test_cpu_bfloat16_autocast_does_not_reach_the_kernel() -> None:
    """Under CPU autocast (bf16) float32 embeddings give exactly the float32 loss; a Gram computed in the same autocast
    region is bfloat16, and the MMD built on it is off by more than the bound of the test above."""
    loss = SFRIKLoss()
    za, zb = _views(torch.float32)
    expected = loss(za, zb)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss(za, zb)
        x = F.normalize(za, dim=1)
        gram = x @ x.T
        naive_mmd = sum(b * legendre(Q_MP, ell, gram) for ell, b in enumerate(loss.weights, start=1)).float().mean()
    assert got.dtype == torch.float32 and torch.equal(got, expected)
    assert gram.dtype == torch.bfloat16  # the counter-example really ran in low precision
    exact = sfrik_mmd(x, loss.weights)
    assert abs(naive_mmd - exact).item() / exact.item() > VALUE_RTOL


# ---------------------------------------------------------------- distributed semantics (2 CPU processes, gloo)

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, za: torch.Tensor, zb: torch.Tensor, queue) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        rows = slice(rank * za.shape[0] // WORLD, (rank + 1) * za.shape[0] // WORLD)
        a = za[rows].clone().requires_grad_(True)
        b = zb[rows].clone()
        terms = SFRIKLoss(sim_coeff=7.0, gather_distributed=True).terms(a, b)
        terms["loss"].backward()
        # numpy, not a tensor: torch's queue reducers share storage via fds that die with this process.
        queue.put((rank, {k: v.item() for k, v in terms.items()}, a.grad.numpy()))
        dist.destroy_process_group()
    except Exception as exc:  # surface the error in the parent
        queue.put((rank, repr(exc), None))


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_gather_distributed_uses_global_mmd_and_local_invariance() -> None:
    za, zb = torch.randn(8, 6, dtype=torch.float64), torch.randn(8, 6, dtype=torch.float64)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, za, zb, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = dict((r, (t, g)) for r, t, g in (queue.get(timeout=60) for _ in range(WORLD)))
    for p in procs:
        p.join(timeout=30)
    for r in range(WORLD):
        assert isinstance(results[r][0], dict), results[r][0]

    # Single-process reference of what DDP optimises: the average of the per-rank losses.
    ref_a = za.clone().requires_grad_(True)
    x, y = F.normalize(ref_a, dim=1), F.normalize(zb, dim=1)
    half = za.shape[0] // WORLD
    inv_local = [F.mse_loss(x[r * half : (r + 1) * half], y[r * half : (r + 1) * half]) for r in range(WORLD)]
    mmd_global = (sfrik_mmd(x, (1.0, 40.0, 40.0)) + sfrik_mmd(y, (1.0, 40.0, 40.0))) / 2
    (sum(7.0 * inv for inv in inv_local) / WORLD + mmd_global).backward()
    for r in range(WORLD):
        terms, grad = results[r]
        assert terms["mmd"] == pytest.approx(mmd_global.item(), rel=1e-12)
        assert terms["inv"] == pytest.approx(inv_local[r].item(), rel=1e-12)
        # DDP averages gradients over ranks; the gather's backward sums the global term's gradient.
        torch.testing.assert_close(
            torch.from_numpy(grad) / WORLD, ref_a.grad[r * half : (r + 1) * half], rtol=1e-10, atol=1e-12
        )
