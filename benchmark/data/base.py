"""What every dataset source returns: :class:`DatasetSplits`, plus the in-memory :class:`ArrayDataset`.

Contract shared by all sources (CIFAR, ImageNet folders, Hugging Face, npz, ...): items of ``train`` / ``test`` are
``(PIL.Image.Image in mode "RGB", int label)``; ``train_labels`` / ``test_labels`` are int64 arrays aligned with the
datasets and lie in ``[0, num_classes)``, so samplers and subset helpers never have to decode an image to know a
label. :class:`DatasetSplits` checks this when it is built and raises :class:`~benchmark.errors.DataError` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch.utils.data
from PIL import Image

from benchmark.errors import DataError


def as_label_array(labels: Any, *, what: str) -> np.ndarray:
    """``labels`` as a 1-D int64 array; :class:`DataError` when they are not integers.

    Args:
        labels: Any 1-D sequence of integer labels.
        what: What the labels are (``"cifar10 train labels"``), used in the message.
    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise DataError(f"{what} must be a 1-D array of class indices, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            pass  # integral floats (e.g. labels saved as float64) are accepted
        else:
            raise DataError(f"{what} must be integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


@dataclass
class DatasetSplits:
    """A labelled train/test pair, as loaded by a source of :data:`benchmark.data.DATASETS`.

    Args:
        name: Registry name of the source (``"cifar10"``).
        train: Training set; items are ``(RGB PIL image, int label)``.
        test: Test (evaluation) set, same item type.
        num_classes: Number of classes; labels lie in ``[0, num_classes)``.
        classes: Class names indexed by label, when known.
        train_labels: int64 labels of ``train`` in dataset order.
        test_labels: int64 labels of ``test`` in dataset order.
        source: What was loaded from where (class/function and path), recorded for provenance.
        image_size: Native (square) image side in pixels when known (32 for CIFAR), else ``None``.

    Raises:
        DataError: Labels not aligned with the datasets, or outside ``[0, num_classes)``.
    """

    name: str
    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    num_classes: int
    classes: list[str] | None
    train_labels: np.ndarray
    test_labels: np.ndarray
    source: str
    image_size: int | None = None

    def __post_init__(self) -> None:
        self.train_labels = as_label_array(self.train_labels, what=f"{self.name} train labels")
        self.test_labels = as_label_array(self.test_labels, what=f"{self.name} test labels")
        if self.num_classes < 1:
            raise DataError(f"dataset '{self.name}' has no classes (num_classes={self.num_classes})")
        if self.classes is not None:
            self.classes = [str(c) for c in self.classes]
            if len(self.classes) != self.num_classes:
                raise DataError(
                    f"dataset '{self.name}' names {len(self.classes)} classes but num_classes is {self.num_classes}"
                )
        for split, ds, labels in (("train", self.train, self.train_labels), ("test", self.test, self.test_labels)):
            n = len(ds)  # type: ignore[arg-type]
            if n != len(labels):
                raise DataError(f"dataset '{self.name}' {split} split has {n} images but {len(labels)} labels")
            if n == 0:
                raise DataError(f"dataset '{self.name}' {split} split is empty", hint=f"source: {self.source}")
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= self.num_classes:
                raise DataError(
                    f"dataset '{self.name}' {split} labels span [{lo}, {hi}], outside [0, {self.num_classes})",
                    hint="labels must be class indices 0..num_classes-1 (unlabelled images, label -1, are not supported)",
                )

    def class_counts(self, split: str = "train") -> np.ndarray:
        """Images per class in ``split`` (``"train"`` or ``"test"``), length ``num_classes``."""
        labels = {"train": self.train_labels, "test": self.test_labels}[split]
        return np.bincount(labels, minlength=self.num_classes)


def to_nhwc_rgb(images: np.ndarray, *, what: str = "images") -> np.ndarray:
    """Normalise a uint8 image array to NHWC with 3 channels.

    Accepts ``(N, H, W)`` (grayscale), ``(N, H, W, C)`` or ``(N, C, H, W)`` with ``C`` in {1, 3}; NHWC is preferred
    when both readings are possible. Grayscale is repeated to RGB.

    Raises:
        DataError: Not uint8, or a shape that is none of the above.
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise DataError(
            f"{what} must be uint8 pixels in [0, 255], got dtype {arr.dtype}",
            hint="convert with (x * 255).round().clip(0, 255).astype(np.uint8) if they are floats in [0, 1]",
        )
    if arr.ndim == 3:
        arr = arr[..., None]
    elif arr.ndim != 4:
        raise DataError(f"{what} must be (N, H, W, C) or (N, C, H, W) with C in {{1, 3}}, got shape {arr.shape}")
    if arr.shape[-1] not in (1, 3):
        if arr.shape[1] in (1, 3):
            arr = arr.transpose(0, 2, 3, 1)
        else:
            raise DataError(f"{what} must be (N, H, W, C) or (N, C, H, W) with C in {{1, 3}}, got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return np.ascontiguousarray(arr)


class ArrayDataset(torch.utils.data.Dataset):
    """An in-memory image dataset over a uint8 NHWC array.

    ``__getitem__`` returns ``(PIL RGB image, int label)`` like every other source; training code that wants raw
    arrays reads :attr:`images` (``(N, H, W, 3)`` uint8) and :attr:`targets` (int64) directly.

    Args:
        images: uint8 array ``(N, H, W, 3)``; ``(N, H, W)``, ``(N, H, W, 1)`` and NCHW are converted.
        targets: ``N`` integer labels.
        classes: Optional class names (kept as an attribute, like torchvision datasets).

    Raises:
        DataError: Wrong dtype/shape, or ``len(images) != len(targets)``.
    """

    def __init__(self, images: np.ndarray, targets: Sequence[int] | np.ndarray, *, classes: list[str] | None = None):
        self.images = to_nhwc_rgb(images)
        self.targets = as_label_array(targets, what="ArrayDataset targets")
        if len(self.images) != len(self.targets):
            raise DataError(f"ArrayDataset got {len(self.images)} images but {len(self.targets)} labels")
        self.classes = classes

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        return Image.fromarray(self.images[index]), int(self.targets[index])

    def __repr__(self) -> str:
        n, h, w, _ = self.images.shape
        return f"ArrayDataset(n={n}, size={h}x{w})"


def load_image_file(paths: Sequence[str], index: int) -> Image.Image:
    """The RGB image at ``paths[index]`` (torchvision's PIL loader); module-level so datasets using it pickle."""
    from torchvision.datasets.folder import default_loader

    return default_loader(paths[index])


class LabeledDataset(torch.utils.data.Dataset):
    """Wraps a map-style dataset so items are ``(RGB PIL image, label from a precomputed array)``.

    Used for file-backed sources (torchvision, Hugging Face): the label array is read once from the dataset's
    index, so items never depend on per-source target types, and images of any mode are converted to RGB.

    Args:
        base: Dataset whose items are ``(image, anything)`` or, with ``get_image``, anything.
        labels: int64 labels aligned with ``base``.
        get_image: Optional function ``(base, index) -> PIL image`` replacing ``base[index][0]``.
    """

    def __init__(
        self,
        base: Any,
        labels: np.ndarray,
        *,
        get_image: Callable[[Any, int], Image.Image] | None = None,
    ) -> None:
        self.base = base
        self.labels = as_label_array(labels, what="labels")
        self._get_image = get_image

    @property
    def targets(self) -> np.ndarray:
        """The labels, under the name torchvision datasets use."""
        return self.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        index = int(index)
        img = self._get_image(self.base, index) if self._get_image is not None else self.base[index][0]
        if not isinstance(img, Image.Image):
            img = Image.fromarray(np.asarray(img))
        if img.mode != "RGB":
            img = img.convert("RGB")
        return img, int(self.labels[index])

    def __repr__(self) -> str:
        return f"LabeledDataset(n={len(self)}, base={type(self.base).__name__})"
