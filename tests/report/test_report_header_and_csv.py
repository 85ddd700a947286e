"""Issue 13: report.csv with a numeric `reported` column, units and readable variant labels; units on claim
differences; a summary line and a provenance block at the top of report.md / report.html."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from benchmark.report import make_report
from benchmark.report.claims import metric_unit
from benchmark.report.diff import readable_variant
from benchmark.report.provenance import provenance_items
from tests.report import synthetic


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("header")
    results, baselines = synthetic.write_results(root)
    return results, make_report(results, [baselines], figures=False)


def test_report_csv_reported_is_numeric_or_empty_with_a_status(report):
    _, paths = report
    rows = list(csv.DictReader(paths["csv"].open()))
    assert {"variant_label", "unit", "reported", "reported_status"} <= set(rows[0])
    for row in rows:
        if row["reported"]:
            float(row["reported"])  # a number, nothing else
            assert row["reported_status"] == "transcribed"
        else:
            assert row["reported_status"] in ("not transcribed", "no entry")
        assert row["unit"] == "%"
    by = {(r["experiment"], r["variant"], r["metric"]): r for r in rows}
    none_top1 = by[("byol_c10", "none", "linear.top1")]
    assert none_top1["reported"] == "61.50" and none_top1["delta"] == "-1.20"
    assert by[("byol_c10", "so-gamma1e-06", "linear.top1")]["variant_label"] == "regularizer so (gamma 1e-06)"
    assert by[("simclr_in1k", "kindk_classes-k2", "linear.top1")]["variant_label"] == "data.sampler = {kind k_classes, k 2}"


def test_readable_variant_labels():
    assert readable_variant({"method.whitening_weight": 0.001}) == "method.whitening_weight = 0.001"
    assert readable_variant({"backbone.name": "resnet18", "regularizer": {"name": "srip", "gamma": 1e-3}}) == \
        "backbone.name = resnet18; regularizer srip (gamma 0.001)"
    assert readable_variant({}) == ""


def test_claim_differences_carry_units(report):
    _, paths = report
    by = {r["claim"]: r for r in csv.DictReader(paths["claims_csv"].open())}
    assert by["so_helps_byol"]["unit"] == "points" and by["sfrik_faster_q4096"]["unit"] == "s"
    md = paths["md"].read_text()
    so_line = next(line for line in md.splitlines() if line.startswith("| so_helps_byol"))
    assert f"{by['so_helps_byol']['mean_diff']} points" in so_line and f"{by['so_helps_byol']['ci95']} points" in so_line
    assert metric_unit("measure.peak_memory") == ("MiB", 1 / 2**20)
    assert metric_unit("diagnostics.effective_rank")[0] == "dimensions"
    assert metric_unit("food101/linear.top5")[0] == "points"


def test_summary_and_provenance_open_the_report(report):
    _, paths = report
    md = paths["md"].read_text().splitlines()
    # order at the top: summary line, the verdicts block (issue 11), provenance, then the value sections
    first_section = next(i for i, line in enumerate(md) if line.startswith("## ") and line != "## Verdicts")
    head = "\n".join(md[:first_section])
    summary = next(line for line in md if line.startswith("**Summary:**"))
    recs = synthetic.records()
    failed = sum(r["status"] != "ok" for r in recs)
    assert f"{len(recs)} runs ({len(recs) - failed} ok, {failed} failed)" in summary and "seeds 0–2" in summary
    assert "claim checks:" in summary and "value rows:" in summary
    assert md.index(summary) < md.index("## Verdicts") < md.index("**Provenance**") < first_section
    assert "- report written:" in head
    page = paths["html"].read_text()
    assert page.index("class='summary'") < page.index("id='verdicts'") < page.index("class='provenance'") \
        < page.index("<table")


def test_provenance_lists_commits_dates_versions_and_hardware():
    recs = [{"provenance": {"started": "2026-01-01T10:00:00+00:00", "finished": "2026-01-01T11:00:00+00:00",
                            "git": {"commit": "a" * 40, "dirty": False},
                            "packages": {"torch": "2.14.1", "lightly": "1.6.0"},
                            "hardware": {"device": "cpu", "cpu_model": "AMD EPYC", "cpu_count": 2, "torch_threads": 2,
                                         "python": "3.11.7"}, "command": "bench run s.yaml"}},
            {"provenance": {"started": "2026-01-02T10:00:00+00:00", "finished": "2026-01-02T12:00:00+00:00",
                            "git": {"commit": "b" * 40, "dirty": True}, "packages": {"torch": "2.14.1"}}}]
    items = dict(provenance_items(recs, now=dt.datetime(2026, 1, 3, tzinfo=dt.timezone.utc)))
    assert items["code"] == "aaaaaaaaaa (clean) (1 runs), bbbbbbbbbb (dirty) (1 runs)"
    assert items["runs made"] == "2026-01-01T10:00:00+00:00 to 2026-01-02T12:00:00+00:00"
    assert items["torch"] == "2.14.1" and items["lightly"] == "1.6.0" and items["python"] == "3.11.7"
    assert items["hardware"] == "cpu: AMD EPYC, 2 CPUs, 2 torch threads"
    assert items["report written"].startswith("2026-01-03T00:00:00+00:00 by ssl-repro-bench")
