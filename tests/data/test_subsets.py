"""Subset helpers: SFRIK IN20 % per-class prefixes, stratified fractions, CIFAR-LT, validation carving."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.base import ArrayDataset, DatasetSplits
from benchmark.data.subsets import (
    SFRIK_IN20_PER_CLASS,
    SFRIK_IN20_VAL_OFFSET,
    carve_validation,
    exponential_class_sizes,
    long_tailed_indices,
    per_class_subset,
    power_law_class_sizes,
    restrict_splits,
    stratified_fraction,
)
from benchmark.errors import DataError


def interleaved(num_classes: int, per_class: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(num_classes), per_class))


def test_per_class_subset_takes_first_in_dataset_order() -> None:
    labels = interleaved(3, 10)
    idx = per_class_subset(labels, 4)
    assert (np.diff(idx) > 0).all() and len(idx) == 12
    for c in range(3):
        positions = np.flatnonzero(labels == c)
        assert set(idx[labels[idx] == c]) == set(positions[:4].tolist())


def test_sfrik_in20_train_and_validation_positions() -> None:
    """IN20 %: positions 0–259 per class; the separate validation split: positions 261–520; 260 is never used."""
    assert (SFRIK_IN20_PER_CLASS, SFRIK_IN20_VAL_OFFSET) == (260, 261)
    labels = np.repeat([0, 1], 600)  # ImageFolder order: classes contiguous
    train = per_class_subset(labels, SFRIK_IN20_PER_CLASS)
    val = per_class_subset(labels, SFRIK_IN20_PER_CLASS, offset=SFRIK_IN20_VAL_OFFSET)
    assert train[:260].tolist() == list(range(260)) and val[:260].tolist() == list(range(261, 521))
    assert 260 not in train and 260 not in val and not set(train) & set(val)


def test_per_class_subset_seeded_and_strict() -> None:
    labels = interleaved(4, 20)
    a, b = per_class_subset(labels, 5, seed=1), per_class_subset(labels, 5, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, per_class_subset(labels, 5))
    assert np.bincount(labels[a]).tolist() == [5] * 4
    with pytest.raises(DataError, match="fewer than offset 18 \\+ 5"):
        per_class_subset(labels, 5, offset=18)
    assert np.bincount(labels[per_class_subset(labels, 5, offset=18, strict=False)]).tolist() == [2] * 4


def test_stratified_fraction_keeps_histogram() -> None:
    labels = np.repeat(np.arange(5), [100, 50, 20, 10, 1])
    idx = stratified_fraction(labels, 0.1, seed=0)
    assert np.bincount(labels[idx], minlength=5).tolist() == [10, 5, 2, 1, 1]  # at least one image per class
    assert len(np.unique(idx)) == len(idx) and np.array_equal(idx, stratified_fraction(labels, 0.1, seed=0))
    with pytest.raises(ValueError):
        stratified_fraction(labels, 0.0, seed=0)


def test_carve_validation_stratified_and_disjoint() -> None:
    labels = np.repeat(np.arange(4), [50, 20, 2, 1])
    train, val = carve_validation(labels, 0.2, seed=0)
    assert not set(train) & set(val) and sorted([*train, *val]) == list(range(len(labels)))
    assert np.bincount(labels[val], minlength=4).tolist() == [10, 4, 1, 0]
    t2, v2 = carve_validation(labels, 0.2, seed=0)
    assert np.array_equal(train, t2) and np.array_equal(val, v2)


def test_cifar_lt_sizes_match_published_totals() -> None:
    """CIFAR-10-LT / CIFAR-100-LT at ρ = 100 have 12,406 / 10,847 training images (Cao et al. 2019; Cui et al. 2019)."""
    assert exponential_class_sizes(10, 5000, 100).sum() == 12406
    assert exponential_class_sizes(100, 500, 100).sum() == 10847
    sizes = exponential_class_sizes(10, 5000, 100)
    assert sizes[0] == 5000 and sizes[-1] == 50 and (np.diff(sizes) < 0).all()


def test_long_tailed_indices() -> None:
    labels = interleaved(10, 100)
    idx = long_tailed_indices(labels, 10, seed=None)
    counts = np.bincount(labels[idx], minlength=10)
    assert counts.tolist() == exponential_class_sizes(10, 100, 10).tolist() and counts[0] == 100 and counts[-1] == 10
    # seed=None takes the first images of each class in dataset order
    assert set(idx[labels[idx] == 9]) == set(np.flatnonzero(labels == 9)[:10].tolist())
    asc = np.bincount(labels[long_tailed_indices(labels, 10, seed=0, order="ascending")], minlength=10)
    assert asc.tolist() == counts[::-1].tolist()
    pl = np.bincount(labels[long_tailed_indices(labels, 10, seed=0, profile="power_law")], minlength=10)
    assert pl[0] == 100 and pl[-1] == 10 and (np.diff(pl) <= 0).all()


def test_power_law_class_sizes() -> None:
    assert power_law_class_sizes(4, 100, exponent=0.0).tolist() == [100] * 4
    assert power_law_class_sizes(4, 100, exponent=1.0).tolist() == [100, 50, 33, 25]
    assert power_law_class_sizes(100, 1000, imbalance_factor=100)[-1] == 10
    with pytest.raises(ValueError, match="exactly one"):
        power_law_class_sizes(4, 100)


def test_restrict_splits_keeps_labels_aligned() -> None:
    x = np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)
    y = np.asarray([0, 1] * 5)
    ds = ArrayDataset(x, y)
    splits = DatasetSplits("toy", ds, ds, 2, ["a", "b"], y, y, "toy arrays", 2)
    sub = restrict_splits(splits, train=[1, 3, 4], note="test")
    assert len(sub.train) == 3 and sub.train_labels.tolist() == [1, 1, 0] and len(sub.test) == 10
    img, label = sub.train[2]
    assert label == 0 and np.array_equal(np.asarray(img), x[4])
    assert "train 3/10" in sub.source and sub.num_classes == 2
