"""SFRIKMultiCropLoss = the official multi-crop pairing of the two-view SFRIK pieces (valeoai/sfrik ``ssl.py``).

valeoai/sfrik ``swav_multi_crop_forward``: ``repr = mean_{a in general_indices} mean_{i != a} mse(v_a, v_i)``, MMD
averaged over the global views (``reg_small False``) or all views (``True``); ``obow_multi_crop_forward``: ``repr =
mean_i mse(orig, crop_i)``, MMD on the original (False) or ``(Σ_i MMD(crop_i) + MMD(orig)) / (k + 1)`` (True). The
expected values here are composed from :class:`SFRIKLoss`'s own two-view terms, not from the multi-crop code.
"""

from __future__ import annotations

import multiprocessing as mp

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from benchmark.losses import SFRIKLoss, SFRIKMultiCropLoss, sfrik_mmd
from tests.unit.test_sfrik_identities import WORLD, _free_port

WEIGHTS = (1.0, 40.0, 40.0)


def _views(n_views: int, n: int = 6, q: int = 5, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, q, generator=gen, dtype=torch.float64) for _ in range(n_views)]


def _two_view_inv(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return SFRIKLoss(weights=WEIGHTS).terms(a, b)["inv"]


def _two_view_mmd(a: torch.Tensor) -> torch.Tensor:
    return SFRIKLoss(weights=WEIGHTS).terms(a, a)["mmd_a"]


def _official_swav(z: list[torch.Tensor], globals_: list[int], reg_small: bool, sim: float, mmd: float):
    """``swav_multi_crop_forward`` written with the two-view pieces (general_indices = ``globals_``)."""
    n_views = len(z)
    inv = sum(sum(_two_view_inv(z[g], z[i]) for i in range(n_views) if i != g) / (n_views - 1) for g in globals_)
    inv = inv / len(globals_)
    regularised = range(n_views) if reg_small else globals_
    reg = sum(_two_view_mmd(z[v]) for v in regularised) / len(regularised)
    return sim * inv + mmd * reg


def _official_obow(z: list[torch.Tensor], reg_small: bool, sim: float, mmd: float):
    """``obow_multi_crop_forward`` with ``img_orig = z[0]`` and ``img_crops = z[1:]``."""
    orig, crops = z[0], z[1:]
    inv = sum(_two_view_inv(orig, c) for c in crops) / len(crops)
    reg = (sum(_two_view_mmd(c) for c in crops) + _two_view_mmd(orig)) / (len(crops) + 1) if reg_small else (
        _two_view_mmd(orig)
    )
    return sim * inv + mmd * reg


@pytest.mark.parametrize("reg_small", [False, True])
@pytest.mark.parametrize("n_small", [1, 3])
def test_swav_pairing_matches_the_two_view_pieces(reg_small: bool, n_small: int) -> None:
    z = _views(2 + n_small)
    ours = [v.clone().requires_grad_(True) for v in z]
    ref = [v.clone().requires_grad_(True) for v in z]
    loss_fn = SFRIKMultiCropLoss(sim_coeff=30.0, mmd_coeff=2.0, weights=WEIGHTS, n_anchors=2, reg_small=reg_small)
    loss = loss_fn(*ours)
    expected = _official_swav(ref, [0, 1], reg_small, 30.0, 2.0)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    loss.backward()
    expected.backward()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reg_small", [False, True])
def test_obow_pairing_matches_the_two_view_pieces(reg_small: bool) -> None:
    z = _views(1 + 2 + 5, seed=1)  # original + 2 crops + 5 patches (README)
    ours = [v.clone().requires_grad_(True) for v in z]
    ref = [v.clone().requires_grad_(True) for v in z]
    loss = SFRIKMultiCropLoss(sim_coeff=40.0, weights=WEIGHTS, n_anchors=1, reg_small=reg_small)(*ours)
    expected = _official_obow(ref, reg_small, 40.0, 1.0)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    loss.backward()
    expected.backward()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_anchors", [1, 2])
def test_reg_small_adds_exactly_the_small_crops_mmd(n_anchors: int) -> None:
    z = _views(n_anchors + 4, seed=2)
    mmd = [_two_view_mmd(v) for v in z]
    common = {"sim_coeff": 11.0, "mmd_coeff": 3.0, "weights": WEIGHTS, "n_anchors": n_anchors}
    without = SFRIKMultiCropLoss(reg_small=False, **common).terms(z)
    with_small = SFRIKMultiCropLoss(reg_small=True, **common).terms(z)
    torch.testing.assert_close(with_small["inv"], without["inv"])
    anchors, small = sum(mmd[:n_anchors]), sum(mmd[n_anchors:])
    torch.testing.assert_close(without["mmd"], anchors / n_anchors)
    torch.testing.assert_close(with_small["mmd"], (anchors + small) / len(z))
    torch.testing.assert_close(with_small["mmd_small"], small / (len(z) - n_anchors))
    torch.testing.assert_close(
        with_small["loss"] - without["loss"], 3.0 * ((anchors + small) / len(z) - anchors / n_anchors)
    )


def test_two_views_reduce_to_the_two_view_loss() -> None:
    a, b = _views(2, seed=3)
    two_view = SFRIKLoss(sim_coeff=9.0, weights=WEIGHTS)(a, b)
    torch.testing.assert_close(SFRIKMultiCropLoss(sim_coeff=9.0, weights=WEIGHTS, n_anchors=2)(a, b), two_view)
    obow_all = SFRIKMultiCropLoss(sim_coeff=9.0, weights=WEIGHTS, n_anchors=1, reg_small=True)
    torch.testing.assert_close(obow_all(a, b), two_view)


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError, match="at least 2 views and its 3 anchor"):
        SFRIKMultiCropLoss(n_anchors=3).terms(_views(2))
    with pytest.raises(ValueError, match="at least 2 views"):
        SFRIKMultiCropLoss(n_anchors=1).terms(_views(1))
    with pytest.raises(ValueError, match="of one shape"):
        SFRIKMultiCropLoss(n_anchors=1)(torch.randn(4, 5), torch.randn(3, 5))
    with pytest.raises(ValueError, match="n_anchors must be >= 1"):
        SFRIKMultiCropLoss(n_anchors=0)
    with pytest.raises(ValueError, match=">= 0"):
        SFRIKMultiCropLoss(weights=(1.0, -2.0))


