"""Per-sample and per-step RNG seeds as pure functions of ``(seed, epoch, batch, position)``, and a scoped RNG state.

The seeds are splitmix64 hashes (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)
of the run seed and the sample's coordinates, so an augmentation does not depend on what was drawn before it, on
the number of loader workers or on a resume (:mod:`benchmark.train.sampling` pairs them with its batches;
:func:`benchmark.data.device_augment.step_seed` derives one per training step).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["sample_seeds", "seeded_rng"]

_MASK = (1 << 64) - 1


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele et al., OOPSLA 2014), element-wise on uint64."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(_MASK)
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(_MASK)
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(_MASK)
        return x ^ (x >> np.uint64(31))


def sample_seeds(seed: int, epoch: int, batch: int, positions: np.ndarray) -> np.ndarray:
    """63-bit seeds for the samples at ``positions`` of global batch ``batch`` of ``epoch`` (int64 array)."""
    h = np.uint64(0)
    for part in (seed, epoch, batch):
        h = _splitmix64(np.asarray(h ^ np.uint64(int(part) & _MASK), dtype=np.uint64))
    out = _splitmix64(h ^ np.asarray(positions, dtype=np.uint64))
    return (out >> np.uint64(1)).astype(np.int64)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run the block with torch (CPU), numpy and ``random`` seeded from ``seed``; restore all three afterwards."""
    generator = torch.default_generator  # the CPU generator only: torch.manual_seed would also touch CUDA (1-2 ms)
    torch_state = generator.get_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    generator.manual_seed(seed)
    np.random.seed(seed % (1 << 32))
    random.seed(seed)
    try:
        yield
    finally:
        generator.set_state(torch_state)
        np.random.set_state(np_state)
        random.setstate(py_state)
