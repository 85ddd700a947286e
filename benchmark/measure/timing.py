"""Wall-clock timing: robust per-step statistics, device synchronisation, interleaved A/B measurement.

Statistics follow the issue's definition of a step-time measurement: "per-step wall time (median, p10/p90 or IQR
over steps after warm-up), throughput (images/s)". Percentiles use numpy's default linear interpolation. Throughput
is computed from the **median** step time (robust to the stragglers a shared machine produces), in images per
second where the caller says how many images one step processes (images, not views).

Ratios between two code paths should be measured **interleaved** within one process (:func:`interleave`: A, B, A,
B, ...), so that a change of machine load hits both arms alike; the ratio of medians is then reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["TimingStats", "summarize_times", "synchronize", "timed", "interleave", "ratio_of_medians"]


@dataclass(frozen=True)
class TimingStats:
    """Order statistics of ``n`` wall times in seconds (warm-up excluded)."""

    n: int
    median: float
    p10: float
    p90: float
    q25: float
    q75: float
    mean: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        return self.q75 - self.q25

    def throughput(self, items_per_call: float) -> float:
        """Items (e.g. images) per second at the median time."""
        return float(items_per_call) / self.median if self.median > 0 else math.inf

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize_times(times: Sequence[float]) -> TimingStats:
    """Median, p10/p90, quartiles, mean, min and max of ``times`` (seconds).

    Raises:
        ValueError: If ``times`` is empty or holds a negative or non-finite value.
    """
    arr = np.asarray(list(times), dtype=np.float64)
    if arr.size == 0:
        raise ValueError("summarize_times needs at least one time")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"times must be finite and >= 0, got {arr.tolist()}")
    p10, q25, med, q75, p90 = np.percentile(arr, [10, 25, 50, 75, 90])
    return TimingStats(n=int(arr.size), median=float(med), p10=float(p10), p90=float(p90), q25=float(q25),
                       q75=float(q75), mean=float(arr.mean()), min=float(arr.min()), max=float(arr.max()))


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued kernels on ``device`` (CUDA only; CPU ops are synchronous)."""
    if device is None:
        return
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(dev)


def timed(fn: Callable[[], Any], *, device: torch.device | str | None = None) -> tuple[Any, float]:
    """Run ``fn()`` once between two device synchronisations; returns ``(result, seconds)``."""
    synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - t0


def interleave(
    arms: Mapping[str, Callable[[], Any]],
    *,
    rounds: int,
    warmup_rounds: int = 1,
    device: torch.device | str | None = None,
) -> dict[str, list[float]]:
    """Time every arm once per round, round-robin (A, B, A, B, ...); returns the post-warm-up times per arm.

    The arm order alternates between rounds (A B, B A, ...) so neither arm always runs right after the other.

    Raises:
        ValueError: If there is no arm or ``rounds < 1`` / ``warmup_rounds < 0``.
    """
    if not arms:
        raise ValueError("interleave needs at least one arm")
    if rounds < 1 or warmup_rounds < 0:
        raise ValueError(f"rounds must be >= 1 and warmup_rounds >= 0, got {rounds} and {warmup_rounds}")
    names = list(arms)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup_rounds + rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            _, seconds = timed(arms[name], device=device)
            if r >= warmup_rounds:
                out[name].append(seconds)
    return out


def ratio_of_medians(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """``median(numerator) / median(denominator)``."""
    return summarize_times(numerator).median / summarize_times(denominator).median
