"""File-backed sources: ``imagenet`` (ILSVRC-2012), ``imagenet100`` (the CMC 100-class subset), ``places205``.

Neither can be downloaded automatically (ImageNet needs a licence from image-net.org), so missing data gives the
expected layout::

    <data_root>/<path>/train/<wnid>/*.JPEG
    <data_root>/<path>/val/<wnid>/*.JPEG     # validation images sorted into class folders

Samples are indexed exactly like ``torchvision.datasets.ImageFolder`` (``torchvision.datasets.folder.make_dataset``:
classes in sorted order, files sorted within a class), which matters for the SFRIK IN20 % subset: "the first 260
images (ImageFolder sorted order) of each of the 1000 classes" (valeoai/sfrik ``ImageNetSubset(subset=260)``); see
:func:`benchmark.data.subsets.per_class_subset`.

``imagenet100`` accepts either a pre-made ImageNet-100 folder or a full ImageNet folder: only the 100 class folders
listed in ``imagenet100_classes.txt`` are indexed, so both give the same dataset.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from benchmark.data.sources import (
    DataSource,
    SourceParams,
    guarded,
    missing_error,
    register_source,
    resolve,
)
from benchmark.errors import DataError

CLASS_LIST_FILE = Path(__file__).with_name("imagenet100_classes.txt")


@cache
def imagenet100_classes() -> tuple[str, ...]:
    """The 100 wnids of ImageNet-100 (CMC list) in the file's order; comment lines (``#``) skipped."""
    lines = CLASS_LIST_FILE.read_text().splitlines()
    return tuple(ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))


def _layout(root: Path, train_dir: str, val_dir: str) -> str:
    return (
        f"expected {root / train_dir}/<wnid>/*.JPEG and {root / val_dir}/<wnid>/*.JPEG (validation images sorted "
        "into class folders, e.g. with the valprep.sh script from the PyTorch ImageNet example); ImageNet cannot be "
        "downloaded automatically: get ILSVRC-2012 from https://image-net.org"
    )


def _subdirs(folder: Path) -> list[str]:
    with os.scandir(folder) as it:
        return sorted(e.name for e in it if e.is_dir())


