"""MSNLoss / PMSNLoss vs official facebookresearch/msn (4388dc1) and lightly 1.6.0 (msn.npz)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.losses import MSNLoss, PMSNLoss, power_law_prior

DTYPES = [pytest.param(torch.float64, id="f64"), pytest.param(torch.float32, id="f32")]
CASES = [0, 1]
SINKHORN = [pytest.param(0, id="no_sinkhorn"), pytest.param(1, id="sinkhorn")]


def _t(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.asarray(array).astype(np.float64)).to(dtype)


@pytest.fixture(scope="module")
def g(load_golden):
    return load_golden("msn")


def _inputs(g, case: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(_t(g[f"case{case}_{k}"], dtype) for k in ("anchors", "targets", "prototypes"))  # type: ignore[return-value]


def _kwargs(g, sk: int) -> dict:
    return {
        "temperature": float(g["anchor_temperature"]),
        "sinkhorn_iterations": int(g["sinkhorn_iterations"]) * sk,
        "regularization_weight": float(g["me_max_weight"]),
    }


def _close(actual: torch.Tensor, expected, dtype: torch.dtype, *, atol32: float = 0.0) -> None:
    """float64: rtol 1e-10; float32: rtol 1e-6 (README), plus an absolute floor for small differences."""
    if dtype == torch.float64:
        np.testing.assert_allclose(actual.item(), expected, rtol=1e-10, atol=1e-13)
    else:
        np.testing.assert_allclose(actual.item(), expected, rtol=1e-6, atol=atol32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sk", SINKHORN)
@pytest.mark.parametrize("case", CASES)
def test_msn_matches_official_and_lightly(g, case: int, sk: int, dtype: torch.dtype) -> None:
    anchors, targets, prototypes = _inputs(g, case, dtype)
    T = float(g["target_sharpen_T"])
    terms = MSNLoss(**_kwargs(g, sk)).terms(anchors, targets, prototypes, target_sharpen_temperature=T)
    ce_only = MSNLoss(**{**_kwargs(g, sk), "regularization_weight": 0.0})(
        anchors, targets, prototypes, target_sharpen_temperature=T
    )
    suffixes = ("", "__f32") if dtype == torch.float32 else ("",)
    key = f"case{case}_sk{sk}_"
    for s in suffixes:
        _close(terms["ce"], g[key + "official_ce" + s], dtype)
        _close(terms["reg"], g[key + "official_memax" + s], dtype, atol32=2e-6)  # README: memax atol 2e-6
        _close(terms["loss"], g[key + "official_total" + s], dtype)
        _close(terms["loss"], g[key + "lightly_msn" + s], dtype)
        _close(ce_only, g[key + "lightly_ce" + s], dtype)


@pytest.mark.parametrize("sk", SINKHORN)
@pytest.mark.parametrize("case", CASES)
def test_targets_match_official(g, case: int, sk: int) -> None:
    _, targets, prototypes = _inputs(g, case, torch.float64)
    probs = MSNLoss(**_kwargs(g, sk)).target_probabilities(
        targets, prototypes, target_sharpen_temperature=float(g["target_sharpen_T"])
    )
    np.testing.assert_allclose(probs.numpy(), g[f"case{case}_sk{sk}_official_targets"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sk", SINKHORN)
@pytest.mark.parametrize("case", CASES)
def test_pmsn_prior_to_mean_matches_lightly(g, case: int, sk: int, dtype: torch.dtype) -> None:
    anchors, targets, prototypes = _inputs(g, case, dtype)
    T = float(g["target_sharpen_T"])
    key = f"case{case}_sk{sk}_"
    pmsn = PMSNLoss(
        **_kwargs(g, sk), power_law_exponent=float(g["power_law_exponent"]), kl_direction="prior_to_mean"
    ).terms(anchors, targets, prototypes, target_sharpen_temperature=T)
    uniform = PMSNLoss(**_kwargs(g, sk), prior="uniform", kl_direction="prior_to_mean")(
        anchors, targets, prototypes, target_sharpen_temperature=T
    )
    if dtype == torch.float64:
        # Our prior is exact float64 == lightly PMSNCustomLoss with a float64 power law.
        _close(pmsn["loss"], g[key + "lightly_pmsn_f64prior"], dtype)
        # lightly's PMSNLoss builds its prior in float32 (README quirk): atol 2e-7.
        np.testing.assert_allclose(pmsn["loss"].item(), g[key + "lightly_pmsn"], rtol=0, atol=2e-7)
        np.testing.assert_allclose(pmsn["reg"].item(), g[key + "lightly_pmsn_reg"], rtol=0, atol=2e-7)
        _close(uniform, g[key + "lightly_pmsn_uniform"], dtype)
    else:
        for s in ("", "__f32"):
            _close(pmsn["loss"], g[key + "lightly_pmsn_f64prior" + s], dtype)
            _close(pmsn["loss"], g[key + "lightly_pmsn" + s], dtype)
            np.testing.assert_allclose(pmsn["reg"].item(), g[key + "lightly_pmsn_reg" + s], rtol=0, atol=2e-6)
            _close(uniform, g[key + "lightly_pmsn_uniform" + s], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sk", SINKHORN)
@pytest.mark.parametrize("case", CASES)
def test_pmsn_mean_to_prior_uniform_is_official_msn(g, case: int, sk: int, dtype: torch.dtype) -> None:
    anchors, targets, prototypes = _inputs(g, case, dtype)
    loss = PMSNLoss(**_kwargs(g, sk), prior="uniform")(
        anchors, targets, prototypes, target_sharpen_temperature=float(g["target_sharpen_T"])
    )
    _close(loss, g[f"case{case}_sk{sk}_official_total"], dtype)


@pytest.mark.parametrize("case", CASES)
def test_power_law_prior(g, case: int) -> None:
    k = g[f"case{case}_prototypes"].shape[0]
    tau = float(g["power_law_exponent"])
    np.testing.assert_allclose(power_law_prior(k, tau).numpy(), g[f"case{case}_power_law_prior_f64"], rtol=1e-12)
    # lightly's float32 prior (stored as float64 values of float32 numbers).
    np.testing.assert_allclose(
        power_law_prior(k, tau, dtype=torch.float32).double().numpy(), g[f"case{case}_power_law_prior"], rtol=1e-6
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_wrt_anchors_matches_official(g, dtype: torch.dtype) -> None:
    case, sk = int(g["grad_case"]), int(g["grad_sinkhorn"])
    anchors, targets, prototypes = _inputs(g, case, dtype)
    anchors.requires_grad_(True)
    prototypes = torch.nn.Parameter(prototypes)
    MSNLoss(**_kwargs(g, sk))(
        anchors, targets, prototypes, target_sharpen_temperature=float(g["target_sharpen_T"])
    ).backward()
    expected = g["grad_anchors"]
    scale = np.abs(expected).max()
    if dtype == torch.float64:
        np.testing.assert_allclose(anchors.grad.numpy(), expected, rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(anchors.grad.double().numpy(), expected, rtol=0, atol=2e-6 * scale)
    assert prototypes.grad is not None and torch.isfinite(prototypes.grad).all() and prototypes.grad.abs().sum() > 0
