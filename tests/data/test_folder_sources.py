"""ImageFolder sources (imagenet, imagenet100) on tiny PNG trees; layout errors are DataErrors with the layout."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import check_dataset, load_dataset
from benchmark.data.folder_sources import CLASS_LIST_FILE, imagenet100_classes
from benchmark.data.subsets import per_class_subset
from benchmark.errors import DataError
from tests.data import fake_formats as ff

WNIDS = ["n01440764", "n01443537", "n01484850"]


def test_imagenet100_class_list_is_the_cmc_list() -> None:
    wnids = imagenet100_classes()
    assert len(wnids) == 100 and len(set(wnids)) == 100
    assert all(len(w) == 9 and w[0] == "n" and w[1:].isdigit() for w in wnids)
    # First and last entries of HobbitLong/CMC imagenet100.txt.
    assert wnids[0] == "n02869837" and wnids[-1] == "n02090622"
    assert CLASS_LIST_FILE.read_text().startswith("#")  # provenance header


def test_imagenet_folder(tmp_path: Path) -> None:
    train = ff.write_image_folder(tmp_path / "in" / "train", WNIDS, per_class=4, seed=1)
    val = ff.write_image_folder(tmp_path / "in" / "val", WNIDS, per_class=2, seed=2)
    splits = load_dataset("imagenet", {"path": "in", "num_classes": 3}, data_root=tmp_path)
    assert splits.classes == WNIDS and splits.num_classes == 3
    np.testing.assert_array_equal(splits.train_labels, train["y"])
    np.testing.assert_array_equal(splits.test_labels, val["y"])
    img, label = splits.train[5]
    assert img.mode == "RGB" and label == 1
    np.testing.assert_array_equal(np.asarray(img), train["x"][5])  # PNG is lossless: same pixels, ImageFolder order


def test_imagenet_sfrik_subset_is_first_files_per_class(tmp_path: Path) -> None:
    """SFRIK IN20 %: first n images per class in ImageFolder order (sorted file names)."""
    train = ff.write_image_folder(tmp_path / "in" / "train", WNIDS, per_class=6)
    ff.write_image_folder(tmp_path / "in" / "val", WNIDS, per_class=1)
    splits = load_dataset("imagenet", {"path": "in", "num_classes": None}, data_root=tmp_path)
    idx = per_class_subset(splits.train_labels, 2)
    names = [Path(splits.train.base[i]).name for i in idx]
    assert names == ["img_000.png", "img_001.png"] * 3
    assert [p.name for p in np.asarray(train["paths"])[idx]] == names


def test_imagenet_class_count_mismatch(tmp_path: Path) -> None:
    ff.write_image_folder(tmp_path / "imagenet" / "train", WNIDS, per_class=1)
    ff.write_image_folder(tmp_path / "imagenet" / "val", WNIDS, per_class=1)
    with pytest.raises(DataError, match="3 class folders, expected 1000"):
        check_dataset("imagenet", {}, data_root=tmp_path)


def test_imagenet_flat_val_folder_explains_layout(tmp_path: Path) -> None:
    ff.write_image_folder(tmp_path / "imagenet" / "train", WNIDS, per_class=1)
    ff.write_image(tmp_path / "imagenet" / "val" / "ILSVRC2012_val_00000001.JPEG", ff.images(1, 8, 0)[0])
    with pytest.raises(DataError) as err:
        check_dataset("imagenet", {"num_classes": 3}, data_root=tmp_path)
    assert "no class folders" in str(err.value) and "valprep.sh" in err.value.hint
    assert str(tmp_path / "imagenet" / "val") in str(err.value)


def test_imagenet_train_val_class_mismatch(tmp_path: Path) -> None:
    ff.write_image_folder(tmp_path / "imagenet" / "train", WNIDS, per_class=1)
    ff.write_image_folder(tmp_path / "imagenet" / "val", WNIDS[:2], per_class=1)
    with pytest.raises(DataError, match="only in train: \\['n01484850'\\]"):
        check_dataset("imagenet", {"num_classes": None}, data_root=tmp_path)


def test_imagenet_empty_class_folder_is_dataerror(tmp_path: Path) -> None:
    ff.write_image_folder(tmp_path / "imagenet" / "train", WNIDS, per_class=1)
    ff.write_image_folder(tmp_path / "imagenet" / "val", WNIDS, per_class=1)
    shutil.rmtree(tmp_path / "imagenet" / "val" / WNIDS[0])
    (tmp_path / "imagenet" / "val" / WNIDS[0]).mkdir()
    with pytest.raises(DataError, match="could not be read"):
        load_dataset("imagenet", {"num_classes": None}, data_root=tmp_path)


@pytest.fixture(scope="module")
def full_imagenet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'full ImageNet' tree: the 100 CMC classes plus two others, one image each per split."""
    root = tmp_path_factory.mktemp("full") / "imagenet"
    classes = [*imagenet100_classes(), "n01440764", "n15075141"]
    ff.write_image_folder(root / "train", classes, per_class=1, size=4)
    ff.write_image_folder(root / "val", classes, per_class=1, size=4)
    return root


