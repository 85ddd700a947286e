"""Reported differences: paired-seed verdicts under the points and the relative reading, on synthetic run records.

Expected intervals are computed by hand from the paired differences with Student's t quantile for df = 2 from a
printed t-table (4.303): three pairs with differences ``m − 0.1, m, m + 0.1`` have sd 0.1 and a 95 % CI of
``m ± 4.303 × 0.1 / √3 = m ± 0.248``.
"""

from __future__ import annotations

import math

import pytest

from benchmark.report.gains import (
    GAIN_VERDICTS,
    evaluate_differences,
    judge_interval,
    result_cells,
)
from benchmark.suite.differences_spec import Interval, ReportedDifference

HALF = 4.303 * 0.1 / math.sqrt(3)  # 0.2484


def rec(experiment, variant, seed, top1, *, profile="paper", suite="s", **extra):
    r = {"suite": suite, "profile": profile, "experiment": experiment, "variant": variant, "seed": seed,
         "status": "ok", "config": {"experiment": {"backbone": {"name": "resnet18"}}}, "data": {"dataset": "cifar100", "n_train": 50000},
         "pretrain": {"epochs": 1000, "steps": 195000}, "metrics": {"linear": {"top1": top1, "top5": 99.0}}}
    r.update(extra)
    return r


def runs(mean_gain: float, control=(49.0, 50.0, 51.0), **kw):
    """Control top-1 per seed and a treatment whose paired differences are mean_gain - 0.1, mean_gain, + 0.1."""
    out = []
    for seed, (c, d) in enumerate(zip(control, (mean_gain - 0.1, mean_gain, mean_gain + 0.1), strict=True)):
        out += [rec("e", "none", seed, c, **kw), rec("e", "so", seed, c + d, **kw)]
    return out


def difference(**kw) -> ReportedDifference:
    data = {
        "id": "gain", "statement": "SO improves top-1", "quote": "SO improves Top-1 accuracy by $3\\%$.",
        "source": {"paper": "arXiv 0000.00000", "table": "Table 2", "location": "§6.1, p. 8"},
        "value": 3.0, "metric": "linear.top1",
        "comparisons": [{"treatment": {"experiment": "e", "variant": "so"},
                         "control": {"experiment": "e", "variant": "none"}}],
    }
    data.update(kw)
    return ReportedDifference.model_validate({k: v for k, v in data.items() if v is not None})


def judged(diff: ReportedDifference, records) -> list:
    return evaluate_differences([diff], records, suite="s")


def test_points_and_relative_readings_differ_and_use_the_paired_control_mean():
    # paired gains 1.4, 1.5, 1.6 on controls 49, 50, 51 (mean 50); an unpaired control seed at 0 must not count
    records = runs(1.5) + [rec("e", "none", 9, 0.0)]
    (r,) = judged(difference(value=3.0), records)
    assert r.stats.n == 3 and r.seeds == [0, 1, 2]
    assert (r.stats.ci_low, r.stats.ci_high) == pytest.approx((1.5 - HALF, 1.5 + HALF), abs=1e-3)
    assert r.control_mean == pytest.approx(50.0)
    # points: 3 points is above the CI [1.25, 1.75]; relative: 3 % of 50 = 1.5 points, inside it
    assert r.readings["points"].verdict == "smaller than reported"
    assert r.readings["relative"].verdict == "consistent"
    assert r.readings["relative"].interval == Interval(1.5, 1.5)
    cells = result_cells(r)
    assert cells["reported_relative"].startswith("1.5 (3 % of the control mean 50)")
    assert cells["verdict_points"] == "− smaller than reported" and cells["verdict_relative"] == "✓ consistent"
    assert r.unpaired == {"control": [9]}


@pytest.mark.parametrize("gain, verdict", [(3.0, "consistent"), (4.0, "larger than reported"),
                                           (2.0, "smaller than reported")])
def test_exact_value_against_the_interval(gain, verdict):
    (r,) = judged(difference(value=3.0, unit="points"), runs(gain))
    assert r.readings["points"].verdict == verdict
    assert set(r.readings) == {"points"}  # unit points: the relative reading is not judged
    assert result_cells(r)["verdict_relative"] == "— (unit: points)"


def test_relative_unit_judges_only_the_relative_reading():
    # 3 % of 50 = 1.5: the CI [2.75, 3.25] of a 3-point gain is above it
    (r,) = judged(difference(value=3.0, unit="relative_percent"), runs(3.0))
    assert set(r.readings) == {"relative"} and r.readings["relative"].verdict == "larger than reported"


@pytest.mark.parametrize("gain, verdict", [(3.0, "consistent"), (1.5, "smaller than reported"),
                                           (9.5, "larger than reported"), (9.2, "consistent")])
def test_range_is_between_its_ends(gain, verdict):
    # CI = gain ± 0.248: overlaps [3, 9] at 3.0 and 9.2 (9.2 − 0.248 < 9), not at 1.5 or 9.5
    (r,) = judged(difference(value=None, range=[3.0, 9.0], unit="points"), runs(gain))
    assert r.readings["points"].verdict == verdict


@pytest.mark.parametrize("gain, verdict", [(1.5, "consistent"), (-1.0, "smaller than reported"),
                                           (0.0, "consistent"), (12.5, "larger than reported")])
def test_up_to_is_between_zero_and_the_value(gain, verdict):
    # CI of a 0.0 gain is [−0.25, 0.25]: it meets (0, 12]; a −1.0 gain's CI lies entirely below 0
    (r,) = judged(difference(value=12.0, bound="up_to", unit="points"), runs(gain))
    assert r.readings["points"].verdict == verdict


