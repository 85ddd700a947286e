"""Loss scales of the methods fixed against their reference recipes (README "Loss scale vs reference"), by hand.

Every expected value is computed here from the reference formula on small tensors (explicit normalisation, sums and
log-sum-exp), never from the code under test: BYOL (solo-learn's Σ_directions 2 − 2cos, Lightly's CIFAR-10 ½ Σ −cos,
the OR paper's whitening on the predictor), NNCLR (solo-learn's one-sided cross-entropy, Lightly's two-sided
NT-Xent) and W-MSE (solo-learn's stop-gradient on the second view).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from benchmark.methods import METHODS, MethodContext, SSLMethod, build_method
from benchmark.models import create_backbone

BATCH = 8


def _build(name: str, **params: Any) -> SSLMethod:
    torch.manual_seed(0)
    backbone, dim = create_backbone("tiny", width=8)
    small = {
        "byol": {"proj_hidden_dim": 32, "proj_output_dim": 16, "pred_hidden_dim": 32},
        "nnclr": {"proj_hidden_dim": 32, "proj_output_dim": 16, "pred_hidden_dim": 32, "memory_bank_size": 16},
        "wmse": {"proj_hidden_dim": 32, "proj_output_dim": 4, "whitening_size": BATCH},
    }[name]
    ctx = MethodContext(max_steps=4, global_batch_size=BATCH, gather_distributed=False)
    return build_method(name, backbone=backbone, feature_dim=dim, params={**small, **params}, ctx=ctx)


def _views(seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(BATCH, 3, 32, 32, generator=gen) for _ in range(2)]


def _cos_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine by hand."""
    return (a * b).sum(dim=1) / (a.pow(2).sum(dim=1).sqrt() * b.pow(2).sum(dim=1).sqrt())


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.pow(2).sum(dim=1, keepdim=True).sqrt()


# ------------------------------------------------------------------------------------------------------------ BYOL
def test_byol_reference_scale_identical_and_orthogonal_views() -> None:
    """solo-learn: Σ over the two (prediction, target) pairs of 2 − 2·mean cos; identical → 0, orthogonal → 4."""
    ref = _build("byol")
    lightly = _build("byol", loss_form="lightly_cifar10")
    x = torch.randn(5, 16, dtype=torch.float64)
    assert ref.regression_loss(x, x, x, x).item() == pytest.approx(0.0, abs=1e-15)
    assert lightly.regression_loss(x, x, x, x).item() == pytest.approx(-1.0, abs=1e-15)
    e = torch.eye(4, dtype=torch.float64)
    p = torch.cat([e[:2], e[:2]])  # rows e0, e1, e0, e1
    t = torch.cat([e[2:], e[2:]])  # rows e2, e3, e2, e3: orthogonal to p row by row
    assert ref.regression_loss(p, p, t, t).item() == 4.0  # (2 − 0) + (2 − 0), exactly
    assert lightly.regression_loss(p, p, t, t).item() == 0.0
    assert ref.regression_loss(p, p, -p, -p).item() == 8.0  # antiparallel: (2 + 2) + (2 + 2)


def test_byol_training_loss_is_the_reference_formula_on_the_models_outputs() -> None:
    views = _views()
    for form, expected in (
        ("solo_learn", lambda c01, c10: (2 - 2 * c01.mean()) + (2 - 2 * c10.mean())),
        ("lightly_cifar10", lambda c01, c10: 0.5 * (-c01.mean() - c10.mean())),
    ):
        method = _build("byol", loss_form=form)
        out = method.training_step(views, step=0)
        with torch.no_grad():
            p0, p1, t0, t1 = method.loss_inputs(views)
        torch.testing.assert_close(out.loss, expected(_cos_rows(p0, t1), _cos_rows(p1, t0)), rtol=1e-6, atol=1e-6)
    assert METHODS.get("byol").Params().loss_form == "solo_learn"


