"""An always-valid confidence sequence for a mean paired difference: the stopping rule of ``--until-decided``.

``bench run SUITE --until-decided`` adds seed pairs to undecided claims one at a time and looks at the data after
each pair. Repeating a fixed-sample t-test at every look inflates its error rate (with looks at 3, 4, ..., 20 pairs
and a true difference of 0, 12.6 % of 1,000 simulated claims come out "reproduced" instead of 2.5 %; see
``tests/report/test_sequential.py``). This module replaces the t-interval by a **confidence sequence**: intervals
``CS_n`` with ``P(∃ n ≥ 2: μ ∉ CS_n) ≤ α``, valid at every sample size at once, so a claim may be looked at after
every seed and stopped as soon as its interval leaves the margin.

Construction (Lai 1976, "On confidence sequences", Ann. Statist. 4; the "scale-invariant" or t-mixture confidence
sequence of Wang & Ramdas 2025, "Anytime-valid t-tests and confidence sequences for Gaussian means with unknown
variance", Sequential Analysis; the same statistic is the safe t-test of Grünwald, de Heide & Koolen 2024, JRSS-B):
for i.i.d. normal differences with unknown mean μ and unknown σ, the Bayes factor of "μ ≠ μ₀" against "μ = μ₀" with
the right-Haar prior 1/σ on σ and a normal prior ``δ = (μ − μ₀)/σ ~ N(0, g)`` on the standardised effect,

    BF_n(μ₀) = (1 + n g)^(−1/2) · [(1 + t²/ν) / (1 + t²/(ν (1 + n g)))]^(n/2),   t = (x̄ − μ₀) √n / s,  ν = n − 1,

is a non-negative martingale with mean 1 under μ = μ₀ (in the filtration of scale-invariant statistics). By
Ville's inequality ``P(∃ n: BF_n(μ₀) ≥ 1/α) ≤ α``, so ``CS_n = {μ₀ : BF_n(μ₀) < 1/α}`` is a 1 − α confidence
sequence. ``BF_n`` grows with |t|, so ``CS_n = x̄ ± t*_n · s/√n`` with ``t*_n`` in closed form
(:func:`critical_t`); at small n it may be the whole line (no sample of that size can decide anything).

Stated parameters: ``α = 0.05`` (:data:`ALPHA`) and mixing variance ``g = 2`` (:data:`MIXING_VARIANCE`), chosen
before any data to be tight around 6-10 pairs, where the cpu profiles' claims live: a claim can be decided at n = 8
pairs when the observed standardised effect |x̄ − margin|/s exceeds 1.46 (the fixed-sample t-test needs 0.84).
The reported interval is the running intersection ``∩_{k ≤ n} CS_k``, so a decided claim stays decided.

Error rate of the whole procedure. The report judges a claim by the fixed-sample 95 % t-interval at the seeds its
profile plans (n₀); a claim decided there keeps that verdict (:func:`benchmark.report.claims.evaluate_claim`
ignores seeds added to its arms for other claims); only a claim left inconclusive there is extended, and from then
on it is judged by the confidence sequence over all its pairs. At a true difference equal to the margin, P(any decision) ≤ 0.05 (the
t-look) + 0.05 (every later look together), and normal differences are symmetric about the margin, so the
probability that the *first* decision is "reproduced" is at most half of that: **≤ 5 % false "reproduced"**
(and ≤ 5 % false "not reproduced"). A simulation of 1,000 claims checks it
(``tests/report/test_sequential.py``).

Assumptions: paired differences i.i.d. normal across seeds (seeds are independent draws of data order,
initialisation and augmentation; normality is the same assumption as the t-interval's); seeds are added in
increasing order and the pairs are taken in seed order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Level of the confidence sequence (two-sided): P(it ever excludes the true mean) ≤ ALPHA.
ALPHA = 0.05
#: Variance g of the normal mixing prior on the standardised effect δ = μ/σ (stated, fixed before any data).
MIXING_VARIANCE = 2.0
RULE = (f"t-mixture confidence sequence (Lai 1976; Wang & Ramdas 2025), {1 - ALPHA:.0%}, mixing variance "
        f"g = {MIXING_VARIANCE:g}, running intersection")


def critical_t(n: int, alpha: float = ALPHA, g: float = MIXING_VARIANCE) -> float:
    """``t*_n``: the |t| at which ``BF_n`` reaches ``1/alpha`` (``inf`` when no |t| reaches it at this ``n``).

    Solves ``(1 + u)/(1 + u/r) = K`` for ``u = t²/ν``, with ``r = 1 + n g`` and ``K = (√r/alpha)^(2/n)``; the left
    side tends to ``r`` as |t| → ∞, so there is no solution when ``K ≥ r``.
    """
    if n < 2:
        return math.inf
    r = 1.0 + n * g
    k = (math.sqrt(r) / alpha) ** (2.0 / n)
    if k >= r:
        return math.inf
    u = (k - 1.0) / (1.0 - k / r)
    return math.sqrt(u * (n - 1))


def bayes_factor(t: float, n: int, g: float = MIXING_VARIANCE) -> float:
    """``BF_n`` of the module docstring for a one-sample t statistic ``t`` over ``n ≥ 2`` values."""
    nu = n - 1
    r = 1.0 + n * g
    return r ** -0.5 * ((1.0 + t * t / nu) / (1.0 + t * t / (nu * r))) ** (n / 2.0)


def cs_interval(diffs: Sequence[float], alpha: float = ALPHA, g: float = MIXING_VARIANCE) -> tuple[float, float]:
    """``CS_n`` for the values so far: ``x̄ ± t*_n s/√n`` (``(-inf, inf)`` while ``t*_n`` is infinite)."""
    n = len(diffs)
    crit = critical_t(n, alpha, g)
    if not math.isfinite(crit):
        return -math.inf, math.inf
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = crit * sd / math.sqrt(n)
    return mean - half, mean + half


@dataclass
class SequentialResult:
    """The running-intersection interval after every prefix, and where (if anywhere) it first left the margin."""

    low: float
    high: float
    decided_at: int | None  # number of pairs at the first decision
    verdict: str  # reproduced | not reproduced | inconclusive
    reason: str


def sequential_verdict(diffs: Sequence[float], *, sign: int, margin: float, alpha: float = ALPHA,
                       g: float = MIXING_VARIANCE) -> SequentialResult:
    """Judge ``treatment − control`` (``sign`` +1: expected > margin, −1: expected < margin) on the pairs in order.

    The interval is ``∩_{k=2..n} CS_k``; the verdict is fixed at the first ``k`` whose interval excludes
    ``margin`` (reproduced if on the claimed side).
    """
    lo, hi = -math.inf, math.inf
    decided_at: int | None = None
    verdict = "inconclusive"
    for k in range(2, len(diffs) + 1):
        a, b = cs_interval(diffs[:k], alpha, g)
        lo, hi = max(lo, a), min(hi, b)
        if decided_at is None and (lo > margin or hi < margin):
            decided_at = k
            above = lo > margin
            verdict = "reproduced" if above == (sign > 0) else "not reproduced"
    level = f"{1 - alpha:.0%} confidence sequence"
    if decided_at is not None:
        side = "the claimed side" if verdict == "reproduced" else "the other side"
        return SequentialResult(lo, hi, decided_at, verdict,
                                f"{level} on {side} of {margin:g} from {decided_at} pairs on (sequential design)")
    n = len(diffs)
    if not math.isfinite(lo) or not math.isfinite(hi):
        why = f"{level} is unbounded at {n} pairs (needs more pairs before any decision)"
    else:
        why = f"{level} contains {margin:g} after {n} pairs (sequential design)"
    return SequentialResult(lo, hi, None, "inconclusive", why)
