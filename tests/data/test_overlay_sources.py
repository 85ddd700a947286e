"""``digit_overlay`` (Assran et al. 2023 §5.1 toy) and the ``mnist`` source it pastes digits from."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import check_dataset, load_dataset
from benchmark.data.overlay_sources import power_law_counts
from benchmark.errors import DataError, SuiteError
from tests.data import fake_formats as ff

tv_datasets = pytest.importorskip("torchvision.datasets")


def write_base(tmp_path: Path, *, n_train: int = 300, n_test: int = 120, size: int = 32) -> dict:
    """A 10-class npz of random ``size``-px images under ``tmp_path/base.npz``."""
    return ff.write_npz(tmp_path / "base.npz", n_train=n_train, n_test=n_test, size=size, num_classes=10)


def overlay(tmp_path: Path, **params: object) -> object:
    """``digit_overlay`` over ``base.npz`` with sklearn digits unless ``params`` say otherwise."""
    return load_dataset(
        "digit_overlay", {"base": "npz", "base_path": "base.npz", "digits": "sklearn", **params}, data_root=tmp_path
    )


def power_law(exponent: float) -> np.ndarray:
    w = np.asarray([(k + 1) ** -exponent for k in range(10)])
    return w / w.sum()


def test_power_law_counts_by_hand() -> None:
    """τ = 1, N = 1000: N·p(k) = 1000 · 2520 / (7381 (k+1)) = 341.42, 170.71, 113.81, 85.36, 68.28, 56.90, 48.77,
    42.68, 37.94, 34.14 (H_10 = 7381/2520); the floors sum to 994 and the 6 largest remainders (k = 8, 5, 2, 6, 1, 7)
    get one more."""
    assert power_law_counts(1000, 1.0).tolist() == [341, 171, 114, 85, 68, 57, 49, 43, 38, 34]
    assert power_law_counts(1000, 0.0).tolist() == [100] * 10
    assert power_law_counts(7, 0.0).tolist() == [1] * 7 + [0] * 3  # ties go to the smaller digit


@pytest.mark.parametrize("exponent", [0.0, 0.25, 1.0, 2.0])
def test_digit_marginal_is_the_power_law(tmp_path: Path, exponent: float) -> None:
    write_base(tmp_path)
    splits = overlay(tmp_path, exponent=exponent, label="digit")
    assert splits.num_classes == 10 and splits.classes == [str(k) for k in range(10)]
    for split, n in (("train", 300), ("test", 120)):
        counts = splits.class_counts(split)
        assert counts.sum() == n and np.all(np.abs(counts - n * power_law(exponent)) < 1), (split, counts)


def test_label_modes_share_images_and_assignment_is_deterministic(tmp_path: Path) -> None:
    written = write_base(tmp_path)
    by_base = overlay(tmp_path, label="base", position="random", seed=3)
    by_digit = overlay(tmp_path, label="digit", position="random", seed=3)
    again = overlay(tmp_path, label="base", position="random", seed=3)
    other_seed = overlay(tmp_path, label="base", position="random", seed=4)
    for split in ("train", "test"):
        base_ds, digit_ds = getattr(by_base, split), getattr(by_digit, split)
        np.testing.assert_array_equal(base_ds.images, digit_ds.images)  # same pixels in both label modes
        np.testing.assert_array_equal(base_ds.images, getattr(again, split).images)  # and across instantiations
        assert not np.array_equal(base_ds.images, getattr(other_seed, split).images)
        np.testing.assert_array_equal(base_ds.targets, written[f"y_{split}"])  # label: base = the background's
        np.testing.assert_array_equal(digit_ds.targets, base_ds.overlay.digit_labels)  # label: digit = the pasted one
    assert by_base.num_classes == 10 and by_base.classes is None  # the npz has no class names
    # train and test have their own draws (with 300 vs 120 images a shared draw would repeat the first 120 classes)
    assert not np.array_equal(by_base.train.overlay.digit_labels[:120], by_base.test.overlay.digit_labels)


def test_corner_paste_is_a_max_blend_of_the_assigned_mnist_digit(tmp_path: Path) -> None:
    """patch_size 28 = MNIST's own size (no resampling): the bottom-right 28x28 block is max(background, digit)."""
    base = write_base(tmp_path, n_train=60, n_test=30)
    mnist = ff.write_mnist(tmp_path / "mn" / "MNIST" / "raw")
    splits = load_dataset(
        "digit_overlay",
        {"base": "npz", "base_path": "base.npz", "digits_path": "mn", "patch_size": 28, "exponent": 0.5},
        data_root=tmp_path,
    )
    for split in ("train", "test"):
        out, bg = getattr(splits, split).images, base[f"x_{split}"]
        a = getattr(splits, split).overlay
        digit = mnist[f"x_{split}"][a.digit_index]  # (N, 28, 28): each image's digit from its own MNIST split
        np.testing.assert_array_equal(mnist[f"y_{split}"][a.digit_index], a.digit_labels)  # of the assigned class
        np.testing.assert_array_equal(out[:, 4:, 4:], np.maximum(bg[:, 4:, 4:], digit[..., None]))
        np.testing.assert_array_equal(out[:, :4], bg[:, :4])
        np.testing.assert_array_equal(out[:, :, :4], bg[:, :, :4])
        assert (a.offsets == 4).all()


