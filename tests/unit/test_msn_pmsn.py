"""MSN / PMSN: priors, KL directions, reductions to MSN, Lightly parity, DDP p̄.

MSN: facebookresearch/msn ``src/losses.py``; PMSN: Assran et al., ICLR 2023, Eq. 9, and lightly-ai/lightly
``lightly/loss/pmsn_loss.py``.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import socket

import lightly.loss
import pytest
import torch
import torch.distributed as dist
from torch import nn

from benchmark.losses import MSNLoss, PMSNLoss, power_law_prior

P_BAR = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)


def _inputs(dtype: torch.dtype = torch.float64, n: int = 8, views: int = 3, d: int = 16, k: int = 32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    anchors = torch.randn(views * n, d, generator=gen, dtype=dtype)
    targets = torch.randn(n, d, generator=gen, dtype=dtype)
    prototypes = torch.randn(k, d, generator=gen, dtype=dtype)
    return anchors, targets, prototypes


def test_power_law_prior_values() -> None:
    torch.testing.assert_close(power_law_prior(5, 0.0), torch.full((5,), 0.2, dtype=torch.float64))
    # Lightly's own test value: normaliser of k^(-1/2), K = 4, is 2.784457050376173.
    prior = power_law_prior(4, 0.5)
    torch.testing.assert_close(prior, torch.tensor([1, 2**-0.5, 3**-0.5, 0.5], dtype=torch.float64) / 2.784457050376173)
    big = power_law_prior(1024, 0.25)
    assert big.sum().item() == pytest.approx(1.0, abs=1e-14)
    assert torch.all(big[:-1] > big[1:])
    assert (big[0] / big[-1]).item() == pytest.approx(1024**0.25, rel=1e-12)  # p1/pK = 5.66 (computed here)
    assert power_law_prior(7, 0.25, dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match="tau"):
        power_law_prior(4, -0.1)
    with pytest.raises(ValueError, match="k must be"):
        power_law_prior(0, 0.25)


@pytest.mark.parametrize(
    ("prior", "tau", "mean_to_prior", "prior_to_mean"),
    [
        ("uniform", 0.25, 0.200667, 0.240516),  # oracles computed here
        ("power_law", 0.25, 0.274625, 0.331820),
    ],
)
def test_direction_oracles(prior: str, tau: float, mean_to_prior: float, prior_to_mean: float) -> None:
    forward = PMSNLoss(prior=prior, power_law_exponent=tau, kl_direction="mean_to_prior")  # type: ignore[arg-type]
    reverse = PMSNLoss(prior=prior, power_law_exponent=tau, kl_direction="prior_to_mean")  # type: ignore[arg-type]
    assert forward.regularization_loss(P_BAR).item() == pytest.approx(mean_to_prior, abs=1e-6)
    assert reverse.regularization_loss(P_BAR).item() == pytest.approx(prior_to_mean, abs=1e-6)
    if prior == "power_law":
        torch.testing.assert_close(
            forward.prior_distribution(3, dtype=torch.float64),
            torch.tensor([0.38451, 0.32333, 0.29216], dtype=torch.float64),
            rtol=0,
            atol=6e-6,
        )


def test_mean_to_prior_uniform_is_memax() -> None:
    p_bar = torch.softmax(torch.randn(50, dtype=torch.float64), dim=0)
    memax = (p_bar * p_bar.log()).sum() + math.log(50)  # −H(p̄) + log K
    torch.testing.assert_close(PMSNLoss(prior="uniform").regularization_loss(p_bar), memax, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(MSNLoss().regularization_loss(p_bar), memax, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("direction", ["mean_to_prior", "prior_to_mean"])
def test_tau_zero_equals_uniform(direction: str) -> None:
    anchors, targets, prototypes = _inputs()
    power = PMSNLoss(power_law_exponent=0.0, kl_direction=direction)(anchors, targets, prototypes)  # type: ignore[arg-type]
    uniform = PMSNLoss(prior="uniform", kl_direction=direction)(anchors, targets, prototypes)  # type: ignore[arg-type]
    torch.testing.assert_close(power, uniform, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("sinkhorn_iterations", [0, 3])
def test_uniform_mean_to_prior_equals_msn_and_lightly_with_gradients(sinkhorn_iterations: int) -> None:
    anchors, targets, prototypes = _inputs(seed=1)
    grads = []
    for loss_fn in (
        PMSNLoss(prior="uniform", sinkhorn_iterations=sinkhorn_iterations),
        MSNLoss(sinkhorn_iterations=sinkhorn_iterations),
        lightly.loss.MSNLoss(sinkhorn_iterations=sinkhorn_iterations),
    ):
        a = anchors.clone().requires_grad_(True)
        p = nn.Parameter(prototypes.clone())
        loss = loss_fn(a, targets, p, target_sharpen_temperature=0.25)
        loss.backward()
        grads.append((loss.detach(), a.grad, p.grad))
    for other in grads[1:]:
        for x, y in zip(grads[0], other, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-15)
    assert grads[0][2].abs().sum() > 0  # learnable prototypes receive a gradient


@pytest.mark.filterwarnings("ignore:To copy construct from a tensor")  # inside lightly's _power_law_distribution
@pytest.mark.parametrize("tau", [0.0, 0.25, 0.5, 1.0])
def test_prior_to_mean_equals_lightly_pmsn(tau: float) -> None:
    anchors, targets, prototypes = _inputs(dtype=torch.float32, seed=2)
    ours = PMSNLoss(power_law_exponent=tau, kl_direction="prior_to_mean")(anchors, targets, prototypes)
    theirs = lightly.loss.PMSNLoss(power_law_exponent=tau)(anchors, targets, prototypes)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    # The default (paper) direction differs from Lightly's.
    paper = PMSNLoss(power_law_exponent=tau)(anchors, targets, prototypes)
    assert abs(paper.item() - theirs.item()) > 1e-6


def test_directions_gradients_differ_on_dead_prototypes() -> None:
    # d/dp̄ KL(π‖p̄) = −π/p̄ blows up for a nearly dead prototype; d/dp̄ KL(p̄‖π) = log(p̄/π) + 1 stays moderate.
    p_bar = torch.tensor([1e-6, 0.5, 0.5 - 1e-6], dtype=torch.float64, requires_grad=True)
    (g_fwd,) = torch.autograd.grad(PMSNLoss(prior="uniform").regularization_loss(p_bar), p_bar)
    (g_rev,) = torch.autograd.grad(
        PMSNLoss(prior="uniform", kl_direction="prior_to_mean").regularization_loss(p_bar), p_bar
    )
    torch.testing.assert_close(g_fwd, (p_bar / (1 / 3)).log().detach() + 1)
    torch.testing.assert_close(g_rev, -(1 / 3) / p_bar.detach())


def test_terms_and_types() -> None:
    anchors, targets, prototypes = _inputs(seed=3)
    loss_fn = PMSNLoss(regularization_weight=0.7)
    terms = loss_fn.terms(anchors, targets, prototypes)
    assert set(terms) == {"ce", "reg", "mean_probs", "loss"}
    torch.testing.assert_close(terms["loss"], terms["ce"] + 0.7 * terms["reg"])
    torch.testing.assert_close(terms["mean_probs"].sum(), torch.tensor(1.0, dtype=torch.float64))
    assert isinstance(loss_fn, lightly.loss.MSNLoss) and isinstance(MSNLoss(), lightly.loss.MSNLoss)
    with pytest.raises(TypeError):
        PMSNLoss(0.1)  # type: ignore[misc]  # keyword-only
    with pytest.raises(ValueError, match="prior"):
        PMSNLoss(prior="zipf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kl_direction"):
        PMSNLoss(kl_direction="forward")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="power_law_exponent"):
        PMSNLoss(power_law_exponent=-1.0)
    with pytest.raises(ValueError, match="multiple of target rows"):
        MSNLoss()(anchors[:5], targets, prototypes)


def test_frozen_prototypes_warn() -> None:
    anchors, targets, prototypes = _inputs(seed=4)
    param = nn.Parameter(prototypes)
    with pytest.warns(UserWarning, match=r"\.data"):
        MSNLoss()(anchors.requires_grad_(True), targets, param.data)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MSNLoss()(anchors, targets, param)


# ---------------------------------------------------------------- distributed p̄ (2 CPU processes, gloo)

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local(x: torch.Tensor, rank: int, views: int) -> torch.Tensor:
    """Rank ``rank``'s rows of a view-major (views·n, d) tensor."""
    n = x.shape[0] // views
    half = n // WORLD
    return torch.cat([x[v * n + rank * half : v * n + (rank + 1) * half] for v in range(views)])


