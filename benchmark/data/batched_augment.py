"""Batched two-view augmentation on device tensors with per-sample randomness (GPU-side augmentation).

The suite's presets (Lightly transforms) augment one PIL image at a time in the DataLoader workers. On a GPU the
alternative is to ship un-augmented uint8 batches and augment the whole batch on the device. ``torchvision.transforms.v2``
accepts batched tensors but draws **one** set of random parameters per call, i.e. every image of the batch would get
the same crop and jitter; SSL needs independent parameters per image. This module draws them per sample and applies
them with vectorised tensor ops (kornia is not a dependency):

* ``RandomResizedCrop`` (torchvision's sampling: area ~ U(min_scale, 1)·HW, log-uniform aspect in [3/4, 4/3], 10
  attempts then the whole image) and the horizontal flip as one per-sample affine ``grid_sample`` (bilinear; no
  antialiasing when a crop is *down*-scaled, unlike ``Resize(antialias=True)``);
* ``ColorJitter`` applied with probability ``cj_prob``, each sample with its own factors *and* its own random order of
  the four operations (as ``ColorJitter`` draws ``randperm(4)``), with torchvision's float-tensor formulas
  (``adjust_brightness/contrast/saturation/hue``; tests check each against ``torchvision.transforms.v2.functional``);
* ``RandomGrayscale`` (torchvision's ``rgb_to_grayscale`` weights), Gaussian blur with a per-sample σ ~ U(sigmas)
  (separable, reflect padding, kernel radius ⌈3σ_max⌉; Lightly blurs PIL images with ``ImageFilter.GaussianBlur``,
  an approximation of the same Gaussian), solarisation (threshold 128/255, as Lightly's ``RandomSolarization``),
  then normalisation.

Defaults mirror Lightly 1.6's ``SimCLRTransform`` and ``BYOLView1/2Transform``. The runner uses it when a suite sets
``augment.on_device: true`` (:mod:`benchmark.data.device_augment` maps the preset's Lightly arguments onto
:class:`ViewParams`); ``tests/benchmarks/test_augmentation.py`` measures it against the per-image pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms.v2 import functional as TF

__all__ = ["ViewParams", "BatchedView", "BatchedMultiView", "simclr_views", "byol_views", "adjust_per_sample",
           "crop_boxes"]

SOLARIZE_THRESHOLD = 128 / 255  # Lightly RandomSolarization(threshold=128) on uint8 images


@dataclass(frozen=True)
class ViewParams:
    """One view's augmentation parameters (names as in Lightly's transforms)."""

    input_size: int
    min_scale: float = 0.08
    hf_prob: float = 0.5
    cj_prob: float = 0.8
    cj_bright: float = 0.8
    cj_contrast: float = 0.8
    cj_sat: float = 0.8
    cj_hue: float = 0.2
    random_gray_scale: float = 0.2
    gaussian_blur: float = 0.5
    sigmas: tuple[float, float] = (0.1, 2.0)
    solarization_prob: float = 0.0
    solarize_first: bool = False  # solarise before the blur (Lightly's VICReg view) instead of after
    mean: tuple[float, ...] | None = (0.485, 0.456, 0.406)  # Lightly's IMAGENET_NORMALIZE
    std: tuple[float, ...] | None = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------------- geometry
def crop_boxes(n: int, height: int, width: int, min_scale: float, *, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu", attempts: int = 10) -> Tensor:
    """Per-sample ``RandomResizedCrop`` boxes ``(top, left, h, w)`` as an (n, 4) float tensor (torchvision rule)."""
    area = height * width
    scale = min_scale + (1.0 - min_scale) * torch.rand(n, attempts, generator=generator, device=device)
    log_r = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(n, attempts, generator=generator,
                                                                                  device=device)
    ratio = torch.exp(log_r)
    w = torch.round(torch.sqrt(scale * area * ratio))
    h = torch.round(torch.sqrt(scale * area / ratio))
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((n,), -1, device=device))
    idx = first.clamp(min=0).unsqueeze(1)
    h = torch.where(first >= 0, h.gather(1, idx).squeeze(1), torch.full((n,), float(height), device=device))
    w = torch.where(first >= 0, w.gather(1, idx).squeeze(1), torch.full((n,), float(width), device=device))
    u = torch.rand(n, 2, generator=generator, device=device)
    top = torch.floor(u[:, 0] * (height - h + 1))
    left = torch.floor(u[:, 1] * (width - w + 1))
    return torch.stack([top, left, h, w], dim=1)


def _crop_flip(x: Tensor, boxes: Tensor, flip: Tensor, size: int) -> Tensor:
    """Crop every sample to its box, resize to ``size`` (bilinear) and mirror where ``flip``; one grid_sample."""
    n, _, height, width = x.shape
    top, left, h, w = boxes.unbind(1)
    sx = (w / width) * torch.where(flip, -1.0, 1.0).to(x.dtype)
    sy = h / height
    cx = (left + w / 2) / width * 2 - 1
    cy = (top + h / 2) / height * 2 - 1
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, sy, cy
    grid = F.affine_grid(theta, [n, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ------------------------------------------------------------------------------------------- colour
def _gray(x: Tensor) -> Tensor:
    return TF.rgb_to_grayscale(x, num_output_channels=1)


def _rgb_to_hsv(x: Tensor) -> Tensor:
    r, g, b = x.unbind(-3)
    maxc, _ = x.max(-3)
    minc, _ = x.min(-3)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hr = torch.remainder((g - b) / safe, 6.0)
    hg = (b - r) / safe + 2.0
    hb = (r - g) / safe + 4.0
    h = torch.where(maxc == r, hr, torch.where(maxc == g, hg, hb))
    h = torch.where(delta > 0, h / 6.0, torch.zeros_like(h))
    return torch.stack([torch.remainder(h, 1.0), s, maxc], dim=-3)


def _hsv_to_rgb(x: Tensor) -> Tensor:
    h, s, v = x.unbind(-3)
    h6 = h * 6.0
    i = torch.floor(h6)
    f = h6 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = torch.stack([torch.stack(c, dim=-3) for c in
                         ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))], dim=0)  # (6, ..., 3, H, W)
    idx = i.unsqueeze(0).unsqueeze(-3).expand(1, *i.shape[:-2], 3, *i.shape[-2:])
    return table.gather(0, idx).squeeze(0)


def adjust_per_sample(x: Tensor, op: str, factor: Tensor) -> Tensor:
    """torchvision's float-image colour adjustment ``op`` with one factor per sample; x (n, 3, H, W) in [0, 1]."""
    f = factor.to(x.dtype).view(-1, 1, 1, 1)
    if op == "brightness":
        return (x * f).clamp(0, 1)
    if op == "contrast":
        mean = _gray(x).mean(dim=(-3, -2, -1), keepdim=True)
        return (f * x + (1 - f) * mean).clamp(0, 1)
    if op == "saturation":
        return (f * x + (1 - f) * _gray(x)).clamp(0, 1)
    if op == "hue":
        hsv = _rgb_to_hsv(x)
        h = torch.remainder(hsv[:, :1] + f, 1.0)
        return _hsv_to_rgb(torch.cat([h, hsv[:, 1:]], dim=1))
    raise ValueError(f"unknown colour op {op!r}; expected brightness, contrast, saturation or hue")


