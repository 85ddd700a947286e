"""Torchvision-backed sources: CIFAR-10/100, MNIST, STL-10, the transfer sets of Assran et al. (ICLR 2023) and VISSL.

All of them take a ``path`` parameter (relative to ``data_root`` or absolute) that is handed to torchvision as its
``root``; torchvision's ``download=`` is honoured only when the caller passes ``download=True``. ``check`` looks only
for the files torchvision needs (no checksum), so ``bench validate`` is instant; ``load`` lets torchvision verify its
md5 checksums where it has them (CIFAR, STL-10, Flowers-102, Places365 file lists) and reports which file failed.

Transfer sets (Assran et al., ICLR 2023, Table 1: IN1K, CIFAR100, Places205, Clevr/Count, Clevr/Dist; iNat18 for
PMSN, §5.2). Places205 is not in torchvision: ``places205`` (:mod:`benchmark.data.folder_sources`) reads the official release;
``places365`` stays available as a substitute, to be reported as a deviation where used.
CLEVR's official test split has no labels; ``clevr_count`` therefore evaluates on the official validation split, as
VISSL's Clevr/Count task does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from benchmark.data.sources import (
    DataSource,
    SourceParams,
    download_hint,
    guarded,
    register_source,
    require_paths,
    resolve,
)
from benchmark.errors import DataError


def _private(ds: Any, attr: str) -> Any:
    """A torchvision dataset's private index attribute (``_labels``, ``_samples``); fails loudly if renamed."""
    try:
        return getattr(ds, attr)
    except AttributeError:
        import torchvision

        raise AttributeError(
            f"torchvision {torchvision.__version__} {type(ds).__name__} has no attribute {attr!r}; "
            "benchmark.data.tv_sources needs updating for this torchvision version"
        ) from None


# ---------------------------------------------------------------------------------------------------------------------
# CIFAR-10 / CIFAR-100


class CifarParams(SourceParams):
    """Parameters of ``cifar10`` / ``cifar100``."""

    path: str = Field("", description="torchvision root under data_root (it holds cifar-10-batches-py/)")


class _Cifar(DataSource):
    Params = CifarParams
    tv_name: ClassVar[str]
    folder: ClassVar[str]
    files: ClassVar[tuple[str, ...]]
    archive_url: ClassVar[str]

    def _dir(self, p: CifarParams, data_root: Path) -> tuple[Path, Path]:
        root = resolve(data_root, p.path)
        return root, root / self.folder

    def _manual(self, root: Path) -> str:
        return f"extract {self.archive_url} into {root} so that {root / self.folder} holds {', '.join(self.files)}"

    def check(self, params: CifarParams, *, data_root: Path) -> None:
        root, folder = self._dir(params, data_root)
        require_paths(
            self.name,
            [folder / f for f in self.files],
            hint=download_hint(root, what=f"the python version of {self.name.upper()}", manual=self._manual(root)),
        )

    def _md5_failures(self, root: Path) -> list[str]:
        from torchvision import datasets as tvd
        from torchvision.datasets.utils import check_integrity

        cls = getattr(tvd, self.tv_name)
        entries = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
        return [f for f, md5 in entries if not check_integrity(str(root / cls.base_folder / f), md5)]

    def load(self, params: CifarParams, *, data_root: Path, download: bool) -> Any:
        from benchmark.data.base import ArrayDataset, DatasetSplits

        root, folder = self._dir(params, data_root)
        if not download:
            self.check(params, data_root=data_root)

        def build() -> tuple[Any, Any]:
            from torchvision import datasets as tvd

            cls = getattr(tvd, self.tv_name)
            if download:
                root.mkdir(parents=True, exist_ok=True)
            return cls(str(root), train=True, download=download), cls(str(root), train=False, download=False)

        try:
            tr, te = guarded(self.name, root, build, download=download, manual=self._manual(root))
        except DataError:
            bad = [] if download else self._md5_failures(root)
            if bad:
                raise DataError(
                    f"dataset '{self.name}': {', '.join(bad)} in {folder} fail torchvision's md5 check "
                    "(corrupt, truncated or not the official files)",
                    path=str(folder / bad[0]),
                    hint=f"delete {folder} and re-run with --download, or {self._manual(root)}",
                ) from None
            raise
        classes = [str(c) for c in tr.classes]
        train = ArrayDataset(tr.data, tr.targets, classes=classes)
        test = ArrayDataset(te.data, te.targets, classes=classes)
        return DatasetSplits(
            name=self.name,
            train=train,
            test=test,
            num_classes=len(classes),
            classes=classes,
            train_labels=train.targets,
            test_labels=test.targets,
            source=f"torchvision.datasets.{self.tv_name} from {folder}",
            image_size=self.image_size,
        )


