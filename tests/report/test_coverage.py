"""Paper coverage (``paper.items``): exact counts on a small suite, ``bench coverage``, and the report sections."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.report import make_report
from benchmark.report.coverage import compute_coverage
from benchmark.results.store import ResultsStore
from benchmark.suite.baselines_spec import load_baselines
from benchmark.suite.loader import load_suite

SUITE = """\
suite: p
baselines: p_baselines.yaml
paper:
  title: A paper
  authors: [A. Author]
  venue: X 2024
  items:
    - {id: "Table 1", kind: table, page: 5, caption: "Main results"}
    - {id: "Fig. 3", kind: figure, page: 6, caption: "Spectra", source: "extraction p. 6"}
    - {id: "Table 5", caption: "Detection", gaps: ["VOC AP: detection not implemented"]}
    - {id: "Table 9", page: 20, caption: "Recipe", not_covered: "the values are in an image"}
    - {id: "§5.2", kind: section}
defaults:
  data: {dataset: digits, input_size: 32, normalize: none}
  backbone: {name: tiny, width: 8}
  pretrain: {epochs: 1, batch_size_per_device: 64}
  eval:
    probes:
      - {name: knn, k: 5}
experiments:
  - id: a
    reproduces:
      - {table: "Table 1", row: A}
      - {figure: "Fig. 3"}
    method: {name: simclr, temperature: 0.5}
    grid:
      regularizer: [{name: none}, {name: so, gamma: 1.0e-6}]
  - id: b
    reproduces: [{table: "Table 5", row: B}, {table: "Table 1", row: B}]
    method: {name: simclr, temperature: 0.5}
  - id: c
    reproduces: {section: "§5.2"}
    method: {name: simclr, temperature: 0.5}
  - id: d
    reproduces: {kind: extension, note: "a method the paper does not run"}
    method: {name: simclr, temperature: 0.5}
"""

BASELINES = """\
paper: p
citation: "A. Author. A paper. 2024."
entries:
  - {experiment: a, variant: none, metric: knn.top1, value: 50.0,
     source: {paper: "arXiv 0", table: "Table 1", row: A, column: Top-1}}
  - {experiment: a, variant: so-gamma1e-06, metric: knn.top1, value: null, status: not transcribed,
     source: {paper: "arXiv 0", table: "Table 1", row: A + SO}}
  - {experiment: a, variant: none, metric: knn.top5, value: null, status: not transcribed,
     source: {paper: "arXiv 0", figure: "Fig. 3"}}
  - {experiment: b, metric: knn.top1, value: 70.3, status: from official repository,
     source: {paper: "arXiv 0", table: "Table 5", row: B, repository: "x/y@abc README.md"}}
  - {experiment: c, metric: knn.top1, value: 33.0, status: from official repository,
     source: {paper: "README", repository: "x/y@abc README.md", row: c}}
claims:
  - {id: so_helps, statement: "SO helps A", source: {paper: "arXiv 0", table: "Table 1"}, metric: knn.top1,
     treatment: {experiment: a, variant: so-gamma1e-06}, control: {experiment: a, variant: none}, expect: greater}
  - {id: so_helps_ext, statement: "SO helps A on digits",
     source: {paper: "this project", kind: extension, location: "suite notes"}, metric: knn.top1,
     treatment: {experiment: a, variant: so-gamma1e-06}, control: {experiment: a, variant: none}, expect: greater}
  - {id: abstract_claim, statement: "OR helps", source: {paper: "arXiv 0", section: Abstract}, metric: knn.top1,
     treatment: {experiment: a, variant: so-gamma1e-06}, control: {experiment: a, variant: none}, expect: greater}
