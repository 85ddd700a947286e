"""Peak-memory measurement: the CPU profiler's allocation trace, RSS high-water mark, OOM as a result."""

from __future__ import annotations

import mmap

import pytest
import torch

from benchmark.measure.calls import measure_callable
from benchmark.measure.memory import (
    MemorySample,
    StepMemory,
    _memory_trace_peak,
    cpu_tensor_peak,
    is_out_of_memory,
    reset_peak_rss,
    summarize_memory,
)

MIB = 1 << 20


def test_trace_peak_is_the_maximum_running_sum_in_time_order():
    # (time, bytes): +10 at t1, +5 at t2, -10 at t3, +7 at t4 → running 10, 15, 5, 12
    a = _memory_trace_peak([(4, 7), (1, 10), (3, -10), (2, 5)])
    assert (a.peak_above_start, a.net, a.allocated_total, a.events) == (15, 12, 22, 4)
    # a free and an allocation at the same timestamp: the allocation counts first (conservative peak)
    assert _memory_trace_peak([(1, 8), (2, -8), (2, 8)]).peak_above_start == 16
    assert _memory_trace_peak([]).peak_above_start == 0


def test_cpu_profiler_sees_tensor_allocations_and_frees():
    def fn() -> torch.Tensor:
        a = torch.ones(2 * MIB)  # 8 MiB float32
        del a
        return torch.ones(MIB)  # 4 MiB, reuses the freed space in the running sum

    out, alloc = cpu_tensor_peak(fn)
    assert out.numel() == MIB
    assert 8 * MIB <= alloc.peak_above_start < 9 * MIB  # not 12 MiB: the first tensor was freed
    assert 4 * MIB <= alloc.net < 5 * MIB  # the returned tensor is still alive


@pytest.mark.skipif(not reset_peak_rss(), reason="needs Linux /proc/self/clear_refs to reset the RSS high-water mark")
def test_step_memory_rss_high_water_mark_is_reset_per_call():
    mem = StepMemory("cpu")
    mem.start()
    # Fresh anonymous pages (not memory the allocator kept from earlier tests): 64 MiB touched, then unmapped.
    block = mmap.mmap(-1, 64 * MIB)
    for offset in range(0, 64 * MIB, 4096):
        block[offset] = 1
    block.close()
    first = mem.stop()
    mem.start()
    second = mem.stop()
    assert first.rss_source == "VmHWM"
    assert first.rss_peak_bytes - first.rss_start_bytes >= 48 * MIB
    assert second.rss_peak_bytes - second.rss_start_bytes < 16 * MIB  # the reset forgot the earlier peak
    assert first.tensor_peak_bytes is None  # no absolute tensor level on CPU


def test_summarize_memory_takes_the_max_over_calls():
    samples = [
        MemorySample(device="cuda:0", tensor_source="cuda.max_memory_allocated", tensor_peak_bytes=p,
                     tensor_start_bytes=100, tensor_peak_above_start_bytes=p - 100, reserved_peak_bytes=2 * p,
                     rss_source="VmHWM", rss_start_bytes=10, rss_peak_bytes=r)
        for p, r in [(300, 50), (500, 40), (400, 60)]
    ]
    s = summarize_memory(samples)
    assert (s["tensor_peak_bytes"], s["tensor_peak_above_start_bytes"], s["reserved_peak_bytes"]) == (500, 400, 1000)
    assert (s["rss_peak_bytes"], s["rss_peak_above_start_bytes"]) == (60, 50)
    assert s["per_call"]["tensor_peak_bytes"] == [300, 500, 400]
    with pytest.raises(ValueError):
        summarize_memory([])


def test_out_of_memory_is_recognised():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_measure_callable_counts_steps_and_reports_oom_as_a_result():
    calls = []
    res = measure_callable(lambda: calls.append(torch.ones(1000).sum()), warmup_steps=2, steps=3, items_per_call=10,
                           profile_memory=False)
    assert len(calls) == 5 and res["status"] == "ok"
    assert res["time_s"]["n"] == 3
    assert res["throughput_per_s"] == pytest.approx(10 / res["time_s"]["median"])
    assert len(res["memory"]["per_call"]["rss_peak_bytes"]) == 3

    state = {"n": 0}

    def grows() -> None:  # fits twice, then asks the CPU allocator for 2^60 bytes
        state["n"] += 1
        torch.empty(2**60 if state["n"] > 2 else 8, dtype=torch.uint8)

    oom = measure_callable(grows, warmup_steps=1, steps=3)
    assert oom["status"] == "out_of_memory" and oom["phase"] == "timed" and oom["steps_done"] == 1
    assert "can't allocate memory" in oom["error"]
    assert oom["time_s"]["n"] == 1

    with pytest.raises(ZeroDivisionError):  # other errors are bugs, not results
        measure_callable(lambda: 1 / 0, warmup_steps=0, steps=1)
    with pytest.raises(ValueError):
        measure_callable(lambda: None, steps=0)
