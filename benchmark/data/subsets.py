"""Index subsets of a labelled dataset: per-class prefixes (SFRIK IN20 %), stratified fractions, long-tailed subsets.

Every function takes the label array (``DatasetSplits.train_labels``) and returns **sorted** int64 dataset indices, so
a subset keeps the dataset's order; :func:`restrict_splits` applies them to a :class:`DatasetSplits`.

References:
    - SFRIK IN20 % (valeoai/sfrik, ``ImageNetSubset``): "``ImageNetSubset(subset=260)``: the first 260 images (ImageFolder
      sorted order) of each of the 1000 classes ... The separate validation split takes images 261–520 (0-based
      positions) of each class. Off-by-one: position 260 is never used." → :data:`SFRIK_IN20_PER_CLASS`,
      :data:`SFRIK_IN20_VAL_OFFSET`.
    - CIFAR-10/100-LT (Cao et al., NeurIPS 2019, LDAM): class c keeps n_max · (1/ρ)^(c/(C−1)) images, ρ = n_max/n_min
      the imbalance factor → :func:`exponential_class_sizes`, :func:`long_tailed_indices`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from benchmark.errors import DataError

if TYPE_CHECKING:
    from benchmark.data.base import DatasetSplits

#: SFRIK IN20 %: "the first 260 images ... of each of the 1000 classes" (valeoai/sfrik ``ImageNetSubset``).
SFRIK_IN20_PER_CLASS = 260
#: SFRIK's separate validation split starts at 0-based position 261 (position 260 is never used; valeoai/sfrik ``--val-subset``).
SFRIK_IN20_VAL_OFFSET = 261


def _labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"labels must be a 1-D integer array, got shape {arr.shape} and dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _class_members(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Class ids (sorted) and, for each, its dataset indices in dataset order."""
    classes, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return classes, np.split(order, np.cumsum(np.bincount(inverse, minlength=len(classes)))[:-1])


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def per_class_subset(
    labels: Sequence[int] | np.ndarray,
    n_per_class: int,
    *,
    offset: int = 0,
    seed: int | None = None,
    strict: bool = True,
) -> np.ndarray:
    """Positions ``[offset, offset + n_per_class)`` of every class.

    Args:
        labels: Label of every dataset index.
        n_per_class: Images per class (SFRIK IN20 %: 260).
        offset: First 0-based within-class position (SFRIK's validation split: 261, see module docstring).
        seed: ``None`` = positions in dataset order (ImageFolder order for ImageNet, as SFRIK does); an integer =
            positions in a seeded random permutation of each class.
        strict: Raise when a class has fewer than ``offset + n_per_class`` images; otherwise take what there is.

    Returns:
        Sorted dataset indices.

    Raises:
        ValueError: ``n_per_class < 1`` or ``offset < 0``. DataError: a class is too small (``strict``).
    """
    labels = _labels(labels)
    if n_per_class < 1 or offset < 0:
        raise ValueError(f"need n_per_class >= 1 and offset >= 0, got {n_per_class} and {offset}")
    rng = None if seed is None else _rng(seed)
    classes, members = _class_members(labels)
    out = []
    for c, idx in zip(classes.tolist(), members, strict=True):
        if strict and idx.size < offset + n_per_class:
            raise DataError(
                f"class {c} has {idx.size} images, fewer than offset {offset} + {n_per_class} per class",
                hint="lower n_per_class/offset or pass strict=False to take what each class has",
            )
        if rng is not None:
            idx = rng.permutation(idx)
        out.append(idx[offset : offset + n_per_class])
    return np.sort(np.concatenate(out)) if out else np.empty(0, np.int64)


def _per_class_counts(sizes: np.ndarray, fraction: float, *, keep_one: bool) -> np.ndarray:
    counts = np.rint(sizes * fraction).astype(np.int64)
    if keep_one:
        counts = np.maximum(counts, np.minimum(sizes, 1))
    return np.minimum(counts, sizes)


