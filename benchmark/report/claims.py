"""A paper's relative statements as machine-checkable paired comparisons, with a verdict per profile.

Reported numbers are mostly not transcribed for the target papers (their tables were not read cell by cell, so no
expected gain is hard-coded), but their *relative* statements are: "OR gives consistent gains across methods and backbones"
(He et al., NeurIPS 2024, abstract), "SFRIK is faster than VICReg ... at q = 8192, 16384" (Zheng et al., ICLR 2023),
"SimCLR, VICReg, MSN degrade with class-imbalanced batches" and "PMSN improves over MSN on long-tailed data"
(Assran et al., ICLR 2023). Each becomes one :class:`ClaimSpec` in the paper's baselines file::

    claims:
      - id: or_so_improves_byol_c10
        statement: "SO improves BYOL's linear top-1 on CIFAR-10 over BYOL without OR"
        source: {paper: "arXiv 2411.00392", section: "Abstract; Table 1"}
        metric: linear.top1
        treatment: {experiment: byol_c10, variant: so-gamma1e-06}
        control: {experiment: byol_c10, variant: none}
        expect: greater              # treatment − control > margin (default 0)

A claim is checked on **paired seeds**: runs of the treatment and the control with the same seed (same data order,
same initialisation; they differ only in the compared variant). With ``n`` pairs and paired differences
``d_s = treatment_s − control_s``, the report gives ``mean(d)`` and the 95 % confidence interval
``mean ± t_{0.975, n−1} · sd(d) / √n`` (Student's t over the paired differences), and a verdict:

================  ==================================================================================
verdict           rule
================  ==================================================================================
reproduced        the CI lies entirely on the claimed side of ``margin``
not reproduced    the CI lies entirely on the other side
inconclusive      otherwise, and whenever fewer than 2 pairs exist ("at this scale": the profile and
                  scale are part of every result)
not checked       no run of the treatment or the control exists for any profile (listed, not judged)
================  ==================================================================================

That t-interval is valid for a number of seeds fixed in advance (the profile's ``seeds``). When
``bench run --until-decided`` has added seeds (a pair whose seed is not in a side's planned ``seeds``), a claim the
t-interval at the planned seeds decides keeps that verdict (the added seeds, made for another claim sharing an arm,
are not used); one it leaves undecided is judged by the always-valid 95 % confidence sequence of
:mod:`benchmark.report.sequential` over all its pairs (``design: sequential``), which stays valid however often
the data were looked at. Every judged
claim also gets a power analysis (:mod:`benchmark.report.power`): paired sd, minimum detectable effect and the
seeds needed at the observed effect.

A claim of this project rather than of the paper says ``source: {kind: extension, ...}``: it cites no table or
figure and the report labels it "extension (not a claim of the paper)". ``source.quote`` and ``source.location``
(e.g. "§6.1, p. 8") are shown with the claim.

Seeds present on one side only are reported as unpaired; failed runs are listed with their reason. A claim is
judged separately for every profile that has runs of it (``profiles:`` restricts which), because a direction that
holds at paper scale may be invisible in a 10-minute CPU run and vice versa.

Metrics: ``<probe>.<metric>`` (``linear.top1``, ``knn.top1``, ... in percent, from ``record["metrics"]``); a dotted
path into the record (``diagnostics.effective_rank``, ``pretrain.final_loss``); or a measurement alias resolved
from ``record["pretrain"]["measure"]`` (:data:`MEASURE_ALIASES`: ``measure.step_time`` in seconds,
``measure.peak_memory`` in bytes, ``measure.throughput`` in images/s). A measurement that ran out of memory counts
as ``+inf`` time and memory (e.g. "VICReg at q = 32768 runs out of memory"): a claim whose every pair is decided by
such infinities gets a verdict from the signs alone and no CI.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from benchmark.formatting import fmt_number
from benchmark.report.power import POWER_COLUMNS
from benchmark.results.record import RecordLike, RunRecord, as_record, as_records
from benchmark.suite.claims_spec import ClaimSpec, RunSelector

CONFIDENCE = 0.95
CLAIM_VERDICTS = {
    "reproduced": "✓",
    "not reproduced": "✗",
    "inconclusive": "~",
    "not checked": "·",
}



# ------------------------------------------------------------------------------------------------ values
def metric_value(rec: RecordLike, metric: str) -> tuple[float | None, str | None]:
    """The value of ``metric`` in a run record and, when it is missing, why (:meth:`RunRecord.metric_value`).

    Returns:
        ``(value, None)``, or ``(None, reason)``; ``(inf, "out of memory")`` for a measurement that ran out of
        memory (time and memory aliases).
    """
    return as_record(rec).metric_value(metric)


def selects(sel: RunSelector, rec: RunRecord) -> bool:
    """True when ``rec`` is a run of ``sel``'s experiment and grid variant."""
    return rec.experiment == sel.experiment and (rec.variant or "") == sel.variant