def test_imagenet100_from_full_imagenet(full_imagenet: Path) -> None:
    splits = load_dataset("imagenet100", {"path": str(full_imagenet)}, data_root="/unused")
    assert splits.num_classes == 100 and splits.classes == sorted(imagenet100_classes())
    assert "n01440764" not in splits.classes and len(splits.train) == 100 and len(splits.test) == 100
    assert splits.train_labels.tolist() == list(range(100))
    # label i is the i-th wnid in sorted order
    assert Path(splits.train.base[37]).parent.name == sorted(imagenet100_classes())[37]


def test_imagenet100_premade_folder_equals_selection(full_imagenet: Path, tmp_path: Path) -> None:
    premade = tmp_path / "imagenet100"
    for split in ("train", "val"):
        for w in imagenet100_classes():
            shutil.copytree(full_imagenet / split / w, premade / split / w)
    a = load_dataset("imagenet100", {}, data_root=tmp_path)
    b = load_dataset("imagenet100", {"path": str(full_imagenet)}, data_root=tmp_path)
    assert a.classes == b.classes
    np.testing.assert_array_equal(a.train_labels, b.train_labels)
    np.testing.assert_array_equal(np.asarray(a.train[42][0]), np.asarray(b.train[42][0]))


def test_imagenet100_missing_classes_listed(tmp_path: Path) -> None:
    present = list(imagenet100_classes())[:97]
    ff.write_image_folder(tmp_path / "imagenet100" / "train", present, per_class=1, size=4)
    ff.write_image_folder(tmp_path / "imagenet100" / "val", present, per_class=1, size=4)
    with pytest.raises(DataError) as err:
        check_dataset("imagenet100", {}, data_root=tmp_path)
    text = str(err.value)
    assert "3 of the 100 class folders missing" in text
    assert str(tmp_path / "imagenet100" / "train" / imagenet100_classes()[97]) in text
    assert "imagenet100_classes.txt" in err.value.hint


def test_file_backed_dataset_pickles_for_dataloader_workers(tmp_path: Path) -> None:
    ff.write_image_folder(tmp_path / "in" / "train", WNIDS, per_class=2)
    ff.write_image_folder(tmp_path / "in" / "val", WNIDS, per_class=1)
    splits = load_dataset("imagenet", {"path": "in", "num_classes": 3}, data_root=tmp_path)
    clone = pickle.loads(pickle.dumps(splits.train))
    assert np.array_equal(np.asarray(clone[3][0]), np.asarray(splits.train[3][0])) and clone[3][1] == 1


def _write_places205(root: Path) -> dict:
    """A tiny Places205 release: images256/<letter>/<class>/*.png plus the two space-separated file lists."""
    images = root / "data/vision/torralba/deeplearning/images256"
    classes = ["a/abbey", "b/bedroom", "c/canyon"]
    lists = {"train": [], "val": []}
    pixels = {}
    for label, cls in enumerate(classes):
        x = ff.images(3, 8, seed=label)
        for i in range(3):
            rel = f"{cls}/img_{i}.png"
            ff.write_image(images / rel, x[i])
            pixels[rel] = x[i]
            lists["train" if i < 2 else "val"].append(f"{rel} {label}")
    split = root / "trainvalsplit_places205"
    split.mkdir(parents=True)
    (split / "train_places205.csv").write_text("\n".join(lists["train"]) + "\n")
    (split / "val_places205.csv").write_text("\n".join(lists["val"]) + "\n")
    return {"classes": classes, "pixels": pixels, "lists": lists}


def test_places205_reads_the_official_file_lists(tmp_path: Path) -> None:
    made = _write_places205(tmp_path / "places205")
    splits = load_dataset("places205", {}, data_root=tmp_path)
    assert splits.num_classes == 3 and splits.classes == made["classes"]
    np.testing.assert_array_equal(splits.train_labels, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(splits.test_labels, [0, 1, 2])
    img, label = splits.test[1]
    assert label == 1 and img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), made["pixels"]["b/bedroom/img_2.png"])


def test_places205_missing_or_malformed_release_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="trainvalsplit_places205") as info:
        check_dataset("places205", {}, data_root=tmp_path)
    assert "places.csail.mit.edu" in (info.value.hint or "")
    _write_places205(tmp_path / "places205")
    (tmp_path / "places205/trainvalsplit_places205/val_places205.csv").write_text("a/abbey/img_2.png zero\n")
    with pytest.raises(DataError, match=r"val_places205.csv:1 is not '<relative image path> <integer label>'"):
        load_dataset("places205", {}, data_root=tmp_path)