def test_random_position_changes_only_the_patch(tmp_path: Path) -> None:
    base = write_base(tmp_path)
    splits = overlay(tmp_path, position="random", patch_size=10)
    offsets = splits.train.overlay.offsets
    assert offsets.min() >= 0 and offsets.max() <= 32 - 10 and len({tuple(o) for o in offsets.tolist()}) > 50
    changed = np.any(splits.train.images != base["x_train"], axis=-1)  # (N, 32, 32)
    inside = np.zeros_like(changed)
    for i, (y, x) in enumerate(offsets.tolist()):
        inside[i, y : y + 10, x : x + 10] = True
    assert changed.any() and not (changed & ~inside).any()


def test_sklearn_digits_need_no_files(tmp_path: Path) -> None:
    write_base(tmp_path)
    check_dataset("digit_overlay", {"base": "npz", "base_path": "base.npz", "digits": "sklearn"}, data_root=tmp_path)
    splits = overlay(tmp_path)
    assert len(splits.train) == 300 and splits.image_size == 32 and "load_digits" in splits.source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.npz"]  # nothing looked up or written


@pytest.mark.parametrize(
    ("params", "files", "looked_for", "remedy"),
    [
        ({}, [], "cifar-10-batches-py", "--download"),  # the default: CIFAR-10 + MNIST under --data-root
        ({"base": "npz", "base_path": "base.npz"}, ["base.npz"], str(Path("MNIST") / "raw"), "--download"),
        ({"base": "npz", "base_path": "nope.npz", "digits": "sklearn"}, [], "nope.npz", "np.savez"),
    ],
)
def test_missing_data_names_the_part_data_root_and_remedy(
    tmp_path: Path, params: dict, files: list, looked_for: str, remedy: str
) -> None:
    if files:
        write_base(tmp_path)
    for action in ("check", "load"):
        with pytest.raises(DataError) as err:
            if action == "check":
                check_dataset("digit_overlay", params, data_root=tmp_path)
            else:
                load_dataset("digit_overlay", params, data_root=tmp_path, download=False)
        text = str(err.value)
        assert "dataset 'digit_overlay'" in text and "looked for" in text and looked_for in text, text
        assert remedy in err.value.hint and "--data-root" in err.value.hint and str(tmp_path) in err.value.hint


