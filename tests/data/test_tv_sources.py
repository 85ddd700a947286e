"""Torchvision-backed sources load tiny files written in the real on-disk formats; failures become DataError."""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import load_dataset
from benchmark.errors import DataError
from tests.data import fake_formats as ff

tv_datasets = pytest.importorskip("torchvision.datasets")


@pytest.fixture
def skip_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace torchvision's md5 verification of CIFAR/STL-10 files by an existence check.

    torchvision 0.29 ``CIFAR10._check_integrity`` / ``STL10._check_integrity`` call
    ``torchvision.datasets.utils.check_integrity(path, md5)`` with the md5 of the *official* files, so tiny files
    written by a test can never pass. Only that module-level name is replaced (an existence check); the parsing of
    the pickles / binaries, which is what these tests exercise, stays torchvision's own.
    """

    def exists(fpath: str, md5: str | None = None) -> bool:
        return os.path.isfile(fpath)

    monkeypatch.setattr(tv_datasets.cifar, "check_integrity", exists)
    monkeypatch.setattr(tv_datasets.stl10, "check_integrity", exists)
    monkeypatch.setattr(tv_datasets.utils, "check_integrity", exists)  # used by the loader's md5 diagnosis


def test_cifar10_python_batches(tmp_path: Path, skip_md5: None) -> None:
    written = ff.write_cifar10(tmp_path / "c10")
    splits = load_dataset("cifar10", {"path": "c10"}, data_root=tmp_path)
    assert splits.num_classes == 10 and splits.classes == written["classes"] and splits.image_size == 32
    assert len(splits.train) == 30 and len(splits.test) == 5
    np.testing.assert_array_equal(splits.train.images, written["x_train"])
    np.testing.assert_array_equal(splits.train_labels, written["y_train"])
    np.testing.assert_array_equal(splits.test_labels, written["y_test"])
    img, label = splits.test[3]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(img), written["x_test"][3])
    assert label == written["y_test"][3] and isinstance(label, int)
    assert str(tmp_path / "c10" / "cifar-10-batches-py") in splits.source


def test_cifar100_fine_labels(tmp_path: Path, skip_md5: None) -> None:
    written = ff.write_cifar100(tmp_path)
    splits = load_dataset("cifar100", {}, data_root=tmp_path)
    assert splits.num_classes == 100 and splits.classes[7] == "fine_07"
    np.testing.assert_array_equal(splits.train_labels, written["y_train"])  # fine, not coarse, labels
    np.testing.assert_array_equal(splits.test.images, written["x_test"])


def test_stl10_binary_column_major(tmp_path: Path, skip_md5: None) -> None:
    written = ff.write_stl10(tmp_path)
    splits = load_dataset("stl10", {}, data_root=tmp_path)
    assert splits.num_classes == 10 and splits.image_size == 96 and splits.classes[2] == "car"
    np.testing.assert_array_equal(splits.train_labels, written["y_train"])  # 1-based on disk → 0-based
    np.testing.assert_array_equal(splits.test.images, written["x_test"])  # column-major on disk → HWC
    img, _ = splits.train[0]
    np.testing.assert_array_equal(np.asarray(img), written["x_train"][0])


def test_cifar_checksum_failure_names_the_file(tmp_path: Path) -> None:
    """Without the md5 bypass the fake files fail torchvision's check: a DataError naming them, not a traceback."""
    ff.write_cifar10(tmp_path)
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", {}, data_root=tmp_path)
    text = str(err.value)
    assert "md5" in text and "data_batch_1" in text and str(tmp_path / "cifar-10-batches-py") in text
    assert "--download" in text


def test_truncated_cifar_batch_is_dataerror(tmp_path: Path, skip_md5: None) -> None:
    ff.write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    with pytest.raises(DataError, match="could not be read") as err:
        load_dataset("cifar10", {}, data_root=tmp_path)
    assert str(tmp_path) in str(err.value) and "--download" in str(err.value)


def _no_network(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


@pytest.mark.parametrize(
    ("name", "module"), [("cifar10", "cifar"), ("stl10", "stl10"), ("food101", "food101"), ("mnist", "mnist")]
)
def test_failed_download_is_dataerror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, module: str) -> None:
    monkeypatch.setattr(getattr(tv_datasets, module), "download_and_extract_archive", _no_network)
    with pytest.raises(DataError) as err:
        load_dataset(name, {}, data_root=tmp_path / "dl", download=True)
    text = str(err.value)
    assert f"dataset '{name}'" in text and "downloading" in text and str(tmp_path / "dl") in text
    assert "name resolution" in text and "network" in text


def test_download_flag_is_not_forwarded_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """download=False must never reach the network: missing files stop at the presence check."""
    calls = []
    monkeypatch.setattr(tv_datasets.cifar, "download_and_extract_archive", lambda *a, **k: calls.append(a))
    with pytest.raises(DataError, match="not found"):
        load_dataset("cifar10", {}, data_root=tmp_path)
    assert calls == []