reported_differences:
  - id: gain_a
    statement: "SO improves A's top-1"
    quote: "SO improves A by $3\\\\%$ on Top-1 accuracy | a pipe and a long sentence that the Markdown table shortens."
    source: {paper: "arXiv 0", table: "Table 1", location: "§6.1, p. 8"}
    value: 3.0
    metric: knn.top1
    comparisons:
      - {treatment: {experiment: a, variant: so-gamma1e-06}, control: {experiment: a, variant: none}}
  - {id: gain_ap, statement: "OR improves AP", quote: "by 20% on AP", source: {paper: "arXiv 0", table: "Table 5"},
     value: 20.0, metric: knn.top1, not_covered: "detection is not implemented"}
  - {id: gain_recipe, statement: "gamma matters", quote: "up to 12%", source: {paper: "arXiv 0", table: "Table 9"},
     value: 12.0, bound: up_to, metric: knn.top1, not_covered: "no experiment sweeps the recipe"}
"""


@pytest.fixture
def paper_suite(tmp_path: Path) -> Path:
    (tmp_path / "p_baselines.yaml").write_text(BASELINES)
    path = tmp_path / "p.yaml"
    path.write_text(SUITE)
    return path


def test_counts_per_item_are_exact(paper_suite: Path):
    suite = load_suite(paper_suite)
    cov = compute_coverage(suite, load_baselines(paper_suite.parent / "p_baselines.yaml"))
    got = {c.item.id: (c.status, c.experiments, c.transcribed, c.not_transcribed, c.text_only, c.claims)
           for c in cov.items}
    assert got == {
        "Table 1": ("covered", ["a", "b"], 1, 1, 1, 1),
        "Fig. 3": ("covered", ["a"], 0, 1, 0, 0),
        "Table 5": ("partly covered", ["b"], 1, 0, 1, 0),
        "Table 9": ("not covered", [], 0, 0, 1, 0),
        "§5.2": ("covered", ["c"], 0, 0, 0, 0),
    }
    details = {c.item.id: c.detail for c in cov.items}
    assert details["Table 5"] == "gap: VOC AP: detection not implemented"
    assert details["Table 9"] == "the values are in an image"
    assert cov.extensions == [("d", "a method the paper does not run")]
    assert cov.uncited == [] and cov.unknown == {}
    # the repository-only entry and the abstract claim cite no item; the extension claim is not counted
    assert cov.cells_without_item == {"transcribed entries": 1, "claims": 1}
    assert cov.totals() == {"items": 5, "covered": 3, "partly covered": 1, "not covered": 1, "transcribed": 2,
                            "not transcribed": 2, "text only": 3, "claims": 1, "extension experiments": 1}


def test_suite_without_items_is_not_tracked(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text(SUITE.split("  items:\n")[0] + "defaults:" + SUITE.split("\ndefaults:", 1)[1].replace(
        "baselines: p_baselines.yaml\n", ""))
    cov = compute_coverage(load_suite(path), None)
    assert not cov.declared and cov.items == []


def _columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_bench_coverage_prints_the_matrix(paper_suite: Path, repo_root: Path, capsys, monkeypatch):
    assert main(["coverage", str(paper_suite)]) == 0
    out = capsys.readouterr().out
    rows = {(_columns(ln)[0]): _columns(ln) for ln in out.splitlines()[2:7]}
    assert rows["Table 1"][:9] == ["Table 1", "table", "5", "covered", "a, b", "1", "1", "1", "1"]
    assert rows["Table 9"][3:] == ["not covered", "—", "0", "0", "1", "0", "the values are in an image"]
    assert rows["Table 5"][3] == "partly covered" and rows["Table 5"][-1] == "gap: VOC AP: detection not implemented"
    assert "5 items: 3 covered, 1 partly covered, 1 not covered" in out
    assert "2 transcribed, 2 not transcribed, 3 reported as text only" in out
    assert "d (a method the paper does not run)" in out

    assert main(["coverage", str(paper_suite), "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["item"], r["experiments"], r["text_only"]) for r in table] == [
        ("Table 1", "a b", "1"), ("Fig. 3", "a", "0"), ("Table 5", "b", "1"), ("Table 9", "", "1"), ("§5.2", "c", "0")]

    assert main(["coverage", str(paper_suite), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| Table 1 | table | 5 | Main results | covered | a, b | 1 | 1 | 1 | 1 |  |" in md

    monkeypatch.chdir(repo_root)
    assert main(["coverage", "suites/smoke.yaml"]) == 0
    assert "no paper.items declared" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["or_neurips24", "sfrik_iclr23", "uniform_prior_iclr23", "lightly_benchmarks"])
def test_bench_coverage_runs_on_the_shipped_suites(name: str, repo_root: Path, capsys, monkeypatch):
    monkeypatch.chdir(repo_root)
    assert main(["coverage", f"suites/{name}.yaml"]) == 0
    out = capsys.readouterr().out
    suite = load_suite(repo_root / "suites" / f"{name}.yaml")
    if suite.file.paper is None or suite.file.paper.items is None:
        assert "no paper.items declared" in out
    else:
        for item in suite.file.paper.items:
            assert any(_columns(ln)[0] == item.id for ln in out.splitlines()), item.id


def _record(experiment: str, variant: str, seed: int, top1: float) -> dict:
    return {"suite": "p", "profile": "paper", "experiment": experiment, "variant": variant, "seed": seed,
            "status": "ok", "config": {"experiment": {"backbone": {"name": "tiny", "width": 8}}},
            "reproduces": {"table": "Table 1"}, "data": {"dataset": "digits", "n_train": 1000},
            "pretrain": {"epochs": 1, "steps": 5}, "metrics": {"knn": {"top1": top1, "top5": 99.0}}}


def _results(tmp_path: Path, suite_file: Path) -> Path:
    results = tmp_path / "results"
    store = ResultsStore(results)
    for seed, (control, gain) in enumerate(((50.0, 2.9), (51.0, 3.0), (49.0, 3.1))):
        store.write(f"a/none/seed{seed}", _record("a", "none", seed, control))
        store.write(f"a/so-gamma1e-06/seed{seed}", _record("a", "so-gamma1e-06", seed, control + gain))
    (results / "suite.json").write_text(json.dumps({"suite": "p", "profile": "paper", "suite_file": str(suite_file),
                                                    "baselines": str(suite_file.parent / "p_baselines.yaml")}))
    return results


def test_report_has_reported_differences_and_coverage(paper_suite: Path, tmp_path: Path):
    paths = make_report(_results(tmp_path, paper_suite), figures=False)
    md = paths["md"].read_text()
    assert "## Reported differences" in md and "## Coverage" in md
    (row,) = [ln for ln in md.splitlines() if ln.startswith("| gain_a |")]
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    # paired gains 2.9, 3.0, 3.1 on controls 50, 51, 49 (mean 50): the CI 3 ± 0.25 contains 3 points, not 1.5
    assert cells[4] == "paper" and cells[5] == "3"
    assert cells[6].startswith("1.5 (3 % of the control mean 50)")
    assert cells[7].startswith("3 [2.752, 3.248] (n=3; seeds 0 1 2)")
    assert cells[8] == "✓ consistent" and cells[9] == "+ larger than reported"
    assert cells[10].startswith("paper scale")
    assert "\\|" in cells[1] and cells[1].endswith("…\"")  # the pipe is escaped and the quote shortened
    assert "`gain_ap`" in md and "detection is not implemented" in md
    assert "| Table 9 | table | 20 | Recipe | not covered | — | 0 | 0 | 1 | 0 | the values are in an image |" in md
    assert "*extension (not a claim of the paper)*: SO helps A on digits" in md

    page = paths["html"].read_text()
    assert "<h2>Reported differences</h2>" in page and "<h2>Coverage</h2>" in page
    assert "<details><summary>quote</summary>SO improves A by $3\\%$ on Top-1 accuracy | a pipe and a long sentence" \
           " that the Markdown table shortens.</details>" in page
    assert "<script" not in page.lower()
    assert "class='cov-not-covered'" in page and "extension (not a claim of the paper)" in page

    gains = list(csv.DictReader(paths["gains_csv"].open()))
    assert [(g["id"], g["profile"], g["verdict_points"]) for g in gains] == [
        ("gain_a", "paper", "✓ consistent"), ("gain_ap", "", "∅ not covered"), ("gain_recipe", "", "∅ not covered")]
    claims = {c["claim"]: c for c in csv.DictReader(paths["claims_csv"].open())}
    assert claims["so_helps_ext"]["kind"] == "extension (not a claim of the paper)"
    assert claims["so_helps"]["kind"] == "paper"


def test_report_says_when_the_suite_file_cannot_be_loaded(paper_suite: Path, tmp_path: Path):
    results = _results(tmp_path, paper_suite)
    info = json.loads((results / "suite.json").read_text())
    (results / "suite.json").write_text(json.dumps({**info, "suite_file": str(tmp_path / "gone.yaml")}))
    md = make_report(results, figures=False)["md"].read_text()
    section = md.split("## Coverage", 1)[1]
    assert "Coverage not computed: the recorded suite file could not be loaded" in section
    assert "gone.yaml" in section


def test_a_source_section_that_names_an_item_counts_for_it(paper_suite: Path):
    """A text-only passage (kind section) is cited by its id as `source.section`, e.g. the uniform prior's §5.1 toy."""
    bl = paper_suite.parent / "p_baselines.yaml"
    bl.write_text(BASELINES.replace("reported_differences:", """\
  - {id: sec_claim, statement: "C holds", source: {paper: "arXiv 0", section: "§5.2"}, metric: knn.top1,
     treatment: {experiment: a, variant: so-gamma1e-06}, control: {experiment: a, variant: none}, expect: greater}
reported_differences:""", 1))
    cov = compute_coverage(load_suite(paper_suite), load_baselines(bl))
    by_id = {c.item.id: c for c in cov.items}
    assert by_id["§5.2"].claims == 1
    assert cov.cells_without_item == {"transcribed entries": 1, "claims": 1}  # the abstract claim still cites none


