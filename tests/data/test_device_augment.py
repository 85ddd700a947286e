"""``augment.on_device``: the batched views take the preset's Lightly parameters, decode, and seed per step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.data.device_augment import DEVICE_PRESETS, DecodeToUint8, build_device_augment, decode_size, step_seed
from benchmark.data.transforms import build_train_transform
from benchmark.errors import SuiteError
from benchmark.suite.schema import DataConfig


def _lightly_view_settings(view_transform: object) -> dict[str, object]:
    """Read the settings out of one Lightly view transform's Compose (what the CPU path really applies)."""
    from lightly.transforms.gaussian_blur import GaussianBlur
    from lightly.transforms.solarize import RandomSolarization

    out: dict[str, object] = {"solarization_prob": 0.0, "order": []}
    for step in view_transform.transform.transforms:  # type: ignore[attr-defined]
        kind = type(step).__name__  # torchvision v1 or v2 classes, whichever Lightly picked
        if kind == "RandomResizedCrop":
            out["input_size"], out["min_scale"] = step.size[0], step.scale[0]
        elif kind == "RandomHorizontalFlip":
            out["hf_prob"] = step.p
        elif kind == "RandomApply":
            jitter = step.transforms[0]
            out["cj_prob"] = step.p
            out["cj_bright"] = jitter.brightness[1] - 1
            out["cj_contrast"] = jitter.contrast[1] - 1
            out["cj_sat"] = jitter.saturation[1] - 1
            out["cj_hue"] = jitter.hue[1]
        elif kind == "RandomGrayscale":
            out["random_gray_scale"] = step.p
        elif isinstance(step, GaussianBlur):
            out["gaussian_blur"], out["sigmas"] = step.prob, tuple(float(s) for s in step.sigmas)
            out["order"].append("blur")  # type: ignore[union-attr]
        elif isinstance(step, RandomSolarization):
            out["solarization_prob"] = step.prob
            out["order"].append("solarize")  # type: ignore[union-attr]
        elif kind == "Normalize":
            out["mean"], out["std"] = tuple(step.mean), tuple(step.std)
    return out


CASES = [
    ("simclr", {}),
    ("simclr", {"cj_strength": 0.5, "gaussian_blur": 0.0, "min_scale": 0.2}),
    ("vicreg", {}),
    ("moco_v2", {}),
    ("simsiam", {"cj_prob": 0.5}),
    ("byol", {}),
    ("byol", {"min_scale": 0.2, "view2": {"solarization_prob": 0.5}}),
]


@pytest.mark.parametrize(("preset", "params"), CASES)
def test_device_views_take_exactly_the_settings_of_the_cpu_preset(preset: str, params: dict) -> None:
    data = DataConfig(input_size=32, normalize="cifar10")
    cpu = build_train_transform(preset, data, params)
    device = build_device_augment(preset, data, params)
    assert len(device.views) == len(cpu.transforms) == 2
    for lightly_view, batched in zip(cpu.transforms, device.views, strict=True):
        want = _lightly_view_settings(lightly_view)
        got = batched.params
        for key in ("input_size", "min_scale", "hf_prob", "cj_prob", "cj_bright", "cj_contrast", "cj_sat", "cj_hue",
                    "random_gray_scale", "gaussian_blur", "solarization_prob"):
            assert getattr(got, key) == pytest.approx(want[key]), (preset, key)
        assert tuple(got.sigmas) == pytest.approx(want["sigmas"])
        assert got.mean == pytest.approx(want["mean"]) and got.std == pytest.approx(want["std"])
        if want["order"] == ["solarize", "blur"]:
            assert got.solarize_first
        else:
            assert not got.solarize_first


def test_normalize_none_leaves_pixels_in_unit_range() -> None:
    views = build_device_augment("simclr", DataConfig(input_size=16, normalize="none"), {})
    x = torch.randint(0, 256, (6, 3, 20, 20), dtype=torch.uint8)
    out = views(x, torch.Generator().manual_seed(0))
    assert [v.shape for v in out] == [torch.Size([6, 3, 16, 16])] * 2
    assert all(0.0 <= float(v.min()) and float(v.max()) <= 1.0 for v in out)


def test_each_image_gets_its_own_parameters_and_the_generator_fixes_them() -> None:
    views = build_device_augment("simclr", DataConfig(input_size=32, normalize="none"), {})
    x = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8).repeat(8, 1, 1, 1)  # 8 copies of one image
    a = views(x, torch.Generator().manual_seed(1))[0]
    b = views(x, torch.Generator().manual_seed(1))[0]
    c = views(x, torch.Generator().manual_seed(2))[0]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    distinct = {a[i].numpy().tobytes() for i in range(8)}
    assert len(distinct) == 8  # the same image, eight different augmentations in one batch


@pytest.mark.parametrize(("preset", "params", "message"), [
    ("dino", {}, "no on-device implementation"),
    ("simclr", {"vf_prob": 0.5}, "vf_prob=0.5 is not implemented"),
    ("simclr", {"rr_prob": 0.2}, "rr_prob=0.2 is not implemented"),
    ("simclr", {"gausian_blur": 0.0}, "did you mean 'gaussian_blur'"),
])
def test_what_the_batched_pipeline_cannot_do_is_an_error(preset: str, params: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message) as info:
        build_device_augment(preset, DataConfig(input_size=32), params)
    assert info.value.hint


def test_decode_keeps_native_square_images_and_squares_the_others() -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    out = DecodeToUint8(32)(Image.fromarray(pixels))
    assert out.dtype == torch.uint8 and torch.equal(out, torch.from_numpy(pixels).permute(2, 0, 1))
    wide = DecodeToUint8(24)(Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)))
    assert wide.shape == (3, 24, 24)
    gray = DecodeToUint8(8)(Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)))
    assert gray.shape == (3, 8, 8)


def test_default_decode_size() -> None:
    assert decode_size(DataConfig(input_size=32), None) == 32
    assert decode_size(DataConfig(input_size=224), None) == 256
    assert decode_size(DataConfig(input_size=224), 288) == 288


def test_step_seeds_differ_by_step_and_rank() -> None:
    seeds = {step_seed(0, s, r) for s in range(20) for r in range(4)}
    assert len(seeds) == 80 and step_seed(0, 3, 1) == step_seed(0, 3, 1) != step_seed(1, 3, 1)


def test_every_registered_device_preset_builds() -> None:
    for preset in DEVICE_PRESETS:
        assert len(build_device_augment(preset, DataConfig(input_size=32), {}).views) == 2
