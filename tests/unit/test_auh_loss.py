"""AUHLoss (valeoai/sfrik ``src/sfrik/ssl.py`` ``AUH``, Wang & Isola 2020) against hand computations."""

from __future__ import annotations

import math
import multiprocessing as mp

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from benchmark.losses import AUHLoss, auh_uniformity
from tests.unit.test_sfrik_identities import WORLD, _free_port


def _reference_loss(za: torch.Tensor, zb: torch.Tensor, sim: float, unif: float, t: float) -> torch.Tensor:
    """The formula written out with loops: rows scaled to unit length, MSE over n·q, and Wang & Isola's
    ``log mean_{i≠j} exp(−t‖u_i − u_j‖²)`` (= exp(−2t(1 − u_iᵀu_j)) on the sphere) per view, averaged."""
    n, q = za.shape
    x = za / za.norm(dim=1, keepdim=True)
    y = zb / zb.norm(dim=1, keepdim=True)
    alignment = ((x - y) ** 2).sum() / (n * q)

    def uniformity(u: torch.Tensor) -> torch.Tensor:
        pairs = [torch.exp(-t * ((u[i] - u[j]) ** 2).sum()) for i in range(n) for j in range(n) if i != j]
        return torch.log(torch.stack(pairs).sum() / (n * (n - 1)))

    return sim * alignment + unif * (uniformity(x) + uniformity(y)) / 2


def _pair(n: int = 7, q: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, q, generator=gen, dtype=torch.float64), torch.randn(n, q, generator=gen, dtype=torch.float64))


@pytest.mark.parametrize(("sim", "unif", "t"), [(3000.0, 1.0, 2.5), (0.7, 2.0, 1.0), (0.0, 1.0, 4.0)])
def test_value_and_gradients_match_the_formula(sim: float, unif: float, t: float) -> None:
    za, zb = _pair()
    a1, b1 = za.clone().requires_grad_(True), zb.clone().requires_grad_(True)
    a2, b2 = za.clone().requires_grad_(True), zb.clone().requires_grad_(True)
    loss = AUHLoss(sim_coeff=sim, unif_coeff=unif, scale=t)(a1, b1)
    expected = _reference_loss(a2, b2, sim, unif, t)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    loss.backward()
    expected.backward()
    torch.testing.assert_close(a1.grad, a2.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(b1.grad, b2.grad, rtol=1e-10, atol=1e-12)


def test_terms_are_the_weighted_pieces() -> None:
    za, zb = _pair(seed=1)
    terms = AUHLoss(sim_coeff=5.0, unif_coeff=3.0, scale=2.0).terms(za, zb)
    cos = F.cosine_similarity(za, zb, dim=1)
    torch.testing.assert_close(terms["inv"], (2 - 2 * cos.mean()) / za.shape[1])  # MSE of unit rows = (2 − 2 cos)/q
    torch.testing.assert_close(terms["unif"], (terms["unif_a"] + terms["unif_b"]) / 2)
    torch.testing.assert_close(terms["loss"], 5.0 * terms["inv"] + 3.0 * terms["unif"])


def test_identical_points_have_zero_uniformity_and_spread_points_negative() -> None:
    z = F.normalize(torch.randn(1, 6, dtype=torch.float64), dim=1).expand(9, 6)
    assert auh_uniformity(z, 2.5).item() == pytest.approx(0.0, abs=1e-14)  # log 1: the maximum, collapse
    terms = AUHLoss().terms(4.0 * z, 0.5 * z)  # identical directions: no alignment cost either
    assert terms["loss"].item() == pytest.approx(0.0, abs=1e-10)
    spread = F.normalize(torch.randn(64, 6, dtype=torch.float64), dim=1)
    assert -4 * 2.5 <= auh_uniformity(spread, 2.5).item() < -0.5  # minimising it pushes points apart


def test_diagonal_is_excluded() -> None:
    t = 2.5
    u = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=torch.float64)  # antipodal: z_1ᵀz_2 = −1
    assert auh_uniformity(u, t).item() == pytest.approx(-4 * t, rel=1e-14)  # log exp(−4t): the off-diagonal pair only
    with_diagonal = math.log((2 * math.exp(-4 * t) + 2) / 4)  # ≈ log ½ if the two self-pairs (exp 0 = 1) counted
    assert abs(auh_uniformity(u, t).item() - with_diagonal) > 9
    z = F.normalize(_pair(seed=2)[0], dim=1)
    n = z.shape[0]
    kernel = torch.exp(-2 * t * (1 - z @ z.T))
    off = (kernel.sum() - kernel.diagonal().sum()) / (n * (n - 1))
    torch.testing.assert_close(auh_uniformity(z, t), torch.log(off), rtol=1e-12, atol=1e-14)
    assert abs(auh_uniformity(z, t).item() - torch.log(kernel.mean()).item()) > 1e-3


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="n >= 2"):
        auh_uniformity(torch.ones(1, 4), 2.5)
    with pytest.raises(ValueError, match="scale must be > 0"):
        AUHLoss(scale=0.0)
    with pytest.raises(ValueError, match="equal shape"):
        AUHLoss()(torch.randn(4, 8), torch.randn(5, 8))


# ---------------------------------------------------------------- distributed semantics (2 CPU processes, gloo)
def _ddp_worker(rank: int, port: int, za: torch.Tensor, zb: torch.Tensor, queue) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        rows = slice(rank * za.shape[0] // WORLD, (rank + 1) * za.shape[0] // WORLD)
        a = za[rows].clone().requires_grad_(True)
        terms = AUHLoss(sim_coeff=7.0, gather_distributed=True).terms(a, zb[rows].clone())
        terms["loss"].backward()
        queue.put((rank, {k: v.item() for k, v in terms.items()}, a.grad.numpy()))
        dist.destroy_process_group()
    except Exception as exc:  # surface the error in the parent
        queue.put((rank, repr(exc), None))


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_gather_distributed_uses_global_uniformity_and_local_alignment() -> None:
    za, zb = _pair(n=8, q=6, seed=3)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, za, zb, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = {r: (t, g) for r, t, g in (queue.get(timeout=60) for _ in range(WORLD))}
    for p in procs:
        p.join(timeout=30)
    for r in range(WORLD):
        assert isinstance(results[r][0], dict), results[r][0]

    ref_a = za.clone().requires_grad_(True)
    x, y = F.normalize(ref_a, dim=1), F.normalize(zb, dim=1)
    half = za.shape[0] // WORLD
    inv_local = [F.mse_loss(x[r * half : (r + 1) * half], y[r * half : (r + 1) * half]) for r in range(WORLD)]
    unif_global = (auh_uniformity(x, 2.5) + auh_uniformity(y, 2.5)) / 2
    (sum(7.0 * inv for inv in inv_local) / WORLD + unif_global).backward()
    for r in range(WORLD):
        terms, grad = results[r]
        assert terms["unif"] == pytest.approx(unif_global.item(), rel=1e-12)
        assert terms["inv"] == pytest.approx(inv_local[r].item(), rel=1e-12)
        # DDP averages gradients over ranks; the gather's backward sums the global term's gradient.
        torch.testing.assert_close(
            torch.from_numpy(grad) / WORLD, ref_a.grad[r * half : (r + 1) * half], rtol=1e-10, atol=1e-12
        )
