"""The paper's reported differences (gains stated in its text, not in a table cell), checked on paired seeds.

Most result numbers the target papers give outside their tables are relative gains written as a percentage, e.g.
"When we use ResNet18, MOCOv3 improves $3\\%$ on Top-1 accuracy" (He et al., NeurIPS 2024, §6.1), without saying
whether "%" means points or a relative change (the paper does not say which). Each becomes
one :class:`ReportedDifference` under ``reported_differences:`` in the paper's baselines file::

    reported_differences:
      - id: or_gain_mocov3_c100_r18
        statement: "OR improves MoCo V3's CIFAR-100 linear top-1 (ResNet-18)"
        quote: "When we use ResNet18, MOCOv3 improves $3\\%$ on Top-1 accuracy ..."
        source: {paper: "arXiv 2411.00392", table: "Table 2", location: "§6.1, p. 8"}
        value: 3.0                 # or range: [3.0, 9.0]
        bound: exact               # exact | up_to | at_least (with value); a range is 'between'
        unit: percent_unspecified  # points | relative_percent | percent_unspecified (judged under both readings)
        metric: linear.top1
        comparisons:
          - {treatment: {experiment: mocov3_c100, variant: resnet18+so-gamma1e-06},
             control: {experiment: mocov3_c100, variant: resnet18+none}}

Every comparison is judged at every profile that has runs of it (``profiles:`` restricts which), on runs paired by
seed as the claims are (:func:`benchmark.report.claims.pair_by_seed`): ``n`` pairs, the mean paired difference
treatment − control in points and its 95 % t-interval. The reported difference is read two ways:

* **points**: the value (or range) is a difference in points of the metric;
* **relative**: the value is a percentage of the control, i.e. ``value / 100 × mean(control)`` points, with the
  control's mean over the paired seeds at that profile.

The reported interval is ``[v, v]`` (``exact``), ``[lo, hi]`` (``range``), ``(0, v]`` (``up_to``) or ``[v, ∞)``
(``at_least``); for a negative ``v`` (a reduction, e.g. "8 % faster" as −8 on ``measure.step_time``) the last two
mirror to ``[v, 0)`` and ``(−∞, v]``. The verdict per reading compares the CI with that interval on the number line:

=========================  ========================================================================================
verdict                    rule
=========================  ========================================================================================
consistent                 the CI and the reported interval overlap
smaller than reported      the CI lies entirely below the reported interval
larger than reported       the CI lies entirely above it
inconclusive               fewer than 2 pairs (or an out-of-memory side: no CI)
not checked                no run of either side at any profile
=========================  ========================================================================================

A verdict at a profile other than ``paper``, or on a comparison with a ``proxy`` (e.g. a CIFAR-10 subset standing in
for CIFAR-100), is shown but marked ``x not comparable`` with its scale, as the value matrix marks such rows. A
difference that no experiment can check (e.g. detection AP, not implemented) gives ``not_covered`` with the reason
instead of comparisons and is listed with it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from benchmark.formatting import fmt_number
from benchmark.report.claims import (
    CONFIDENCE,
    PairedStats,
    comparison_problems,
    pair_by_seed,
    paired_stats,
    selects,
)
from benchmark.results.record import RecordLike, RunRecord, as_records
from benchmark.suite.differences_spec import GainComparison, Interval, ReportedDifference

GAIN_VERDICTS = {
    "consistent": "✓",
    "smaller than reported": "−",
    "larger than reported": "+",
    "inconclusive": "~",
    "not checked": "·",
    "not covered": "∅",
}
NOT_COMPARABLE = "x not comparable"


def judge_interval(ci_low: float, ci_high: float, reported: Interval) -> str:
    """``consistent`` if the closed CI meets the reported interval, else which side of it the CI lies on."""
    if ci_high < reported.lo or (ci_high == reported.lo and reported.lo_open):
        return "smaller than reported"
    if ci_low > reported.hi or (ci_low == reported.hi and reported.hi_open):
        return "larger than reported"
    return "consistent"


# ------------------------------------------------------------------------------------------------ results
@dataclass
class Reading:
    """One reading of the reported difference at one profile: the interval in points and the verdict."""

    interval: Interval | None
    verdict: str
    reason: str = ""


@dataclass
class GainResult:
    """One reported difference × comparison × profile (``profile`` None: not checked or not covered)."""

    difference: ReportedDifference
    suite: str
    comparison: GainComparison | None
    comparison_index: int | None
    profile: str | None
    status: str  # judged | not checked | not covered
    stats: PairedStats = field(default_factory=lambda: PairedStats(0, None, None, None, None))
    pairs: list[tuple[int, float, float]] = field(default_factory=list)
    unpaired: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    control_mean: float | None = None
    readings: dict[str, Reading] = field(default_factory=dict)
    scale: str = ""
    reason: str = ""

    @property
    def comparable(self) -> bool:
        """At paper scale: the ``paper`` profile and no proxy."""
        return self.profile == "paper" and self.comparison is not None and self.comparison.proxy is None

    @property
    def seeds(self) -> list[int]:
        return [s for s, _, _ in self.pairs]

    def comparability_text(self) -> str:
        if self.status != "judged":
            return ""
        if self.comparable:
            return f"paper scale ({self.scale})" if self.scale else "paper scale"
        proxy = f"; proxy: {self.comparison.proxy}" if self.comparison and self.comparison.proxy else ""
        return f"{NOT_COMPARABLE} (scale: {self.scale}{proxy})"


def _judge(diff: ReportedDifference, stats: PairedStats, control_mean: float | None) -> dict[str, Reading]:
    out: dict[str, Reading] = {}
    for reading in diff.readings:
        if reading == "points":
            interval: Interval | None = diff.interval(1.0)
        else:
            interval = diff.interval(control_mean / 100.0) if control_mean is not None else None
        if stats.n < 2:
            out[reading] = Reading(interval, "inconclusive", f"only {stats.n} pair(s) (needs >= 2 for a CI)")
        elif stats.ci_low is None or stats.ci_high is None or interval is None:
            out[reading] = Reading(interval, "inconclusive", "no confidence interval (a side ran out of memory)")
        else:
            out[reading] = Reading(interval, judge_interval(stats.ci_low, stats.ci_high, interval),
                                   f"{CONFIDENCE:.0%} CI vs the reported interval")
    return out


def evaluate_comparison(diff: ReportedDifference, comparison: GainComparison, records: list[RecordLike], *,
                        suite: str, profile: str, index: int = 0, scale: str = "") -> GainResult:
    """Judge one comparison of ``diff`` at one profile under each reading its unit allows."""
    paired = pair_by_seed(comparison.treatment, comparison.control, diff.metric, records, suite=suite,
                          profile=profile)
    stats = paired_stats(paired.diffs)
    controls = [c for _, _, c in paired.pairs]
    control_mean = sum(controls) / len(controls) if controls and all(math.isfinite(c) for c in controls) else None
    reason = "no paired seeds" if not paired.pairs else f"{stats.n} pair(s)"
    if paired.unpaired:
        reason += "; unpaired seeds: " + ", ".join(f"{k} {v}" for k, v in paired.unpaired.items())
    if paired.missing:
        reason += f"; {len(paired.missing)} run(s) without a value"
    return GainResult(difference=diff, suite=suite, comparison=comparison, comparison_index=index, profile=profile,
                      status="judged", stats=stats, pairs=paired.pairs, unpaired=paired.unpaired,
                      missing=paired.missing, control_mean=control_mean, readings=_judge(diff, stats, control_mean),
                      scale=scale, reason=reason)


def evaluate_differences(diffs: list[ReportedDifference], records: list[RecordLike], *, suite: str
                         ) -> list[GainResult]:
    """Every comparison of every difference at every profile with runs of it; ``not checked`` where none has,
    ``not covered`` (with the reason) for differences without comparisons."""
    from benchmark.report.diff import scale_of

    by_profile: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in as_records(records):
        if rec.suite == suite:
            by_profile[str(rec.profile)].append(rec)
    out: list[GainResult] = []
    for diff in diffs:
        if not diff.comparisons:
            out.append(GainResult(difference=diff, suite=suite, comparison=None, comparison_index=None, profile=None,
                                  status="not covered", reason=diff.not_covered or ""))
            continue
        for index, comp in enumerate(diff.comparisons):
            judged = False
            for profile in sorted(by_profile):
                if comp.profiles is not None and profile not in comp.profiles:
                    continue
                recs = [r for r in by_profile[profile] if selects(comp.treatment, r) or selects(comp.control, r)]
                if not recs:
                    continue
                scale = next((scale_of(r) for r in recs if selects(comp.treatment, r) and r.ok), scale_of(recs[0]))
                out.append(evaluate_comparison(diff, comp, recs, suite=suite, profile=profile, index=index,
                                               scale=scale))
                judged = True
            if not judged:
                where = f" at profiles {comp.profiles}" if comp.profiles is not None else ""
                out.append(GainResult(difference=diff, suite=suite, comparison=comp, comparison_index=index,
                                      profile=None, status="not checked",
                                      reason=f"no runs of {comp.treatment.text()} or {comp.control.text()}{where}"))
    return out


# ------------------------------------------------------------------------------------------------ checks
def check_differences_against_suite(diffs: list[ReportedDifference], variants: dict[str, dict[str, set[str]]],
                                    experiments: set[str]) -> list[tuple[int, int, str]]:
    """``(difference index, comparison index, problem)`` for comparisons a suite cannot run (see
    :func:`benchmark.report.claims.comparison_problems`)."""
    out: list[tuple[int, int, str]] = []
    for i, diff in enumerate(diffs):
        for j, comp in enumerate(diff.comparisons):
            for problem in comparison_problems(comp.treatment, comp.control, comp.profiles, variants, experiments):
                out.append((i, j, f"reported difference '{diff.id}', comparison {j}: {problem}"))
    return out


# ------------------------------------------------------------------------------------------------ rendering
GAIN_COLUMNS = ["suite", "id", "statement", "quote", "source", "metric", "reported", "comparison", "profile",
                "reported_points", "reported_relative", "n_pairs", "seeds", "control_mean", "mean_diff", "ci95",
                "verdict_points", "verdict_relative", "comparable", "scale", "reason", "missing"]


def _verdict_cell(r: GainResult, reading: str) -> str:
    if r.status != "judged":
        return f"{GAIN_VERDICTS[r.status]} {r.status}"
    if reading not in r.readings:
        return f"— (unit: {r.difference.unit})"
    v = r.readings[reading].verdict
    return f"{GAIN_VERDICTS[v]} {v}"


def _reported_cell(r: GainResult, reading: str) -> str:
    d = r.difference
    if reading not in d.readings:
        return f"— (unit: {d.unit})"
    if reading == "points":
        return d.interval(1.0).text()
    if r.control_mean is None:
        return "— (no paired control runs)" if r.status == "judged" else ""
    pct = (f"{fmt_number(d.range[0])} to {fmt_number(d.range[1])}" if d.range is not None
           else {"exact": "", "up_to": "up to ", "at_least": "at least "}[d.kind] + fmt_number(d.value))
    return f"{d.interval(r.control_mean / 100.0).text()} ({pct} % of the control mean {fmt_number(r.control_mean)})"


def result_cells(r: GainResult) -> dict[str, str]:
    """The CSV/Markdown/HTML cells of one reported-difference row."""
    d, s = r.difference, r.stats
    ci = f"[{fmt_number(s.ci_low)}, {fmt_number(s.ci_high)}]" if s.ci_low is not None else ""
    return {
        "suite": r.suite,
        "id": d.id,
        "statement": d.statement,
        "quote": d.quote,
        "source": d.source.where(),
        "metric": d.metric,
        "reported": d.reported_text(),
        "comparison": r.comparison.text() if r.comparison else "",
        "profile": r.profile or "",
        "reported_points": _reported_cell(r, "points") if r.status != "not covered" else "",
        "reported_relative": _reported_cell(r, "relative") if r.status != "not covered" else "",
        "n_pairs": str(s.n) if r.status == "judged" else "",
        "seeds": " ".join(str(x) for x in r.seeds),
        "control_mean": fmt_number(r.control_mean),
        "mean_diff": fmt_number(s.mean),
        "ci95": ci,
        "verdict_points": _verdict_cell(r, "points"),
        "verdict_relative": _verdict_cell(r, "relative"),
        "comparable": r.comparability_text(),
        "scale": r.scale,
        "reason": r.reason,
        "missing": "; ".join(r.missing),
    }