# ---------------------------------------------------------------- distributed semantics (2 CPU processes, gloo)
def _ddp_worker(rank: int, port: int, views: list[torch.Tensor], queue) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        n = views[0].shape[0] // WORLD
        local = [v[rank * n : (rank + 1) * n].clone().requires_grad_(True) for v in views]
        loss_fn = SFRIKMultiCropLoss(sim_coeff=7.0, weights=WEIGHTS, n_anchors=2, reg_small=True,
                                     gather_distributed=True)
        terms = loss_fn.terms(local)
        terms["loss"].backward()
        queue.put((rank, {k: v.item() for k, v in terms.items()}, [t.grad.numpy() for t in local]))
        dist.destroy_process_group()
    except Exception as exc:  # surface the error in the parent
        queue.put((rank, repr(exc), None))


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_gather_distributed_uses_global_mmd_per_view_and_local_invariance() -> None:
    views = _views(4, n=8, q=6, seed=4)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, views, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = {r: (t, g) for r, t, g in (queue.get(timeout=60) for _ in range(WORLD))}
    for p in procs:
        p.join(timeout=30)
    for r in range(WORLD):
        assert isinstance(results[r][0], dict), results[r][0]

    ref = [v.clone().requires_grad_(True) for v in views]
    z = [F.normalize(v, dim=1) for v in ref]
    half = views[0].shape[0] // WORLD
    inv_local = []
    for r in range(WORLD):
        zr = [v[r * half : (r + 1) * half] for v in z]
        inv_local.append(sum(sum(F.mse_loss(zr[g], zr[i]) for i in range(4) if i != g) / 3 for g in (0, 1)) / 2)
    mmd_global = sum(sfrik_mmd(v, WEIGHTS) for v in z) / 4
    (sum(7.0 * inv for inv in inv_local) / WORLD + mmd_global).backward()
    for r in range(WORLD):
        terms, grads = results[r]
        assert terms["mmd"] == pytest.approx(mmd_global.item(), rel=1e-12)
        assert terms["inv"] == pytest.approx(inv_local[r].item(), rel=1e-12)
        for grad, v in zip(grads, ref, strict=True):
            torch.testing.assert_close(
                torch.from_numpy(grad) / WORLD, v.grad[r * half : (r + 1) * half], rtol=1e-10, atol=1e-12
            )
