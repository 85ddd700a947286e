"""The pretraining data order: a function of (seed, epoch) only -- resumable mid-epoch, independent of world size."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from lightning_fabric.utilities.data import _set_sampler_epoch

from benchmark.data.samplers import RandomBatchSampler
from benchmark.data.seeds import sample_seeds
from benchmark.train.sampling import RunBatchSampler, SeededViews


def _loader_like(sampler: RunBatchSampler) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(SeededViews(list(range(40))), batch_sampler=sampler)


def test_lightning_set_epoch_reaches_the_batch_sampler():
    """Lightning calls set_epoch on loader.sampler and loader.batch_sampler.sampler, never on the batch sampler."""
    sampler = RunBatchSampler(RandomBatchSampler(40, batch_size=8, seed=0), seed=0)
    epoch0 = list(sampler)
    _set_sampler_epoch(_loader_like(sampler), 3)
    assert sampler.epoch == 3 and list(sampler) != epoch0
    assert [i for b in sampler for i, _ in b] == [i for b in sampler.parent.plan(3) for i in b.tolist()]


def test_resume_skips_exactly_the_consumed_batches():
    def fresh() -> RunBatchSampler:
        s = RunBatchSampler(RandomBatchSampler(40, batch_size=8, seed=5), seed=5)
        s.set_epoch(2)
        return s

    full = list(fresh())
    resumed = fresh()
    resumed.resume(2, 3)  # checkpoint after 3 batches of epoch 2
    assert list(resumed) == full[3:]
    resumed.set_epoch(3)  # the skip applies to the interrupted epoch only
    later = fresh()
    later.set_epoch(3)
    assert list(resumed) == list(later) and len(list(later)) == 5


def test_shards_and_sample_seeds_do_not_depend_on_world_size():
    parent = RandomBatchSampler(40, batch_size=8, seed=1)
    one = list(RunBatchSampler(parent, seed=1, world_size=1))
    two = [list(RunBatchSampler(RandomBatchSampler(40, batch_size=8, seed=1), seed=1, world_size=2, rank=r))
           for r in range(2)]
    assert [a + b for a, b in zip(*two, strict=True)] == one, "rank slices concatenate to the global batch"
    assert len({s for batch in one for _, s in batch}) == 40, "a distinct seed for every sample of the epoch"
    with pytest.raises(ValueError, match="not divisible"):
        RunBatchSampler(RandomBatchSampler(40, batch_size=8, seed=1), seed=1, world_size=3)


def test_seeded_views_are_reproducible_and_leave_the_global_rng_alone():
    def augment(i: int) -> tuple:
        return (i, torch.rand(2).tolist(), np.random.rand(), random.random())

    class Base:
        def __len__(self) -> int:
            return 10

        def __getitem__(self, i: int) -> tuple:
            return augment(i)

    views = SeededViews(Base())
    seed = int(sample_seeds(0, 1, 2, np.array([3]))[0])
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = views[(4, seed)]
    assert torch.equal(torch.get_rng_state(), before), "the global stream is untouched"
    torch.rand(100)
    np.random.rand(7)  # whatever was drawn before does not matter
    assert views[(4, seed)] == a
    assert views[(4, seed + 1)] != a
    assert sample_seeds(0, 1, 2, np.array([3]))[0] != sample_seeds(0, 2, 2, np.array([3]))[0]
