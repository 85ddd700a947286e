"""Claims: paired-seed comparisons with a t-interval and a verdict, on synthetic run records."""

from __future__ import annotations

import math

import pytest

from benchmark.errors import SuiteError
from benchmark.report.claims import (
    check_claims_against_suite,
    evaluate_claim,
    evaluate_claims,
    metric_value,
    paired_stats,
)
from benchmark.suite.baselines_spec import load_baselines
from benchmark.suite.claims_spec import ClaimSpec

# Student's t 0.975 quantiles from a printed t-table (df = 1, 2, 4): 12.706, 4.303, 2.776.
T_TABLE = {1: 12.706, 2: 4.303, 4: 2.776}


def rec(experiment, variant, seed, top1=None, *, profile="paper", suite="s", status="ok", **extra):
    r = {"suite": suite, "profile": profile, "experiment": experiment, "variant": variant, "seed": seed,
         "status": status, "config": {"experiment": {}}, "data": {"dataset": "digits", "n_train": 100}}
    if top1 is not None:
        r["metrics"] = {"linear": {"top1": top1, "top5": 99.0}}
    if status != "ok":
        r["failure"] = {"kind": "diverged", "reason": "loss is nan", "step": 7}
    r.update(extra)
    return r


def claim(expect="greater", metric="linear.top1", margin=0.0, **kw):
    data = {
        "id": "or_helps",
        "statement": "OR improves linear top-1",
        "source": {"paper": "arXiv 0000.00000", "section": "Abstract"},
        "metric": metric,
        "treatment": {"experiment": "e", "variant": "so"},
        "control": {"experiment": "e", "variant": "none"},
        "expect": expect,
        "margin": margin,
    }
    data.update(kw)
    return ClaimSpec.model_validate(data)


def pairs(treat, ctrl, **kw):
    return ([rec("e", "so", s, v, **kw) for s, v in treat.items()]
            + [rec("e", "none", s, v, **kw) for s, v in ctrl.items()])


def test_ci_matches_the_t_table():
    st = paired_stats([1.0, 2.0, 3.0])  # mean 2, sd 1, n 3 -> half width t_{.975,2} / sqrt(3)
    assert st.mean == pytest.approx(2.0) and st.sd == pytest.approx(1.0)
    assert st.ci_high - st.mean == pytest.approx(T_TABLE[2] / math.sqrt(3), abs=1e-3)
    st5 = paired_stats([0.5, 1.5, 1.0, 2.0, 0.0])
    sd5 = math.sqrt(sum((d - 1.0) ** 2 for d in [0.5, 1.5, 1.0, 2.0, 0.0]) / 4)
    assert (st5.ci_low, st5.ci_high) == pytest.approx((1.0 - T_TABLE[4] * sd5 / math.sqrt(5),
                                                      1.0 + T_TABLE[4] * sd5 / math.sqrt(5)), abs=1e-3)


@pytest.mark.parametrize(
    "treat, ctrl, expect, verdict",
    [
        # every seed +1.0 .. +1.2 higher: CI well above 0
        ({0: 51.0, 1: 52.1, 2: 50.2}, {0: 50.0, 1: 51.0, 2: 49.1}, "greater", "reproduced"),
        # consistently lower: CI entirely below 0
        ({0: 49.0, 1: 50.1, 2: 48.0}, {0: 50.0, 1: 51.0, 2: 49.1}, "greater", "not reproduced"),
        # mixed signs: CI contains 0
        ({0: 51.0, 1: 50.0, 2: 49.5}, {0: 50.0, 1: 51.0, 2: 49.1}, "greater", "inconclusive"),
        # 'less' flips the claimed side
        ({0: 49.0, 1: 50.1, 2: 48.0}, {0: 50.0, 1: 51.0, 2: 49.1}, "less", "reproduced"),
        ({0: 51.0, 1: 52.1, 2: 50.2}, {0: 50.0, 1: 51.0, 2: 49.1}, "less", "not reproduced"),
        # one pair only: no interval
        ({0: 60.0}, {0: 50.0}, "greater", "inconclusive"),
    ],
)
def test_each_verdict_is_reachable(treat, ctrl, expect, verdict):
    res = evaluate_claim(claim(expect), pairs(treat, ctrl), suite="s", profile="paper")
    assert res.verdict == verdict
    if len(treat) < 2:
        assert res.stats.ci_low is None and "only 1 pair" in res.reason


