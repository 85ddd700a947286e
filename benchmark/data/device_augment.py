"""``augment.on_device: true``: the loader ships un-augmented uint8 batches, the views are made on the training device.

The per-image Lightly pipeline (:mod:`benchmark.data.transforms`) runs in the DataLoader workers on the CPU; on a GPU
that can become the bottleneck. With ``on_device`` the workers only decode each image to a fixed-size uint8 tensor
(:class:`DecodeToUint8`), and :class:`benchmark.train.module.PretrainModule` augments the whole batch after it is on
the device (Lightning's ``on_after_batch_transfer``) with :mod:`benchmark.data.batched_augment`: every image gets
its own crop, flip, jitter, grayscale, blur and solarisation parameters.

The parameters are the preset's own: this module reads the defaults of the same Lightly transform class the CPU path
builds (``SimCLRTransform``, ``VICRegTransform``, ``MoCoV2Transform``, ``SimSiamTransform``, ``BYOLView1/2Transform``)
and applies ``augment.params`` on top, so a suite switches paths without restating its augmentation. Arguments the
batched pipeline does not implement (vertical flip, random rotation) are errors when set, never ignored.

Decode size: images are resized (shorter side) and centre-cropped to ``augment.decode_size`` on the CPU so that a
batch stacks into one tensor; the random-resized crop then samples from that square. The default is the input size
up to 64 px (CIFAR/STL at native resolution: identical sampling to the CPU path) and ``input_size · 8/7`` above
(256 for 224-px crops, as DALI/FFCV ImageNet loaders do). Deviations from the PIL path are listed in
:mod:`benchmark.data.batched_augment` (no antialiasing when a crop is downscaled, exact Gaussian blur, float rounding).

Randomness: one generator per step and process, seeded from ``(run seed, global step, rank)`` (splitmix64), so a run
is deterministic and a resumed run draws the same augmentations; unlike the CPU path the draws depend on how the global
batch is split over processes.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

import numpy as np
from torch import Tensor

from benchmark.data.batched_augment import BatchedMultiView, ViewParams
from benchmark.data.seeds import sample_seeds
from benchmark.data.transforms import ImageSettings, checked_kwargs
from benchmark.errors import SuiteError

__all__ = ["DEVICE_PRESETS", "DecodeToUint8", "build_device_augment", "decode_size", "step_seed"]

#: Presets the batched pipeline implements: the Lightly class of each view.
DEVICE_PRESETS: dict[str, tuple[str, ...]] = {
    "simclr": ("SimCLRTransform", "SimCLRTransform"),
    "vicreg": ("VICRegTransform", "VICRegTransform"),
    "moco_v2": ("MoCoV2Transform", "MoCoV2Transform"),
    "simsiam": ("SimSiamTransform", "SimSiamTransform"),
    "byol": ("BYOLView1Transform", "BYOLView2Transform"),
}

_DIRECT = ("input_size", "cj_prob", "cj_bright", "cj_contrast", "cj_sat", "cj_hue", "min_scale", "random_gray_scale",
           "gaussian_blur", "hf_prob")
_MUST_BE_OFF = {"vf_prob": 0.0, "rr_prob": 0.0}  # not implemented by the batched pipeline


def decode_size(data: ImageSettings, explicit: int | None) -> int:
    """The square size images are decoded to before batching (see the module docstring for the default)."""
    if explicit is not None:
        return int(explicit)
    return data.input_size if data.input_size <= 64 else round(data.input_size * 8 / 7)


class DecodeToUint8:
    """PIL image (or HWC array) → (3, S, S) uint8 tensor: shorter side resized to S, centre crop; no-op at S×S."""

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def __call__(self, img: Any) -> Tensor:
        from PIL import Image
        from torchvision.transforms.v2 import functional as TF

        if not isinstance(img, Image.Image):
            img = Image.fromarray(np.asarray(img))
        img = img.convert("RGB")
        if img.size != (self.size, self.size):
            img = TF.center_crop(TF.resize(img, self.size, antialias=True), [self.size, self.size])
        return TF.pil_to_tensor(img)

    def __repr__(self) -> str:
        return f"DecodeToUint8(size={self.size})"


def _view_params(cls_name: str, params: dict[str, Any], data: ImageSettings, preset: str) -> ViewParams:
    import lightly.transforms as LT

    cls = getattr(LT, cls_name)
    sig = inspect.signature(cls.__init__)
    kw = {name: p.default for name, p in sig.parameters.items() if name != "self"}
    kw.update(checked_kwargs(cls, params, preset))  # unknown arguments: the CPU path's error, did-you-mean included
    kw["input_size"] = params.get("input_size", data.input_size)
    for key, off in _MUST_BE_OFF.items():
        if key in kw and float(kw[key] or 0.0) != off:
            raise SuiteError(
                f"augment.params.{key}={kw[key]} is not implemented by the on-device augmentation (preset '{preset}')",
                hint=f"set augment.on_device: false to use Lightly's per-image {cls_name}, or drop {key}",
            )
    strength = float(kw.pop("cj_strength", 1.0))
    solarize = kw.get("solarization_prob", kw.get("solarize_prob", 0.0))
    stats = data.normalize_stats()
    vp = ViewParams(**{k: kw[k] for k in _DIRECT}, sigmas=tuple(float(s) for s in kw["sigmas"]),
                    solarization_prob=float(solarize), solarize_first="solarize_prob" in kw,
                    mean=None if stats is None else tuple(stats[0]), std=None if stats is None else tuple(stats[1]))
    # Lightly multiplies the four jitter amounts by cj_strength (ColorJitter(brightness=cj_strength * cj_bright, ...)).
    return replace(vp, cj_bright=vp.cj_bright * strength, cj_contrast=vp.cj_contrast * strength,
                   cj_sat=vp.cj_sat * strength, cj_hue=vp.cj_hue * strength)


def build_device_augment(preset: str, data: ImageSettings, params: dict[str, Any]) -> BatchedMultiView:
    """The batched multi-view augmentation equivalent to the CPU preset ``preset`` with ``augment.params``."""
    if preset not in DEVICE_PRESETS:
        raise SuiteError(
            f"augmentation preset '{preset}' has no on-device implementation",
            key="augment.on_device",
            hint=f"on_device supports {', '.join(DEVICE_PRESETS)}; set augment.on_device: false for '{preset}'",
        )
    params = dict(params)
    per_view = [dict(params.pop("view1", {}) or {}), dict(params.pop("view2", {}) or {})] if preset == "byol" else [{}, {}]
    views = [_view_params(cls_name, {**params, **extra}, data, preset)
             for cls_name, extra in zip(DEVICE_PRESETS[preset], per_view, strict=True)]
    return BatchedMultiView(views)


def step_seed(seed: int, step: int, rank: int) -> int:
    """A 63-bit generator seed for one training step of one process (splitmix64 of the three)."""
    return int(sample_seeds(seed, step, rank, np.zeros(1, dtype=np.int64))[0])