@register_source
class Cifar10(_Cifar):
    """CIFAR-10 (Krizhevsky, 2009): 50k/10k 32x32 images, 10 classes, torchvision's python-pickle format."""

    name = "cifar10"
    description = "CIFAR-10 via torchvision (50k train / 10k test, 32x32, 10 classes)"
    num_classes, train_size, test_size, image_size = 10, 50000, 10000, 32
    tv_name = "CIFAR10"
    folder = "cifar-10-batches-py"
    files = (
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
        "batches.meta",
    )
    archive_url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@register_source
class Cifar100(_Cifar):
    """CIFAR-100 (Krizhevsky, 2009): 50k/10k 32x32 images, 100 fine classes (coarse labels are not used)."""

    name = "cifar100"
    description = "CIFAR-100 via torchvision (50k train / 10k test, 32x32, 100 fine classes)"
    num_classes, train_size, test_size, image_size = 100, 50000, 10000, 32
    tv_name = "CIFAR100"
    folder = "cifar-100-python"
    files = ("train", "test", "meta")
    archive_url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"


# ---------------------------------------------------------------------------------------------------------------------
# MNIST


class MnistParams(SourceParams):
    """Parameters of ``mnist``."""

    path: str = Field("", description="torchvision root under data_root (it holds MNIST/raw/)")


