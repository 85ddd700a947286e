"""Power analysis per claim: MDE and seeds needed, checked against independent simulations and textbook limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.report.claims import evaluate_claim
from benchmark.report.power import (
    BELOW_BUDGET,
    analyse,
    minimum_detectable_effect,
    power_at_critical,
    power_paired_t,
    seeds_needed_fixed,
    seeds_needed_sequential,
)
from benchmark.report.sequential import critical_t
from benchmark.suite.claims_spec import ClaimSpec


def test_power_agrees_with_scipy_noncentral_t_where_scipy_is_finite():
    from scipy.stats import nct, t

    for n, nc in ((2, 1.0), (3, 2.0), (5, 3.0), (8, 2.5), (30, 4.0)):
        crit = t.ppf(0.975, n - 1)
        expected = nct.sf(crit, n - 1, nc) + nct.cdf(-crit, n - 1, nc)
        assert power_at_critical(nc / math.sqrt(n), 1.0, n, crit) == pytest.approx(expected, abs=1e-8)


def test_power_at_the_mde_is_80_percent_by_simulation():
    """Simulated paired t-tests at a true difference equal to the MDE reject in 80 % of 20,000 trials."""
    from scipy.stats import t

    sd, n = 2.0, 5
    mde = minimum_detectable_effect(sd, n)
    assert power_paired_t(mde, sd, n) == pytest.approx(0.80, abs=1e-4)
    rng = np.random.default_rng(7)
    d = rng.normal(mde, sd, size=(20000, n))
    t_stat = d.mean(axis=1) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    rate = (np.abs(t_stat) > t.ppf(0.975, n - 1)).mean()
    assert rate == pytest.approx(0.80, abs=0.01)


def test_mde_tends_to_the_normal_formula():
    """Large n: MDE → (z_0.975 + z_0.80) · sd / √n = 2.8016 · sd / √n."""
    assert minimum_detectable_effect(1.0, 2000) == pytest.approx(2.8016 / math.sqrt(2000), rel=2e-3)
    assert minimum_detectable_effect(1.0, 3) > minimum_detectable_effect(1.0, 5) > minimum_detectable_effect(1.0, 10)
    assert minimum_detectable_effect(1.0, 1) is None


def test_seeds_needed_is_the_first_n_with_80_percent_power():
    for effect, sd in ((1.0, 1.0), (0.5, 1.0), (3.0, 2.0)):
        n = seeds_needed_fixed(effect, sd)
        assert power_paired_t(effect, sd, n) >= 0.8 > power_paired_t(effect, sd, n - 1)
        m = seeds_needed_sequential(effect, sd)
        crit = critical_t
        assert power_at_critical(effect, sd, m, crit(m)) >= 0.8 > power_at_critical(effect, sd, m - 1, crit(m - 1))
        assert m > n  # the always-valid sequence is wider, so it needs more pairs
    assert seeds_needed_fixed(0.0, 1.0) is None


def test_sequential_seeds_needed_by_simulation():
    """At the computed N, the confidence sequence at N pairs excludes 0 in >= 80 % of simulated samples."""
    effect, sd = 1.5, 1.0
    n = seeds_needed_sequential(effect, sd)
    rng = np.random.default_rng(3)
    d = rng.normal(effect, sd, size=(20000, n))
    t_stat = np.abs(d.mean(axis=1)) / (d.std(axis=1, ddof=1) / math.sqrt(n))
    assert (t_stat > critical_t(n)).mean() >= 0.79


def _claim() -> ClaimSpec:
    return ClaimSpec.model_validate({
        "id": "c", "statement": "t beats c", "source": {"paper": "x"}, "metric": "linear.top1",
        "treatment": {"experiment": "e", "variant": "t"}, "control": {"experiment": "e", "variant": "c"},
        "expect": "greater"})


def _result(diffs: list[float]):
    recs = []
    for seed, d in enumerate(diffs):
        for variant, value in (("t", 50 + d), ("c", 50.0)):
            recs.append({"suite": "s", "profile": "cpu", "experiment": "e", "variant": variant, "seed": seed,
                         "status": "ok", "metrics": {"linear": {"top1": value}}})
    return evaluate_claim(_claim(), recs, suite="s", profile="cpu")


def test_analysis_of_an_undecided_claim():
    diffs = [1.0, 0.2, 1.8]  # 8 pairs with fixed seeds, 14 with the confidence sequence
    a = analyse(_result(diffs), max_seeds=10)
    sd = float(np.std(diffs, ddof=1))
    assert a.sd == pytest.approx(sd) and a.effect == pytest.approx(float(np.mean(diffs)))
    assert a.mde == pytest.approx(minimum_detectable_effect(sd, 3))
    assert a.needed_fixed == seeds_needed_fixed(a.effect, sd)
    cells = a.cells()
    assert cells["seeds_needed"] == str(a.needed_fixed) and int(cells["seeds_needed"]) <= 10
    assert cells["seeds_needed_sequential"].startswith("> 10") and BELOW_BUDGET in cells["seeds_needed_sequential"]
    assert "MDE" in a.summary() and "--until-decided" in a.summary()


def test_analysis_edge_cases_say_why():
    assert "needs >= 2" in analyse(_result([1.0])).note
    assert "no seed count decides" in analyse(_result([0.0, 0.0, 0.0])).note
    assert analyse(_result([0.0, 0.0, 0.0])).cells()["seeds_needed"].startswith("every pair")
    tiny = analyse(_result([0.01, -0.01, 0.02]), max_seeds=8)
    assert tiny.summary().endswith(f"{BELOW_BUDGET} (8 seeds)")
