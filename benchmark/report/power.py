"""How far an undecided claim is from a verdict: paired sd, minimum detectable effect and seeds needed.

For a claim judged on ``n`` seed pairs with paired differences ``d_s`` (treatment − control), the report adds:

* **paired sd** ``s = sd(d)``, the seed noise of the difference (what decides how many seeds a claim needs);
* **minimum detectable effect** (MDE) at the run's ``n``: the smallest true ``|mean(d) − margin|`` that the report's
  fixed-sample test (the two-sided 95 % paired t-interval of :mod:`benchmark.report.claims`) decides with 80 %
  power, computed exactly from the noncentral t distribution with the observed ``s`` taken as the true sd;
* **seeds needed** at the observed effect ``|mean(d) − margin|``: the smallest number of pairs with 80 % power,
  (a) for a fixed-sample design (rerun the profile with that many seeds) and (b) for ``--until-decided``, whose
  confidence sequence (:mod:`benchmark.report.sequential`) is wider: the smallest ``N`` at which the sequence's
  interval at ``N`` alone excludes the margin with 80 % probability (an upper bound: it may decide earlier).
  Beyond the affordable budget (``--max-seeds``, default :data:`DEFAULT_MAX_SEEDS`) the report says "the observed
  effect is below any affordable budget" instead of a number.

Assumptions (stated in the README): the paired differences are i.i.d. normal across seeds; the observed sd and
effect stand in for the true ones, so with 3 pairs both numbers are rough (the sd of 3 values is itself uncertain
by a factor of ~2); "80 % power" is the conventional target (Cohen 1988).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from benchmark.formatting import fmt_number
from benchmark.report.sequential import critical_t

POWER = 0.80
CONFIDENCE = 0.95
#: The affordable budget of seeds the report assumes when no ``--max-seeds`` is given.
DEFAULT_MAX_SEEDS = 10
#: Search limit for "seeds needed" (past the budget only "below any affordable budget" is shown).
_SEARCH_LIMIT = 10_000
BELOW_BUDGET = "the observed effect is below any affordable budget"


def power_paired_t(effect: float, sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    """Power of the two-sided paired t-test at ``n`` pairs against a true mean difference ``effect`` (from margin)."""
    from scipy.stats import t

    if n < 2:
        return 0.0
    crit = float(t.ppf(0.5 + confidence / 2, n - 1))
    return power_at_critical(effect, sd, n, crit) if math.isfinite(crit) else 0.0


def power_at_critical(effect: float, sd: float, n: int, crit: float) -> float:
    """``P(|T| > crit)`` for the one-sample t statistic of ``n`` normal values with mean ``effect``, sd ``sd``.

    ``T = (Z + λ)/S`` with ``λ = |effect|·√n/sd`` and ``S = √(χ²_ν/ν)``, so the power is
    ``E_S[Φ(λ − crit·S) + Φ(−crit·S − λ)]``, integrated over ``S`` by Gauss-Legendre quadrature between its
    1e-12 and 1 − 1e-12 quantiles (scipy's ``nct.sf`` returns NaN for some large λ).
    """
    import numpy as np
    from scipy.special import ndtr

    if not math.isfinite(crit):
        return 0.0
    nc = abs(effect) * math.sqrt(n) / sd
    s, weights = _scale_quadrature(n - 1)
    value = float(np.sum(weights * (ndtr(nc - crit * s) + ndtr(-crit * s - nc))))
    return min(1.0, max(0.0, value))


@functools.lru_cache(maxsize=1)
def _legendre_rule() -> tuple[Any, Any]:
    import numpy as np

    return np.polynomial.legendre.leggauss(200)


@functools.lru_cache(maxsize=256)
def _scale_quadrature(nu: int) -> tuple[Any, Any]:
    """Nodes and weights (density included) of a 200-point Gauss-Legendre rule for ``S = √(χ²_ν/ν)``."""
    import numpy as np
    from scipy.special import gammaincinv, gammaln

    lo, hi = (math.sqrt(2 * float(gammaincinv(nu / 2, q)) / nu) for q in (1e-12, 1 - 1e-12))
    nodes, weights = _legendre_rule()
    s = lo + (hi - lo) * (nodes + 1) / 2
    # density of S = sqrt(V/nu), V ~ chi2_nu:  2 nu s f_V(nu s^2)
    log_fv = (nu / 2 - 1) * np.log(nu * s * s) - nu * s * s / 2 - (nu / 2) * math.log(2) - gammaln(nu / 2)
    return s, weights * 2 * nu * s * np.exp(log_fv) * (hi - lo) / 2


def minimum_detectable_effect(sd: float, n: int, power: float = POWER, confidence: float = CONFIDENCE) -> float | None:
    """Smallest ``|mean − margin|`` the fixed-sample t-interval decides with ``power`` at ``n`` pairs (metric units)."""
    from scipy.optimize import brentq

    if n < 2 or sd <= 0:
        return None
    hi = 1.0
    while power_paired_t(hi * sd, sd, n, confidence) < power:
        hi *= 2
    delta = brentq(lambda x: power_paired_t(x * sd, sd, n, confidence) - power, 0.0, hi, xtol=1e-6)
    return float(delta * sd)


def seeds_needed_fixed(effect: float, sd: float, power: float = POWER, confidence: float = CONFIDENCE) -> int | None:
    """Pairs a fixed-sample design needs to decide at ``effect`` with ``power``; None past the search limit."""
    return _first_n(lambda n: power_paired_t(effect, sd, n, confidence) >= power, effect, sd)


def seeds_needed_sequential(effect: float, sd: float, power: float = POWER) -> int | None:
    """Pairs after which ``--until-decided``'s confidence sequence decides at ``effect`` with ``power`` (upper bound)."""
    return _first_n(lambda n: power_at_critical(effect, sd, n, critical_t(n)) >= power, effect, sd)


def _first_n(ok: Callable[[int], bool], effect: float, sd: float) -> int | None:
    """Smallest n ≥ 2 with ``ok(n)`` (power grows with n), by doubling then bisection; None past the limit."""
    if effect == 0 or sd <= 0:
        return None
    lo, hi = 2, 2
    while not ok(hi):
        lo, hi = hi + 1, hi * 2
        if hi > _SEARCH_LIMIT:
            return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


@dataclass
class PowerAnalysis:
    """The power numbers of one claim at one profile (None where they cannot be computed, with ``note`` saying why)."""

    n: int
    sd: float | None
    effect: float | None  # |mean − margin|, observed
    mde: float | None
    needed_fixed: int | None
    needed_sequential: int | None
    max_seeds: int
    note: str = ""

    def needed_text(self, needed: int | None) -> str:
        """A seeds-needed number as the report shows it."""
        if self.note:
            return self.note
        if needed is None or needed > self.max_seeds:
            return f"> {self.max_seeds}: {BELOW_BUDGET}"
        return str(needed)

    def cells(self, factor: float = 1.0) -> dict[str, str]:
        """CSV/Markdown cells: paired sd, MDE (both times ``factor``, the claim's display unit), seeds needed
        (fixed-sample, sequential)."""
        return {
            "paired_sd": fmt_number(None if self.sd is None else self.sd * factor),
            "mde": fmt_number(self.mde * factor) if self.mde is not None else ("" if self.n >= 2 else "needs >= 2 pairs"),
            "seeds_needed": self.needed_text(self.needed_fixed),
            "seeds_needed_sequential": self.needed_text(self.needed_sequential),
        }

    def summary(self, factor: float = 1.0, unit: str = "") -> str:
        """One sentence for the verdicts block (the MDE times ``factor``, in ``unit``)."""
        if self.sd is None:
            return self.note or "no power analysis"
        mde_value = fmt(None if self.mde is None else self.mde * factor) + (f" {unit}" if unit else "")
        mde = f"MDE {mde_value} at {self.n} seeds (95 % two-sided, 80 % power)"
        if self.note:
            return f"{mde}; {self.note}"
        fixed, seq = self.needed_fixed, self.needed_sequential
        if fixed is None or fixed > self.max_seeds:
            return f"{mde}; {BELOW_BUDGET} ({self.max_seeds} seeds)"
        seq_text = (f"{seq} with --until-decided" if seq is not None and seq <= self.max_seeds
                    else f"more than {self.max_seeds} with --until-decided")
        return f"{mde}; at the observed effect it needs {fixed} seeds (fixed design), {seq_text}"


def fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.3g}"