def test_pairs_by_seed_not_by_order():
    # treatment listed in reverse seed order and with an extra seed: the pairing must follow the seed
    recs = [rec("e", "so", 2, 12.0), rec("e", "so", 1, 11.0), rec("e", "so", 0, 10.0), rec("e", "so", 7, 99.0),
            rec("e", "none", 0, 9.0), rec("e", "none", 1, 10.0), rec("e", "none", 2, 11.0), rec("e", "none", 5, 0.0)]
    res = evaluate_claim(claim(), recs, suite="s", profile="paper")
    assert res.pairs == [(0, 10.0, 9.0), (1, 11.0, 10.0), (2, 12.0, 11.0)]
    assert res.stats.mean == pytest.approx(1.0) and res.stats.sd == pytest.approx(0.0)
    assert res.verdict == "reproduced"  # zero spread: the CI is the point +1
    assert res.unpaired == {"treatment": [7], "control": [5]}
    assert "unpaired seeds" in res.reason


def test_missing_and_failed_runs_are_reported_not_paired():
    recs = pairs({0: 51.0, 1: 52.0}, {0: 50.0}) + [rec("e", "none", 1, status="failed")]
    res = evaluate_claim(claim(), recs, suite="s", profile="paper")
    assert res.stats.n == 1 and res.verdict == "inconclusive"
    assert any("seed 1" in m and "run failed" in m and "diverged" in m for m in res.missing)
    none_res = evaluate_claim(claim(), pairs({0: 1.0}, {}), suite="s", profile="paper")
    assert none_res.verdict == "inconclusive" and none_res.reason.startswith("no paired seeds")


def test_margin_moves_the_threshold():
    recs = pairs({0: 51.0, 1: 51.2, 2: 51.1}, {0: 50.0, 1: 50.0, 2: 50.0})  # diff ~ +1.1, tight
    assert evaluate_claim(claim(margin=0.5), recs, suite="s", profile="paper").verdict == "reproduced"
    assert evaluate_claim(claim(margin=2.0), recs, suite="s", profile="paper").verdict == "not reproduced"


def test_other_profiles_and_suites_are_ignored():
    recs = pairs({0: 51.0, 1: 52.0}, {0: 50.0, 1: 51.0}) + pairs({0: 0.0, 1: 0.0}, {0: 90.0, 1: 90.0}, profile="cpu")
    recs += pairs({0: 0.0, 1: 0.0}, {0: 90.0, 1: 90.0}, suite="other")
    res = evaluate_claim(claim(), recs, suite="s", profile="paper")
    assert [p[0] for p in res.pairs] == [0, 1] and res.stats.mean == pytest.approx(1.0)


def test_evaluate_claims_per_profile_with_scale_and_not_checked():
    recs = pairs({0: 51.0, 1: 52.1, 2: 50.2}, {0: 50.0, 1: 51.0, 2: 49.1})
    recs += pairs({0: 40.0, 1: 41.0}, {0: 45.0, 1: 46.2}, profile="cpu")  # n = 2: t(1) = 12.7
    other = claim(id="not_run", treatment={"experiment": "f", "variant": "so"},
                  control={"experiment": "f", "variant": "none"})
    only_cpu = claim(id="cpu_only", profiles=["cpu"])
    results = evaluate_claims([claim(), other, only_cpu], recs, suite="s")
    by = {(r.claim.id, r.profile): r for r in results}
    assert by[("or_helps", "paper")].verdict == "reproduced"
    assert by[("or_helps", "cpu")].verdict == "not reproduced"
    assert "digits n=100" in by[("or_helps", "cpu")].scale and by[("or_helps", "cpu")].scale.startswith("cpu")
    assert by[("not_run", None)].verdict == "not checked"
    assert [k for k in by if k[0] == "cpu_only"] == [("cpu_only", "cpu")]


