"""Time and peak memory of a repeated call (a loss forward + backward, a probe fit, a training step).

``warmup_steps`` untimed calls, then ``steps`` timed calls (each between device synchronisations, each with its own
wall time, process CPU time ``time.process_time`` as ``cpu_time_s``, and peak-memory sample, see
:mod:`benchmark.measure.memory`), then on CPU one extra call under the profiler for the tensor-allocation peak (the
profiler slows the call down, so it is never timed). Out-of-memory at any point is returned as
``{"status": "out_of_memory", ...}`` with whatever was measured before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from benchmark.measure.memory import StepMemory, is_out_of_memory, oom_result, profiled_tensor_sample, summarize_memory
from benchmark.measure.timing import summarize_times, timed

__all__ = ["measure_callable"]


def measure_callable(
    fn: Callable[[], Any],
    *,
    device: torch.device | str = "cpu",
    warmup_steps: int = 1,
    steps: int = 5,
    items_per_call: float | None = None,
    profile_memory: bool = True,
) -> dict[str, Any]:
    """Measure ``fn()``.

    Args:
        fn: The call; its result is discarded.
        device: Where ``fn`` runs (CUDA is synchronised around each call and its allocator peaks are read).
        warmup_steps: Untimed calls first.
        steps: Timed calls (>= 1).
        items_per_call: Items (images) one call processes, for ``throughput_per_s``; None to omit.
        profile_memory: On CPU, add one profiled call for the tensor-allocation peak.

    Returns:
        ``{"status": "ok", "time_s": TimingStats dict, "throughput_per_s", "memory": summarize_memory(...)}``, or
        ``{"status": "out_of_memory", "error", "phase", "steps_done"}`` (plus ``time_s`` if some calls finished).

    Raises:
        ValueError: On ``steps < 1`` or ``warmup_steps < 0``. Errors other than out-of-memory propagate.
    """
    if steps < 1 or warmup_steps < 0:
        raise ValueError(f"steps must be >= 1 and warmup_steps >= 0, got {steps} and {warmup_steps}")
    dev = torch.device(device)
    times: list[float] = []
    cpu: list[float] = []
    samples = []
    profiled = None
    phase = "warmup"
    mem = StepMemory(dev)
    try:
        for _ in range(warmup_steps):
            fn()
        phase = "timed"
        for _ in range(steps):
            mem.start()
            c0 = time.process_time()
            _, seconds = timed(fn, device=dev)
            cpu.append(time.process_time() - c0)
            samples.append(mem.stop())
            times.append(seconds)
        if profile_memory and dev.type != "cuda":
            phase = "memory_profile"
            _, profiled = profiled_tensor_sample(fn, dev)
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        out: dict[str, Any] = {**oom_result(exc, dev), "phase": phase, "steps_done": len(times)}
        if times:
            out["time_s"] = summarize_times(times).to_dict()
        return out
    stats = summarize_times(times)
    result: dict[str, Any] = {"status": "ok", "time_s": stats.to_dict(), "cpu_time_s": summarize_times(cpu).to_dict(),
                              "memory": summarize_memory(samples, profiled)}
    if items_per_call is not None:
        result["throughput_per_s"] = stats.throughput(items_per_call)
    return result