def test_up_to_excludes_zero_itself():
    assert judge_interval(0.0, 0.0, Interval(0.0, 12.0, lo_open=True)) == "smaller than reported"
    assert judge_interval(-1.0, 0.0, Interval(0.0, 12.0, lo_open=True)) == "smaller than reported"
    assert judge_interval(-1.0, 1e-9, Interval(0.0, 12.0, lo_open=True)) == "consistent"


@pytest.mark.parametrize("gain, verdict", [(1.5, "smaller than reported"), (3.0, "consistent"),
                                           (20.0, "consistent")])
def test_at_least_has_no_upper_end(gain, verdict):
    (r,) = judged(difference(value=3.0, bound="at_least", unit="points"), runs(gain))
    assert r.readings["points"].verdict == verdict


def test_negative_bounds_mirror_around_zero_and_relative_scales_them():
    assert difference(value=-8.0, bound="at_least").interval() == Interval(-math.inf, -8.0)
    assert difference(value=-5.0, bound="up_to").interval() == Interval(-5.0, 0.0, hi_open=True)
    assert difference(value=12.0, bound="up_to").interval(0.5) == Interval(0.0, 6.0, lo_open=True)
    assert difference(value=None, range=[3.0, 9.0]).interval(0.5) == Interval(1.5, 4.5)


def test_one_pair_is_inconclusive_under_both_readings():
    records = [rec("e", "none", 0, 50.0), rec("e", "so", 0, 53.0), rec("e", "so", 1, 60.0)]
    (r,) = judged(difference(), records)
    assert r.stats.n == 1 and r.stats.ci_low is None
    assert {k: v.verdict for k, v in r.readings.items()} == {"points": "inconclusive", "relative": "inconclusive"}
    assert r.control_mean == 50.0  # the reported relative Δ is still shown: 3 % of 50
    assert result_cells(r)["reported_relative"].startswith("1.5 ")


def test_other_profiles_and_proxies_are_not_comparable():
    diff = difference(comparisons=[
        {"treatment": {"experiment": "e", "variant": "so"}, "control": {"experiment": "e", "variant": "none"}},
        {"treatment": {"experiment": "e", "variant": "so"}, "control": {"experiment": "e", "variant": "none"},
         "profiles": ["paper"], "proxy": "CIFAR-10 subset stands in for CIFAR-100"},
    ])
    out = judged(diff, runs(3.0) + runs(3.0, profile="cpu"))
    rows = {(r.comparison_index, r.profile): r for r in out}
    assert set(rows) == {(0, "cpu"), (0, "paper"), (1, "paper")}
    assert rows[(0, "paper")].comparable and rows[(0, "paper")].comparability_text().startswith("paper scale")
    cpu = rows[(0, "cpu")]
    assert not cpu.comparable and cpu.readings["points"].verdict == "consistent"  # computed, then marked
    assert cpu.comparability_text() == "x not comparable (scale: cpu: cifar100 n=50000, resnet18, 1000 ep / 195000 steps)"
    proxy = rows[(1, "paper")]
    assert not proxy.comparable and "proxy: CIFAR-10 subset stands in for CIFAR-100" in proxy.comparability_text()


def test_not_checked_and_not_covered_rows():
    diff = difference(comparisons=[{"treatment": {"experiment": "x", "variant": "so"},
                                    "control": {"experiment": "x", "variant": "none"}}])
    (r,) = judged(diff, runs(3.0))
    assert r.status == "not checked" and r.profile is None and "no runs of x/so or x/none" in r.reason
    assert result_cells(r)["verdict_points"] == f"{GAIN_VERDICTS['not checked']} not checked"
    uncovered = difference(comparisons=None, not_covered="detection AP: detectron2 fine-tuning not implemented")
    (u,) = judged(uncovered, runs(3.0))
    assert u.status == "not covered" and u.reason.startswith("detection AP")


def test_failed_runs_are_listed_not_paired():
    records = runs(3.0)
    records[1] = {**records[1], "status": "failed", "failure": {"kind": "diverged", "reason": "nan"}}
    (r,) = judged(difference(), records)
    assert r.stats.n == 2 and any("run failed" in m for m in r.missing)


@pytest.mark.parametrize("bad, message", [
    ({"range": [3.0, 9.0]}, "exactly one of value"),
    ({"value": None}, "exactly one of value"),
    ({"value": None, "range": [9.0, 3.0]}, "low <= high"),
    ({"value": None, "range": [3.0, 9.0], "bound": "up_to"}, "remove bound"),
    ({"value": 0.0, "bound": "at_least"}, "non-zero"),
    ({"comparisons": None}, "exactly one of comparisons"),
    ({"not_covered": "not implemented"}, "exactly one of comparisons"),
    ({"unit": "percent"}, "unit"),
    ({"source": {"paper": "arXiv 0000.00000"}}, "say where"),
])
def test_inconsistent_specs_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        data = {"id": "gain", "statement": "s", "quote": "q", "source": {"paper": "p", "table": "Table 2"},
                "value": 3.0, "metric": "linear.top1",
                "comparisons": [{"treatment": {"experiment": "e", "variant": "so"},
                                 "control": {"experiment": "e", "variant": "none"}}]}
        data.update(bad)
        ReportedDifference.model_validate({k: v for k, v in data.items() if v is not None})
