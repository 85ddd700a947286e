"""Each source's declared facts (``num_classes``, ``train_size``, ``test_size``, ``image_size``) agree with what its
loader returns, on files written in the real formats (class counts fixed by the format) or on the bundled data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmark.data import DATASETS, load_dataset
from tests.data import fake_formats as ff
from tests.data.test_tv_sources import skip_md5, tv_datasets  # noqa: F401  (fixture)

#: Sources whose facts all depend on the files or parameters given.
UNDECLARED = {"npz", "hf"}


def _flowers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(tv_datasets.flowers102, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    ff.write_flowers102(tmp_path)
    return {}


def _places365(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(tv_datasets.places365, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    ff.write_places365(tmp_path / "places365")
    return {}


#: name → (write the files, return the params); ``classes``: whether the file format fixes the class count.
WRITERS = {
    "cifar10": (lambda p, m: (ff.write_cifar10(p / "c10"), {"path": "c10"})[1], True),
    "cifar100": (lambda p, m: (ff.write_cifar100(p), {})[1], True),
    "stl10": (lambda p, m: (ff.write_stl10(p), {})[1], True),
    "mnist": (lambda p, m: (ff.write_mnist(p / "MNIST" / "raw"), {})[1], True),
    "gtsrb": (lambda p, m: (ff.write_gtsrb(p), {})[1], True),
    "clevr_count": (lambda p, m: (ff.write_clevr(p), {})[1], True),
    "flowers102": (_flowers, True),
    "places365": (_places365, False),  # class count read from the (tiny) category file
    "digits": (lambda p, m: {}, True),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_declared_facts_match_the_loader(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         skip_md5: None) -> None:  # noqa: F811
    write, fixed_classes = WRITERS[name]
    source = DATASETS.get(name)
    splits = load_dataset(name, write(tmp_path, monkeypatch), data_root=tmp_path)
    if fixed_classes:
        assert splits.num_classes == source.num_classes
    if source.image_size is not None:
        assert splits.image_size == source.image_size


def test_bundled_digits_sizes_are_the_declared_ones() -> None:
    splits = load_dataset("digits", {}, data_root=Path("."))
    source = DATASETS.get("digits")
    assert (len(splits.train), len(splits.test), splits.num_classes) == (
        source.train_size, source.test_size, source.num_classes)


def test_every_source_declares_its_class_count_unless_it_depends_on_the_files() -> None:
    for name in DATASETS.names():
        source = DATASETS.get(name)
        if name in UNDECLARED:
            assert source.num_classes is None and source.train_size is None
            continue
        assert isinstance(source.num_classes, int) and source.num_classes >= 2, name
        for fact in (source.train_size, source.test_size, source.image_size):
            assert fact is None or (isinstance(fact, int) and fact > 0), name


def test_bench_plan_reads_the_declared_train_size() -> None:
    from benchmark.suite.plan import declared_train_size

    assert declared_train_size("imagenet") == DATASETS.get("imagenet").train_size == 1281167
    assert declared_train_size("npz") is None
