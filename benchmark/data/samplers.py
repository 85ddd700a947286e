"""Batch samplers controlling how many classes each mini-batch holds (Assran et al., ICLR 2023, "hidden uniform prior").

The paper pretrains "with a sampler that forces every mini-batch to contain exactly K distinct classes" while "the
marginal sampling probability of the dataset is unchanged" (``uniform_prior_iclr23.md`` §2.1). The exact algorithm
is not published (§2.2), so :class:`KClassBatchSampler` implements the reference's recommendation (§2.4, [rec]):

- each epoch, shuffle the images of every class and consume them as per-class queues, so every image is used at most
  once per epoch and the epoch's class histogram equals the dataset's (up to the end-of-epoch remainder);
- per batch, draw K distinct classes without replacement with probability proportional to each class's remaining
  unseen images (successive sampling, ``numpy.random.Generator.choice``);
- split the batch size B as evenly as possible over the K classes (random remainder); when a class runs out, top the
  batch up from the other chosen classes;
- stop when fewer than K classes have images left (or no K classes can fill a batch); the images left over are
  counted in :attr:`~KClassBatchSampler.dropped_last_epoch` (and yielded as extra batches with ``drop_last=False``).

K applies to the **global** batch; under DDP every rank builds the same sampler (same seed) and takes its slice with
:meth:`~KClassBatchSampler.shard`, so the ranks see disjoint parts of one global K-class batch. Batches are shuffled
internally so each rank's slice mixes the K classes. Plans are deterministic per ``(seed, epoch)``; call
:meth:`set_epoch` every epoch (PyTorch Lightning does this for batch samplers that define it).

:class:`RandomBatchSampler` is the control (standard shuffling, "k=None") with the same interface.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch.utils.data

log = logging.getLogger(__name__)


def expected_classes_per_random_batch(num_classes: int, batch_size: int) -> float:
    """Expected distinct classes in a uniformly random batch from a balanced dataset: C(1 − (1 − 1/C)^B).

    ``uniform_prior_iclr23.md`` §2.3: 983 for C = 1000, B = 4096, so "K = 960 @ 4096" is close to random batching.
    """
    c = float(num_classes)
    return c * (1.0 - (1.0 - 1.0 / c) ** int(batch_size))


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class _EpochBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Shared machinery: a per-epoch plan of index batches, cached, deterministic per ``(seed, epoch)``."""

    def __init__(self, *, batch_size: int, seed: int, drop_last: bool) -> None:
        self.batch_size = _check_int("batch_size", batch_size, minimum=1)
        self.seed = _check_int("seed", seed, minimum=0)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        #: Images of the most recently planned epoch that were not yielded (end-of-epoch remainder).
        self.dropped_last_epoch: int | None = None
        self._cache: tuple[int, list[np.ndarray]] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose (deterministic) plan the next iteration yields."""
        self.epoch = _check_int("epoch", epoch, minimum=0)

    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, epoch]))

    def _make_plan(self, epoch: int) -> tuple[list[np.ndarray], np.ndarray]:
        """Full batches of the epoch and the leftover indices, in a reproducible order."""
        raise NotImplementedError

    def plan(self, epoch: int | None = None) -> list[np.ndarray]:
        """The batches (int64 index arrays) of ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        batches, leftover = self._make_plan(epoch)
        if self.drop_last:
            self.dropped_last_epoch = int(leftover.size)
            if leftover.size:
                log.info("%s epoch %d: %d images dropped at the end", type(self).__name__, epoch, leftover.size)
        else:
            self.dropped_last_epoch = 0
            batches = batches + [leftover[i : i + self.batch_size] for i in range(0, leftover.size, self.batch_size)]
        self._cache = (epoch, batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.plan():
            yield batch.tolist()

    def __len__(self) -> int:
        return len(self.plan())

    def shard(self, rank: int, world_size: int) -> ShardedBatchSampler:
        """This rank's slice of every global batch (rank ``r`` gets positions ``[r·B/W, (r+1)·B/W)``)."""
        return ShardedBatchSampler(self, rank=rank, world_size=world_size)


class KClassBatchSampler(_EpochBatchSampler):
    """Batches of ``batch_size`` images from exactly ``k`` distinct classes, every image at most once per epoch.

    Args:
        labels: Class label of every dataset index (any integers).
        batch_size: Global batch size B.
        k: Distinct classes per batch (paper: K = 960 "class-balanced", K = 8 or 2 "class-imbalanced" at B = 4096).
        seed: Base seed; the plan of an epoch depends only on ``(seed, epoch)``.
        drop_last: Drop the images that cannot form a full K-class batch at the end of the epoch (default). With
            ``False`` they are yielded as extra batches of at most B images, which do not have exactly K classes.

    Raises:
        ValueError: ``k < 1``, ``batch_size < k``, ``k`` larger than the number of classes, fewer images than one
            batch, or labels that are not a 1-D integer array.

    Example::

        sampler = KClassBatchSampler(splits.train_labels, batch_size=256, k=8, seed=0)
        loader = DataLoader(dataset, batch_sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for batch in loader: ...
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        *,
        batch_size: int,
        k: int,
        seed: int,
        drop_last: bool = True,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, drop_last=drop_last)
        self.k = _check_int("k (classes per batch)", k, minimum=1)
        arr = np.asarray(labels)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"labels must be a 1-D integer array, got shape {arr.shape} and dtype {arr.dtype}")
        self.labels = arr.astype(np.int64, copy=False)
        self.class_ids, inverse = np.unique(self.labels, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        self._members = np.split(order, np.cumsum(np.bincount(inverse))[:-1]) if arr.size else []
        self.class_counts = np.asarray([m.size for m in self._members], dtype=np.int64)
        if self.k > len(self.class_ids):
            raise ValueError(
                f"k={self.k} classes per batch, but the labels have only {len(self.class_ids)} classes; "
                f"choose k <= {len(self.class_ids)}"
            )
        if self.batch_size < self.k:
            raise ValueError(
                f"batch_size={self.batch_size} is smaller than k={self.k}: a batch cannot hold {self.k} distinct classes"
            )
        if self.labels.size < self.batch_size:
            raise ValueError(f"only {self.labels.size} images, fewer than one batch of {self.batch_size}")

    def _split(self, chosen_remaining: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Images to take from each chosen class: B split as evenly as possible, topped up where a class runs out."""
        k, b = self.k, self.batch_size
        quota = np.full(k, b // k, dtype=np.int64)
        quota[rng.choice(k, size=b % k, replace=False)] += 1
        take = np.minimum(quota, chosen_remaining)
        short = b - int(take.sum())
        while short > 0:  # water-filling over the chosen classes that still have images
            spare = chosen_remaining - take
            cand = np.flatnonzero(spare > 0)
            share = np.full(cand.size, short // cand.size, dtype=np.int64)
            share[rng.choice(cand.size, size=short % cand.size, replace=False)] += 1
            add = np.minimum(share, spare[cand])
            take[cand] += add
            short -= int(add.sum())
        return take

    def _make_plan(self, epoch: int) -> tuple[list[np.ndarray], np.ndarray]:
        rng = self._rng(epoch)
        queues = [rng.permutation(m) for m in self._members]
        remaining = self.class_counts.copy()
        pos = np.zeros_like(remaining)
        k, b = self.k, self.batch_size
        batches: list[np.ndarray] = []
        while True:
            active = np.flatnonzero(remaining > 0)
            if active.size < k:
                break
            rem = remaining[active]
            if np.partition(rem, rem.size - k)[rem.size - k :].sum() < b:
                break  # not even the K fullest classes can fill a batch
            p = rem / rem.sum()
            for _ in range(16):
                chosen = rng.choice(active, size=k, replace=False, p=p)
                if remaining[chosen].sum() >= b:
                    break
            else:  # rare, only near the end of an epoch: take the K fullest classes
                chosen = active[np.argsort(-rem, kind="stable")[:k]]
            take = self._split(remaining[chosen], rng)
            parts = [queues[c][pos[c] : pos[c] + t] for c, t in zip(chosen.tolist(), take.tolist())]
            pos[chosen] += take
            remaining[chosen] -= take
            batches.append(rng.permutation(np.concatenate(parts)))
        leftover = np.concatenate([q[p:] for q, p in zip(queues, pos.tolist())]) if queues else np.empty(0, np.int64)
        return batches, rng.permutation(leftover).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"KClassBatchSampler(n={self.labels.size}, classes={len(self.class_ids)}, batch_size={self.batch_size}, "
            f"k={self.k}, seed={self.seed}, drop_last={self.drop_last})"
        )


class RandomBatchSampler(_EpochBatchSampler):
    """The control: a uniformly random permutation per epoch cut into batches (standard shuffling).

    Args:
        n: Dataset size.
        batch_size: Global batch size B.
        seed: Base seed; the permutation of an epoch depends only on ``(seed, epoch)``.
        drop_last: Drop the last ``n mod B`` images (counted in :attr:`dropped_last_epoch`).
    """

    def __init__(self, n: int, *, batch_size: int, seed: int, drop_last: bool = True) -> None:
        super().__init__(batch_size=batch_size, seed=seed, drop_last=drop_last)
        self.n = _check_int("n", n, minimum=1)
        if drop_last and self.n < self.batch_size:
            raise ValueError(f"only {self.n} images, fewer than one batch of {self.batch_size}")

    def _make_plan(self, epoch: int) -> tuple[list[np.ndarray], np.ndarray]:
        perm = self._rng(epoch).permutation(self.n).astype(np.int64)
        full = (self.n // self.batch_size) * self.batch_size
        return [perm[i : i + self.batch_size] for i in range(0, full, self.batch_size)], perm[full:]

    def __repr__(self) -> str:
        return f"RandomBatchSampler(n={self.n}, batch_size={self.batch_size}, seed={self.seed}, drop_last={self.drop_last})"


class ShardedBatchSampler(torch.utils.data.Sampler[list[int]]):
    """One DDP rank's view of a global batch sampler: contiguous, disjoint slices of every global batch.

    Args:
        parent: The global sampler (identical on every rank: same labels, seed and epoch).
        rank: This process's rank.
        world_size: Number of processes; must divide the global batch size.

    Raises:
        ValueError: ``world_size`` does not divide ``batch_size``, ``rank`` out of range, or ``drop_last=False``
            (a partial last batch cannot be split evenly).
    """

    def __init__(self, parent: _EpochBatchSampler, *, rank: int, world_size: int) -> None:
        self.world_size = _check_int("world_size", world_size, minimum=1)
        self.rank = _check_int("rank", rank, minimum=0)
        if self.rank >= self.world_size:
            raise ValueError(f"rank {self.rank} out of range for world_size {self.world_size}")
        if parent.batch_size % self.world_size:
            raise ValueError(
                f"global batch_size {parent.batch_size} is not divisible by world_size {self.world_size}"
            )
        if not parent.drop_last:
            raise ValueError("sharding needs drop_last=True so that every global batch splits evenly across ranks")
        self.parent = parent
        self.local_batch_size = parent.batch_size // self.world_size

    def set_epoch(self, epoch: int) -> None:
        self.parent.set_epoch(epoch)

    @property
    def dropped_last_epoch(self) -> int | None:
        return self.parent.dropped_last_epoch

    def __iter__(self) -> Iterator[list[int]]:
        lo = self.rank * self.local_batch_size
        for batch in self.parent.plan():
            yield batch[lo : lo + self.local_batch_size].tolist()

    def __len__(self) -> int:
        return len(self.parent)


def make_batch_sampler(
    labels: Sequence[int] | np.ndarray,
    *,
    batch_size: int,
    k: int | None,
    seed: int,
    drop_last: bool = True,
) -> _EpochBatchSampler:
    """:class:`KClassBatchSampler` for an integer ``k``; :class:`RandomBatchSampler` (the control) for ``k=None``."""
    if k is None:
        return RandomBatchSampler(len(labels), batch_size=batch_size, seed=seed, drop_last=drop_last)
    return KClassBatchSampler(labels, batch_size=batch_size, k=k, seed=seed, drop_last=drop_last)
