"""OBoW multi-crop views (Gidaris et al., OBoW, CVPR 2021, arXiv 2012.11552) as SFRIK's multi-crop variant uses them.

Re-implemented from valeoai/sfrik ``src/sfrik/augmentations.py`` (commit c6ce16e: ``OBowTrainTransform``,
``ImageNetOBoWTrainTransform``, ``CropImagePatches``, "Code from OBoW"). One image becomes the flat list of views
``[original, crop_1 … crop_k, patch_1 … patch_m]``:

* **original**: ``Resize(original_resize) → CenterCrop(original_center_crop) → flip`` and no colour augmentation
  ("So as, to see both image views"); SFRIK's ``obow_multi_crop_forward`` aligns every other view to it;
* k = ``num_img_crops`` **crops**: ``RandomResizedCrop(image_crop_size, scale=image_crop_range)`` → colour jitter
  → grayscale → Gaussian blur → flip;
* m = ``num_img_patches`` **patches**: ``RandomResizedCrop(img_patch_preresize, scale=img_patch_preresize_range)``
  → colour jitter → grayscale → flip (no blur), then the 3 × 3 grid of overlapping ``img_patch_size`` patches, each
  shifted by up to ``img_patch_jitter`` pixels, of which m are drawn at random (all 9 in grid order when m = 9).

ImageNet values (``ImageNetOBoWTrainTransform``; README ``--num_img_crops 2 --image_crop_size 160 --num_img_patches
5 --img_patch_size 96``), the defaults here: original 256 → 224, crops of 160 at scale (0.08, 0.6), patches of 96
from a 256 pre-resize at scale (0.6, 1) with jitter 24, colour jitter (0.4, 0.4, 0.4, 0.4) with p 0.8, grayscale 0.2,
blur p 0.5 with σ ∈ [0.1, 2], flips p 0.5. The ``obow`` preset (:mod:`benchmark.data.transforms`) scales the sizes
to the suite's input size. Argument names are the official ones, photometric ones Lightly's.
"""

from __future__ import annotations

from typing import Any

import torch
import torchvision.transforms as T
from lightly.transforms import GaussianBlur
from torch import Tensor

__all__ = ["GridPatches", "OBoWTransform"]


class GridPatches:
    """(3, H, W) tensor → m of the 9 patches of a 3 × 3 overlapping grid, each jittered (OBoW ``CropImagePatches``).

    Patch (i, j) starts at ``(i·oy + dy, j·ox + dx)`` with ``oy = (H − size − jitter) // 2`` (``ox`` alike) and
    ``dy, dx`` uniform in ``{0, …, jitter}``.
    """

    def __init__(self, *, size: int, jitter: int, count: int) -> None:
        if not 1 <= count <= 9:
            raise ValueError(f"num_img_patches must be between 1 and 9 (a 3 x 3 grid), got {count}")
        if size < 1 or jitter < 0:
            raise ValueError(f"img_patch_size must be >= 1 and img_patch_jitter >= 0, got {size} and {jitter}")
        self.size, self.jitter, self.count = int(size), int(jitter), int(count)

    def __call__(self, img: Tensor) -> list[Tensor]:
        _, height, width = img.shape
        oy = (height - self.size - self.jitter) // 2
        ox = (width - self.size - self.jitter) // 2
        if oy < 0 or ox < 0:
            raise ValueError(
                f"image of {height}x{width} px is smaller than img_patch_size + img_patch_jitter = "
                f"{self.size + self.jitter}"
            )
        patches = []
        for i in range(3):
            for j in range(3):
                top = i * oy + int(torch.randint(0, self.jitter + 1, ()))
                left = j * ox + int(torch.randint(0, self.jitter + 1, ()))
                patches.append(img[:, top : top + self.size, left : left + self.size])
        if self.count < 9:
            patches = [patches[k] for k in torch.randperm(9)[: self.count].tolist()]
        return patches


class OBoWTransform:
    """The OBoW views of one image: ``[original, crops…, patches…]`` (see the module docstring)."""

    def __init__(
        self,
        *,
        original_resize: int = 256,
        original_center_crop: int = 224,
        num_img_crops: int = 2,
        image_crop_size: int = 160,
        image_crop_range: tuple[float, float] = (0.08, 0.6),
        num_img_patches: int = 5,
        img_patch_size: int = 96,
        img_patch_preresize: int = 256,
        img_patch_preresize_range: tuple[float, float] = (0.6, 1.0),
        img_patch_jitter: int = 24,
        hf_prob: float = 0.5,
        cj_prob: float = 0.8,
        cj_bright: float = 0.4,
        cj_contrast: float = 0.4,
        cj_sat: float = 0.4,
        cj_hue: float = 0.4,
        random_gray_scale: float = 0.2,
        gaussian_blur: float = 0.5,
        sigmas: tuple[float, float] = (0.1, 2.0),
        normalize: dict[str, list[float]] | None = None,
    ) -> None:
        if num_img_crops < 0 or num_img_patches < 0 or num_img_crops + num_img_patches < 1:
            raise ValueError(
                f"OBoW needs at least one crop or patch besides the original view, got num_img_crops={num_img_crops}, "
                f"num_img_patches={num_img_patches}"
            )
        if img_patch_preresize < img_patch_size + img_patch_jitter:
            raise ValueError(
                f"img_patch_preresize={img_patch_preresize} is smaller than img_patch_size + img_patch_jitter = "
                f"{img_patch_size + img_patch_jitter}: the 3 x 3 patch grid does not fit"
            )
        tail: list[Any] = [T.ToTensor()]
        if normalize is not None:
            tail.append(T.Normalize(mean=normalize["mean"], std=normalize["std"]))
        colour = [
            T.RandomApply([T.ColorJitter(cj_bright, cj_contrast, cj_sat, cj_hue)], p=cj_prob),
            T.RandomGrayscale(p=random_gray_scale),
        ]
        flip = T.RandomHorizontalFlip(p=hf_prob)
        self.original = T.Compose([T.Resize(original_resize), T.CenterCrop(original_center_crop), flip, *tail])
        self.crop = T.Compose([
            T.RandomResizedCrop(image_crop_size, scale=tuple(image_crop_range)),
            *colour,
            GaussianBlur(prob=gaussian_blur, sigmas=tuple(sigmas)),
            flip,
            *tail,
        ])
        self.num_img_crops = int(num_img_crops)
        self.patch_image = T.Compose([
            T.RandomResizedCrop(img_patch_preresize, scale=tuple(img_patch_preresize_range)), *colour, flip, *tail
        ])
        self.patches = (
            GridPatches(size=img_patch_size, jitter=img_patch_jitter, count=num_img_patches)
            if num_img_patches > 0
            else None
        )

    def __call__(self, image: Any) -> list[Tensor]:
        views = [self.original(image)] + [self.crop(image) for _ in range(self.num_img_crops)]
        if self.patches is not None:
            views += self.patches(self.patch_image(image))
        return views