@register_source
class Mnist(DataSource):
    """MNIST (LeCun et al., 1998): 60k/10k 28x28 grayscale digits, 10 classes, the idx-ubyte files.

    Images are repeated to RGB like every source's; :mod:`benchmark.data.overlay_sources` pastes them into other
    images (the toy experiment of Assran et al., ICLR 2023, §5.1).
    """

    name = "mnist"
    description = "MNIST via torchvision (60k train / 10k test, 28x28 grayscale as RGB, 10 classes)"
    num_classes, train_size, test_size, image_size = 10, 60000, 10000, 28
    Params = MnistParams
    folder = "MNIST/raw"
    files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

    def _manual(self, root: Path) -> str:
        return (
            "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            f"t10k-labels-idx1-ubyte.gz (https://ossci-datasets.s3.amazonaws.com/mnist/) and gunzip them into "
            f"{root / self.folder}"
        )

    def check(self, params: MnistParams, *, data_root: Path) -> None:
        root = resolve(data_root, params.path)
        require_paths(
            self.name,
            [root / self.folder / f for f in self.files],
            hint=download_hint(root, what="MNIST (11 MB)", manual=self._manual(root)),
        )

    def load(self, params: MnistParams, *, data_root: Path, download: bool) -> Any:
        from benchmark.data.base import ArrayDataset, DatasetSplits

        root = resolve(data_root, params.path)
        if not download:
            self.check(params, data_root=data_root)

        def build() -> tuple[Any, Any]:
            from torchvision.datasets import MNIST

            if download:
                root.mkdir(parents=True, exist_ok=True)
            return MNIST(str(root), train=True, download=download), MNIST(str(root), train=False, download=False)

        tr, te = guarded(self.name, root, build, download=download, manual=self._manual(root))
        classes = [str(d) for d in range(self.num_classes)]
        train = ArrayDataset(tr.data.numpy(), tr.targets.numpy(), classes=classes)
        test = ArrayDataset(te.data.numpy(), te.targets.numpy(), classes=classes)
        return DatasetSplits(
            name=self.name,
            train=train,
            test=test,
            num_classes=self.num_classes,
            classes=classes,
            train_labels=train.targets,
            test_labels=test.targets,
            source=f"torchvision.datasets.MNIST from {root / self.folder}",
            image_size=self.image_size,
        )


# ---------------------------------------------------------------------------------------------------------------------
# STL-10


class Stl10Params(SourceParams):
    """Parameters of ``stl10`` (labelled train / test splits)."""

    path: str = Field("", description="torchvision root under data_root (it holds stl10_binary/)")
    folds: int | None = Field(
        None, ge=0, le=9, description="one of the 10 predefined 1k-image training folds; None = all 5k training images"
    )


@register_source
class Stl10(DataSource):
    """STL-10 (Coates et al., 2011): labelled 5k train / 8k test 96x96 images, 10 classes, binary format.

    torchvision's integrity check also requires ``unlabeled_X.bin``, so it is listed among the expected files even
    though only the labelled splits are returned.
    """

    name = "stl10"
    description = "STL-10 via torchvision, labelled train (5k) / test (8k), 96x96, 10 classes"
    num_classes, train_size, test_size, image_size = 10, 5000, 8000, 96  # train: 1000 with ``folds``
    Params = Stl10Params
    folder = "stl10_binary"
    files = ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "unlabeled_X.bin")
    archive_url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"

    def _manual(self, root: Path) -> str:
        return f"extract {self.archive_url} into {root} so that {root / self.folder} holds {', '.join(self.files)}"

    def check(self, params: Stl10Params, *, data_root: Path) -> None:
        root = resolve(data_root, params.path)
        files = [*self.files, *(["fold_indices.txt"] if params.folds is not None else [])]
        require_paths(
            self.name,
            [root / self.folder / f for f in files],
            hint=download_hint(root, what="STL-10 (2.6 GB)", manual=self._manual(root)),
        )

    def load(self, params: Stl10Params, *, data_root: Path, download: bool) -> Any:
        from benchmark.data.base import ArrayDataset, DatasetSplits

        root = resolve(data_root, params.path)
        if not download:
            self.check(params, data_root=data_root)

        def build() -> tuple[Any, Any]:
            from torchvision.datasets import STL10

            if download:
                root.mkdir(parents=True, exist_ok=True)
            tr = STL10(str(root), split="train", folds=params.folds, download=download)
            return tr, STL10(str(root), split="test", download=False)

        tr, te = guarded(self.name, root, build, download=download, manual=self._manual(root))
        classes = [str(c) for c in getattr(tr, "classes", None) or STL10_CLASSES]
        # torchvision keeps STL-10 as (N, C, H, W) after undoing the column-major file order; ArrayDataset wants NHWC.
        train = ArrayDataset(tr.data.transpose(0, 2, 3, 1), tr.labels, classes=classes)
        test = ArrayDataset(te.data.transpose(0, 2, 3, 1), te.labels, classes=classes)
        return DatasetSplits(
            name=self.name,
            train=train,
            test=test,
            num_classes=self.num_classes,
            classes=classes,
            train_labels=train.targets,
            test_labels=test.targets,
            source=f"torchvision.datasets.STL10 from {root / self.folder}"
            + (f" (training fold {params.folds})" if params.folds is not None else ""),
            image_size=self.image_size,
        )


#: STL-10 class names in label order (the dataset's class_names.txt), used when that file is absent.
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


# ---------------------------------------------------------------------------------------------------------------------
# Transfer sets (file-backed, images decoded on access)


