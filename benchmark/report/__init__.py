"""Diff reproduced numbers against reported ones, judge the papers' claims, draw figures and render the report.

``bench report RESULTS_DIR`` (and the end of ``bench run``) calls :func:`make_report`: records → value matrix
(:mod:`~benchmark.report.diff`), claims and reported differences from the baselines file
(:mod:`~benchmark.report.claims`, :mod:`~benchmark.report.gains`), the paper coverage of the suite file the results
were run from (:mod:`~benchmark.report.coverage`), figures (:mod:`~benchmark.report.plots`) → ``report.md``,
``report.csv``, ``claims.csv``, ``gains.csv``, ``report.html``, ``figures/`` (:mod:`~benchmark.report.render`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.errors import BenchError, ResultsError
from benchmark.report.claims import ClaimResult, evaluate_claims
from benchmark.report.coverage import CoverageUnavailable, SuiteCoverage, compute_coverage
from benchmark.report.diff import build_rows
from benchmark.report.gains import GainResult, evaluate_differences
from benchmark.report.power import DEFAULT_MAX_SEEDS
from benchmark.report.power import analyse as analyse_power
from benchmark.report.render import write_reports
from benchmark.results.record import RecordLike, as_records
from benchmark.results.store import ResultsStore
from benchmark.results.suite_meta import read_suite_meta, resolve_recorded_path
from benchmark.suite.baselines_spec import BaselineFile, load_baselines

if TYPE_CHECKING:
    from benchmark.suite.loader import Suite


def find_baselines(records: list[RecordLike], search: list[Path], explicit: dict[str, Path] | None = None
                   ) -> dict[str, BaselineFile]:
    """Baselines per suite seen in the records: the file the run used (``suite.json``), else ``<dir>/<suite>.yaml``
    from the first directory that has it."""
    out: dict[str, BaselineFile] = {}
    for suite, path in (explicit or {}).items():
        if path.exists():
            out[suite] = load_baselines(path)
    for suite in sorted({r.suite for r in as_records(records) if r.suite} - set(out)):
        for d in search:
            p = d / f"{suite}.yaml"
            if p.exists():
                out[suite] = load_baselines(p)
                break
    return out


def judge_claims(records: list[RecordLike], baselines: dict[str, BaselineFile], *,
                 max_seeds: int = DEFAULT_MAX_SEEDS) -> list[ClaimResult]:
    """Every claim of every suite's baselines file, judged per profile on the records, with its power analysis
    (seeds needed beyond ``max_seeds`` are reported as below any affordable budget)."""
    out: list[ClaimResult] = []
    records = as_records(records)
    for suite, bl in sorted(baselines.items()):
        out.extend(evaluate_claims(bl.claims, records, suite=suite))
    for result in out:
        if result.verdict != "not checked":
            result.power = analyse_power(result, max_seeds)
    return out


def judge_differences(records: list[RecordLike], baselines: dict[str, BaselineFile]) -> list[GainResult]:
    """Every reported difference of every suite's baselines file, judged per comparison and profile."""
    out: list[GainResult] = []
    records = as_records(records)
    for suite, bl in sorted(baselines.items()):
        out.extend(evaluate_differences(bl.reported_differences, records, suite=suite))
    return out


def recorded_suite(results_dir: Path) -> tuple[Suite | None, str | None]:
    """(the loaded suite a results directory was run from, None) per its ``suite.json``, or (None, why not)."""
    try:
        info = read_suite_meta(Path(results_dir))
        if info is None:
            return None, f"no suite.json in {results_dir} (the suite file the runs came from is not recorded)"
        from benchmark.suite.loader import load_suite

        return load_suite(resolve_recorded_path(info["suite_file"])), None
    except KeyError:
        return None, "suite.json does not name the suite file (suite_file)"
    except (OSError, ValueError, BenchError) as exc:
        return None, f"the recorded suite file could not be loaded: {exc}".replace("\n", " ")


def suite_notes(suite: Suite | None) -> dict[str, list[str]]:
    """The ``notes:`` of the recorded suite (:func:`recorded_suite`), if it still loads."""
    return {suite.name: list(suite.file.notes)} if suite is not None else {}