def _ddp_worker(rank: int, port: int, anchors, targets, prototypes, views: int, queue) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        a = _local(anchors, rank, views).clone().requires_grad_(True)
        p = nn.Parameter(prototypes.clone())
        terms = PMSNLoss(gather_distributed=True).terms(a, _local(targets, rank, 1), p)
        terms["loss"].backward()
        # numpy, not tensors: torch's queue reducers share storage via fds that die with this process.
        queue.put((rank, {k: v.detach().numpy() for k, v in terms.items()}, a.grad.numpy(), p.grad.numpy()))
        dist.destroy_process_group()
    except Exception as exc:
        queue.put((rank, repr(exc), None, None))


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_gather_distributed_averages_mean_probs_across_ranks() -> None:
    views = 2
    anchors, targets, prototypes = _inputs(n=8, views=views, seed=5)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_ddp_worker, args=(r, port, anchors, targets, prototypes, views, queue))
        for r in range(WORLD)
    ]
    for proc in procs:
        proc.start()
    raw = {r: rest for r, *rest in (queue.get(timeout=60) for _ in range(WORLD))}
    for proc in procs:
        proc.join(timeout=30)
    for r in range(WORLD):
        assert isinstance(raw[r][0], dict), raw[r][0]
    results = {
        r: ({k: torch.from_numpy(v) for k, v in t.items()}, torch.from_numpy(ga), torch.from_numpy(gp))
        for r, (t, ga, gp) in raw.items()
    }

    # Single process on the global batch = what DDP optimises (mean of per-rank losses; Sinkhorn is global too).
    a = anchors.clone().requires_grad_(True)
    p = nn.Parameter(prototypes.clone())
    ref = PMSNLoss().terms(a, targets, p)
    ref["loss"].backward()
    for r in range(WORLD):
        terms, a_grad, _ = results[r]
        torch.testing.assert_close(terms["mean_probs"], ref["mean_probs"].detach(), rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(terms["reg"], ref["reg"].detach(), rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(a_grad / WORLD, _local(a.grad, r, views), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(
        sum(results[r][0]["ce"] for r in range(WORLD)) / WORLD, ref["ce"].detach(), rtol=1e-12, atol=1e-15
    )
    torch.testing.assert_close(sum(results[r][2] for r in range(WORLD)) / WORLD, p.grad, rtol=1e-10, atol=1e-14)
