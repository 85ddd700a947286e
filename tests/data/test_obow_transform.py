"""The ``obow`` preset: OBoW's original view, crops and 3 × 3 grid patches (valeoai/sfrik ``OBowTrainTransform``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from benchmark.data.obow_transform import GridPatches, OBoWTransform
from benchmark.data.transforms import build_eval_transform, build_train_transform
from benchmark.suite.schema import DataConfig


def _image(size: int = 48, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("input_size", "eval_resize", "sizes"),
    [(224, 256, [224] + [160] * 2 + [96] * 5), (32, 32, [32] + [23] * 2 + [14] * 5)],
)
def test_view_layout_follows_the_imagenet_ratios(input_size: int, eval_resize: int, sizes: list[int]) -> None:
    data = DataConfig(input_size=input_size, eval_resize=eval_resize, normalize="imagenet")
    views = build_train_transform("obow", data, {})(_image(input_size + 16))
    assert [tuple(v.shape) for v in views] == [(3, s, s) for s in sizes]


def test_original_view_is_the_evaluation_crop_without_colour_augmentation() -> None:
    data = DataConfig(input_size=32, eval_resize=36, normalize="cifar10")
    image = _image(48)
    views = build_train_transform("obow", data, {"hf_prob": 0.0})(image)
    torch.testing.assert_close(views[0], build_eval_transform(data)(image))


def test_patches_are_jittered_windows_of_the_3x3_grid() -> None:
    torch.manual_seed(0)
    size, jitter, pre = 10, 3, 32
    transform = OBoWTransform(
        num_img_crops=1, image_crop_size=16, num_img_patches=9, img_patch_size=size, img_patch_preresize=pre,
        img_patch_preresize_range=(1.0, 1.0), img_patch_jitter=jitter, hf_prob=0.0, cj_prob=0.0,
        random_gray_scale=0.0, gaussian_blur=0.0, original_resize=32, original_center_crop=32,
    )
    image = _image(pre)
    full = T.ToTensor()(image)  # scale (1, 1) of a square image: the pre-resize is the whole image
    patches = transform(image)[2:]
    offset = (pre - size - jitter) // 2
    assert len(patches) == 9
    for k, patch in enumerate(patches):  # m = 9: grid order, as the official CropImagePatches
        i, j = divmod(k, 3)
        found = [
            (dy, dx)
            for dy in range(jitter + 1)
            for dx in range(jitter + 1)
            if torch.equal(patch, full[:, i * offset + dy : i * offset + dy + size, j * offset + dx : j * offset + dx + size])
        ]
        assert found, f"patch {k} is not a window of grid cell ({i}, {j}) shifted by <= {jitter} px"


def test_fewer_patches_are_drawn_from_the_grid() -> None:
    torch.manual_seed(0)
    img = torch.arange(3 * 20 * 20, dtype=torch.float32).view(3, 20, 20)
    grid = GridPatches(size=8, jitter=0, count=9)(img)
    drawn = GridPatches(size=8, jitter=0, count=5)(img)
    assert len(drawn) == 5
    assert all(any(torch.equal(p, g) for g in grid) for p in drawn)
    assert len({int(p[0, 0, 0]) for p in drawn}) == 5  # five different cells


def test_invalid_settings_raise() -> None:
    with pytest.raises(ValueError, match="3 x 3 patch grid does not fit"):
        OBoWTransform(img_patch_preresize=100, img_patch_size=96, img_patch_jitter=24)
    with pytest.raises(ValueError, match="between 1 and 9"):
        OBoWTransform(num_img_patches=10)
    with pytest.raises(ValueError, match="at least one crop or patch"):
        OBoWTransform(num_img_crops=0, num_img_patches=0)
