"""Batched per-sample augmentation: each op against torchvision's scalar kernels, per-sample independence."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from benchmark.data.batched_augment import (
    BatchedView,
    ViewParams,
    _gaussian_blur,
    adjust_per_sample,
    byol_views,
    crop_boxes,
    simclr_views,
)

OFF = {"min_scale": 1.0, "hf_prob": 0.0, "cj_prob": 0.0, "random_gray_scale": 0.0, "gaussian_blur": 0.0,
       "solarization_prob": 0.0, "mean": None, "std": None}


def _images(n: int = 4, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("op", ["brightness", "contrast", "saturation", "hue"])
def test_colour_ops_match_torchvision_per_sample(op):
    x = _images()
    factors = torch.tensor([0.3, 1.0, 1.7, 0.9]) if op != "hue" else torch.tensor([-0.2, 0.0, 0.13, 0.5])
    out = adjust_per_sample(x, op, factors)
    kernel = getattr(TF, f"adjust_{op}")
    for i, f in enumerate(factors.tolist()):
        ref = kernel(x[i], f)
        torch.testing.assert_close(out[i], ref, atol=2e-5, rtol=0)


def test_blur_matches_torchvision_gaussian_blur_per_sample():
    x = _images(3, 20)
    sigma = torch.tensor([0.5, 1.0, 2.0])
    out = _gaussian_blur(x, sigma, max_sigma=2.0)  # kernel radius ceil(3 * 2) = 6 → size 13
    for i, s in enumerate(sigma.tolist()):
        torch.testing.assert_close(out[i], TF.gaussian_blur(x[i], kernel_size=[13, 13], sigma=[s, s]), atol=1e-5, rtol=0)


def test_everything_off_is_the_identity_and_flip_mirrors():
    x = _images(2, 16)
    same = BatchedView(ViewParams(input_size=16, **OFF))(x)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    flipped = BatchedView(ViewParams(input_size=16, **{**OFF, "hf_prob": 1.0}))(x)
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)
    gray = BatchedView(ViewParams(input_size=16, **{**OFF, "random_gray_scale": 1.0}))(x)
    torch.testing.assert_close(gray, TF.rgb_to_grayscale(x, num_output_channels=3), atol=1e-6, rtol=0)
    sol = BatchedView(ViewParams(input_size=16, **{**OFF, "solarization_prob": 1.0}))(x)
    torch.testing.assert_close(sol, torch.where(x >= 128 / 255, 1 - x, x), atol=1e-5, rtol=0)
    uint8 = (x * 255).round().to(torch.uint8)
    torch.testing.assert_close(BatchedView(ViewParams(input_size=16, **OFF))(uint8), uint8.float() / 255, atol=1e-5,
                               rtol=0)


def test_crop_boxes_follow_torchvision_ranges():
    boxes = crop_boxes(4000, 32, 32, 0.08, generator=torch.Generator().manual_seed(0))
    top, left, h, w = boxes.unbind(1)
    assert bool(((top >= 0) & (left >= 0) & (top + h <= 32) & (left + w <= 32) & (h >= 1) & (w >= 1)).all())
    area = h * w / 1024
    assert area.min() >= 0.08 * 0.7 and area.max() <= 1.0  # rounding of h, w to integers
    ratio = w / h
    assert ratio.min() >= 3 / 4 * 0.7 and ratio.max() <= 4 / 3 / 0.7
    assert 0.4 < area.mean() < 0.7  # U(0.08, 1) area → mean ≈ 0.54 before the in-bounds rejection
    assert len(torch.unique(boxes, dim=0)) > 1000  # per-sample parameters


def test_views_are_random_per_sample_and_reproducible():
    aug = simclr_views(16, normalize={"mean": [0.5] * 3, "std": [0.25] * 3})
    x = _images(1, 16).expand(64, -1, -1, -1).contiguous()  # the same image 64 times
    v0, v1 = aug(x, torch.Generator().manual_seed(1))
    assert v0.shape == (64, 3, 16, 16) and v1.shape == (64, 3, 16, 16)
    distinct = torch.unique(v0.flatten(1).round(decimals=4), dim=0)
    assert len(distinct) == 64  # no two samples share their augmentation
    assert not torch.allclose(v0, v1)
    w0, w1 = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(v0, w0) and torch.equal(v1, w1)
    flips = BatchedView(ViewParams(input_size=16, **{**OFF, "hf_prob": 0.5}))
    asym = _images(1, 16).expand(2000, -1, -1, -1)
    out = flips(asym, torch.Generator().manual_seed(2))
    share = (out - asym.flip(-1)).abs().flatten(1).amax(1).lt(1e-5).float().mean()
    assert abs(float(share) - 0.5) < 4 * math.sqrt(0.25 / 2000)


def test_byol_views_are_asymmetric_by_default():
    aug = byol_views(16)
    v1, v2 = (m.params for m in aug.views)
    assert (v1.gaussian_blur, v1.solarization_prob, v2.gaussian_blur, v2.solarization_prob) == (1.0, 0.0, 0.1, 0.2)
    assert (v1.cj_bright, v1.cj_contrast, v1.cj_sat, v1.cj_hue) == (0.4, 0.4, 0.2, 0.1)
    v1, v2 = (m.params for m in byol_views(16, view1={"gaussian_blur": 0.0}, view2={"solarization_prob": 0.5}).views)
    assert (v1.gaussian_blur, v1.solarization_prob, v2.gaussian_blur, v2.solarization_prob) == (0.0, 0.0, 0.1, 0.5)
    with pytest.raises(ValueError):
        adjust_per_sample(_images(1), "gamma", torch.ones(1))