def test_food101(tmp_path: Path) -> None:
    written = ff.write_food101(tmp_path)
    splits = load_dataset("food101", {}, data_root=tmp_path)
    assert splits.classes == written["classes"] and splits.num_classes == 3
    assert len(splits.train) == written["n_train"] and sorted(set(splits.train_labels.tolist())) == [0, 1, 2]
    img, label = splits.train[0]
    assert img.mode == "RGB" and label == splits.train_labels[0]


def test_dtd_splits_and_trainval(tmp_path: Path) -> None:
    written = ff.write_dtd(tmp_path)
    splits = load_dataset("dtd", {}, data_root=tmp_path)
    assert splits.classes == written["classes"]
    assert len(splits.train) == 3 * written["counts"]["train"] and len(splits.test) == 3 * written["counts"]["test"]
    both = load_dataset("dtd", {"train_split": "trainval"}, data_root=tmp_path)
    assert len(both.train) == 3 * (written["counts"]["train"] + written["counts"]["val"])
    assert np.bincount(both.train_labels).tolist() == [3, 3, 3]
    img, label = both.train[len(both.train) - 1]  # an image from the val part of the concatenation
    assert img.mode == "RGB" and label == both.train_labels[-1]


def test_clevr_count_maps_counts_to_classes(tmp_path: Path) -> None:
    written = ff.write_clevr(tmp_path)
    splits = load_dataset("clevr_count", {}, data_root=tmp_path)
    assert splits.classes == [str(c) for c in range(3, 11)] and splits.num_classes == 8
    # torchvision sorts image files; the writer numbers them in order, so labels follow the written counts.
    np.testing.assert_array_equal(splits.train_labels, np.asarray(written["counts"]["train"]) - 3)
    np.testing.assert_array_equal(splits.test_labels, np.asarray(written["counts"]["val"]) - 3)  # val is the test


def test_clevr_count_rejects_impossible_counts(tmp_path: Path) -> None:
    ff.write_clevr(tmp_path, counts={"train": [3, 12], "val": [4]})
    with pytest.raises(DataError, match="3 to 10"):
        load_dataset("clevr_count", {}, data_root=tmp_path)


def test_gtsrb_labels_are_folder_class_ids(tmp_path: Path) -> None:
    written = ff.write_gtsrb(tmp_path)
    splits = load_dataset("gtsrb", {}, data_root=tmp_path)
    assert splits.num_classes == 43
    assert splits.train_labels.tolist() == written["train_y"]  # 00042 → 42 even though only 3 folders exist
    assert splits.test_labels.tolist() == written["test_y"]


@pytest.mark.parametrize("image_dir", ["2018", "train_val2018"])
def test_inaturalist_uses_official_json_split(tmp_path: Path, image_dir: str) -> None:
    written = ff.write_inat2018(tmp_path / "inat", image_dir=image_dir)
    splits = load_dataset("inaturalist", {"path": "inat"}, data_root=tmp_path)
    assert splits.train_labels.tolist() == written["train_y"] and splits.test_labels.tolist() == written["test_y"]
    assert splits.classes == written["classes"]
    img, label = splits.test[0]
    assert img.mode == "RGB" and img.size == (8, 8) and label == written["test_y"][0]


def test_places365_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # torchvision verifies the devkit file lists against the official md5s; fake lists need an existence check.
    monkeypatch.setattr(tv_datasets.places365, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    written = ff.write_places365(tmp_path / "places365")
    splits = load_dataset("places365", {}, data_root=tmp_path)
    assert splits.classes == written["classes"] and splits.num_classes == 3 and splits.image_size == 256
    assert splits.train_labels.tolist() == written["train_y"] and splits.test_labels.tolist() == written["test_y"]
    assert splits.test[1][0].mode == "RGB"


def test_places365_missing_images_caught_by_check(tmp_path: Path) -> None:
    """torchvision only checks the file lists; the presence check also requires the image folders."""
    ff.write_places365(tmp_path / "places365")
    import shutil

    shutil.rmtree(tmp_path / "places365" / "val_256")
    with pytest.raises(DataError, match="val_256"):
        load_dataset("places365", {}, data_root=tmp_path)


def test_flowers102_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("scipy")
    monkeypatch.setattr(tv_datasets.flowers102, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    written = ff.write_flowers102(tmp_path)
    splits = load_dataset("flowers102", {"train_split": "trainval"}, data_root=tmp_path)
    assert splits.num_classes == 102 and splits.classes[0] == "pink primrose"
    assert splits.train_labels.tolist() == written["train_y"] + written["val_y"]
    assert splits.test_labels.tolist() == written["test_y"]


def test_stl10_fold(tmp_path: Path, skip_md5: None) -> None:
    written = ff.write_stl10(tmp_path)
    with pytest.raises(DataError, match="fold_indices.txt"):
        load_dataset("stl10", {"folds": 1}, data_root=tmp_path)
    folds = ["0 1 2", "3 5 7 11"]  # one line of 0-based training indices per fold
    (tmp_path / "stl10_binary" / "fold_indices.txt").write_text("\n".join(folds) + "\n")
    splits = load_dataset("stl10", {"folds": 1}, data_root=tmp_path)
    np.testing.assert_array_equal(splits.train_labels, written["y_train"][[3, 5, 7, 11]])
    assert "fold 1" in splits.source
