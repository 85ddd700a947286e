"""Weight/feature spectra and RankMe effective rank (benchmark.diagnostics.spectra)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.diagnostics import effective_rank, feature_spectrum, hidden_feature_spectra, weight_spectra
from benchmark.regularizers import OrthogonalityRegularizer


def _rankme_reference(x: np.ndarray) -> float:
    s = np.linalg.svd(x, compute_uv=False)
    p = s / s.sum() + 1e-7
    return float(np.exp(-(p * np.log(p)).sum()))


def test_weight_spectra_are_squared_singular_values() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 40, 1), nn.Flatten(), nn.Linear(10, 4))
    nn.init.orthogonal_(net[2].weight)  # (40, 8): orthonormal columns → all eigenvalues 1
    spectra = weight_spectra(net)
    assert list(spectra) == [n for n, _ in OrthogonalityRegularizer(kind="so", gamma=0).weights(net)]
    assert [len(v) for v in spectra.values()] == [8, 8, 4]  # min(out, in·k·k)
    np.testing.assert_allclose(spectra["2.weight"], np.ones(8), rtol=1e-6)
    w0 = net[0].weight.detach().double().reshape(8, -1).numpy()
    expected = np.sort(np.linalg.eigvalsh(w0 @ w0.T))[::-1]
    np.testing.assert_allclose(spectra["0.weight"], expected, rtol=1e-10, atol=1e-12)
    assert all(np.all(np.diff(v) <= 0) for v in spectra.values())


def test_feature_spectrum_matches_numpy_covariance() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)) @ np.diag([3.0, 2.0, 1.0, 0.5, 0.1, 0.0])
    eig = feature_spectrum(torch.tensor(x))
    np.testing.assert_allclose(eig, np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1], rtol=1e-10, atol=1e-12)
    assert eig.shape == (6,) and eig.min() >= 0 and eig[-1] == pytest.approx(0.0, abs=1e-12)
    wide = feature_spectrum(rng.normal(size=(4, 10)))  # n ≤ d: d values, at most n − 1 non-zero
    assert wide.shape == (10,) and np.count_nonzero(wide > 1e-10) == 3
    with pytest.raises(ValueError, match="at least 2"):
        feature_spectrum(np.ones((1, 3)))


def test_effective_rank_rankme() -> None:
    d = 32
    assert effective_rank(torch.eye(d)) == pytest.approx(d, rel=1e-4)
    rng = np.random.default_rng(1)
    rank_one = np.outer(rng.normal(size=100), rng.normal(size=d))
    assert effective_rank(rank_one) == pytest.approx(1.0, abs=1e-3)
    x = rng.normal(size=(64, d)) @ np.diag(np.linspace(1, 0.01, d))
    assert effective_rank(x) == pytest.approx(_rankme_reference(x), rel=1e-10)
    assert effective_rank(7.5 * x) == pytest.approx(effective_rank(x), rel=1e-6)  # scale invariant
    # 1-D input = eigenvalues (σ = √λ): identity covariance → full rank.
    assert effective_rank(np.ones(d)) == pytest.approx(d, rel=1e-4)
    assert effective_rank(feature_spectrum(x)) == pytest.approx(_rankme_reference(x - x.mean(0)), rel=1e-8)
    with pytest.raises(ValueError, match="all-zero"):
        effective_rank(np.zeros((4, 4)))


class _Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.stage = nn.Sequential(nn.Conv2d(6, 10, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flat(self.pool(self.stage(self.stem(x))))


def test_hidden_feature_spectra() -> None:
    torch.manual_seed(0)
    model = _Small().train()
    images = torch.randn(40, 3, 8, 8)
    spectra = hidden_feature_spectra(model, images)
    assert list(spectra) == ["stem", "stage", "pool", "flat"]
    assert [len(v) for v in spectra.values()] == [6, 10, 10, 10]
    model.eval()
    with torch.no_grad():
        pooled_stem = model.stem(images).mean(dim=(2, 3))
        final = model(images)
    np.testing.assert_allclose(spectra["stem"], feature_spectrum(pooled_stem), rtol=1e-6)
    np.testing.assert_allclose(spectra["flat"], feature_spectrum(final), rtol=1e-6)  # GAP of (N, C, 1, 1) maps
    model.train()
    # Selected dotted layers; the model's mode is restored and the hooks removed.
    chosen = hidden_feature_spectra(model, images, layers=["stem.0", "stage"])
    assert list(chosen) == ["stem.0", "stage"]
    assert model.training and model.stem[1].training
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="no submodule"):
        hidden_feature_spectra(model, images, layers=["stage9"])


def test_hidden_feature_spectra_token_outputs() -> None:
    import torchvision

    vit = torchvision.models.VisionTransformer(
        image_size=16, patch_size=8, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16, num_classes=3
    )
    spectra = hidden_feature_spectra(vit, torch.randn(12, 3, 16, 16), layers=["conv_proj", "encoder", "heads"])
    assert [len(v) for v in spectra.values()] == [8, 8, 3]  # conv map pooled, tokens averaged, logits
