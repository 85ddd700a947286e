"""Performance measurement: step time, throughput and peak memory of training steps and losses.

* :mod:`~benchmark.measure.timing` — robust statistics (median, p10/p90, IQR), device sync, interleaved A/B timing;
* :mod:`~benchmark.measure.memory` — peak memory of a call: CUDA allocator peaks, CPU tensor allocations through
  ``torch.profiler(profile_memory=True)``, process peak RSS; out-of-memory detection;
* :mod:`~benchmark.measure.calls` — warm-up + timed calls + memory of any callable (:func:`measure_callable`);
* :mod:`~benchmark.measure.callback` — :class:`MeasureCallback`, attached by the runner when an experiment sets
  ``measure: {enabled: true, warmup_steps, steps, loss_only, regularizer_only}``; its summary is stored under
  ``record["pretrain"]["measure"]``;
* :mod:`~benchmark.measure.machine` — CPU model, cores, load average, torch version for every record.
"""

from benchmark.measure.callback import MeasureCallback, batch_views
from benchmark.measure.calls import measure_callable
from benchmark.measure.machine import cpu_model, load_average, machine_info
from benchmark.measure.memory import (
    MemorySample,
    StepMemory,
    cpu_tensor_peak,
    is_out_of_memory,
    oom_result,
    peak_rss,
    reset_peak_rss,
    rss_bytes,
    summarize_memory,
)
from benchmark.measure.timing import TimingStats, interleave, ratio_of_medians, summarize_times, synchronize, timed

__all__ = [
    "MeasureCallback",
    "MemorySample",
    "StepMemory",
    "TimingStats",
    "batch_views",
    "cpu_model",
    "cpu_tensor_peak",
    "interleave",
    "is_out_of_memory",
    "load_average",
    "machine_info",
    "measure_callable",
    "oom_result",
    "peak_rss",
    "ratio_of_medians",
    "reset_peak_rss",
    "rss_bytes",
    "summarize_memory",
    "summarize_times",
    "synchronize",
    "timed",
]
