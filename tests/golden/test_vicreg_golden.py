"""VICRegLoss vs official facebookresearch/vicreg, the valeoai/sfrik copy and lightly 1.6.0 (vicreg.npz)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.losses import VICRegLoss

# README: float64 rtol 1e-10; float32 rtol 1e-6; gradients atol 1e-6·max|grad|.
RTOL = {torch.float64: 1e-10, torch.float32: 1e-6}
IMPLS = ("official", "sfrikcopy", "lightly")
DTYPES = [pytest.param(torch.float64, id="f64"), pytest.param(torch.float32, id="f32")]


def _t(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.asarray(array).astype(np.float64)).to(dtype)


@pytest.fixture(scope="module")
def g(load_golden):
    return load_golden("vicreg")


def _loss(g, configured: int | None) -> VICRegLoss:
    sim, std, cov = (float(c) for c in g["coeffs"])
    return VICRegLoss(sim_coeff=sim, std_coeff=std, cov_coeff=cov, configured_batch_size=configured)


@pytest.mark.parametrize(
    ("dtype", "configured"),
    [
        pytest.param(torch.float64, False, id="f64-rows_divisor"),
        pytest.param(torch.float64, True, id="f64-configured_divisor"),
        pytest.param(torch.float32, True, id="f32-configured_divisor"),
    ],
)
@pytest.mark.parametrize("case", [0, 1, 2])
def test_terms_match_all_reference_implementations(g, case: int, dtype: torch.dtype, configured: bool) -> None:
    z1, z2 = _t(g[f"case{case}_z1"], dtype), _t(g[f"case{case}_z2"], dtype)
    # Official: divisor = configured global batch (= rows here, one process).
    terms = _loss(g, z1.shape[0] if configured else None).terms(z1, z2)
    suffixes = ("", "__f32") if dtype == torch.float32 else ("",)
    for impl in IMPLS:
        for suffix in suffixes:
            for key in ("inv", "var", "cov", "loss"):
                np.testing.assert_allclose(
                    terms[key].item(), g[f"case{case}_{impl}_{key}{suffix}"], rtol=RTOL[dtype], err_msg=f"{impl} {key}"
                )


def test_configured_divisor_differs_from_rows_for_incomplete_batch(g) -> None:
    z1, z2 = _t(g["case1_z1"], torch.float64), _t(g["case1_z2"], torch.float64)
    n = z1.shape[0]
    rows = _loss(g, None).terms(z1, z2)
    configured = _loss(g, 2 * n).terms(z1, z2)
    # cov scales with 1/(N-1)²; inv and var do not depend on the divisor.
    np.testing.assert_allclose(configured["cov"].item(), rows["cov"].item() * ((n - 1) / (2 * n - 1)) ** 2, rtol=1e-12)
    assert configured["inv"].item() == rows["inv"].item() and configured["var"].item() == rows["var"].item()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_matches_official(g, dtype: torch.dtype) -> None:
    case = int(g["grad_case"])
    z1 = _t(g[f"case{case}_z1"], dtype).requires_grad_(True)
    z2 = _t(g[f"case{case}_z2"], dtype)
    _loss(g, z1.shape[0])(z1, z2).backward()
    expected = g["grad_z1"]
    if dtype == torch.float64:
        np.testing.assert_allclose(z1.grad.numpy(), expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
    else:
        np.testing.assert_allclose(z1.grad.double().numpy(), expected, rtol=0, atol=1e-6 * np.abs(expected).max())
