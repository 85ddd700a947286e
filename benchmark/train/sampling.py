"""Pretraining data order that is a pure function of ``(seed, epoch)``: resumable, worker- and world-size-independent.

Two things make a resumed run see exactly the batches and augmentations an uninterrupted run sees:

* **Batches.** Every epoch's *global* batches come from a :class:`~benchmark.data.samplers.RandomBatchSampler` or
  :class:`~benchmark.data.samplers.KClassBatchSampler`, whose plan depends only on ``(seed, epoch)``. Each process
  takes its contiguous slice of every global batch (``shard(rank, world_size)``), so one process with batch B and
  W processes with B/W each consume the same images per step. After a resume, the batches already consumed in the
  interrupted epoch (their count is stored in the checkpoint) are skipped: checkpoints can be taken mid-epoch.
* **Augmentations.** Each sample is augmented under its own RNG seed, derived (splitmix64) from
  ``(seed, epoch, global batch index, position in the global batch)``; the torch, numpy and ``random`` states are
  saved and restored around it. The augmentation of a sample therefore does not depend on what was drawn before it,
  on the number of loader workers, on prefetching, or on where a previous process was killed.

Lightning calls ``set_epoch`` at every epoch start (also the first epoch after a resume) on ``loader.sampler`` and on
``loader.batch_sampler.sampler`` -- not on the batch sampler itself -- so :class:`RunBatchSampler` exposes a
``sampler`` attribute that forwards ``set_epoch`` to it. The process rank is read lazily, when an
epoch is iterated (``torch.distributed`` is initialised by then under DDP), so the same loader object works before
and after spawning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.utils.data

from benchmark.data.samplers import _EpochBatchSampler
from benchmark.data.seeds import sample_seeds, seeded_rng

__all__ = ["RunBatchSampler", "SeededViews"]


class SeededViews(torch.utils.data.Dataset):
    """Wraps a map-style dataset; ``dataset[(index, seed)]`` = ``base[index]`` computed under :func:`seeded_rng`."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        with seeded_rng(int(seed)):
            return self.base[int(index)]


class _EpochForwarder:
    """What Lightning finds at ``batch_sampler.sampler``: forwards ``set_epoch`` to the batch sampler."""

    def __init__(self, owner: RunBatchSampler) -> None:
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)


class RunBatchSampler(torch.utils.data.Sampler[list[tuple[int, int]]]):
    """This process's slice of every global batch of ``parent``, as ``(index, sample_seed)`` pairs.

    Args:
        parent: The global sampler (deterministic per ``(seed, epoch)``, ``drop_last=True``).
        seed: The run's seed (mixed into every sample seed).
        world_size: Number of training processes; must divide the global batch size.
        rank: This process's rank; ``None`` = read ``torch.distributed`` when an epoch is iterated (0 if not
            initialised).
    """

    def __init__(self, parent: _EpochBatchSampler, *, seed: int, world_size: int = 1, rank: int | None = None) -> None:
        parent.shard(0, world_size)  # validates world_size against the batch size now, not inside a worker
        self.parent = parent
        self.seed = int(seed)
        self.world_size = int(world_size)
        self.rank = rank
        self.epoch = 0
        self._resume: tuple[int, int] | None = None
        self.sampler = _EpochForwarder(self)  # Lightning's set_epoch hook looks here

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.parent.set_epoch(self.epoch)

    def resume(self, epoch: int, batches_done: int) -> None:
        """Skip the first ``batches_done`` batches of ``epoch`` (consumed before the checkpoint was written)."""
        self._resume = (int(epoch), int(batches_done))

    def current_rank(self) -> int:
        if self.rank is not None:
            return self.rank
        if dist.is_available() and dist.is_initialized():
            if dist.get_world_size() != self.world_size:
                raise RuntimeError(
                    f"the loader was built for {self.world_size} processes but torch.distributed has "
                    f"{dist.get_world_size()}"
                )
            return dist.get_rank()
        if self.world_size != 1:
            raise RuntimeError(f"the loader was built for {self.world_size} processes but torch.distributed is not initialised")
        return 0

    def __len__(self) -> int:
        return len(self.parent.plan(self.epoch))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch = self.epoch
        shard = self.parent.shard(self.current_rank(), self.world_size)
        lo = shard.rank * shard.local_batch_size
        positions = np.arange(lo, lo + shard.local_batch_size)
        skip = self._resume[1] if self._resume is not None and self._resume[0] == epoch else 0
        self.parent.set_epoch(epoch)
        for b, indices in enumerate(shard):
            if b < skip:
                continue
            seeds = sample_seeds(self.seed, epoch, b, positions)
            yield list(zip(indices, seeds.tolist(), strict=True))
