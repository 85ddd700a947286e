"""KClassBatchSampler (K classes per batch, Assran et al., ICLR 2023, Table 1) and the RandomBatchSampler control."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data.samplers import (
    KClassBatchSampler,
    RandomBatchSampler,
    expected_classes_per_random_batch,
    make_batch_sampler,
)


def balanced(num_classes: int, per_class: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(num_classes), per_class))


def long_tailed(seed: int = 0) -> np.ndarray:
    counts = [400, 230, 120, 70, 40, 25, 15]
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))


def epoch_batches(sampler, epoch: int = 0) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.parametrize(
    ("labels", "batch_size", "k", "coverage_bound"),
    [
        (balanced(10, 100), 64, 4, True),
        (balanced(10, 100), 66, 3, True),
        (long_tailed(), 32, 2, True),
        (balanced(5, 40), 8, 1, True),
        # K = C on long-tailed data: every batch needs the 15-image class, so most images cannot be used; the
        # sampler must still be exact and report them as dropped.
        (long_tailed(), 30, 7, False),
    ],
)
@pytest.mark.parametrize("split", ["auto", "even", "finish"])
def test_exact_k_no_repeats_marginal(
    labels: np.ndarray, batch_size: int, k: int, coverage_bound: bool, split: str
) -> None:
    sampler = KClassBatchSampler(labels, batch_size=batch_size, k=k, seed=3, split=split)
    for epoch in range(3):
        batches = epoch_batches(sampler, epoch)
        assert len(batches) == len(sampler)
        for b in batches:
            assert len(b) == batch_size and len(np.unique(labels[b])) == k  # exactly K distinct classes
        seen = np.concatenate(batches)
        assert len(np.unique(seen)) == len(seen)  # each image at most once per epoch
        n, dropped = len(labels), sampler.dropped_last_epoch
        assert dropped == n - len(seen)
        if coverage_bound and split != "finish":  # "auto" keeps the better of "even" and "finish"
            assert dropped <= k * batch_size  # coverage >= 1 - K·B/N (bound derived here)
        # epoch marginal = dataset marginal up to the dropped images
        diff = np.bincount(labels, minlength=labels.max() + 1) - np.bincount(labels[seen], minlength=labels.max() + 1)
        assert (diff >= 0).all() and diff.sum() == dropped


def test_batch_size_split_evenly_across_classes() -> None:
    labels = balanced(8, 200)
    for b, k, expected in ((64, 4, [16, 16, 16, 16]), (66, 4, [16, 16, 17, 17]), (10, 3, [3, 3, 4])):
        first = next(iter(KClassBatchSampler(labels, batch_size=b, k=k, seed=0)))
        assert sorted(np.bincount(labels[first])[np.bincount(labels[first]) > 0].tolist()) == expected


def test_top_up_from_other_chosen_class() -> None:
    """A class with 3 images left still makes full batches: the other chosen class fills the rest."""
    labels = np.repeat([0, 1, 2], [3, 60, 60])
    sampler = KClassBatchSampler(labels, batch_size=20, k=2, seed=0)
    with_small = 0
    for epoch in range(10):
        for b in epoch_batches(sampler, epoch):
            assert len(b) == 20 and len(set(labels[b].tolist())) == 2
            with_small += int(0 in labels[b])
            if 0 in labels[b]:
                assert np.sum(labels[b] == 0) == 3
    assert with_small > 0


def test_classes_drawn_proportional_to_remaining() -> None:
    """First batch, K=1: class c is chosen with probability n_c / N (here 0.6 / 0.2 / 0.2; 3σ ≈ 0.085)."""
    labels = np.repeat([0, 1, 2], [60, 20, 20])
    picks = np.asarray(
        [
            labels[next(iter(KClassBatchSampler(labels, batch_size=10, k=1, seed=s, split="even")))[0]]
            for s in range(300)
        ]
    )
    freq = np.bincount(picks, minlength=3) / len(picks)
    assert abs(freq[0] - 0.6) < 0.09 and abs(freq[1] - 0.2) < 0.07 and abs(freq[2] - 0.2) < 0.07


def test_auto_split_avoids_unusable_remainders() -> None:
    """Scaled-down ImageNet-1k at B = 4096, K = 8 (1300 = 2·512 + 276 per class): here 254 = 2·100 + 54 per class,
    B = 800, K = 8. The even split strands ~54 images in every class; "auto" (finish rule) uses all but < B images."""
    labels = np.repeat(np.arange(200), 254)
    even = KClassBatchSampler(labels, batch_size=800, k=8, seed=0, split="even")
    auto = KClassBatchSampler(labels, batch_size=800, k=8, seed=0)
    assert len(even) > 0 and len(auto) > 0  # plans the epoch
    assert even.dropped_last_epoch > 10 * 800 / 2 and auto.dropped_last_epoch < 800
    assert auto.split_used == "finish" and len(auto) > len(even)


def test_deterministic_per_seed_and_epoch() -> None:
    labels = balanced(10, 50)
    a = KClassBatchSampler(labels, batch_size=20, k=2, seed=7)
    b = KClassBatchSampler(labels, batch_size=20, k=2, seed=7)
    assert epoch_batches(a, 0) == epoch_batches(b, 0)
    assert epoch_batches(a, 5) == epoch_batches(b, 5)
    assert epoch_batches(a, 0) != epoch_batches(a, 1)  # epochs differ
    assert epoch_batches(a, 0) == epoch_batches(a, 0)  # re-iterating an epoch repeats it
    c = KClassBatchSampler(labels, batch_size=20, k=2, seed=8)
    assert epoch_batches(a, 0) != epoch_batches(c, 0)


def test_drop_last_false_yields_every_image_once() -> None:
    labels = long_tailed()
    sampler = KClassBatchSampler(labels, batch_size=32, k=3, seed=1, drop_last=False)
    batches = epoch_batches(sampler, 2)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(len(labels))) and sampler.dropped_last_epoch == 0
    assert len(batches) == len(sampler) and all(len(b) <= 32 for b in batches)


def test_dataloader_integration() -> None:
    labels = balanced(6, 30)
    sampler = KClassBatchSampler(labels, batch_size=12, k=2, seed=0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.as_tensor(labels)), batch_sampler=sampler)
    batches = [y for (y,) in loader]
    assert len(batches) == len(sampler) and all(len(torch.unique(y)) == 2 for y in batches)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 11}, "only 10 classes"),
        ({"k": 5, "batch_size": 4}, "smaller than k=5"),
        ({"k": 0}, "k \\(classes per batch\\) must be >= 1"),
        ({"k": 2.5}, "must be an integer"),
        ({"k": 2, "batch_size": 5000}, "fewer than one batch"),
        ({"k": 2, "seed": -1}, "seed must be >= 0"),
        ({"k": 2, "batch_size": 41}, "the 2 largest classes hold 40 images"),
        ({"k": 2, "split": "uneven"}, "split must be"),
    ],
)
def test_invalid_arguments(kwargs: dict, message: str) -> None:
    args = {"batch_size": 16, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        KClassBatchSampler(balanced(10, 20), **args)


def test_float_labels_rejected() -> None:
    with pytest.raises(ValueError, match="integer"):
        KClassBatchSampler(np.linspace(0, 1, 50), batch_size=4, k=2, seed=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: KClassBatchSampler(balanced(10, 40), batch_size=64, k=4, seed=0),
        lambda: RandomBatchSampler(400, batch_size=64, seed=0),
    ],
)
def test_shard_splits_each_global_batch(make) -> None:
    world = 4
    parent = make()
    shards = [make().shard(r, world) for r in range(world)]  # each rank builds its own copy, same seed
    for s in (*shards, parent):
        s.set_epoch(3)
    global_batches = list(parent)
    per_rank = [list(s) for s in shards]
    assert all(len(p) == len(global_batches) == len(s) for p, s in zip(per_rank, shards, strict=True))
    for i, g in enumerate(global_batches):
        parts = [per_rank[r][i] for r in range(world)]
        assert all(len(p) == 16 for p in parts)
        assert sorted(sum(parts, [])) == sorted(g)  # disjoint slices covering the global batch


def test_shard_errors() -> None:
    sampler = KClassBatchSampler(balanced(4, 30), batch_size=10, k=2, seed=0)
    with pytest.raises(ValueError, match="not divisible by world_size 4"):
        sampler.shard(0, 4)
    with pytest.raises(ValueError, match="out of range"):
        sampler.shard(2, 2)
    with pytest.raises(ValueError, match="drop_last=True"):
        KClassBatchSampler(balanced(4, 30), batch_size=10, k=2, seed=0, drop_last=False).shard(0, 2)


def test_random_batch_sampler_control() -> None:
    sampler = RandomBatchSampler(103, batch_size=10, seed=0)
    batches = epoch_batches(sampler, 0)
    assert len(batches) == len(sampler) == 10 and sampler.dropped_last_epoch == 3
    seen = np.concatenate(batches)
    assert len(set(seen.tolist())) == 100
    assert (
        epoch_batches(sampler, 1) != batches
        and epoch_batches(RandomBatchSampler(103, batch_size=10, seed=0), 0) == batches
    )
    full = RandomBatchSampler(103, batch_size=10, seed=0, drop_last=False)
    assert sorted(np.concatenate(list(full)).tolist()) == list(range(103)) and len(full) == 11


def test_expected_classes_per_random_batch_matches_reference_table() -> None:
    """Computed here, C(1 − (1 − 1/C)^B): 983, 871, 641 (C = 1000) and 92.4 (C = 100, B = 256)."""
    assert round(expected_classes_per_random_batch(1000, 4096)) == 983
    assert round(expected_classes_per_random_batch(1000, 2048)) == 871
    assert round(expected_classes_per_random_batch(1000, 1024)) == 641
    assert round(expected_classes_per_random_batch(100, 256), 1) == 92.4
    labels = balanced(100, 60)
    sampler = make_batch_sampler(labels, batch_size=256, k=None, seed=0)
    assert isinstance(sampler, RandomBatchSampler)
    distinct = [len(np.unique(labels[b])) for b in sampler]
    assert abs(np.mean(distinct) - 92.4) < 1.5  # the control behaves like random batching


@pytest.mark.parametrize(("k", "first_batch_shares"), [(960, {4: 704, 5: 256}), (8, {512: 8})])
def test_paper_settings_at_imagenet_scale(k: int, first_batch_shares: dict[int, int]) -> None:
    """1000 classes x 1300 images, B = 4096: "K is set to 8 for the class-imbalanced sampling experiments and 960
    for the class-balanced" (Assran et al., ICLR 2023, SimCLR set-up). 4096 / 960 is not an integer:
    4096 = 4·960 + 256, so the first batch (no class has run out yet) takes 5 images from 256 classes and 4 from the
    other 704; 4096 = 512·8."""
    labels = balanced(1000, 1300)
    sampler = KClassBatchSampler(labels, batch_size=4096, k=k, seed=0)
    batches = epoch_batches(sampler)
    for b in batches:
        assert len(b) == 4096 and len(np.unique(labels[b])) == k
    seen = np.concatenate(batches)
    assert len(np.unique(seen)) == len(seen)  # each image at most once per epoch
    per_class = np.bincount(labels[batches[0]], minlength=1000)
    assert dict(zip(*np.unique(per_class[per_class > 0], return_counts=True), strict=True)) == first_batch_shares
    # at least 98 % of the ⌊N / B⌋ = 317 batches a plain random sampler makes per epoch
    assert len(batches) >= 0.98 * len(labels) / 4096 and sampler.dropped_last_epoch == len(labels) - len(seen)
