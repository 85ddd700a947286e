"""DatasetSplits validation and ArrayDataset item contract."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmark.data.base import ArrayDataset, DatasetSplits, to_nhwc_rgb
from benchmark.errors import DataError


def make(n: int = 6, num_classes: int = 3, **kw) -> DatasetSplits:
    x = np.zeros((n, 4, 4, 3), np.uint8)
    y = np.arange(n) % num_classes
    ds = ArrayDataset(x, y)
    args = dict(
        name="toy",
        train=ds,
        test=ds,
        num_classes=num_classes,
        classes=None,
        train_labels=y,
        test_labels=y,
        source="toy",
        image_size=4,
    )
    args.update(kw)
    return DatasetSplits(**args)


def test_array_dataset_items_are_rgb_pil_and_int() -> None:
    x = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    ds = ArrayDataset(x, [2, 0, 1])
    img, label = ds[1]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (7, 5)
    assert type(label) is int and label == 0 and np.array_equal(np.asarray(img), x[1])
    assert ds.images.shape == (3, 5, 7, 3) and ds.targets.dtype == np.int64 and len(ds) == 3


def test_grayscale_and_nchw_are_converted() -> None:
    gray = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    out = to_nhwc_rgb(gray)
    assert out.shape == (2, 4, 4, 3) and np.array_equal(out[..., 2], gray)
    nchw = np.zeros((2, 3, 5, 6), np.uint8)
    assert to_nhwc_rgb(nchw).shape == (2, 5, 6, 3)


def test_array_dataset_length_mismatch() -> None:
    with pytest.raises(DataError, match="3 images but 2 labels"):
        ArrayDataset(np.zeros((3, 4, 4, 3), np.uint8), [0, 1])


def test_splits_validate_labels() -> None:
    assert make().class_counts("test").tolist() == [2, 2, 2]
    with pytest.raises(DataError, match="outside \\[0, 2\\)"):
        make(num_classes=2, train_labels=np.arange(6) % 3)
    with pytest.raises(DataError, match="6 images but 5 labels"):
        make(test_labels=np.zeros(5, np.int64))
    with pytest.raises(DataError, match="names 2 classes"):
        make(classes=["a", "b"])
