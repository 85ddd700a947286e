"""SFRIK identities that need no golden file (sfrik_iclr23.md §2.3, §2.6, §8.1)."""

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


CLOSED_FORMS = {  # sfrik_iclr23.md §2.3 (the official code's hard-coded degrees)
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