def test_metric_paths_and_measurement_aliases():
    r = rec("e", "so", 0, 50.0, diagnostics={"effective_rank": 12.5},
            pretrain={"measure": {"status": "ok", "step": {"time_s": {"median": 0.25, "mean": 0.3},
                                                             "memory": {"tensor_peak_bytes": None,
                                                                        "tensor_peak_above_start_bytes": 2048}}}})
    assert metric_value(r, "linear.top1") == (50.0, None)
    assert metric_value(r, "diagnostics.effective_rank") == (12.5, None)
    assert metric_value(r, "measure.step_time") == (0.25, None)      # median preferred
    assert metric_value(r, "measure.peak_memory") == (2048.0, None)  # first non-null candidate
    assert metric_value(r, "knn.top1")[0] is None
    assert "no measurement" in metric_value(rec("e", "so", 0, 1.0), "measure.step_time")[1]
    oom = rec("e", "none", 0, pretrain={"measure": {"status": "out_of_memory"}})
    assert metric_value(oom, "measure.peak_memory") == (math.inf, "out of memory")


def test_out_of_memory_control_decides_by_sign():
    def measured(variant, seed, seconds=None):
        m = {"status": "out_of_memory"} if seconds is None else {"status": "ok", "step": {"time_s": {"median": seconds}}}
        return rec("e", variant, seed, pretrain={"measure": m})

    recs = [measured("so", 0, 1.0), measured("so", 1, 1.1), measured("none", 0), measured("none", 1)]
    res = evaluate_claim(claim("less", metric="measure.step_time"), recs, suite="s", profile="paper")
    assert res.verdict == "reproduced" and res.stats.ci_low is None and res.stats.mean == -math.inf
    both = [measured("so", 0), measured("none", 0), measured("so", 1, 1.0), measured("none", 1, 2.0)]
    res2 = evaluate_claim(claim("less", metric="measure.step_time"), both, suite="s", profile="paper")
    assert res2.stats.n == 1 and any("both ran out of memory" in m for m in res2.missing)
    assert res2.unpaired == {} and "1 run(s) without a value" in res2.reason


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metric": "top1"}, "must be '<probe>.<metric>'"),
        ({"metric": "measure.walltime"}, "unknown measurement"),
        ({"expect": "bigger"}, "expect"),
        ({"id": "Bad Id"}, "claim id"),
    ],
)
def test_claim_spec_rejects_bad_fields(change, message):
    with pytest.raises(ValueError, match=message):
        claim(**change)


BASE = """\
paper: s
citation: "A paper"
entries: []
claims:
  - id: a
    statement: "OR helps"
    source: {paper: "arXiv 1", section: Abstract}
    metric: linear.top1
    treatment: {experiment: e, variant: so}
    control: {experiment: e, variant: none}
    expect: greater
"""


def test_baselines_file_carries_claims_and_rejects_duplicates(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text(BASE)
    assert load_baselines(p).claims[0].treatment.variant == "so"
    p.write_text(BASE + BASE.split("claims:\n")[1])
    with pytest.raises(SuiteError, match="duplicate claim id"):
        load_baselines(p)
    p.write_text(BASE.replace("variant: so}", "variant: 8192_8192}"))  # YAML reads 8192_8192 as an integer
    with pytest.raises(SuiteError, match="expected a string"):
        load_baselines(p)


def test_framework_and_repository_numbers_need_a_repository(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text("""\
paper: s
citation: x
entries:
  - {experiment: e, metric: knn.top1, value: 84.7, status: from framework docs,
     source: {paper: "Lightly docs", table: "CIFAR-10", row: SimCLR, column: "kNN"}}
""")
    with pytest.raises(SuiteError, match="source.repository"):
        load_baselines(p)


def test_check_claims_against_suite_finds_unknown_names_and_variants():
    variants = {"paper": {"e": {"so", "none"}}, "cpu": {"e": {"none"}}}
    ok = claim()
    assert check_claims_against_suite([ok], variants, {"e"}) == []
    problems = check_claims_against_suite(
        [claim(id="x", treatment={"experiment": "nope", "variant": "so"}),
         claim(id="y", profiles=["cpu"]),
         claim(id="z", profiles=["gpu"]),
         claim(id="w", treatment={"experiment": "e", "variant": "srip"}),
         claim(id="v", treatment={"experiment": "e", "variant": "none"})],
        variants, {"e"})
    text = "\n".join(problems)
    assert "'x': treatment names unknown experiment 'nope'" in text
    assert "'y': profiles ['cpu'] do not run both" in text
    assert "'z': unknown profile(s) ['gpu']" in text
    assert "'w': no profile runs both e/srip and e/none" in text
    assert "'v': treatment and control select the same runs" in text