class _Transfer(DataSource):
    """Common load flow of the file-backed torchvision transfer sets.

    Subclasses give the expected paths, how to build one torchvision split, and how to read its labels and class
    names from torchvision's index without decoding images.
    """

    tv_name: ClassVar[str]

    def expected(self, p: Any, root: Path) -> list[Path]:
        raise NotImplementedError

    def manual(self, root: Path) -> str:
        raise NotImplementedError

    def split_names(self, p: Any) -> tuple[list[str], list[str]]:
        """torchvision split names making up (train, test); ``trainval`` concatenates train and val."""
        train = getattr(p, "train_split", "train")
        test = getattr(p, "test_split", "test")
        return (["train", "val"] if train == "trainval" else [train]), [test]

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        raise NotImplementedError

    def labels(self, ds: Any) -> np.ndarray:
        return np.asarray(_private(ds, "_labels"), dtype=np.int64)

    def classes(self, ds: Any) -> list[str]:
        return [str(c) for c in ds.classes]

    def root(self, p: Any, data_root: Path) -> Path:
        return resolve(data_root, p.path)

    def check(self, params: Any, *, data_root: Path) -> None:
        root = self.root(params, data_root)
        require_paths(
            self.name,
            self.expected(params, root),
            hint=download_hint(root, what=f"{self.name} with torchvision", manual=self.manual(root)),
        )

    def load(self, params: Any, *, data_root: Path, download: bool) -> Any:
        import torch.utils.data

        from benchmark.data.base import DatasetSplits, LabeledDataset

        root = self.root(params, data_root)
        if not download:
            self.check(params, data_root=data_root)
        train_names, test_names = self.split_names(params)

        def build_all() -> tuple[list[Any], list[Any]]:
            from torchvision import datasets as tvd

            if download:
                root.mkdir(parents=True, exist_ok=True)
            train = [self.build(tvd, params, root, s, download) for s in train_names]
            test = [self.build(tvd, params, root, s, download) for s in test_names]
            return train, test

        train_parts, test_parts = guarded(self.name, root, build_all, download=download, manual=self.manual(root))
        classes = self.classes(train_parts[0])

        def combine(parts: list[Any]) -> tuple[Any, np.ndarray]:
            labels = np.concatenate([self.labels(d) for d in parts])
            base = parts[0] if len(parts) == 1 else torch.utils.data.ConcatDataset(parts)
            return LabeledDataset(base, labels), labels

        train, train_labels = combine(train_parts)
        test, test_labels = combine(test_parts)
        return DatasetSplits(
            name=self.name,
            train=train,
            test=test,
            num_classes=len(classes),
            classes=classes,
            train_labels=train_labels,
            test_labels=test_labels,
            source=f"torchvision.datasets.{self.tv_name} from {root} "
            f"(train: {'+'.join(train_names)}, test: {'+'.join(test_names)})",
            image_size=self.image_size,
        )


class PathOnlyParams(SourceParams):
    """Parameters of transfer sets with fixed official splits."""

    path: str = Field("", description="torchvision root under data_root")


@register_source
class Food101(_Transfer):
    """Food-101 (Bossard et al., 2014): 75,750 train / 25,250 test images, 101 classes."""

    name = "food101"
    description = "Food-101 via torchvision (official train/test, 101 classes)"
    num_classes, train_size, test_size = 101, 75750, 25250
    Params = PathOnlyParams
    tv_name = "Food101"

    def expected(self, p: Any, root: Path) -> list[Path]:
        base = root / "food-101"
        return [base / "images", base / "meta" / "train.json", base / "meta" / "test.json"]

    def manual(self, root: Path) -> str:
        return f"extract http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz into {root} (giving {root / 'food-101'})"

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        return tvd.Food101(str(root), split=split, download=download)


class SplitParams(SourceParams):
    """Parameters of transfer sets with train/val/test splits."""

    path: str = Field("", description="torchvision root under data_root")
    train_split: Literal["train", "val", "trainval"] = Field(
        "train", description="training split; 'trainval' concatenates train and val (e.g. after model selection)"
    )
    test_split: Literal["val", "test"] = "test"


@register_source
class Flowers102(_Transfer):
    """Oxford Flowers-102 (Nilsback & Zisserman, 2008): 1,020 train / 1,020 val / 6,149 test images, 102 classes."""

    name = "flowers102"
    description = "Oxford Flowers-102 via torchvision (train/val/test, 102 classes)"
    num_classes, train_size, test_size = 102, 1020, 6149
    Params = SplitParams
    tv_name = "Flowers102"

    def expected(self, p: Any, root: Path) -> list[Path]:
        base = root / "flowers-102"
        return [base / "jpg", base / "imagelabels.mat", base / "setid.mat"]

    def manual(self, root: Path) -> str:
        return (
            "download 102flowers.tgz, imagelabels.mat and setid.mat from https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ "
            f"into {root / 'flowers-102'} (extracting the images to {root / 'flowers-102' / 'jpg'})"
        )

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        return tvd.Flowers102(str(root), split=split, download=download)