def suite_coverage(recorded: tuple[Suite | None, str | None], suites: list[str], baselines: dict[str, BaselineFile]
                   ) -> list[SuiteCoverage | CoverageUnavailable]:
    """The coverage of every suite in the records, from the recorded suite (:func:`recorded_suite`: the suite, or
    why it is not there); a suite whose file is not recorded or no longer loads gets the reason instead (the report
    is still written)."""
    suite, problem = recorded
    out: list[SuiteCoverage | CoverageUnavailable] = []
    for name in suites:
        if suite is None or suite.name != name:
            out.append(CoverageUnavailable(name, problem or f"suite.json records suite '{suite.name}', not '{name}'"))
            continue
        try:
            out.append(compute_coverage(suite, baselines.get(name)))
        except BenchError as exc:  # e.g. a profile of the edited suite file no longer resolves
            out.append(CoverageUnavailable(name, f"the suite file does not resolve: {exc}".replace("\n", " ")))
    return out


def performance_parts(records: list[RecordLike], out_dir: Path) -> tuple[list[str], list[str], list]:
    """(Markdown sections, HTML fragments, figures) of :mod:`benchmark.report.performance` for measured runs."""
    import html

    from benchmark.report import performance
    from benchmark.report.figures import Figure

    records = as_records(records)
    md = performance.performance_section(records)
    if not md:
        return [], [], []
    rows = performance.performance_rows(records)
    keys = ["experiment", "variant", "seed", "device", "images", "steps", "step_ms", "throughput", "iteration_ms",
            "step_memory", "loss_ms", "loss_memory", "regularizer_ms", "status"]
    heads = ["experiment", "variant", "seed", "device", "images/step", "timed steps", "step ms", "images/s",
             "iteration ms", "step peak memory", "loss alone ms", "loss peak memory", "OR alone ms", "status"]
    frag = ["<h2>Performance</h2>",
            "<p>Per-step wall time after warm-up: median [p10–p90] in ms; memory in MiB (see report.md for the "
            "definitions).</p>",
            "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>"]
    for row in rows:
        frag.append("<tr>" + "".join(f"<td>{html.escape(str(row.get(k, '')))}</td>" for k in keys) + "</tr>")
    frag.append("</tbody></table>")
    figs = []
    png_path = performance.performance_figure(records, out_dir / "figures" / "performance.png")
    if png_path is not None and Path(png_path).exists():
        figs.append(Figure("performance", "Median step time (p10-p90) and loss-alone time per measured run",
                           Path(png_path).read_bytes()))
    return [md], frag, figs


def make_report(results_dir: Path, baselines_dirs: list[Path] | None = None, *, figures: bool = True,
                max_seeds: int = DEFAULT_MAX_SEEDS) -> dict[str, Path]:
    """Read every record under ``results_dir`` and write report.{md,csv,html}, claims.csv and figures/ there;
    ``max_seeds`` is the affordable budget of the power analysis."""
    store = ResultsStore(results_dir)
    records = list(store.records())
    if not records:
        raise ResultsError(f"no run records under {results_dir}/runs", hint="run `bench run SUITE` first")
    default_dirs = [Path.cwd() / "baselines", Path(__file__).resolve().parents[2] / "baselines"]
    explicit: dict[str, Path] = {}
    info = read_suite_meta(Path(results_dir))
    if info is not None and info.get("baselines"):
        explicit[info["suite"]] = resolve_recorded_path(info["baselines"])
    baselines = find_baselines(records, (baselines_dirs or []) + default_dirs, explicit)
    rows = build_rows(records, baselines)
    claims = judge_claims(records, baselines, max_seeds=max_seeds)
    gains = judge_differences(records, baselines)
    recorded = recorded_suite(Path(results_dir))  # loaded once: its notes, coverage and report.figures
    suite = recorded[0]
    figs = []
    if figures:
        from benchmark.report.plots import make_figures

        names = suite.file.report.figures if suite is not None else None  # all kinds when it is not recorded
        figs = make_figures(records, results_dir=Path(results_dir), names=names)
    try:
        perf_md, perf_html, perf_figs = performance_parts(records, Path(results_dir))
    except ImportError:  # benchmark.report.performance is optional
        perf_md, perf_html, perf_figs = [], [], []
    except (KeyError, TypeError, ValueError) as exc:  # a malformed measurement must not cost the whole report
        note = f"Performance section skipped: {type(exc).__name__}: {exc}"
        perf_md, perf_html, perf_figs = [f"## Performance\n\n{note}"], [f"<h2>Performance</h2><p>{note}</p>"], []
    suites = sorted({"?" if r.suite is None else r.suite for r in records})
    title = "Reproduction report: " + ", ".join(suites)
    return write_reports(Path(results_dir), rows, title=title, claims=claims, figures=figs + perf_figs,
                         notes=suite_notes(suite), extra_md=perf_md, extra_html=perf_html, gains=gains,
                         coverage=suite_coverage(recorded, suites, baselines), records=records)
