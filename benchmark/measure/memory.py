"""Peak memory of one call (a training step, a loss forward + backward), on GPU and on CPU.

What is measured, exactly:

* **CUDA, tensor memory** — as the SFRIK code does (valeoai/sfrik ``main_ssl_methods.py``:
  ``torch.cuda.reset_peak_memory_stats()`` at the start of every step, ``torch.cuda.max_memory_allocated()`` logged):
  ``tensor_peak_bytes`` is the allocator's peak of *allocated* bytes during the call (model, optimizer state and
  activations together, not reserved memory and not nvidia-smi); ``tensor_peak_above_start_bytes`` subtracts
  ``memory_allocated()`` at the call's start (what the call itself adds). ``reserved_peak_bytes`` is
  ``max_memory_reserved()`` (the caching allocator's pool).
* **CPU, tensor memory** — PyTorch has no CPU allocator statistics, and ``tracemalloc`` does not see tensor storage
  (allocated in C++, outside Python's allocator). The option used is the PyTorch profiler with
  ``profile_memory=True``: every CPU-allocator allocation and free made while it runs is reported as a ``[memory]``
  event with a signed byte count; their running sum in time order is the bytes allocated *during* the call that
  are live at that moment, and its maximum is ``tensor_peak_above_start_bytes``. Frees of tensors allocated
  *before* the call (e.g. the previous step's gradients released by ``zero_grad``) are not reported by the profiler,
  so on a training step this is an upper bound of the increase over the starting level; for a loss on
  pre-computed embeddings it is exact. The absolute level (``tensor_peak_bytes``) is unknown on CPU (``None``). The
  profiler slows the call down, so it runs on a separate, untimed call.
* **CPU, process memory** — peak resident set size: on Linux the kernel's high-water mark ``VmHWM`` of
  ``/proc/self/status``, reset to the current RSS before the call by writing ``5`` to ``/proc/self/clear_refs``
  (kernel >= 4.0), so ``rss_peak_bytes`` is the peak *during the call* (``rss_source = "VmHWM"``). Elsewhere the
  lifetime maximum ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is reported (``rss_source = "ru_maxrss"``: never
  reset, an upper bound). RSS counts everything the process holds: Python objects, the allocator's retained free
  blocks, shared libraries; DataLoader workers are separate processes and are not included.

Out-of-memory is a result: :func:`is_out_of_memory` recognises the CUDA, CPU-allocator and Python variants so
callers record ``{"status": "out_of_memory", ...}`` instead of crashing.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "MemorySample",
    "StepMemory",
    "cpu_tensor_peak",
    "memory_profiler",
    "profiled_tensor_sample",
    "profiler_allocations",
    "is_out_of_memory",
    "oom_result",
    "peak_rss",
    "reset_peak_rss",
    "rss_bytes",
]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
MEMORY_EVENT = "[memory]"


# ------------------------------------------------------------------------------------------- process RSS
def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_bytes() -> int | None:
    """Current resident set size (``VmRSS``), or None where ``/proc`` is unavailable."""
    return _status_kib("VmRSS")


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS (``echo 5 > /proc/self/clear_refs``).

    Returns:
        True if the reset worked (Linux >= 4.0 with a writable ``/proc``), else False.
    """
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> tuple[int | None, str]:
    """``(bytes, source)``: ``VmHWM`` (peak since the last :func:`reset_peak_rss`) or lifetime ``ru_maxrss``."""
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm, "VmHWM"
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024), "ru_maxrss"


# ------------------------------------------------------------------------------------------- CPU tensors
@dataclass(frozen=True)
class ProfiledAllocations:
    """Allocation totals of one profiled call (bytes)."""

    peak_above_start: int
    net: int
    allocated_total: int
    events: int


def _memory_trace_peak(events: list[tuple[int, int]]) -> ProfiledAllocations:
    """Peak of the running sum of ``(time_ns, signed_bytes)`` events in time order (allocations first on ties)."""
    running = peak = allocated = 0
    for _, nbytes in sorted(events, key=lambda e: (e[0], -e[1])):
        running += nbytes
        peak = max(peak, running)
        allocated += max(nbytes, 0)
    return ProfiledAllocations(peak_above_start=peak, net=running, allocated_total=allocated, events=len(events))


def cpu_tensor_peak(fn: Callable[[], Any]) -> tuple[Any, ProfiledAllocations]:
    """Run ``fn()`` under ``torch.profiler`` with ``profile_memory=True``; returns ``(result, allocations)``.

    Only CPU-allocator events are counted (GPU allocations are measured by :class:`StepMemory`).
    """
    with memory_profiler() as prof:
        out = fn()
    return out, profiler_allocations(prof)


def memory_profiler() -> Any:
    """A CPU ``torch.profiler.profile`` recording allocator events (``profile_memory=True``), not yet started."""
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # silence Kineto's "gpuGetDeviceCount failed" on CPU machines
    return profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=False)


def profiler_allocations(prof: Any) -> ProfiledAllocations:
    """CPU allocation totals of a finished ``torch.profiler.profile(profile_memory=True)`` session."""
    events: list[tuple[int, int]] = []
    for ev in prof.profiler.kineto_results.events():
        if ev.name() == MEMORY_EVENT and ev.device_type() == torch.autograd.DeviceType.CPU:
            events.append((int(ev.start_ns()), int(ev.nbytes())))
    return _memory_trace_peak(events)