class DtdParams(SplitParams):
    """Parameters of ``dtd``: the splits plus which of the 10 official partitions."""

    partition: int = Field(1, ge=1, le=10, description="official DTD train/val/test partition (1..10)")


@register_source
class Dtd(_Transfer):
    """Describable Textures (Cimpoi et al., 2014): 47 classes, 40 train / 40 val / 40 test images per class."""

    name = "dtd"
    description = "Describable Textures via torchvision (47 classes, partition 1..10)"
    num_classes, train_size, test_size = 47, 1880, 1880
    Params = DtdParams
    tv_name = "DTD"

    def expected(self, p: Any, root: Path) -> list[Path]:
        base = root / "dtd" / "dtd"
        names = {"train", "val", "test"} & {*self.split_names(p)[0], *self.split_names(p)[1]}
        return [base / "images", *[base / "labels" / f"{s}{p.partition}.txt" for s in sorted(names)]]

    def manual(self, root: Path) -> str:
        return (
            "extract https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz into "
            f"{root / 'dtd'} (giving {root / 'dtd' / 'dtd' / 'images'} and .../labels)"
        )

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        return tvd.DTD(str(root), split=split, partition=p.partition, download=download)


@register_source
class Gtsrb(_Transfer):
    """German Traffic Sign Recognition Benchmark (Stallkamp et al., 2012): 26,640 train / 12,630 test, 43 classes."""

    name = "gtsrb"
    description = "GTSRB via torchvision (official train/test, 43 classes)"
    num_classes, train_size, test_size = 43, 26640, 12630
    Params = PathOnlyParams
    tv_name = "GTSRB"

    def expected(self, p: Any, root: Path) -> list[Path]:
        base = root / "gtsrb"
        return [base / "GTSRB" / "Training", base / "GTSRB" / "Final_Test" / "Images", base / "GT-final_test.csv"]

    def manual(self, root: Path) -> str:
        return (
            "extract GTSRB-Training_fixed.zip, GTSRB_Final_Test_Images.zip and GTSRB_Final_Test_GT.zip "
            f"(https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/) into {root / 'gtsrb'}"
        )

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        return tvd.GTSRB(str(root), split=split, download=download)

    def labels(self, ds: Any) -> np.ndarray:
        samples = _private(ds, "_samples")
        if getattr(ds, "_split", "train") == "train":
            # torchvision numbers the training folders by sorted position; the folder name is the class id itself
            # (00000..00042), which is what the test CSV's ClassId uses, so read it from the path.
            return np.asarray([int(Path(p).parent.name) for p, _ in samples], dtype=np.int64)
        return np.asarray([t for _, t in samples], dtype=np.int64)

    def classes(self, ds: Any) -> list[str]:
        return [f"{i:05d}" for i in range(self.num_classes)]  # GTSRB class folders 00000..00042 (torchvision gives no names)


#: CLEVR scenes contain 3 to 10 objects (Johnson et al., 2017), so Clevr/Count is an 8-way classification.
CLEVR_COUNTS = tuple(range(3, 11))