def _gaussian_blur(x: Tensor, sigma: Tensor, max_sigma: float) -> Tensor:
    """Separable Gaussian blur with one σ per sample (reflect padding, kernel radius ⌈3·max_sigma⌉)."""
    n, c, height, width = x.shape
    radius = max(1, min(math.ceil(3 * max_sigma), (min(height, width) - 1)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t.view(1, -1) ** 2) / (2 * sigma.to(x.dtype).view(-1, 1) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, dim=0)  # (n·c, 2r+1)
    y = x.reshape(1, n * c, height, width)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k.view(n * c, 1, -1, 1), groups=n * c)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k.view(n * c, 1, 1, -1), groups=n * c)
    return y.view(n, c, height, width)


# ------------------------------------------------------------------------------------------- one view
class BatchedView(nn.Module):
    """One augmented view of a batch: (n, 3, H, W) uint8 or float in [0, 1] → (n, 3, S, S) float."""

    _OPS = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, params: ViewParams) -> None:
        super().__init__()
        self.params = params
        if params.mean is not None and params.std is not None:
            self.register_buffer("mean", torch.tensor(params.mean).view(1, -1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(params.std).view(1, -1, 1, 1), persistent=False)
        else:
            self.mean = self.std = None

    def _factors(self, n: int, g: torch.Generator | None, dev: torch.device) -> dict[str, Tensor]:
        p = self.params
        out = {}
        for op, amount in zip(self._OPS, (p.cj_bright, p.cj_contrast, p.cj_sat), strict=False):
            lo, hi = max(0.0, 1 - amount), 1 + amount
            out[op] = lo + (hi - lo) * torch.rand(n, generator=g, device=dev)
        out["hue"] = (2 * torch.rand(n, generator=g, device=dev) - 1) * p.cj_hue
        return out

    @torch.no_grad()
    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        p = self.params
        dev = x.device
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        n, _, height, width = x.shape
        boxes = crop_boxes(n, height, width, p.min_scale, generator=generator, device=dev)
        flip = torch.rand(n, generator=generator, device=dev) < p.hf_prob
        x = _crop_flip(x, boxes, flip, p.input_size).clamp(0, 1)
        jitter = torch.rand(n, generator=generator, device=dev) < p.cj_prob
        factors = self._factors(n, generator, dev)
        order = torch.argsort(torch.rand(n, 4, generator=generator, device=dev), dim=1)  # per-sample randperm(4)
        amounts = {"brightness": p.cj_bright, "contrast": p.cj_contrast, "saturation": p.cj_sat, "hue": p.cj_hue}
        for k in range(4):
            for j, op in enumerate(self._OPS):
                if amounts[op] == 0:
                    continue
                idx = torch.nonzero(jitter & (order[:, k] == j)).squeeze(1)
                if idx.numel():
                    x[idx] = adjust_per_sample(x[idx], op, factors[op][idx])
        gray = torch.rand(n, generator=generator, device=dev) < p.random_gray_scale
        x = torch.where(gray.view(-1, 1, 1, 1), _gray(x).expand_as(x), x)
        if p.solarize_first:  # Lightly's VICRegViewTransform solarises before blurring; the others after
            x = self._solarize(x, generator)
            x = self._blur(x, generator)
        else:
            x = self._solarize(self._blur(x, generator), generator)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x

    def _blur(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        p, n, dev = self.params, x.shape[0], x.device
        blur = torch.rand(n, generator=generator, device=dev) < p.gaussian_blur
        sigma = p.sigmas[0] + (p.sigmas[1] - p.sigmas[0]) * torch.rand(n, generator=generator, device=dev)
        idx = torch.nonzero(blur).squeeze(1)
        if idx.numel():
            x[idx] = _gaussian_blur(x[idx], sigma[idx], p.sigmas[1])
        return x

    def _solarize(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        sol = torch.rand(x.shape[0], generator=generator, device=x.device) < self.params.solarization_prob
        return torch.where(sol.view(-1, 1, 1, 1) & (x >= SOLARIZE_THRESHOLD), 1.0 - x, x)


class BatchedMultiView(nn.Module):
    """Several independent views of a batch (``[view(x) for view in views]``), all on the batch's device."""

    def __init__(self, views: list[ViewParams]) -> None:
        super().__init__()
        self.views = nn.ModuleList(BatchedView(v) for v in views)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        return [view(x, generator) for view in self.views]


def _norm(normalize: dict[str, list[float]] | None) -> dict[str, tuple[float, ...] | None]:
    if normalize is None:
        return {"mean": None, "std": None}
    return {"mean": tuple(normalize["mean"]), "std": tuple(normalize["std"])}


def simclr_views(input_size: int, *, normalize: dict[str, list[float]] | None = None, **overrides: float) -> BatchedMultiView:
    """Two views with Lightly ``SimCLRTransform`` defaults (``cj_strength`` scales the four jitter amounts)."""
    strength = float(overrides.pop("cj_strength", 1.0))
    base = ViewParams(input_size=input_size, **_norm(normalize))
    base = replace(base, **overrides)
    base = replace(base, cj_bright=base.cj_bright * strength, cj_contrast=base.cj_contrast * strength,
                   cj_sat=base.cj_sat * strength, cj_hue=base.cj_hue * strength)
    return BatchedMultiView([base, base])


def byol_views(input_size: int, *, normalize: dict[str, list[float]] | None = None,
               view1: dict | None = None, view2: dict | None = None) -> BatchedMultiView:
    """BYOL's asymmetric views with Lightly ``BYOLView1/2Transform`` defaults (blur 1.0 / 0.1, solarise 0 / 0.2)."""
    common = ViewParams(input_size=input_size, cj_bright=0.4, cj_contrast=0.4, cj_sat=0.2, cj_hue=0.1, **_norm(normalize))
    v1 = replace(common, **{"gaussian_blur": 1.0, "solarization_prob": 0.0, **(view1 or {})})
    v2 = replace(common, **{"gaussian_blur": 0.1, "solarization_prob": 0.2, **(view2 or {})})
    return BatchedMultiView([v1, v2])