def stratified_fraction(labels: Sequence[int] | np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A random ``fraction`` of every class (round(fraction · n_c), at least one image per class), sorted.

    Like solo-learn's ``data.fraction`` (stratified subset for smoke runs, https://github.com/vturrisi/solo-learn), but class sizes are
    rounded per class so the class histogram is preserved exactly up to rounding.

    Raises:
        ValueError: ``fraction`` not in (0, 1].
    """
    labels = _labels(labels)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = _rng(seed)
    _, members = _class_members(labels)
    counts = _per_class_counts(np.asarray([m.size for m in members]), fraction, keep_one=True)
    picked = [rng.choice(m, size=n, replace=False) for m, n in zip(members, counts.tolist(), strict=True)]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, np.int64)


def carve_validation(labels: Sequence[int] | np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation split of a training set: ``(train_idx, val_idx)``, disjoint, covering all indices.

    Each class with at least two images gives ``round(fraction · n_c)`` images (at least one, at most n_c − 1) to
    validation; a single-image class stays in train.

    Raises:
        ValueError: ``fraction`` not in (0, 1).
    """
    labels = _labels(labels)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = _rng(seed)
    _, members = _class_members(labels)
    train, val = [], []
    for m in members:
        n_val = 0 if m.size < 2 else int(min(max(round(m.size * fraction), 1), m.size - 1))
        perm = rng.permutation(m)
        val.append(perm[:n_val])
        train.append(perm[n_val:])
    cat = (
        (lambda parts: np.sort(np.concatenate(parts)).astype(np.int64))
        if members
        else (lambda _: np.empty(0, np.int64))
    )
    return cat(train), cat(val)


def exponential_class_sizes(num_classes: int, n_max: int, imbalance_factor: float) -> np.ndarray:
    """CIFAR-LT class sizes: n_c = ⌊n_max · ρ^(−c/(C−1))⌋ for c = 0..C−1, so n_0 = n_max and n_{C−1} ≈ n_max/ρ.

    Raises:
        ValueError: ``imbalance_factor < 1``, ``num_classes < 1`` or ``n_max < 1``.
    """
    if num_classes < 1 or n_max < 1 or imbalance_factor < 1:
        raise ValueError(
            f"need num_classes >= 1, n_max >= 1, imbalance_factor >= 1; got {num_classes}, {n_max}, {imbalance_factor}"
        )
    if num_classes == 1:
        return np.asarray([n_max], dtype=np.int64)
    # Scalar Python arithmetic in the exact form of the LDAM reference code, int(n_max * (1/ρ)^(c/(C-1))), so the
    # truncation matches the published CIFAR-LT sizes bit for bit (e.g. 12,406 images for CIFAR-10-LT, ρ = 100).
    sizes = [int(n_max * (1.0 / imbalance_factor) ** (c / (num_classes - 1.0))) for c in range(num_classes)]
    return np.maximum(np.asarray(sizes, dtype=np.int64), 1)


def power_law_class_sizes(
    num_classes: int,
    n_max: int,
    *,
    exponent: float | None = None,
    imbalance_factor: float | None = None,
) -> np.ndarray:
    """Zipf-like class sizes n_c = ⌊n_max · (c + 1)^(−τ)⌋ (at least 1), c = 0..C−1.

    Give either ``exponent`` τ (e.g. PMSN's prior τ = 0.25, Assran et al., ICLR 2023, §5, if the data should
    follow the prior) or ``imbalance_factor`` ρ, in which case τ = log ρ / log C so that n_0 / n_{C−1} = ρ.

    Raises:
        ValueError: Both or neither of ``exponent``/``imbalance_factor``, or out-of-range values.
    """
    if (exponent is None) == (imbalance_factor is None):
        raise ValueError("give exactly one of exponent or imbalance_factor")
    if num_classes < 1 or n_max < 1:
        raise ValueError(f"need num_classes >= 1 and n_max >= 1, got {num_classes} and {n_max}")
    if imbalance_factor is not None:
        if imbalance_factor < 1:
            raise ValueError(f"imbalance_factor must be >= 1, got {imbalance_factor}")
        exponent = float(np.log(imbalance_factor) / np.log(num_classes)) if num_classes > 1 else 0.0
    if exponent < 0:
        raise ValueError(f"exponent must be >= 0, got {exponent}")
    ranks = np.arange(1, num_classes + 1, dtype=np.float64)
    return np.maximum(np.floor(n_max * ranks ** (-exponent) + 1e-9).astype(np.int64), 1)


def long_tailed_indices(
    labels: Sequence[int] | np.ndarray,
    imbalance_factor: float,
    *,
    seed: int | None,
    order: Literal["descending", "ascending"] = "descending",
    profile: Literal["exponential", "power_law"] = "exponential",
) -> np.ndarray:
    """A long-tailed subset of a (typically balanced) dataset, CIFAR-LT style.

    The class of rank r (r = 0 the head) keeps ``sizes[r]`` images, ``sizes`` from :func:`exponential_class_sizes`
    (default, Cao et al. 2019: n_c = n_max · ρ^(−c/(C−1))) or :func:`power_law_class_sizes`, with n_max the size of
    the largest class. Rank follows the sorted class ids: ``"descending"`` gives class 0 the most images (CIFAR-LT),
    ``"ascending"`` the fewest.

    Args:
        labels: Label of every dataset index.
        imbalance_factor: ρ = n_max / n_min (CIFAR-LT uses 10, 50, 100).
        seed: ``None`` keeps the first images of each class in dataset order; an integer picks them at random.
        order: Which end of the class ids is the head.
        profile: Size profile over ranks.

    Returns:
        Sorted dataset indices.

    Raises:
        ValueError: Bad ``imbalance_factor``, ``order`` or ``profile``.
    """
    labels = _labels(labels)
    classes, members = _class_members(labels)
    n_max = max((m.size for m in members), default=0)
    if n_max == 0:
        return np.empty(0, np.int64)
    if profile == "exponential":
        sizes = exponential_class_sizes(len(classes), n_max, imbalance_factor)
    elif profile == "power_law":
        sizes = power_law_class_sizes(len(classes), n_max, imbalance_factor=imbalance_factor)
    else:
        raise ValueError(f"profile must be 'exponential' or 'power_law', got {profile!r}")
    if order == "ascending":
        sizes = sizes[::-1]
    elif order != "descending":
        raise ValueError(f"order must be 'descending' or 'ascending', got {order!r}")
    rng = None if seed is None else _rng(seed)
    out = []
    for m, n in zip(members, sizes.tolist(), strict=True):
        m = rng.permutation(m) if rng is not None else m
        out.append(m[: min(n, m.size)])
    return np.sort(np.concatenate(out))


def restrict_splits(
    splits: DatasetSplits,
    *,
    train: Sequence[int] | np.ndarray | None = None,
    test: Sequence[int] | np.ndarray | None = None,
    note: str | None = None,
) -> DatasetSplits:
    """A copy of ``splits`` whose train/test sets are the given index subsets (``torch.utils.data.Subset``).

    Labels are sliced alongside and the subset is appended to ``source`` for provenance; ``num_classes`` and
    ``classes`` stay those of the full dataset.
    """
    import torch.utils.data

    from benchmark.data.base import DatasetSplits

    def take(ds: torch.utils.data.Dataset, labels: np.ndarray, idx: Sequence[int] | np.ndarray | None):
        if idx is None:
            return ds, labels
        arr = np.asarray(idx, dtype=np.int64)
        return torch.utils.data.Subset(ds, arr.tolist()), labels[arr]

    tr, tr_labels = take(splits.train, splits.train_labels, train)
    te, te_labels = take(splits.test, splits.test_labels, test)
    parts = [f"train {len(tr_labels)}/{len(splits.train_labels)}" if train is not None else None]
    parts.append(f"test {len(te_labels)}/{len(splits.test_labels)}" if test is not None else None)
    desc = ", ".join(p for p in parts if p)
    return DatasetSplits(
        name=splits.name,
        train=tr,
        test=te,
        num_classes=splits.num_classes,
        classes=splits.classes,
        train_labels=tr_labels,
        test_labels=te_labels,
        source=f"{splits.source}; subset {desc}" + (f" ({note})" if note else ""),
        image_size=splits.image_size,
    )