@register_source
class ClevrCount(_Transfer):
    """CLEVR/Count (VTAB/VISSL): predict the number of objects (3..10 → classes 0..7) from the CLEVR v1.0 images.

    The official test split has no scene annotations, so evaluation uses the official validation split (15k images).
    """

    name = "clevr_count"
    description = "CLEVR object counting via torchvision CLEVRClassification (train 70k / val 15k as test, 8 classes)"
    num_classes, train_size, test_size = len(CLEVR_COUNTS), 70000, 15000
    Params = PathOnlyParams
    tv_name = "CLEVRClassification"

    def split_names(self, p: Any) -> tuple[list[str], list[str]]:
        return ["train"], ["val"]

    def expected(self, p: Any, root: Path) -> list[Path]:
        base = root / "clevr" / "CLEVR_v1.0"
        return [
            base / "images" / "train",
            base / "images" / "val",
            base / "scenes" / "CLEVR_train_scenes.json",
            base / "scenes" / "CLEVR_val_scenes.json",
        ]

    def manual(self, root: Path) -> str:
        return f"extract https://dl.fbaipublicfiles.com/clevr/CLEVR_v1.0.zip into {root / 'clevr'}"

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        return tvd.CLEVRClassification(str(root), split=split, download=download)

    def labels(self, ds: Any) -> np.ndarray:
        counts = np.asarray(_private(ds, "_labels"), dtype=np.int64)
        bad = counts[(counts < CLEVR_COUNTS[0]) | (counts > CLEVR_COUNTS[-1])]
        if bad.size:
            raise DataError(
                f"dataset 'clevr_count': scenes with {sorted(set(bad.tolist()))[:5]} objects; CLEVR has 3 to 10",
                hint="the scene json files do not look like CLEVR v1.0",
            )
        return counts - CLEVR_COUNTS[0]

    def classes(self, ds: Any) -> list[str]:
        return [str(c) for c in CLEVR_COUNTS]


class Places365Params(SourceParams):
    """Parameters of ``places365``."""

    path: str = Field("places365", description="torchvision root under data_root (holds the file lists and images)")
    train_split: Literal["train-standard", "train-challenge"] = "train-standard"
    small: bool = Field(True, description="use the 256x256 images (True) or the high-resolution ones")


@register_source
class Places365(_Transfer):
    """Places365 (Zhou et al., 2017), evaluated on the official validation split (36,500 images, 365 classes).

    A substitute for Places205 (used by Assran et al. 2023 and VISSL; see ``places205``) when that release is not at hand.
    """

    name = "places365"
    description = "Places365 via torchvision (train-standard / val as test, 365 classes); Places205 substitute"
    num_classes, train_size, test_size, image_size = 365, 1803460, 36500, 256  # image_size: small=True
    Params = Places365Params
    tv_name = "Places365"

    def split_names(self, p: Any) -> tuple[list[str], list[str]]:
        return [p.train_split], ["val"]

    def expected(self, p: Any, root: Path) -> list[Path]:
        size = "256" if p.small else "large"
        variant = "challenge" if "challenge" in p.train_split else "standard"
        return [
            root / "categories_places365.txt",
            root / f"places365_{p.train_split.replace('-', '_')}.txt",
            root / "places365_val.txt",
            root / f"data_{size}_{variant}",
            root / f"val_{size}",
        ]

    def manual(self, root: Path) -> str:
        return (
            "download the devkit (filelist_places365-standard.tar) and the image archives "
            f"(train_256_places365standard.tar, val_256.tar) from http://data.csail.mit.edu/places/places365/ into {root}"
        )

    def build(self, tvd: Any, p: Any, root: Path, split: str, download: bool) -> Any:
        return tvd.Places365(str(root), split=split, small=p.small, download=download)

    def labels(self, ds: Any) -> np.ndarray:
        return np.asarray(ds.targets, dtype=np.int64)

    def classes(self, ds: Any) -> list[str]:
        names = [""] * len(ds.class_to_idx)
        for name, idx in ds.class_to_idx.items():
            names[idx] = name
        return names

    def load(self, params: Any, *, data_root: Path, download: bool) -> Any:
        splits = super().load(params, data_root=data_root, download=download)
        if not params.small:
            splits.image_size = None  # the high-resolution images have no common size
        return splits


# ---------------------------------------------------------------------------------------------------------------------
# iNaturalist 2018


class INaturalistParams(SourceParams):
    """Parameters of ``inaturalist``."""

    path: str = Field("inaturalist", description="torchvision root under data_root")
    version: Literal["2018"] = Field("2018", description="competition year (only 2018, as in Assran et al. 2023)")


