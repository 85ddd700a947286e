"""``npz`` (valid layouts, every kind of corrupt file, the real CIFAR-10 subset) and the offline ``digits``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.data import load_dataset
from benchmark.errors import DataError
from tests.data import fake_formats as ff

SHARED_NPZ = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "cifar10_subset.npz"


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHW"])
def test_npz_layouts(tmp_path: Path, layout: str) -> None:
    expected = ff.write_npz(tmp_path / "d.npz", layout=layout)
    splits = load_dataset("npz", {"path": "d.npz"}, data_root=tmp_path)
    np.testing.assert_array_equal(splits.train.images, expected["x_train"])
    np.testing.assert_array_equal(splits.test_labels, expected["y_test"])
    assert splits.num_classes == 4 and splits.classes is None and splits.image_size == 8
    img, label = splits.train[0]
    assert img.mode == "RGB" and img.size == (8, 8) and label == expected["y_train"][0]


def test_npz_classes_from_file_and_params(tmp_path: Path) -> None:
    ff.write_npz(tmp_path / "d.npz", classes=np.asarray(["a", "b", "c", "d", "e"]))
    splits = load_dataset("npz", {"path": str(tmp_path / "d.npz")}, data_root="/unused")
    assert splits.classes == ["a", "b", "c", "d", "e"] and splits.num_classes == 5  # classes fix C, not max label
    splits = load_dataset("npz", {"path": "d.npz", "classes": list("wxyzv")}, data_root=tmp_path)
    assert splits.classes == list("wxyzv")


def test_truncated_npz(tmp_path: Path) -> None:
    ff.write_npz(tmp_path / "d.npz")
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="not a readable .npz archive") as err:
        load_dataset("npz", {"path": "d.npz"}, data_root=tmp_path)
    assert err.value.path == str(tmp_path / "d.npz")


def test_npz_that_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("npz", {"path": "text.npz"}, data_root=tmp_path)
    np.save(tmp_path / "arr.npy", np.zeros(3))
    with pytest.raises(DataError, match="single .npy array"):
        load_dataset("npz", {"path": "arr.npy"}, data_root=tmp_path)


def test_npz_wrong_keys(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 4, 4, 3), np.uint8), labels=np.zeros(2, np.int64))
    with pytest.raises(DataError) as err:
        load_dataset("npz", {"path": "d.npz"}, data_root=tmp_path)
    assert "lacks array(s) x_train, y_train, x_test, y_test" in str(err.value) and "images, labels" in str(err.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"y_train": np.zeros(19, np.int64)}, "x_train has 20 images but y_train has 19 labels"),
        ({"y_test": np.full(10, -1)}, "outside \\[0, "),
        ({"x_train": np.zeros((20, 8, 8, 3), np.float32)}, "must be uint8"),
        ({"x_test": np.zeros((10, 8, 8, 5), np.uint8)}, "got shape \\(10, 8, 8, 5\\)"),
        ({"y_train": np.linspace(0, 1, 20)}, "integer class indices"),
    ],
)
def test_npz_inconsistent_contents(tmp_path: Path, override: dict, message: str) -> None:
    ff.write_npz(tmp_path / "d.npz", **override)
    with pytest.raises(DataError, match=message):
        load_dataset("npz", {"path": "d.npz"}, data_root=tmp_path)


def test_npz_labels_outside_given_classes(tmp_path: Path) -> None:
    ff.write_npz(tmp_path / "d.npz", num_classes=4)
    with pytest.raises(DataError, match="for the 2 classes given"):
        load_dataset("npz", {"path": "d.npz", "classes": ["a", "b"]}, data_root=tmp_path)


def test_shared_cifar10_subset_through_npz() -> None:
    if not SHARED_NPZ.exists():
        pytest.skip(f"real CIFAR-10 subset not found at {SHARED_NPZ.resolve()} (optional, ../shared beside the repo)")
    splits = load_dataset("npz", {"path": str(SHARED_NPZ)}, data_root="/unused")
    assert len(splits.train) == 8336 and len(splits.test) == 1017  # datasets/README.md
    assert splits.num_classes == 10 and splits.classes[0] == "airplane" and splits.classes[-1] == "truck"
    counts = splits.class_counts("train")
    assert counts.min() >= 807 and counts.max() <= 879  # "about 830 per class (807 to 879)"
    img, _ = splits.train[0]
    assert img.mode == "RGB" and img.size == (32, 32)


def test_digits_offline(tmp_path: Path) -> None:
    splits = load_dataset("digits", {"size": 24}, data_root=tmp_path / "nowhere")
    assert splits.num_classes == 10 and splits.classes == [str(d) for d in range(10)] and splits.image_size == 24
    assert len(splits.train) + len(splits.test) == 1797  # the UCI optdigits copy bundled with scikit-learn
    img, label = splits.train[0]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (24, 24) and 0 <= label < 10
    arr = np.asarray(img)
    assert np.array_equal(arr[..., 0], arr[..., 1]) and arr.max() > arr.min()  # gray replicated, not blank
    # stratified: every class in both splits in (almost) the dataset's proportion
    tr, te = splits.class_counts("train"), splits.class_counts("test")
    assert (te > 0).all() and np.allclose(te / (tr + te), 0.25, atol=0.03)


def test_digits_split_is_deterministic_and_seeded(tmp_path: Path) -> None:
    a = load_dataset("digits", {}, data_root=tmp_path)
    b = load_dataset("digits", {}, data_root=tmp_path)
    c = load_dataset("digits", {"split_seed": 1}, data_root=tmp_path)
    assert a.image_size == 32 and a.train.images.shape[1:] == (32, 32, 3)
    np.testing.assert_array_equal(a.train.images, b.train.images)
    assert not np.array_equal(a.test_labels, c.test_labels) or not np.array_equal(a.test.images, c.test.images)
