"""The ``hf`` source on a DatasetDict written with ``save_to_disk`` (Image + ClassLabel features); no network."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import check_dataset, load_dataset
from benchmark.errors import DataError
from tests.data import fake_formats as ff

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("hf")
    written = ff.write_hf_disk(root / "tiny")
    return root, written


def test_load_from_disk(saved: tuple[Path, dict]) -> None:
    root, written = saved
    splits = load_dataset("hf", {"name": "tiny"}, data_root=root)
    assert splits.classes == written["classes"] and splits.num_classes == 3 and splits.image_size == 8
    np.testing.assert_array_equal(splits.train_labels, written["y_train"])
    np.testing.assert_array_equal(splits.test_labels, written["y_test"])
    img, label = splits.test[4]
    assert img.mode == "RGB" and label == written["y_test"][4]
    np.testing.assert_array_equal(np.asarray(img), written["x_test"][4])  # PNG-encoded by datasets: lossless
    assert "load_from_disk" in splits.source


def test_image_key_auto_detects_image_column(tmp_path: Path) -> None:
    ff.write_hf_disk(tmp_path / "d", image_key="image")
    splits = load_dataset("hf", {"name": str(tmp_path / "d")}, data_root="/unused")
    assert splits.train[0][0].mode == "RGB"


def test_wrong_columns_and_splits(saved: tuple[Path, dict]) -> None:
    root, _ = saved
    with pytest.raises(DataError) as err:
        load_dataset("hf", {"name": "tiny", "label_key": "fine_label"}, data_root=root)
    assert "'fine_label'" in str(err.value) and "columns: img, label" in str(err.value)
    assert err.value.key == "label_key"
    with pytest.raises(DataError) as err:
        load_dataset("hf", {"name": "tiny", "test_split": "validation"}, data_root=root)
    assert "no split 'validation'" in str(err.value) and "train, test" in str(err.value)


def test_folder_that_is_not_save_to_disk(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    with pytest.raises(DataError) as err:
        check_dataset("hf", {"name": "junk"}, data_root=tmp_path)
    assert str(tmp_path / "junk" / "dataset_dict.json") in str(err.value) and "save_to_disk" in err.value.hint


def test_hub_name_without_download_stays_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub id not in the cache is a DataError pointing at --download; load_dataset is never called."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    called = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: called.append(a))
    with pytest.raises(DataError) as err:
        load_dataset("hf", {"name": "someone/tiny-images"}, data_root=tmp_path)
    assert str(tmp_path / "hf_cache" / "someone___tiny-images") in str(err.value)
    assert "--download" in err.value.hint and called == []


def test_hub_download_failure_is_dataerror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        assert kwargs.get("trust_remote_code", False) is False  # never run dataset scripts
        raise ConnectionError("Couldn't reach 'someone/tiny-images' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match="downloading .* failed .*Couldn't reach"):
        load_dataset("hf", {"name": "someone/tiny-images"}, data_root=tmp_path, download=True)


def test_single_split_dataset_rejected(tmp_path: Path) -> None:
    ds = datasets.Dataset.from_dict({"img": [np.zeros((2, 2, 3), np.uint8)], "label": [0]})
    ds.save_to_disk(str(tmp_path / "single"))
    with pytest.raises(DataError, match="single split"):
        load_dataset("hf", {"name": "single"}, data_root=tmp_path)


def test_hf_dataset_pickles_for_dataloader_workers(saved: tuple[Path, dict]) -> None:
    root, written = saved
    splits = load_dataset("hf", {"name": "tiny"}, data_root=root)
    clone = pickle.loads(pickle.dumps(splits.train))
    np.testing.assert_array_equal(np.asarray(clone[2][0]), written["x_train"][2])
