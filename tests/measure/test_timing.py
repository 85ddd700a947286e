"""Timing statistics, device sync and interleaved A/B timing (benchmark.measure.timing)."""

from __future__ import annotations

import time

import pytest

from benchmark.measure.timing import interleave, ratio_of_medians, summarize_times, timed


def test_summary_statistics_match_linear_interpolation_percentiles():
    # times 1..10: rank r = p/100 * 9 (0-based), value = 1 + r
    s = summarize_times([float(x) for x in range(10, 0, -1)])
    assert s.n == 10
    assert s.median == pytest.approx(5.5)
    assert s.p10 == pytest.approx(1.9)
    assert s.p90 == pytest.approx(9.1)
    assert s.q25 == pytest.approx(3.25)
    assert s.q75 == pytest.approx(7.75)
    assert s.iqr == pytest.approx(4.5)
    assert (s.min, s.max, s.mean) == (1.0, 10.0, 5.5)
    assert s.throughput(11.0) == pytest.approx(2.0)  # items per second at the median
    assert set(s.to_dict()) == {"n", "median", "p10", "p90", "q25", "q75", "mean", "min", "max"}


@pytest.mark.parametrize("bad", [[], [0.1, -0.2], [float("nan")], [float("inf")]])
def test_summary_rejects_empty_and_invalid_times(bad):
    with pytest.raises(ValueError):
        summarize_times(bad)


def test_timed_returns_result_and_elapsed_time():
    out, seconds = timed(lambda: (time.sleep(0.02), 7)[1], device="cpu")
    assert out == 7
    assert seconds >= 0.02


def test_interleave_alternates_order_drops_warmup_and_separates_arms():
    calls: list[str] = []

    def slow() -> None:
        calls.append("slow")
        time.sleep(0.02)

    def fast() -> None:
        calls.append("fast")

    out = interleave({"slow": slow, "fast": fast}, rounds=3, warmup_rounds=1)
    assert calls == ["slow", "fast", "fast", "slow", "slow", "fast", "fast", "slow"]
    assert [len(v) for v in out.values()] == [3, 3]
    assert min(out["slow"]) >= 0.02
    assert ratio_of_medians(out["slow"], out["fast"]) > 1.0


@pytest.mark.parametrize("kw", [{"rounds": 0}, {"rounds": 1, "warmup_rounds": -1}])
def test_interleave_rejects_bad_counts(kw):
    with pytest.raises(ValueError):
        interleave({"a": lambda: None}, **kw)
    with pytest.raises(ValueError):
        interleave({}, rounds=1)