def _has_files(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(e.is_file() for e in it)


def _check_split_dirs(name: str, root: Path, train_dir: str, val_dir: str) -> tuple[list[str], list[str]]:
    """Both split folders exist and hold class folders; returns their class-folder names."""
    dirs = [root / train_dir, root / val_dir]
    missing = [d for d in dirs if not d.is_dir()]
    if missing:
        raise missing_error(name, missing, hint=_layout(root, train_dir, val_dir))
    out = []
    for d in dirs:
        classes = _subdirs(d)
        if not classes:
            flat = " (it holds image files directly: sort them into class folders)" if _has_files(d) else ""
            raise DataError(
                f"dataset '{name}': {d} has no class folders{flat}",
                path=str(d),
                hint=_layout(root, train_dir, val_dir),
            )
        out.append(classes)
    return out[0], out[1]


def _index(folder: Path, classes: list[str]) -> tuple[list[str], np.ndarray]:
    """ImageFolder-order (path, label) index of ``folder`` restricted to ``classes`` (label = position in it)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, extensions=IMG_EXTENSIONS)
    return [p for p, _ in samples], np.asarray([t for _, t in samples], dtype=np.int64)


def _splits(name: str, root: Path, p: Any, classes: list[str], source: str) -> Any:
    from benchmark.data.base import DatasetSplits, LabeledDataset, load_image_file

    (tr_paths, tr_labels), (te_paths, te_labels) = guarded(
        name,
        root,
        lambda: (_index(root / p.train_dir, classes), _index(root / p.val_dir, classes)),
        download=False,
        can_download=False,
        manual=_layout(root, p.train_dir, p.val_dir),
    )
    return DatasetSplits(
        name=name,
        train=LabeledDataset(tr_paths, tr_labels, get_image=load_image_file),
        test=LabeledDataset(te_paths, te_labels, get_image=load_image_file),
        num_classes=len(classes),
        classes=list(classes),
        train_labels=tr_labels,
        test_labels=te_labels,
        source=source,
        image_size=None,
    )


class ImageNetParams(SourceParams):
    """Parameters of ``imagenet``."""

    path: str = Field("imagenet", description="ImageNet folder under data_root (or absolute)")
    train_dir: str = Field("train", description="training split folder inside path")
    val_dir: str = Field("val", description="validation split folder inside path (used as the test split)")
    num_classes: int | None = Field(1000, ge=1, description="expected number of class folders; null skips the check")


@register_source
class ImageNet(DataSource):
    """ILSVRC-2012 (Russakovsky et al., 2015) as an ImageFolder tree; the official val split is the test split."""

    name = "imagenet"
    description = "ImageNet-1k ImageFolder (train/<wnid>, val/<wnid>); not downloadable"
    num_classes, train_size, test_size = 1000, 1281167, 50000
    Params = ImageNetParams

    def _classes(self, p: ImageNetParams, data_root: Path) -> tuple[Path, list[str]]:
        root = resolve(data_root, p.path)
        train, val = _check_split_dirs(self.name, root, p.train_dir, p.val_dir)
        if p.num_classes is not None and len(train) != p.num_classes:
            raise DataError(
                f"dataset '{self.name}': {root / p.train_dir} has {len(train)} class folders, expected {p.num_classes}",
                path=str(root / p.train_dir),
                hint="set num_classes to the number of classes of this folder (or null) if it is not full ImageNet",
            )
        if train != val:
            only_train = sorted(set(train) - set(val))
            only_val = sorted(set(val) - set(train))
            raise DataError(
                f"dataset '{self.name}': class folders of {root / p.train_dir} and {root / p.val_dir} differ "
                f"(only in train: {only_train[:5]}, only in val: {only_val[:5]})",
                path=str(root),
                hint="both splits need the same <wnid> folders",
            )
        return root, train

    def check(self, params: ImageNetParams, *, data_root: Path) -> None:
        self._classes(params, data_root)

    def load(self, params: ImageNetParams, *, data_root: Path, download: bool) -> Any:
        root, classes = self._classes(params, data_root)
        return _splits(
            self.name, root, params, classes, f"ImageFolder {root / params.train_dir} / {root / params.val_dir}"
        )


class ImageNet100Params(SourceParams):
    """Parameters of ``imagenet100``."""

    path: str = Field(
        "imagenet100", description="an ImageNet-100 folder or a full ImageNet folder (the 100 classes are selected)"
    )
    train_dir: str = "train"
    val_dir: str = "val"


@register_source
class ImageNet100(DataSource):
    """ImageNet-100: the 100 ILSVRC-2012 classes of CMC (Tian et al., 2020), full train set and official val images.

    Labels are the positions of the wnids in sorted order (what ImageFolder gives on a pre-made ImageNet-100
    folder), so results are comparable with solo-learn-style ImageNet-100 pipelines.
    """

    name = "imagenet100"
    description = "ImageNet-100 (CMC class list) from an ImageNet-100 or full ImageNet folder; not downloadable"
    num_classes, train_size, test_size = 100, 126689, 5000
    Params = ImageNet100Params

    def check(self, params: ImageNet100Params, *, data_root: Path) -> None:
        root = resolve(data_root, params.path)
        wnids = imagenet100_classes()
        train, val = _check_split_dirs(self.name, root, params.train_dir, params.val_dir)
        for split_dir, present in ((params.train_dir, train), (params.val_dir, val)):
            missing = [w for w in wnids if w not in set(present)]
            if missing:
                folder = root / split_dir
                raise missing_error(
                    self.name,
                    [folder / w for w in missing],
                    what=f"incomplete ({len(missing)} of the 100 class folders missing in {folder})",
                    hint=f"point 'path' at an ImageNet-100 folder or a full ImageNet folder; the classes are listed in "
                    f"{CLASS_LIST_FILE}; " + _layout(root, params.train_dir, params.val_dir),
                )

    def load(self, params: ImageNet100Params, *, data_root: Path, download: bool) -> Any:
        self.check(params, data_root=data_root)
        root = resolve(data_root, params.path)
        classes = sorted(imagenet100_classes())
        return _splits(
            self.name,
            root,
            params,
            classes,
            f"ImageFolder {root / params.train_dir} / {root / params.val_dir} restricted to the 100 CMC classes "
            f"({CLASS_LIST_FILE.name})",
        )


# ---------------------------------------------------------------------------------------------- Places205
class Places205Params(SourceParams):
    """Parameters of ``places205``."""

    path: str = Field("places205", description="the Places205 release folder under data_root (or absolute)")
    images_dir: str = Field("data/vision/torralba/deeplearning/images256", description="image root inside path")
    train_list: str = Field("trainvalsplit_places205/train_places205.csv", description="train file list inside path")
    val_list: str = Field("trainvalsplit_places205/val_places205.csv", description="validation file list (test split)")


def _read_file_list(name: str, list_file: Path, images: Path) -> tuple[list[str], np.ndarray]:
    """``<relative image path> <label>`` per line (space-separated, as in MIT's release) → (paths, labels)."""
    paths: list[str] = []
    labels: list[int] = []
    for lineno, line in enumerate(list_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DataError(
                f"dataset '{name}': {list_file}:{lineno} is not '<relative image path> <integer label>': {line[:80]!r}",
                path=str(list_file),
                hint="use the file lists of the official Places205 release (trainvalsplit_places205/*.csv)",
            )
        paths.append(str(images / parts[0]))
        labels.append(int(parts[1]))
    return paths, np.asarray(labels, dtype=np.int64)


@register_source
class Places205(DataSource):
    """Places205 (Zhou et al., NeurIPS 2014), read from the official release's file lists; val = the test split.

    The transfer task of Assran et al. (2023) and VISSL (205 scene classes; 2.45 M train / 20.5 k val images). Layout
    of MIT's release (also what mmselfsup and VISSL read)::

        <data_root>/<path>/data/vision/torralba/deeplearning/images256/a/abbey/*.jpg
        <data_root>/<path>/trainvalsplit_places205/train_places205.csv   # "a/abbey/xxx.jpg 0" per line
        <data_root>/<path>/trainvalsplit_places205/val_places205.csv
    """

    name = "places205"
    description = "Places205 from the official release (images256/ + trainvalsplit_places205/*.csv); not downloadable"
    num_classes, train_size, test_size = 205, 2448873, 20500
    Params = Places205Params

    def _files(self, p: Places205Params, data_root: Path) -> tuple[Path, Path, Path]:
        root = resolve(data_root, p.path)
        files = (root / p.images_dir, root / p.train_list, root / p.val_list)
        missing = [f for f in files if not f.exists()]
        if missing:
            raise missing_error(
                self.name, missing,
                hint="download Places205 from http://places.csail.mit.edu (registration required) and unpack it so "
                f"that {files[0]} holds the images and {files[1].parent} the file lists (or set images_dir, "
                "train_list and val_list)",
            )
        return files

    def check(self, params: Places205Params, *, data_root: Path) -> None:
        self._files(params, data_root)

    def load(self, params: Places205Params, *, data_root: Path, download: bool) -> Any:
        from benchmark.data.base import DatasetSplits, LabeledDataset, load_image_file

        images, train_list, val_list = self._files(params, data_root)
        tr_paths, tr_labels = _read_file_list(self.name, train_list, images)
        te_paths, te_labels = _read_file_list(self.name, val_list, images)
        num_classes = int(max(tr_labels.max(initial=-1), te_labels.max(initial=-1))) + 1
        names = {int(y): str(Path(path).parent.relative_to(images)) for path, y in zip(tr_paths, tr_labels, strict=True)}
        if tr_paths and not Path(tr_paths[0]).exists():
            raise missing_error(self.name, [Path(tr_paths[0])], what="images not found where the file list points",
                                hint=f"the paths in {train_list} are relative to images_dir={images}")
        return DatasetSplits(
            name=self.name,
            train=LabeledDataset(tr_paths, tr_labels, get_image=load_image_file),
            test=LabeledDataset(te_paths, te_labels, get_image=load_image_file),
            num_classes=num_classes,
            classes=[names.get(i, str(i)) for i in range(num_classes)],  # e.g. "a/abbey", from the image paths
            train_labels=tr_labels,
            test_labels=te_labels,
            source=f"file lists {train_list} / {val_list}",
            image_size=None,
        )