def test_terminal_experiments_cell_truncates_with_count_and_keeps_the_full_list_elsewhere():
    from benchmark.report.coverage import experiments_cell

    names = [f"lightly_method{i}_c10" for i in range(40)]
    cell = experiments_cell(names, 60)
    assert len(cell) <= 60 + len(names[0])
    shown = cell.split(", … +")[0].split(", ")
    assert cell.endswith(f"+{40 - len(shown)} more") and shown == names[: len(shown)]
    assert experiments_cell(names) == ", ".join(names)  # markdown / HTML / CSV keep every name
    assert experiments_cell(["a", "b"], 60) == "a, b"
    assert experiments_cell([], 60) == "—"


@pytest.mark.parametrize("name", ["or_neurips24", "sfrik_iclr23", "uniform_prior_iclr23"])
def test_every_baseline_entry_claim_and_difference_of_the_paper_suites_cites_an_item_of_the_paper(
        name: str, repo_root: Path):
    """Issue 9: an entry, claim or reported difference citing a table/figure the paper's ``paper.items`` does not
    list (e.g. 'Fig. 2' for the spectra) would show up here, as would an experiment citing no item."""
    from benchmark.suite.baselines_spec import load_baselines

    suite = load_suite(repo_root / "suites" / f"{name}.yaml")
    baselines = load_baselines(repo_root / "baselines" / f"{name}.yaml")
    cov = compute_coverage(suite, baselines)
    assert cov.declared
    assert cov.unknown == {}, cov.unknown
    assert not cov.cells_without_item, cov.cells_without_item
    assert not cov.uncited, cov.uncited
    ids = {item.id for item in suite.file.paper.items}
    sources = [c.source for c in baselines.claims] + [d.source for d in baselines.reported_differences]
    cited = {x for src in sources for x in (src.table, getattr(src, "figure", None)) if x}
    assert cited <= ids, sorted(cited - ids)  # tables and figures are always items of the paper
    for src in sources:
        if getattr(src, "kind", "paper") != "extension":  # every paper claim names at least one item (a section may be an item too)
            assert {src.table, getattr(src, "figure", None), getattr(src, "section", None)} & ids, src
    assert sum(c.claims for c in cov.items) > 0