def _hand_variance(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    std = ((x - x.mean(dim=0)).pow(2).sum(dim=0) / (n - 1) + 1e-4).sqrt()
    return torch.clamp(1 - std, min=0).mean()


def _hand_covariance(x: torch.Tensor) -> torch.Tensor:
    n, d = x.shape
    xc = x - x.mean(dim=0)
    cov = sum(torch.outer(xc[i], xc[i]) for i in range(n)) / (n - 1)
    off = cov - torch.diag(torch.diag(cov))
    return off.pow(2).sum() / d


def _spy(module: torch.nn.Module) -> list[torch.Tensor]:
    """Record the outputs of ``module`` (its forward is wrapped on the instance)."""
    outputs: list[torch.Tensor] = []
    forward = module.forward

    def recording(x: torch.Tensor) -> torch.Tensor:
        y = forward(x)
        outputs.append(y)
        return y

    module.forward = recording  # type: ignore[method-assign]
    return outputs


@pytest.mark.parametrize("ratio", [0.004, 0.5])
def test_byol_whitening_is_on_the_predictor_with_weights_gamma_and_ratio_gamma(ratio: float) -> None:
    """OR §5: loss += γ·var + 0.004γ·cov on the online predictor outputs, and the term's gradient reaches the
    predictor; with ``whitening_on: projector`` the same terms are taken on the projections and miss the predictor.

    The term's value is checked against the hand formula on the recorded head outputs; its gradient on the predictor
    is the difference of the predictor's gradients with and without whitening (same initialisation and batch), which
    must equal the gradient of the hand-computed term.
    """
    gamma = 0.01
    views = _views()
    plain = _build("byol")
    plain_grads = torch.autograd.grad(plain.training_step(views, step=0).loss, list(plain.prediction_head.parameters()))
    for on in ("predictor", "projector"):
        method = _build("byol", whitening_weight=gamma, whitening_cov_ratio=ratio, whitening_on=on)
        predictions, projections = _spy(method.prediction_head), _spy(method.projection_head)
        out = method.training_step(views, step=0)
        p0, p1 = predictions
        t0, t1 = (method._target(v) for v in views)
        regression = (2 - 2 * _cos_rows(p0, t1).mean()) + (2 - 2 * _cos_rows(p1, t0).mean())
        a0, a1 = (p0, p1) if on == "predictor" else projections[:2]
        var = _hand_variance(a0) + _hand_variance(a1)
        cov = _hand_covariance(a0) + _hand_covariance(a1)
        assert var.item() > 0.1 and cov.item() > 0  # both terms are active, so both weights are tested
        term = gamma * var + ratio * gamma * cov
        torch.testing.assert_close(out.loss, regression + term, rtol=1e-6, atol=1e-7)
        assert out.logs["whitening_var"] == pytest.approx(var.item(), rel=1e-5)
        assert out.logs["whitening_cov"] == pytest.approx(cov.item(), rel=1e-5)

        params = list(method.prediction_head.parameters())
        grads = torch.autograd.grad(out.loss, params, retain_graph=True)
        term_grads = torch.autograd.grad(term, params, allow_unused=True)
        for g, g_plain, g_term, prm in zip(grads, plain_grads, term_grads, params, strict=True):
            g_term = torch.zeros_like(prm) if g_term is None else g_term
            torch.testing.assert_close(g - g_plain, g_term, rtol=1e-4, atol=1e-7)
        reaches = max(float((g - g0).abs().max()) for g, g0 in zip(grads, plain_grads, strict=True))
        if on == "predictor":
            assert reaches > 1e-5, reaches
        else:
            assert reaches < 1e-7, reaches


def test_byol_whitening_params_and_defaults() -> None:
    params = METHODS.get("byol").Params()
    assert (params.whitening_weight, params.whitening_cov_ratio, params.whitening_on) == (0.0, 0.004, "predictor")
    plain = _build("byol")
    assert "whitening_var" not in plain.training_step(_views(), step=0).logs
    for old in ("whitening_std_coeff", "whitening_cov_coeff"):
        with pytest.raises(ValidationError, match=old):
            METHODS.get("byol").Params(**{old: 1.0})
    with pytest.raises(ValidationError, match="whitening_on"):
        METHODS.get("byol").Params(whitening_on="backbone")


@pytest.mark.parametrize("params", [{}, {"whitening_weight": 0.01}, {"whitening_weight": 0.01, "whitening_on": "projector"},
                                    {"loss_form": "lightly_cifar10", "whitening_weight": 1e-3}])
def test_byol_measured_loss_equals_trained_loss(params: dict[str, Any]) -> None:
    """``loss_only(*loss_inputs(views))`` (what benchmark.measure times) is the loss ``training_step`` trains."""
    views = _views()
    method = _build("byol", **params)
    trained = method.training_step(views, step=0).loss
    with torch.no_grad():
        inputs = method.loss_inputs(views)
    measured = method.loss_only(*inputs)
    torch.testing.assert_close(measured, trained.detach(), rtol=1e-6, atol=1e-7)
    wrt = [t for t in inputs if t.requires_grad]
    assert all(torch.isfinite(g).all() for g in torch.autograd.grad(measured, wrt))


# ------------------------------------------------------------------------------------------------------------ NNCLR
def _hand_one_sided(nn_: torch.Tensor, p: torch.Tensor, tau: float) -> torch.Tensor:
    """solo-learn nnclr_loss_func: mean_i −log softmax_j(n̂_i·p̂_j/τ)[i]."""
    s = _unit(nn_) @ _unit(p).T / tau
    return torch.stack([-(s[i, i] - torch.logsumexp(s[i], dim=0)) for i in range(s.shape[0])]).mean()


def _hand_ntxent(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """Two-sided NT-Xent: each of the 2n rows of [â; b̂] against the 2n − 1 others, positive = its partner."""
    n = a.shape[0]
    x = torch.cat([_unit(a), _unit(b)])
    losses = []
    for r in range(2 * n):
        partner = (r + n) % (2 * n)
        others = [c for c in range(2 * n) if c != r]
        logits = torch.stack([x[r] @ x[c] / tau for c in others])
        losses.append(-(x[r] @ x[partner] / tau - torch.logsumexp(logits, dim=0)))
    return torch.stack(losses).mean()


def test_nnclr_loss_forms_by_hand() -> None:
    gen = torch.Generator().manual_seed(3)
    nn0, nn1, p0, p1 = (torch.randn(6, 5, generator=gen, dtype=torch.float64) for _ in range(4))
    tau = 0.2
    solo = _build("nnclr", temperature=tau)
    lightly = _build("nnclr", temperature=tau, loss_form="lightly")
    torch.testing.assert_close(
        solo.loss_only(nn0, nn1, p0, p1), 0.5 * _hand_one_sided(nn0, p1, tau) + 0.5 * _hand_one_sided(nn1, p0, tau)
    )
    torch.testing.assert_close(
        lightly.loss_only(nn0, nn1, p0, p1), 0.5 * (_hand_ntxent(nn0, p1, tau) + _hand_ntxent(nn1, p0, tau))
    )
    assert METHODS.get("nnclr").Params().loss_form == "solo_learn"
    # The neighbours come from the support set: no gradient reaches them.
    nn0.requires_grad_(True)
    solo.loss_only(nn0, nn1, p0.requires_grad_(True), p1).backward()
    assert nn0.grad is None and p0.grad.abs().max() > 0


# ------------------------------------------------------------------------------------------------------------ W-MSE
def _hand_whiten(x: torch.Tensor) -> torch.Tensor:
    """Cholesky whitening of one slice: (x − m) L⁻ᵀ with L Lᵀ = cov (divisor n − 1)."""
    xc = x - x.mean(dim=0)
    cov = xc.T @ xc / (x.shape[0] - 1)
    chol = torch.linalg.cholesky(cov)
    return torch.linalg.solve_triangular(chol, xc.T, upper=False).T


def test_wmse_pair_loss_stops_the_gradient_of_the_second_view() -> None:
    """One slice of the whole batch (the whitening is then permutation-free): 2 − 2·mean cos(w(z0), sg(w(z1)))."""
    method = _build("wmse").double()
    gen = torch.Generator().manual_seed(4)
    z0, z1 = (torch.randn(BATCH, 4, generator=gen, dtype=torch.float64).requires_grad_(True) for _ in range(2))
    loss = method.loss_only(torch.cat([z0, z1]))
    w0, w1 = _hand_whiten(z0), _hand_whiten(z1)
    expected = 2 - 2 * _cos_rows(w0, w1.detach()).mean()
    torch.testing.assert_close(loss, expected)
    g0, g1 = torch.autograd.grad(loss, [z0, z1])
    (want0,) = torch.autograd.grad(expected, [z0])
    torch.testing.assert_close(g0, want0)
    assert g1.abs().max() == 0.0  # solo-learn's z2.detach(): view 1 gets no gradient from the pair
    assert math.isfinite(loss.item())


# ------------------------------------------------------------------------------------------------------------ MSN
@pytest.mark.parametrize("name", ["msn", "pmsn"])
def test_msn_prototype_gradient_is_multiplied_by_the_world_size(name: str, monkeypatch) -> None:
    """Official MSN sums the prototypes' gradient over ranks (AllReduceSum) where DDP averages: with a (fake) world
    size W the prototypes get W × the single-process gradient before DDP's averaging; the loss value and every other
    gradient are unchanged."""
    from benchmark.methods import msn as msn_module

    small = {"proj_hidden_dim": 32, "proj_output_dim": 16, "n_prototypes": 12}
    ctx = MethodContext(max_steps=4, global_batch_size=BATCH, gather_distributed=False)
    views = _views()

    def run(world: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        monkeypatch.setattr(msn_module.dist, "world_size", lambda: world)
        torch.manual_seed(0)
        backbone, dim = create_backbone("tiny", width=8)
        method = build_method(name, backbone=backbone, feature_dim=dim, params=small, ctx=ctx)
        loss = method.training_step(views, step=0).loss
        named = [(n, p) for n, p in method.named_parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, [p for _, p in named])
        return loss.detach(), {n: g for (n, _), g in zip(named, grads, strict=True)}

    loss_1, grads_1 = run(1)
    loss_4, grads_4 = run(4)
    assert torch.equal(loss_1, loss_4)
    assert grads_1["prototypes.weight"].abs().max() > 0
    for n, g in grads_1.items():
        expected = 4 * g if n == "prototypes.weight" else g
        torch.testing.assert_close(grads_4[n], expected, rtol=1e-6, atol=1e-9, msg=n)


@pytest.mark.parametrize("on", ["predictor", "projector"])
def test_byol_loss_only_is_the_trained_loss_with_whitening(on: str) -> None:
    """``measure: {loss_only: true}`` times ``loss_only(*loss_inputs(views))``; with whitening on it must be the loss
    that training minimises (regression + whitening), not the regression alone."""
    views = _views(1)
    method = _build("byol", whitening_weight=0.01, whitening_on=on)
    trained = method.training_step(views, step=0).loss.detach()
    measured = method.loss_only(*method.loss_inputs(views)).detach()
    regression_only = _build("byol").training_step(views, step=0).loss.detach()
    torch.testing.assert_close(measured, trained, rtol=1e-6, atol=1e-7)
    assert abs(float(measured - regression_only)) > 1e-4  # the whitening term is really part of it