# ------------------------------------------------------------------------------------------- one call
@dataclass
class MemorySample:
    """Peak memory of one call; fields that do not apply on the device are None (see the module docstring)."""

    device: str
    tensor_source: str | None = None  # "cuda.max_memory_allocated" | "torch.profiler[profile_memory]"
    tensor_peak_bytes: int | None = None
    tensor_start_bytes: int | None = None
    tensor_peak_above_start_bytes: int | None = None
    reserved_peak_bytes: int | None = None
    rss_source: str | None = None  # "VmHWM" (reset per call) | "ru_maxrss" (lifetime)
    rss_start_bytes: int | None = None
    rss_peak_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StepMemory:
    """Per-call peak memory without the profiler: CUDA allocator peaks, and the process RSS high-water mark.

    Usage: ``mem = StepMemory(device); mem.start(); ...; sample = mem.stop()``. Cheap enough for every timed step
    (one ``/proc`` write and two reads on CPU; two allocator calls on CUDA).
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._sample: MemorySample | None = None

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda" and torch.cuda.is_available()

    def start(self) -> None:
        s = MemorySample(device=str(self.device))
        if self.is_cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
            s.tensor_source = "cuda.max_memory_allocated"
            s.tensor_start_bytes = int(torch.cuda.memory_allocated(self.device))
        reset_ok = reset_peak_rss()
        s.rss_start_bytes = rss_bytes()
        s.rss_source = "VmHWM" if reset_ok else "ru_maxrss"
        self._sample = s

    def stop(self) -> MemorySample:
        s = self._sample
        if s is None:
            raise RuntimeError("StepMemory.stop() called before start()")
        if self.is_cuda:
            s.tensor_peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
            s.tensor_peak_above_start_bytes = s.tensor_peak_bytes - int(s.tensor_start_bytes or 0)
            s.reserved_peak_bytes = int(torch.cuda.max_memory_reserved(self.device))
        peak, source = peak_rss()
        s.rss_peak_bytes = peak
        if source != "VmHWM":
            s.rss_source = source
        self._sample = None
        return s

    @contextlib.contextmanager
    def measure(self) -> Iterator[list[MemorySample]]:
        """Context manager form: ``with mem.measure() as box: ...``; ``box[0]`` is the sample afterwards."""
        box: list[MemorySample] = []
        self.start()
        try:
            yield box
        finally:
            box.append(self.stop())


def profiled_tensor_sample(fn: Callable[[], Any], device: torch.device | str) -> tuple[Any, MemorySample]:
    """Tensor memory of one call of ``fn``: CUDA allocator peaks, or the profiler's allocation trace on CPU.

    On CPU the RSS fields stay None: the profiler's own buffers would inflate them (take RSS from an unprofiled
    call with :class:`StepMemory`).
    """
    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        mem = StepMemory(dev)
        mem.start()
        out = fn()
        return out, mem.stop()
    out, alloc = cpu_tensor_peak(fn)
    sample = MemorySample(device=str(dev), tensor_source="torch.profiler[profile_memory]",
                          tensor_peak_above_start_bytes=alloc.peak_above_start)
    return out, sample


# ------------------------------------------------------------------------------------------- OOM
_OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA OOM, ``MemoryError`` and the CPU allocator's "can't allocate memory" RuntimeError."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    oom_cls = getattr(torch, "OutOfMemoryError", None)
    if oom_cls is not None and isinstance(exc, oom_cls):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _OOM_MARKERS)


def oom_result(exc: BaseException, device: torch.device | str | None = None) -> dict[str, Any]:
    """The record of an out-of-memory measurement; frees the CUDA cache so the caller can go on."""
    if device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return {"status": "out_of_memory", "error": f"{type(exc).__name__}: {first}"}


# ------------------------------------------------------------------------------------------- summaries
def _max(values: list[int | None]) -> int | None:
    vals = [v for v in values if v is not None]
    return max(vals) if vals else None


def summarize_memory(samples: list[MemorySample], profiled: MemorySample | None = None) -> dict[str, Any]:
    """Peaks over the measured calls (max over calls), plus the per-call values.

    ``tensor_*`` come from the per-call CUDA samples, or on CPU from ``profiled`` (one profiled call);
    ``rss_*`` from the per-call samples. ``rss_peak_above_start_bytes`` is ``max(VmHWM − VmRSS at start)``.
    """
    if not samples and profiled is None:
        raise ValueError("summarize_memory needs at least one sample")
    device = samples[0].device if samples else profiled.device  # type: ignore[union-attr]
    out: dict[str, Any] = {"device": device}
    cuda = [s for s in samples if s.tensor_source == "cuda.max_memory_allocated"]
    if cuda:
        out["tensor_source"] = cuda[0].tensor_source
        out["tensor_peak_bytes"] = _max([s.tensor_peak_bytes for s in cuda])
        out["tensor_peak_above_start_bytes"] = _max([s.tensor_peak_above_start_bytes for s in cuda])
        out["reserved_peak_bytes"] = _max([s.reserved_peak_bytes for s in cuda])
    elif profiled is not None:
        out["tensor_source"] = profiled.tensor_source
        out["tensor_peak_bytes"] = profiled.tensor_peak_bytes
        out["tensor_peak_above_start_bytes"] = profiled.tensor_peak_above_start_bytes
    else:
        out["tensor_source"] = None
        out["tensor_peak_bytes"] = out["tensor_peak_above_start_bytes"] = None
    if samples:
        out["rss_source"] = samples[0].rss_source
        out["rss_peak_bytes"] = _max([s.rss_peak_bytes for s in samples])
        above = [s.rss_peak_bytes - s.rss_start_bytes for s in samples
                 if s.rss_peak_bytes is not None and s.rss_start_bytes is not None]
        out["rss_peak_above_start_bytes"] = max(above) if above and samples[0].rss_source == "VmHWM" else None
        out["per_call"] = {
            "tensor_peak_bytes": [s.tensor_peak_bytes for s in samples] if cuda else None,
            "rss_peak_bytes": [s.rss_peak_bytes for s in samples],
        }
    return out