class JudgedClaim(Protocol):
    """What the power analysis reads of a judged claim: :class:`benchmark.report.claims.ClaimResult` (a protocol,
    so this module does not import the claims module that renders its cells)."""

    pairs: list[tuple[int, float, float]]  # (seed, treatment, control)
    stats: Any  # PairedStats of those pairs: n, mean, sd
    claim: Any  # ClaimSpec: margin


def observed(result: JudgedClaim) -> tuple[int, float | None, float | None, str]:
    """``(n pairs, paired sd, |mean − margin|, note)`` of a judged claim; sd/effect None (with a note) when the
    power analysis does not apply: fewer than 2 pairs, an out-of-memory side, or no seed noise."""
    diffs = [a - b for _, a, b in result.pairs]
    n = len(diffs)
    if n < 2:
        return n, None, None, f"{n} pair(s): needs >= 2"
    if not all(math.isfinite(d) for d in diffs):
        return n, None, None, "a side ran out of memory: decided by signs, no power analysis"
    sd, mean = result.stats.sd, result.stats.mean  # the paired stats of these very pairs (evaluate_claim)
    assert sd is not None and mean is not None and result.stats.n == n
    effect = abs(mean - result.claim.margin)
    if sd == 0:
        return n, sd, effect, ("every pair equal to the margin: no seed count decides it" if effect == 0
                               else "no seed noise (identical differences)")
    return n, sd, effect, ""


def analyse(result: JudgedClaim, max_seeds: int = DEFAULT_MAX_SEEDS) -> PowerAnalysis:
    """Power analysis of a judged claim from its paired differences (see the module docstring)."""
    n, sd, effect, note = observed(result)
    if note or sd is None or effect is None:
        return PowerAnalysis(n, sd, effect, None, None, None, max_seeds, note=note)
    analysis = PowerAnalysis(n, sd, effect, minimum_detectable_effect(sd, n), seeds_needed_fixed(effect, sd),
                             seeds_needed_sequential(effect, sd), max_seeds)
    if effect == 0:
        analysis.note = "observed effect equals the margin: no seed count decides it"
    return analysis


POWER_COLUMNS = ["paired_sd", "mde", "seeds_needed", "seeds_needed_sequential"]
