"""Verdicts of the diff and the provenance rules of baselines files."""

from __future__ import annotations

import pytest

from benchmark.errors import SuiteError
from benchmark.report.diff import Row, build_rows
from benchmark.suite.baselines_spec import load_baselines


def _row(values, reported, profile="paper", tol=1.0, failed=()):
    r = Row("s", profile, "e", "", "linear.top1", values=list(values), seeds=list(range(len(values))),
            reported=reported, tolerance=tol)
    r.failed.extend(failed)
    return r


@pytest.mark.parametrize(
    "values, reported, profile, verdict",
    [
        ([90.0, 90.4], 90.5, "paper", "reproduced"),
        ([85.0, 89.0], 90.0, "paper", "within noise"),
        ([80.0, 80.2], 90.0, "paper", "below"),
        ([95.0, 95.1], 90.0, "paper", "above"),
        ([80.0], None, "paper", "no reported number"),
        ([80.0], 90.0, "smoke", "not comparable"),
        ([], 90.0, "paper", "failed"),
    ],
)
def test_verdicts(values, reported, profile, verdict):
    row = _row(values, reported, profile, failed=["seed 0: diverged"] if not values else ())
    assert row.verdict == verdict


def test_mean_std_delta():
    row = _row([1.0, 2.0, 3.0], 1.0)
    assert row.mean == 2.0 and row.std == 1.0 and row.delta == 1.0


BASE = """\
paper: s
citation: "A paper"
entries:
  - experiment: e
    metric: linear.top1
    value: {value}
    status: {status}
    source: {{paper: "arXiv 1", table: "Table 1", row: "A", column: "Top-1"}}
"""


def test_baseline_value_requires_citation_and_null_requires_marker(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text(BASE.format(value=91.2, status="transcribed"))
    assert load_baselines(p).entries[0].value == 91.2
    p.write_text(BASE.format(value="null", status="transcribed"))
    with pytest.raises(SuiteError, match="not transcribed"):
        load_baselines(p)
    p.write_text(BASE.format(value=91.2, status="not transcribed"))
    with pytest.raises(SuiteError, match="never estimate"):
        load_baselines(p)
    p.write_text(BASE.format(value=91.2, status="transcribed").replace('table: "Table 1", ', ""))
    with pytest.raises(SuiteError, match="source.table"):
        load_baselines(p)


def test_rows_join_records_and_baselines(tmp_path):
    p = tmp_path / "b.yaml"
    p.write_text(BASE.format(value=50.0, status="transcribed"))
    bl = {"s": load_baselines(p)}
    recs = [
        {"suite": "s", "profile": "paper", "experiment": "e", "variant": "", "seed": seed, "status": "ok",
         "config": {"experiment": {"tolerance": 1.0}}, "metrics": {"linear": {"top1": v, "top5": 90.0}},
         "controls": {"random_init": {"metrics": {"linear": {"top1": 10.0}}}}}
        for seed, v in [(0, 49.5), (1, 50.1)]
    ]
    rows = {r.metric: r for r in build_rows(recs, bl)}
    assert rows["linear.top1"].reported == 50.0 and rows["linear.top1"].verdict == "reproduced"
    assert rows["linear.top5"].verdict == "no reported number"
    assert rows["random_init/linear.top1"].mean == 10.0 and rows["random_init/linear.top1"].reported is None