# ------------------------------------------------------------------------------------------------ statistics
def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (scipy)."""
    from scipy.stats import t

    return float(t.ppf(p, df))


@dataclass
class PairedStats:
    """Mean paired difference and its two-sided CI (None when it cannot be computed)."""

    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None


def paired_stats(diffs: list[float], confidence: float = CONFIDENCE) -> PairedStats:
    """``mean ± t_{(1+c)/2, n−1} · sd / √n`` over paired differences; no CI for n < 2 or infinite differences."""
    n = len(diffs)
    if n == 0:
        return PairedStats(0, None, None, None, None)
    if not all(math.isfinite(d) for d in diffs):
        signs = {math.copysign(1.0, d) for d in diffs if not math.isfinite(d)}
        return PairedStats(n, signs.pop() * math.inf if len(signs) == 1 else math.nan, None, None, None)
    mean = sum(diffs) / n
    if n < 2:
        return PairedStats(n, mean, None, None, None)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return PairedStats(n, mean, sd, mean - half, mean + half)


# ------------------------------------------------------------------------------------------------ results
@dataclass
class ClaimResult:
    """One claim judged at one profile (or ``not checked`` anywhere)."""

    claim: ClaimSpec
    suite: str
    profile: str | None
    verdict: str
    reason: str
    pairs: list[tuple[int, float, float]] = field(default_factory=list)  # (seed, treatment, control)
    stats: PairedStats = field(default_factory=lambda: PairedStats(0, None, None, None, None))
    unpaired: dict[str, list[int]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    scale: str = ""
    design: str = "fixed"  # fixed: t-interval at the planned seeds; sequential: confidence sequence (added seeds)
    interval: tuple[float, float] | None = None  # the interval the verdict used (t-CI or confidence sequence)
    power: Any = None  # benchmark.report.power.PowerAnalysis, attached by the report

    @property
    def mark(self) -> str:
        return CLAIM_VERDICTS[self.verdict]

    @property
    def seeds(self) -> list[int]:
        return [s for s, _, _ in self.pairs]


def _verdict(claim: ClaimSpec, diffs: list[float], stats: PairedStats) -> tuple[str, str]:
    n = len(diffs)
    sign, margin = claim.sign, claim.margin
    if n == 0:
        return "inconclusive", "no paired seeds"
    if any(not math.isfinite(d) for d in diffs):
        if n < 2:
            return "inconclusive", f"only {n} pair (needs >= 2); one side ran out of memory"
        if all(sign * (d - margin) > 0 for d in diffs):
            return "reproduced", "every pair on the claimed side (one side ran out of memory: no CI)"
        if all(sign * (d - margin) < 0 for d in diffs):
            return "not reproduced", "every pair on the other side (one side ran out of memory: no CI)"
        return "inconclusive", "pairs on both sides (one side ran out of memory: no CI)"
    if n < 2 or stats.ci_low is None or stats.ci_high is None:
        return "inconclusive", f"only {n} pair (needs >= 2 for a confidence interval)"
    lo, hi = sign * (stats.ci_low - margin), sign * (stats.ci_high - margin)
    lo, hi = min(lo, hi), max(lo, hi)
    level = f"{CONFIDENCE:.0%} CI"
    if lo > 0:
        return "reproduced", f"{level} entirely on the claimed side"
    if hi < 0:
        return "not reproduced", f"{level} entirely on the other side"
    return "inconclusive", f"{level} contains {margin:g}: not distinguishable at this scale with {n} pairs"


@dataclass
class Pairing:
    """Treatment and control values of one comparison at one profile, paired by seed."""

    pairs: list[tuple[int, float, float]]  # (seed, treatment, control), seeds sorted
    unpaired: dict[str, list[int]]
    missing: list[str]
    added: list[int] = field(default_factory=list)  # paired seeds outside a side's planned `seeds` (--until-decided)

    @property
    def diffs(self) -> list[float]:
        return [a - b for _, a, b in self.pairs]


def pair_by_seed(treatment: RunSelector, control: RunSelector, metric: str, records: list[RecordLike], *,
                 suite: str, profile: str) -> Pairing:
    """Runs of ``treatment`` and ``control`` at ``suite``/``profile`` with the same seed, their ``metric`` values,
    the seeds present on one side only and the runs without a value (failed, not measured, both out of memory)."""
    sides: dict[str, dict[int, float]] = {"treatment": {}, "control": {}}
    unplanned: set[int] = set()
    missing: list[str] = []
    for rec in as_records(records):
        if rec.suite != suite or rec.profile != profile:
            continue
        for side, sel in (("treatment", treatment), ("control", control)):
            if not selects(sel, rec):
                continue
            seed = rec.seed_or
            planned = rec.planned_seeds
            if planned is not None and seed not in planned:
                unplanned.add(seed)
            value, why = rec.metric_value(metric)
            if value is None:
                missing.append(f"{side} {sel.text()} seed {seed}: {why}")
            else:
                sides[side][seed] = value
    t, c = sides["treatment"], sides["control"]
    both = set(t) & set(c)
    both_oom = {s for s in both if math.isinf(t[s]) and math.isinf(c[s])}
    missing += [f"seed {s}: treatment and control both ran out of memory" for s in sorted(both_oom)]
    pairs = [(s, t[s], c[s]) for s in sorted(both - both_oom)]
    unpaired = {side: sorted(set(vals) - both) for side, vals in (("treatment", t), ("control", c))}
    return Pairing(pairs=pairs, unpaired={k: v for k, v in unpaired.items() if v}, missing=missing,
                   added=sorted(unplanned & {s for s, _, _ in pairs}))


def evaluate_claim(claim: ClaimSpec, records: list[RecordLike], *, suite: str, profile: str,
                   scale: str = "") -> ClaimResult:
    """Judge ``claim`` on the records of one suite and profile, pairing treatment and control by seed."""
    paired = pair_by_seed(claim.treatment, claim.control, claim.metric, records, suite=suite, profile=profile)
    diffs = paired.diffs
    stats = paired_stats(diffs)
    verdict, reason = _verdict(claim, diffs, stats)
    design = "fixed"
    if paired.added and all(math.isfinite(d) for d in diffs):
        # The sequential design: the t-interval at the profile's own seeds decides if it can; a claim it leaves
        # undecided is judged by the confidence sequence over all pairs (valid however often it was looked at).
        planned = [p for p in paired.pairs if p[0] not in paired.added]
        planned_diffs = [a - b for _, a, b in planned]
        planned_stats = paired_stats(planned_diffs)
        planned_verdict, planned_reason = _verdict(claim, planned_diffs, planned_stats)
        added = " ".join(map(str, paired.added))
        if planned_verdict != "inconclusive":
            paired.pairs, stats, verdict = planned, planned_stats, planned_verdict
            reason = f"{planned_reason} at the profile's seeds (seeds {added}, added for other claims, not used)"
        else:
            from benchmark.report.sequential import sequential_verdict

            seq = sequential_verdict(diffs, sign=claim.sign, margin=claim.margin)
            design, verdict = "sequential", seq.verdict
            stats = PairedStats(stats.n, stats.mean, stats.sd, seq.low, seq.high)
            reason = f"{seq.reason}; seeds {added} added beyond the profile's seeds"
    interval = (stats.ci_low, stats.ci_high) if stats.ci_low is not None else None
    if paired.unpaired:
        reason += "; unpaired seeds: " + ", ".join(f"{k} {v}" for k, v in paired.unpaired.items())
    if paired.missing:
        reason += f"; {len(paired.missing)} run(s) without a value (failed or not measured, see 'missing')"
    return ClaimResult(claim=claim, suite=suite, profile=profile, verdict=verdict, reason=reason, pairs=paired.pairs,
                       stats=stats, unpaired=paired.unpaired, missing=paired.missing, scale=scale, design=design,
                       interval=interval)


def evaluate_claims(claims: list[ClaimSpec], records: list[RecordLike], *, suite: str) -> list[ClaimResult]:
    """Every claim at every profile that has runs of its treatment or control; ``not checked`` if none has."""
    from benchmark.report.diff import scale_of

    by_profile: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in as_records(records):
        if rec.suite == suite:
            by_profile[str(rec.profile)].append(rec)
    out: list[ClaimResult] = []
    for claim in claims:
        judged = False
        for profile in sorted(by_profile):
            if claim.profiles is not None and profile not in claim.profiles:
                continue
            recs = [r for r in by_profile[profile] if selects(claim.treatment, r) or selects(claim.control, r)]
            if not recs:
                continue
            scale = next((scale_of(r) for r in recs if selects(claim.treatment, r) and r.ok), scale_of(recs[0]))
            out.append(evaluate_claim(claim, recs, suite=suite, profile=profile, scale=scale))
            judged = True
        if not judged:
            where = f" at profiles {claim.profiles}" if claim.profiles is not None else ""
            out.append(ClaimResult(claim=claim, suite=suite, profile=None, verdict="not checked",
                                   reason=f"no runs of {claim.treatment.text()} or {claim.control.text()}{where}"))
    return out


# ------------------------------------------------------------------------------------------------ checks
def check_claims_against_suite(claims: list[ClaimSpec], variants: dict[str, dict[str, set[str]]],
                               experiments: set[str]) -> list[str]:
    """Problems with claims given a suite's experiments and ``{profile: {experiment: {variant labels}}}``.

    A claim must name existing experiments; each side's variant must exist in at least one profile where the
    claim is judged (a claim restricted to profiles must find both sides in every listed profile).
    """
    problems: list[str] = []
    seen: set[str] = set()
    for claim in claims:
        if claim.id in seen:
            problems.append(f"claim '{claim.id}': duplicate id")
        seen.add(claim.id)
        problems += [f"claim '{claim.id}': {p}" for p in comparison_problems(
            claim.treatment, claim.control, claim.profiles, variants, experiments)]
    return problems


def comparison_problems(treatment: RunSelector, control: RunSelector, profiles: list[str] | None,
                        variants: dict[str, dict[str, set[str]]], experiments: set[str]) -> list[str]:
    """Why a treatment/control comparison cannot be judged on a suite (empty if it can): unknown experiments, the
    same runs on both sides, unknown profiles, or no profile (of ``profiles``, default all) running both sides."""
    problems: list[str] = []
    for side, sel in (("treatment", treatment), ("control", control)):
        if sel.experiment not in experiments:
            problems.append(f"{side} names unknown experiment '{sel.experiment}'")
    if treatment == control:
        problems.append("treatment and control select the same runs")
    judged = profiles if profiles is not None else list(variants)
    unknown = [p for p in judged if p not in variants]
    if unknown:
        problems.append(f"unknown profile(s) {unknown}")
        return problems

    def has(profile: str, sel: RunSelector) -> bool:
        return sel.variant in variants[profile].get(sel.experiment, set())

    both = [p for p in judged if has(p, treatment) and has(p, control)]
    if profiles is not None and len(both) != len(judged):
        lacking = [p for p in judged if p not in both]
        problems.append(f"profiles {lacking} do not run both {treatment.text()} and {control.text()}")
    elif not both:
        problems.append(f"no profile runs both {treatment.text()} and {control.text()}")
    return problems


def suite_variants(suite: Any) -> dict[str, dict[str, set[str]]]:
    """``{profile: {experiment: {variant labels}}}`` of a loaded :class:`~benchmark.suite.loader.Suite`."""
    out: dict[str, dict[str, set[str]]] = {}
    for profile in suite.profile_names():
        per: dict[str, set[str]] = defaultdict(set)
        for res in suite.resolve(profile):
            per[res.experiment_id].add(res.variant.label)
        out[profile] = dict(per)
    return out


# ------------------------------------------------------------------------------------------------ rendering
#: Units of claim differences by measurement alias (the summary stores seconds and bytes; bytes are shown in MiB).
MEASURE_UNITS = {"step_time": "s", "iteration_time": "s", "loss_time": "s", "regularizer_time": "s",
                 "throughput": "images/s", "peak_memory": "MiB", "loss_peak_memory": "MiB"}
#: Record paths with a known unit; other record paths are in the record's own unit.
PATH_UNITS = {"diagnostics.effective_rank": "dimensions", "pretrain.final_loss": "loss units"}


def metric_unit(metric: str) -> tuple[str, float]:
    """(unit of a claim metric's difference, factor from the record's value to that unit).

    Accuracies (``<probe>.top1``, ``food101/linear.top5``, ...) differ in percentage points; times in seconds;
    memory in MiB (records hold bytes); ``diagnostics.effective_rank`` in dimensions.
    """
    parts = metric.split(".")
    if parts[0] == "measure" and len(parts) > 1:
        unit = MEASURE_UNITS.get(parts[1], "")
        return unit, (1 / 2**20) if unit == "MiB" else 1.0
    if metric in PATH_UNITS:
        return PATH_UNITS[metric], 1.0
    if parts[-1].startswith("top") and parts[-1][3:].split("_")[0].isdigit():
        return "points", 1.0
    return "", 1.0


def result_cells(r: ClaimResult) -> dict[str, str]:
    """The CSV/Markdown/HTML cells of one claim result; ``mean_diff`` and ``ci95`` in ``unit``."""
    s = r.stats
    unit, factor = metric_unit(r.claim.metric)

    def scaled(x: float | None) -> float | None:
        return None if x is None else x * factor

    ci = f"[{fmt_number(scaled(r.interval[0]))}, {fmt_number(scaled(r.interval[1]))}]" if r.interval is not None else ""
    src = r.claim.source
    return {
        "suite": r.suite,
        "claim": r.claim.id,
        "kind": EXTENSION_MARK if src.kind == "extension" else "paper",
        "statement": r.claim.statement,
        "expectation": r.claim.expectation_text(),
        "profile": r.profile or "",
        "n_pairs": str(s.n),
        "seeds": " ".join(str(x) for x in r.seeds),
        "mean_diff": fmt_number(scaled(s.mean)),
        "ci95": ci,
        "unit": unit,
        "verdict": f"{r.mark} {r.verdict}",
        "reason": r.reason,
        "scale": r.scale,
        "source": src.where(),
        "quote": src.quote or "",
        "missing": "; ".join(r.missing),
        "design": DESIGNS[r.design] if r.verdict != "not checked" else "",
        **(r.power.cells(factor) if r.power is not None else dict.fromkeys(POWER_COLUMNS, "")),
    }


#: How each design's interval is described (``design`` column): the fixed-sample t-interval at the profile's seeds,
#: or the confidence sequence once ``--until-decided`` added seeds (:mod:`benchmark.report.sequential`).
DESIGNS = {"fixed": "fixed seeds: 95% t-interval", "sequential": "seeds added sequentially: 95% confidence sequence"}


#: How an extension claim (``source.kind: extension``) is labelled wherever claims are shown.
EXTENSION_MARK = "extension (not a claim of the paper)"

CLAIM_COLUMNS = ["suite", "claim", "kind", "statement", "expectation", "profile", "n_pairs", "seeds", "mean_diff",
                 "ci95", "unit", "verdict", "reason", "scale", "source", "quote", "missing", "design", *POWER_COLUMNS]
