"""SFRIKLoss vs the official valeoai/sfrik loss (c6ce16e), through the shared golden vectors (sfrik.npz)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.losses import SFRIKLoss, sfrik_mmd

# README: float64 rtol 1e-10; float32 rtol 2e-6 (losses), gradients atol 1e-6·max|grad|.
RTOL = {torch.float64: 1e-10, torch.float32: 2e-6}
DTYPES = [pytest.param(torch.float64, id="f64"), pytest.param(torch.float32, id="f32")]


def _t(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.asarray(array).astype(np.float64)).to(dtype)


@pytest.fixture(scope="module")
def g(load_golden):
    return load_golden("sfrik")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [0, 1, 2])
def test_terms_match_official(g, case: int, dtype: torch.dtype) -> None:
    z1, z2 = _t(g[f"case{case}_z1"], dtype), _t(g[f"case{case}_z2"], dtype)
    rtol = RTOL[dtype]
    for j, weights in enumerate(g["weights"]):
        loss_fn = SFRIKLoss(sim_coeff=float(g["sim_coeff"]), mmd_coeff=float(g["mmd_coeff"]), weights=tuple(weights))
        terms = loss_fn.terms(z1, z2)
        for dt_suffix in ("", "__f32") if dtype == torch.float32 else ("",):
            np.testing.assert_allclose(terms["inv"].item(), g[f"case{case}_inv{dt_suffix}"], rtol=rtol)
            np.testing.assert_allclose(terms["mmd"].item(), g[f"case{case}_mmd{dt_suffix}"][j], rtol=rtol)
            np.testing.assert_allclose(
                [terms["mmd_a"].item(), terms["mmd_b"].item()], g[f"case{case}_mmd_per_view{dt_suffix}"][j], rtol=rtol
            )
            np.testing.assert_allclose(terms["loss"].item(), g[f"case{case}_loss{dt_suffix}"][j], rtol=rtol)
        assert loss_fn(z1, z2).item() == terms["loss"].item()


@pytest.mark.parametrize("case", [0, 1, 2])
def test_functional_mmd_matches_official_per_view(g, case: int) -> None:
    x = torch.nn.functional.normalize(_t(g[f"case{case}_z1"], torch.float64), dim=1)
    for j, weights in enumerate(g["weights"]):
        np.testing.assert_allclose(sfrik_mmd(x, weights).item(), g[f"case{case}_mmd_per_view"][j, 0], rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_wrt_unnormalised_z1(g, dtype: torch.dtype) -> None:
    case, j = int(g["grad_case"]), int(g["grad_weights_index"])
    z1 = _t(g[f"case{case}_z1"], dtype).requires_grad_(True)
    z2 = _t(g[f"case{case}_z2"], dtype)
    loss_fn = SFRIKLoss(
        sim_coeff=float(g["sim_coeff"]), mmd_coeff=float(g["mmd_coeff"]), weights=tuple(g["weights"][j])
    )
    loss = loss_fn(z1, z2)
    loss.backward()
    expected = g["grad_z1"]
    if dtype == torch.float64:
        np.testing.assert_allclose(loss.item(), g["grad_loss"], rtol=1e-10)
        np.testing.assert_allclose(z1.grad.numpy(), expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
    else:
        np.testing.assert_allclose(loss.item(), g["grad_loss"], rtol=2e-6)
        np.testing.assert_allclose(z1.grad.double().numpy(), expected, rtol=0, atol=1e-6 * np.abs(expected).max())
