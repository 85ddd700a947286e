"""The OR paper's figure diagnostics: Fig. 3/4 first-batch spectra, Fig. 5 filter correlation and biclustering.

Expected values are computed here from their definitions (NumPy covariance/correlation, hand-built orthogonal
matrices, planted blocks), never copied from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import hadamard
from torch import nn

from benchmark.data.base import ArrayDataset
from benchmark.diagnostics.correlation import bicluster, filter_correlation, weight_correlation
from benchmark.diagnostics.spectra import (
    feature_spectrum,
    first_batch_spectra,
    last_weight_layer,
    normalised_spectrum,
    paper_stages,
)
from benchmark.models import BACKBONES
from benchmark.run import first_test_images
from benchmark.suite.schema import DataConfig, ExperimentConfig, MethodConfig


# ------------------------------------------------------------------------------------------------ Fig. 5
def test_correlation_of_an_orthogonal_weight_has_zero_off_diagonals() -> None:
    # Rows 1..7 of the 8×8 Hadamard matrix: mutually orthogonal and each with zero mean, so also uncorrelated.
    rows = hadamard(8)[1:].astype(np.float64) / np.sqrt(8)
    np.testing.assert_allclose(rows @ rows.T, np.eye(7), atol=1e-12)  # orthogonal
    conv = torch.tensor(rows).reshape(7, 2, 2, 2)  # as a (out, in, k, k) conv weight
    corr = filter_correlation(conv)
    assert corr.shape == (7, 7)
    np.testing.assert_allclose(corr, np.eye(7), atol=1e-12)


def test_correlation_matches_numpy_corrcoef_and_handles_constant_filters() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3, 3, 3))
    np.testing.assert_allclose(filter_correlation(w), np.abs(np.corrcoef(w.reshape(6, -1))), atol=1e-12)
    w[2] = 0.5  # a constant filter: no defined correlation
    corr = filter_correlation(w)
    assert corr[2, 2] == 1.0 and np.all(corr[2, [0, 1, 3, 4, 5]] == 0) and np.all(corr[[0, 1, 3, 4, 5], 2] == 0)
    with pytest.raises(ValueError, match="one entry"):
        filter_correlation(np.ones((4, 1)))


def test_biclustering_recovers_planted_blocks() -> None:
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(1)
    planted = rng.permutation(np.repeat(np.arange(3), [10, 14, 8]))
    noise = 0.1 * rng.random((32, 32))
    matrix = 0.8 * (planted[:, None] == planted[None, :]) + (noise + noise.T) / 2
    out = bicluster(matrix, n_clusters=3, seed=0)
    assert adjusted_rand_score(planted, out["row_labels"]) == 1.0
    assert adjusted_rand_score(planted, out["column_labels"]) == 1.0
    # Reordered, every planted block is contiguous: labels along the order change exactly twice.
    ordered = planted[out["row_order"]]
    assert np.count_nonzero(np.diff(ordered)) == 2
    assert sorted(out["row_order"].tolist()) == list(range(32))
    again = bicluster(matrix, n_clusters=3, seed=0)
    assert np.array_equal(again["row_labels"], out["row_labels"])  # seeded


def test_weight_correlation_of_resnet_layer4() -> None:
    torch.manual_seed(0)
    net, _ = BACKBONES.get("resnet18")(stem="cifar", width=4)
    summary, arrays = weight_correlation(net, "layer4", seed=3)
    w = net.layer4[1].conv2.weight.detach().double().numpy()
    expected = np.abs(np.corrcoef(w.reshape(w.shape[0], -1)))
    assert summary["layer"] == "layer4.1.conv2.weight" and summary["shape"] == list(w.shape)
    assert arrays["abs_corr"].dtype == np.float16 and arrays["abs_corr"].shape == (32, 32)
    np.testing.assert_allclose(arrays["abs_corr"].astype(float), expected, atol=1e-3)
    off = expected[~np.eye(32, dtype=bool)]
    assert summary["mean_abs_offdiag"] == pytest.approx(off.mean(), rel=1e-9)
    assert summary["bicluster"]["random_state"] == 3


# ------------------------------------------------------------------------------------------------ stages
def test_paper_stages_and_last_weights_per_backbone() -> None:
    with torch.device("meta"):
        r18, _ = BACKBONES.get("resnet18")(stem="cifar", width=8)
        r50, _ = BACKBONES.get("resnet50")(stem="imagenet", width=64)
        wrn, _ = BACKBONES.get("wide_resnet28_2")()
        vit, _ = BACKBONES.get("vit_tiny")(image_size=32, patch_size=4)
        tiny, _ = BACKBONES.get("tiny")(width=4)
    assert paper_stages(r18).names == ("layer1", "layer2", "layer3", "layer4")
    assert [last_weight_layer(r18, s)[0] for s in paper_stages(r18).names] == [
        f"layer{i}.1.conv2.weight" for i in range(1, 5)]
    assert last_weight_layer(r50, "layer4")[0] == "layer4.2.conv3.weight"  # bottleneck: its third conv
    assert paper_stages(wrn).names == ("block1", "block2", "block3")
    vit_stages = paper_stages(vit).names
    assert vit_stages == tuple(f"vit.encoder.layers.encoder_layer_{i}" for i in (2, 5, 8, 11))
    assert last_weight_layer(vit, vit_stages[-1])[0].endswith("encoder_layer_11.mlp.3.weight")  # MLP's 2nd Linear
    assert paper_stages(tiny).names == ("features",)
    assert last_weight_layer(tiny, "features")[0] == "features.8.weight"
    assert last_weight_layer(r18, "layer4.0.conv1")[0] == "layer4.0.conv1.weight"  # a conv names itself
    with pytest.raises(ValueError, match=r"no module 'layer5'.*did you mean 'layer4'"):
        last_weight_layer(r18, "layer5")
    with pytest.raises(ValueError, match="holds no Conv/Linear"):
        last_weight_layer(r18, "bn1")


# ------------------------------------------------------------------------------------------------ Figs. 3/4
def test_wide_feature_spectrum_from_the_gram_equals_the_covariance_eigenvalues() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 40)) * np.linspace(3.0, 0.1, 40)  # d > n: the n×n Gram path
    eig = feature_spectrum(torch.tensor(x, dtype=torch.float32))
    expected = np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1]
    assert eig.shape == (40,)
    np.testing.assert_allclose(eig, expected, rtol=1e-4, atol=1e-6)


def test_normalised_spectrum_divides_by_the_largest_and_truncates() -> None:
    entry = normalised_spectrum(np.array([0.5, 4.0, 1.0, 0.0]), keep=3)
    assert entry == {"dim": 4, "lambda_max": 4.0, "normalised": [1.0, 0.25, 0.125]}
    assert normalised_spectrum(np.zeros(3))["normalised"] == []


def _digits_like(n: int = 30, size: int = 8) -> ArrayDataset:
    rng = np.random.default_rng(4)
    return ArrayDataset(rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8), np.arange(n) % 3)


def _cfg(size: int = 8) -> ExperimentConfig:
    return ExperimentConfig(id="t", method=MethodConfig(name="simclr"),
                            data=DataConfig(dataset="digits", input_size=size, normalize="none"))


def test_first_batch_uses_exactly_the_first_n_test_images_in_order() -> None:
    test_set = _digits_like()
    test_idx = np.array([1, 3, 4, 8, 9, 10, 15, 20, 22, 29])  # e.g. after a test_subset
    images = first_test_images(_cfg(), test_set, test_idx, 6)
    expected = torch.tensor(test_set.images[test_idx[:6]], dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    torch.testing.assert_close(images, expected)  # ToTensor of the first 6 selected images, nothing else
    assert first_test_images(_cfg(), test_set, test_idx, 100).shape[0] == len(test_idx)  # fewer: all of them

    torch.manual_seed(0)
    net, _ = BACKBONES.get("resnet18")(stem="cifar", width=4)
    out = first_batch_spectra(net, images)
    assert out["n"] == 6 and out["stages"] == ["layer1", "layer2", "layer3", "layer4"]
    pixels = expected.reshape(6, -1).double().numpy()
    cov = np.sort(np.linalg.eigvalsh(np.cov(pixels.T)))[::-1][:5]
    np.testing.assert_allclose(out["features"]["input"]["normalised"], cov / cov[0], rtol=1e-5)
    assert out["features"]["input"]["dim"] == 8 * 8 * 3 and len(out["features"]["input"]["normalised"]) == 5
    others = first_batch_spectra(net, first_test_images(_cfg(), test_set, test_idx[4:], 6))
    assert others["features"]["input"]["normalised"] != out["features"]["input"]["normalised"]


def test_first_batch_spectra_follow_their_definitions_and_do_not_depend_on_chunking() -> None:
    torch.manual_seed(0)
    net, _ = BACKBONES.get("resnet18")(stem="cifar", width=4)
    net.train()
    images = torch.randn(40, 3, 8, 8)
    whole = first_batch_spectra(net, images)
    chunked = first_batch_spectra(net, images, batch_size=7)
    assert net.training  # mode restored
    for kind in ("weights", "features"):
        for name, entry in whole[kind].items():
            np.testing.assert_allclose(chunked[kind][name]["normalised"], entry["normalised"], rtol=1e-4, atol=1e-9)
    w = net.layer3[1].conv2.weight.detach().double().reshape(16, -1).numpy()
    sq = np.sort(np.linalg.svd(w, compute_uv=False) ** 2)[::-1]
    assert whole["weights"]["layer3"]["layer"] == "layer3.1.conv2.weight"
    np.testing.assert_allclose(whole["weights"]["layer3"]["normalised"], sq / sq[0], rtol=1e-5)
    net.eval()
    with torch.no_grad():
        stem = torch.relu(net.bn1(net.conv1(images)))
        l1 = net.layer1(stem)
        rep = net(images)
    pooled = l1.mean(dim=(2, 3)).double().numpy()
    eig = np.sort(np.linalg.eigvalsh(np.cov(pooled.T)))[::-1]
    np.testing.assert_allclose(whole["features"]["layer1"]["normalised"], eig / eig[0], rtol=1e-4, atol=1e-9)
    eig = np.sort(np.linalg.eigvalsh(np.cov(rep.double().numpy().T)))[::-1]
    np.testing.assert_allclose(whole["features"]["representation"]["normalised"], eig / eig[0], rtol=1e-4,
                               atol=1e-9)


def test_first_batch_spectra_of_the_tiny_convnet_use_its_documented_fallback() -> None:
    torch.manual_seed(0)
    net, _ = BACKBONES.get("tiny")(width=4)
    out = first_batch_spectra(net, torch.randn(20, 3, 8, 8))
    assert out["stages"] == ["features"] and "top-level children" in out["stage_rule"]
    assert list(out["features"]) == ["input", "features", "representation"]


class _NoWeights(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def test_backbone_without_weights_has_no_stages() -> None:
    assert paper_stages(_NoWeights()).names == ()