def test_cifar10_base_is_the_cifar10_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # torchvision checks CIFAR's official md5s; the fake files need an existence check (as in test_tv_sources).
    monkeypatch.setattr(tv_datasets.cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    cifar = ff.write_cifar10(tmp_path / "c10")
    ff.write_mnist(tmp_path / "MNIST" / "raw")
    splits = load_dataset("digit_overlay", {"base_path": "c10"}, data_root=tmp_path)
    assert splits.classes == cifar["classes"] and splits.num_classes == 10 and splits.image_size == 32
    np.testing.assert_array_equal(splits.train_labels, cifar["y_train"])
    np.testing.assert_array_equal(splits.test.images[:, :18], cifar["x_test"][:, :18])  # above the 14-px corner
    assert "CIFAR10" in splits.source and "MNIST" in splits.source


def test_mnist_source_reads_idx_files(tmp_path: Path) -> None:
    written = ff.write_mnist(tmp_path / "MNIST" / "raw")
    splits = load_dataset("mnist", {}, data_root=tmp_path)
    assert splits.num_classes == 10 and splits.image_size == 28 and len(splits.train) == 40 and len(splits.test) == 20
    np.testing.assert_array_equal(splits.train.images, np.repeat(written["x_train"][..., None], 3, axis=-1))
    np.testing.assert_array_equal(splits.test_labels, written["y_test"])


class _Response(io.BytesIO):
    """What ``urllib.request.urlopen`` returns, enough for torchvision's download helpers (url, length, read)."""

    def __init__(self, url: str, data: bytes) -> None:
        super().__init__(data)
        self.url, self.length = url, len(data)


def test_mnist_download_fetches_and_extracts_the_gzipped_idx_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``download=True`` runs torchvision's own MNIST download (mirror URL, md5 check, gunzip) on files served from
    a local folder: only ``urlopen`` is replaced, and the md5 table by that of the served files."""
    mirror = tmp_path / "mirror"
    written = ff.write_mnist(mirror, gzipped=True)
    served = {p.name: p.read_bytes() for p in mirror.iterdir()}
    first = tv_datasets.MNIST.mirrors[0]
    requested: list[str] = []

    def urlopen(request: urllib.request.Request, *args: object, **kwargs: object) -> _Response:
        url = request.full_url
        requested.append(url)
        if not url.startswith(first) or url[len(first) :] not in served:
            raise urllib.error.URLError(f"not served: {url}")
        return _Response(url, served[url[len(first) :]])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(
        tv_datasets.MNIST,
        "resources",
        [(n, hashlib.md5(served[n]).hexdigest()) for n, _ in tv_datasets.MNIST.resources],
    )
    write_base(tmp_path, n_train=50, n_test=25)
    params = {"base": "npz", "base_path": "base.npz", "digits_path": "dl", "label": "digit"}
    with pytest.raises(DataError, match="--download"):
        load_dataset("digit_overlay", params, data_root=tmp_path, download=False)
    assert requested == []  # without --download nothing is fetched
    splits = load_dataset("digit_overlay", params, data_root=tmp_path, download=True)
    raw = tmp_path / "dl" / "MNIST" / "raw"
    assert {f"{first}{n}" for n in served} <= set(requested)
    for split, names in ff.MNIST_FILES.items():
        assert (raw / names[0]).read_bytes() == ff.idx_ubyte(written[f"x_{split}"])  # gunzipped in place
        a = getattr(splits, split).overlay
        np.testing.assert_array_equal(written[f"y_{split}"][a.digit_index], getattr(splits, split).targets)
    check_dataset("digit_overlay", params, data_root=tmp_path)  # present now


@pytest.mark.parametrize(
    ("params", "key", "message"),
    [
        ({"exponent": -0.5}, "exponent", "greater than or equal to 0"),
        ({"patch_size": 40}, None, "patch_size=40 is larger than CIFAR-10's 32x32 images"),
        ({"base": "npz"}, None, "base: npz needs base_path"),
        ({"position": "centre"}, "position", "'corner' or 'random'"),
        ({"label": "cifar"}, "label", "'base' or 'digit'"),
        ({"exponant": 1.0}, "exponant", "did you mean 'exponent'"),
    ],
)
def test_bad_parameters_are_suite_errors(params: dict, key: str | None, message: str) -> None:
    with pytest.raises(SuiteError) as err:
        check_dataset("digit_overlay", params, data_root="/nonexistent")
    assert message in str(err.value) and err.value.key == key and "digit_overlay" in str(err.value)


def test_patch_larger_than_npz_images_is_rejected(tmp_path: Path) -> None:
    write_base(tmp_path, size=16)
    with pytest.raises(SuiteError, match="patch_size=20 is larger than the 16x16 train images") as err:
        overlay(tmp_path, patch_size=20)
    assert err.value.key == "patch_size" and "patch_size <= 16" in err.value.hint
