"""In-memory array sources: ``npz`` (user arrays, e.g. the shared CIFAR-10 subset) and ``digits`` (bundled, offline).

``digits`` is the embedded default that needs no download: scikit-learn's copy of the UCI optical digits test set
(1,797 8x8 grayscale images, 10 classes), rescaled to uint8, upsampled to ``size`` and repeated to RGB, with a
deterministic stratified train/test split. It exists for smoke runs and CI, not for comparison with any paper.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from benchmark.data.sources import DataSource, SourceParams, missing_error, register_source, resolve
from benchmark.errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
NPZ_LAYOUT = (
    "an .npz with x_train, y_train, x_test, y_test (images uint8 NHWC or NCHW, integer labels 0..C-1) and optionally "
    "classes; write it with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=..., classes=np.array(names))"
)


class NpzParams(SourceParams):
    """Parameters of ``npz``."""

    path: str = Field(..., description=".npz file, relative to data_root or absolute")
    classes: list[str] | None = Field(None, description="class names by label; overrides a 'classes' array in the file")


def _read_npz(file: Path) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The four required arrays and the optional ``classes`` array; :class:`DataError` for anything unreadable."""
    try:
        data = np.load(file, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise DataError(f"{file} is a single .npy array, not an .npz archive", path=str(file), hint=NPZ_LAYOUT)
        with data:
            missing = [k for k in NPZ_KEYS if k not in data.files]
            if missing:
                raise DataError(
                    f"{file} lacks array(s) {', '.join(missing)} (it has: {', '.join(data.files) or 'nothing'})",
                    path=str(file),
                    hint=NPZ_LAYOUT,
                )
            arrays = {k: np.asarray(data[k]) for k in NPZ_KEYS}
            classes = np.asarray(data["classes"]) if "classes" in data.files else None
    except DataError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError) as err:
        raise DataError(
            f"{file} is not a readable .npz archive (truncated or corrupt?): {type(err).__name__}: {err}",
            path=str(file),
            hint="re-create or re-copy the file; " + NPZ_LAYOUT,
        ) from err
    return arrays, classes


@register_source
class Npz(DataSource):
    """Arrays from one ``.npz`` file: ``x_train, y_train, x_test, y_test`` (+ optional ``classes``)."""

    name = "npz"
    description = "arrays x_train/y_train/x_test/y_test from an .npz file (uint8 NHWC or NCHW)"
    Params = NpzParams

    def check(self, params: NpzParams, *, data_root: Path) -> None:
        file = resolve(data_root, params.path)
        if not file.is_file():
            raise missing_error(self.name, [file], hint=f"create {NPZ_LAYOUT}")

    def load(self, params: NpzParams, *, data_root: Path, download: bool) -> Any:
        from benchmark.data.base import ArrayDataset, DatasetSplits, as_label_array, to_nhwc_rgb

        self.check(params, data_root=data_root)
        file = resolve(data_root, params.path)
        arrays, file_classes = _read_npz(file)
        images, labels = {}, {}
        for split in ("train", "test"):
            images[split] = to_nhwc_rgb(arrays[f"x_{split}"], what=f"{file}: x_{split}")
            labels[split] = as_label_array(arrays[f"y_{split}"], what=f"{file}: y_{split}")
            if len(images[split]) != len(labels[split]):
                raise DataError(
                    f"{file}: x_{split} has {len(images[split])} images but y_{split} has {len(labels[split])} labels",
                    path=str(file),
                    hint=NPZ_LAYOUT,
                )
            if len(labels[split]) == 0:
                raise DataError(f"{file}: x_{split} is empty", path=str(file), hint=NPZ_LAYOUT)
        if params.classes is not None:
            classes: list[str] | None = list(params.classes)
        elif file_classes is not None:
            if file_classes.ndim != 1:
                raise DataError(f"{file}: 'classes' must be a 1-D array of names, got shape {file_classes.shape}")
            classes = [str(c) for c in file_classes.tolist()]
        else:
            classes = None
        all_labels = np.concatenate([labels["train"], labels["test"]])
        num_classes = len(classes) if classes is not None else int(all_labels.max()) + 1
        for split in ("train", "test"):
            lo, hi = int(labels[split].min()), int(labels[split].max())
            if lo < 0 or hi >= num_classes:
                raise DataError(
                    f"{file}: y_{split} has labels in [{lo}, {hi}], outside [0, {num_classes})"
                    + (f" for the {len(classes)} classes given" if classes is not None else ""),
                    path=str(file),
                    hint="labels must be class indices 0..C-1; pass the full class list in 'classes'",
                )
        train = ArrayDataset(images["train"], labels["train"], classes=classes)
        test = ArrayDataset(images["test"], labels["test"], classes=classes)
        _, h, w, _ = train.images.shape
        return DatasetSplits(
            name=self.name,
            train=train,
            test=test,
            num_classes=num_classes,
            classes=classes,
            train_labels=train.targets,
            test_labels=test.targets,
            source=f"npz {file} (train {len(train)}, test {len(test)})",
            image_size=h if h == w else None,
        )


class DigitsParams(SourceParams):
    """Parameters of ``digits``."""

    size: int = Field(32, ge=8, le=512, description="output side in pixels (bilinear upsampling from 8x8)")
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0, description="stratified test share (sklearn's default 0.25)")
    split_seed: int = Field(0, ge=0, description="seed of the fixed stratified train/test split")


def digits_arrays(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits as ``(N, size, size, 3)`` uint8 RGB and int64 labels (no download).

    Pixel values 0..16 are mapped to 0..255 (``round(v * 255 / 16)``), then each image is upsampled with PIL's
    bilinear filter and repeated to three channels.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    if size == small.shape[1]:
        big = small
    else:
        big = np.stack(
            [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR)) for im in small]
        )
    rgb = np.ascontiguousarray(np.repeat(big[..., None], 3, axis=-1))
    return rgb, np.asarray(bunch.target, dtype=np.int64)


@register_source
class Digits(DataSource):
    """The embedded offline dataset: scikit-learn digits (10 classes), upsampled RGB, fixed stratified split."""

    name = "digits"
    description = "scikit-learn digits (1797 images, 10 classes), upsampled to `size` RGB; bundled, no download"
    num_classes, train_size, test_size, image_size = 10, 1347, 450, 32  # sizes: test_fraction 0.25, size 32
    Params = DigitsParams

    def check(self, params: DigitsParams, *, data_root: Path) -> None:
        """Always present: the data ships with scikit-learn."""

    def load(self, params: DigitsParams, *, data_root: Path, download: bool) -> Any:
        from sklearn.model_selection import train_test_split

        from benchmark.data.base import ArrayDataset, DatasetSplits

        images, labels = digits_arrays(params.size)
        train_idx, test_idx = train_test_split(
            np.arange(len(labels)), test_size=params.test_fraction, stratify=labels, random_state=params.split_seed
        )
        train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
        classes = [str(d) for d in range(self.num_classes)]
        train = ArrayDataset(images[train_idx], labels[train_idx], classes=classes)
        test = ArrayDataset(images[test_idx], labels[test_idx], classes=classes)
        return DatasetSplits(
            name=self.name,
            train=train,
            test=test,
            num_classes=self.num_classes,
            classes=classes,
            train_labels=train.targets,
            test_labels=test.targets,
            source=(
                f"sklearn.datasets.load_digits (UCI optdigits, 1797 8x8 images) upsampled bilinearly to "
                f"{params.size}x{params.size} RGB; stratified split test_fraction={params.test_fraction}, "
                f"seed={params.split_seed}"
            ),
            image_size=params.size,
        )
