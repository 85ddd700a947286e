"""Probes declare the metrics the report shows, suites the figures it draws: neither needs an edit of report code."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmark.probes import PROBES, ProbeParams
from benchmark.report import make_report
from benchmark.report.compare import _metrics_of
from benchmark.report.diff import build_rows
from benchmark.report.figures import FIGURES, Figure, FigureKind, load_figures
from benchmark.results.record import as_records
from benchmark.results.store import ResultsStore
from benchmark.results.suite_meta import write_suite_meta
from benchmark.suite.loader import load_suite
from tests.report import synthetic


class Top3Probe:
    """A probe whose headline metric is top-3 (nothing in report/ knows it)."""

    Params = ProbeParams
    reported_metrics = ("top3",)


def _with_top3(records: list[dict]) -> list[dict]:
    for rec in records:
        if rec.get("status") == "ok" and rec.get("metrics"):
            rec["metrics"]["top3probe"] = {"top3": 70.0 + rec["seed"], "top1": 12.0}
    return records


def test_a_probe_declaring_a_new_metric_reaches_the_value_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(PROBES._items, "top3probe", Top3Probe)
    records = _with_top3(synthetic.records())
    metrics = {r.metric for r in build_rows(records, {})}
    assert {"top3probe.top3", "linear.top1", "linear.top5", "knn.top1"} <= metrics
    assert "top3probe.top1" not in metrics  # only the declared metrics are reported
    typed = as_records(records)
    assert "top3probe.top3" in _metrics_of(typed) and "top3probe.top1" not in _metrics_of(typed)

    store = ResultsStore(tmp_path / "results")
    for r in records:
        store.write(f"{r['experiment']}/{r['variant']}/seed{r['seed']}", r)
    md = make_report(store.root, [], figures=False)["md"].read_text()
    assert "top3probe.top3" in md and "top3probe.top1" not in md


SUITE = """\
suite: synth
defaults:
  data: {dataset: digits}
experiments:
  - id: byol_c10
    method: {name: byol}
"""


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def _results_of_suite(root: Path, suite_text: str) -> tuple[Path, Path]:
    results, baselines = synthetic.write_results(root)
    (root / "synth.yaml").write_text(suite_text)
    write_suite_meta(SimpleNamespace(suite=load_suite(root / "synth.yaml"), profile="cpu"), ResultsStore(results), None)
    return results, baselines


@pytest.fixture
def test_figure(monkeypatch: pytest.MonkeyPatch) -> str:
    load_figures()  # the built-in kinds first, then the test's own
    png = _png()

    def draw(records: list[dict]) -> list[Figure]:
        return [Figure("test_kind_figure", f"Test figure over {len(records)} records", png)]

    monkeypatch.setitem(FIGURES._items, "test_kind", FigureKind("test_kind", draw, order=100))
    return "test_kind"


def test_a_registered_figure_reaches_the_report_when_the_suite_names_it(tmp_path: Path, test_figure: str):
    results, baselines = _results_of_suite(tmp_path, SUITE + f"report:\n  figures: [{test_figure}, gamma]\n")
    md = make_report(results, [baselines])["md"].read_text()
    assert "Test figure over" in md and "figures/test_kind_figure.png" in md
    assert "synth__cpu__byol_c10__gamma" in md
    assert "synth__cpu__byol_c10__spectra" not in md and "cost_vs_q" not in md  # not named by the suite
    assert md.index("test_kind_figure") < md.index("synth__cpu__byol_c10__gamma")  # in the suite's order


def test_without_report_figures_every_registered_kind_is_drawn(tmp_path: Path, test_figure: str):
    results, baselines = _results_of_suite(tmp_path, SUITE)
    md = make_report(results, [baselines])["md"].read_text()
    for slug in ("synth__cpu__byol_c10__spectra", "synth__cpu__byol_c10__gamma", "synth__cpu__sampler",
                 "synth__cpu__cost_vs_q", "test_kind_figure"):
        assert slug in md


def test_figures_plot_a_new_probes_declared_metric_when_no_usual_probe_ran(monkeypatch: pytest.MonkeyPatch):
    from benchmark.report.plots import _metric_of

    monkeypatch.setitem(PROBES._items, "top3probe", Top3Probe)
    records = as_records(_with_top3(synthetic.records()))
    assert _metric_of(records) == "linear.top1"  # the usual probes come first
    for rec in records:
        if rec.metrics:
            rec.metrics = {"top3probe": rec.metrics["top3probe"]}
    assert _metric_of(records) == "top3probe.top3"  # its declared metric, not its undeclared top1