#: Official iNat2018 annotation archives (https://github.com/visipedia/inat_comp/tree/master/2018).
INAT2018_ANNOTATIONS = {
    "train2018.json": "https://ml-inat-competition-datasets.s3.amazonaws.com/2018/train2018.json.tar.gz",
    "val2018.json": "https://ml-inat-competition-datasets.s3.amazonaws.com/2018/val2018.json.tar.gz",
}


@register_source
class INaturalist(_Transfer):
    """iNaturalist 2018 (Van Horn et al., 2018): 437,513 train / 24,426 val images, 8,142 long-tailed species.

    torchvision's ``INaturalist(version="2018")`` downloads and indexes all images of ``train_val2018`` without the
    official train/val partition, so the split comes from the official ``train2018.json`` / ``val2018.json``
    annotation files (downloaded next to the images with ``--download``). Evaluation uses the val split.
    """

    name = "inaturalist"
    description = "iNaturalist 2018 (images via torchvision, official train2018/val2018 json split, 8142 classes)"
    num_classes, train_size, test_size = 8142, 437513, 24426
    Params = INaturalistParams
    tv_name = "INaturalist"

    def _image_dir(self, root: Path) -> Path:
        # torchvision renames the extracted train_val2018/ to 2018/; a manual extraction keeps the original name.
        renamed, original = root / "2018", root / "train_val2018"
        return original if (original.exists() and not renamed.exists()) else renamed

    def expected(self, p: Any, root: Path) -> list[Path]:
        return [self._image_dir(root), *[root / f for f in INAT2018_ANNOTATIONS]]

    def manual(self, root: Path) -> str:
        return (
            f"extract train_val2018.tar.gz into {root} (as {root / 'train_val2018'} or {root / '2018'}) and "
            f"train2018.json.tar.gz / val2018.json.tar.gz into {root} (https://github.com/visipedia/inat_comp, 2018)"
        )

    def load(self, params: Any, *, data_root: Path, download: bool) -> Any:
        from benchmark.data.base import DatasetSplits, LabeledDataset, load_image_file

        root = self.root(params, data_root)
        if download:

            def fetch() -> None:
                from torchvision.datasets import INaturalist as TvINat
                from torchvision.datasets.utils import download_and_extract_archive

                root.mkdir(parents=True, exist_ok=True)
                if not self._image_dir(root).exists():
                    TvINat(str(root), version="2018", download=True)
                for fname, url in INAT2018_ANNOTATIONS.items():
                    if not (root / fname).exists():
                        download_and_extract_archive(url, download_root=str(root))

            guarded(self.name, root, fetch, download=True, manual=self.manual(root))
        self.check(params, data_root=data_root)
        image_dir = self._image_dir(root)

        def read(fname: str) -> tuple[list[str], np.ndarray, list[str]]:
            with open(root / fname) as f:
                meta = json.load(f)
            cats = {int(c["id"]): str(c.get("name", c["id"])) for c in meta["categories"]}
            label_of = {int(a["image_id"]): int(a["category_id"]) for a in meta["annotations"]}
            paths, labels = [], []
            for img in meta["images"]:
                rel = Path(img["file_name"])
                rel = Path(*rel.parts[1:]) if rel.parts and rel.parts[0] == "train_val2018" else rel
                paths.append(str(image_dir / rel))
                labels.append(label_of[int(img["id"])])
            n = max(cats) + 1
            return paths, np.asarray(labels, dtype=np.int64), [cats.get(i, str(i)) for i in range(n)]

        (tr_paths, tr_labels, classes), (te_paths, te_labels, _) = guarded(
            self.name,
            root,
            lambda: (read("train2018.json"), read("val2018.json")),
            download=False,
            manual=self.manual(root),
        )
        return DatasetSplits(
            name=self.name,
            train=LabeledDataset(tr_paths, tr_labels, get_image=load_image_file),
            test=LabeledDataset(te_paths, te_labels, get_image=load_image_file),
            num_classes=len(classes),
            classes=classes,
            train_labels=tr_labels,
            test_labels=te_labels,
            source=f"iNaturalist 2018 images in {image_dir}, split by {root / 'train2018.json'} / {root / 'val2018.json'}",
            image_size=None,
        )
