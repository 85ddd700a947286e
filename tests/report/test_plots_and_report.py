"""Figures from records and the full report (Markdown, CSVs, self-contained HTML) on synthetic results."""

from __future__ import annotations

import base64
import csv
import io
import re

import pytest

from benchmark.report import make_report
from benchmark.report.plots import gamma_figures, make_figures, measure_figures, sampler_figures, spectra_figures
from tests.report import synthetic

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _image(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("L")


def _not_blank(png: bytes) -> None:
    import numpy as np

    arr = np.asarray(_image(png), dtype=float)
    assert arr.std() > 5, "figure is a blank canvas"


def test_each_figure_kind_is_drawn_from_records():
    recs = synthetic.records()
    spectra, gammas, samplers, costs = (spectra_figures(recs), gamma_figures(recs), sampler_figures(recs),
                                        measure_figures(recs))
    assert [f.slug for f in spectra] == ["synth__cpu__byol_c10__spectra"]
    assert [f.slug for f in gammas] == ["synth__cpu__byol_c10__gamma"]
    assert [f.slug for f in samplers] == ["synth__cpu__sampler"]
    assert [f.slug for f in costs] == ["synth__cpu__cost_vs_q"]
    assert "out of memory: vicreg_efficiency (vicreg) q=4096" in costs[0].caption
    for fig in spectra + gammas + samplers + costs:
        assert fig.png.startswith(PNG_MAGIC)
        _not_blank(fig.png)
        assert fig.data_uri.startswith("data:image/png;base64,")
        assert base64.b64decode(fig.data_uri.split(",", 1)[1]) == fig.png


def test_figures_are_skipped_without_their_data():
    recs = synthetic.records()
    no_diag = [{k: v for k, v in r.items() if k != "diagnostics"} for r in recs]
    assert spectra_figures(no_diag) == []
    no_measure = [{**r, "pretrain": {k: v for k, v in (r.get("pretrain") or {}).items() if k != "measure"}} for r in recs]
    assert measure_figures(no_measure) == []
    only_none = [r for r in recs if r["experiment"] == "byol_c10" and r["variant"] == "none"]
    assert make_figures(only_none) == []  # one variant: nothing to compare
    failed_only = [r for r in recs if r["status"] != "ok"]
    assert make_figures(failed_only) == []


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    results, baselines = synthetic.write_results(root)
    paths = make_report(results, [baselines])
    return results, paths


def test_markdown_has_rows_with_seeds_scale_claims_and_figures(report):
    results, paths = report
    md = paths["md"].read_text()
    assert ("| byol_c10 | none (regularizer none) | linear.top1 | 60.30 ± 0.30 | 3 | 61.50 | -1.20 | x not comparable |"
            in md)
    assert "| 0 1 2 |" in md  # seeds column
    assert "Scale of these runs: cpu: npz n=8336, resnet18-w16, 8 ep / 256 steps" in md
    assert "## Claims" in md
    claims = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| so_helps")
              or line.startswith("| k2_hurts") or line.startswith("| sfrik_faster")}
    assert "✓ reproduced" in claims["so_helps_byol"] and "| 3 | 0 1 2 |" in claims["so_helps_byol"]
    assert "✓ reproduced" in claims["k2_hurts_simclr"]
    assert "✓ reproduced" in claims["sfrik_faster_q4096"] and "ran out of memory" in claims["sfrik_faster_q4096"]
    assert "Not checked" in md and "`never_run`" in md
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    assert len(links) == 5 and all((results / link).read_bytes().startswith(PNG_MAGIC) for link in links)
    assert "simclr_c10" in md and "diverged at step 17: loss is nan" in md


def test_claims_csv_lists_every_claim_with_its_interval(report):
    _, paths = report
    rows = list(csv.DictReader(paths["claims_csv"].open()))
    by = {r["claim"]: r for r in rows}
    assert set(by) == {"so_helps_byol", "k2_hurts_simclr", "sfrik_faster_q4096", "never_run"}
    so = by["so_helps_byol"]
    lo, hi = (float(x) for x in so["ci95"].strip("[]").split(", "))
    assert lo > 0 and hi > lo and so["n_pairs"] == "3" and so["profile"] == "cpu"
    assert by["never_run"]["verdict"].endswith("not checked") and by["never_run"]["profile"] == ""


def test_html_is_self_contained(report):
    _, paths = report
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 5  # 4 plots + the performance module's figure
    assert "<script" not in page.lower()
    external = re.findall(r"""(?:src|href)\s*=\s*['"](?!data:)([^'"]+)""", page)
    assert external == [], f"external resources: {external}"
    assert "<td>byol_c10</td><td>so-gamma1e-06</td><td>linear.top1</td>" in page
    assert "class='c-reproduced'" in page and "<code>never_run</code>" in page
