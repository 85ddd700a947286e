"""Diff reproduced numbers against reported ones and render the report."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.errors import ResultsError
from benchmark.report.baselines import BaselineFile, load_baselines
from benchmark.report.diff import build_rows
from benchmark.report.render import write_reports
from benchmark.results.store import ResultsStore


def find_baselines(records: list[dict], search: list[Path], explicit: dict[str, Path] | None = None) -> dict[str, BaselineFile]:
    """Baselines per suite seen in the records: the file the run used (``suite.json``), else ``<dir>/<suite>.yaml``
    from the first directory that has it."""
    out: dict[str, BaselineFile] = {}
    for suite, path in (explicit or {}).items():
        if path.exists():
            out[suite] = load_baselines(path)
    for suite in sorted({r.get("suite") for r in records if r.get("suite")} - set(out)):
        for d in search:
            p = d / f"{suite}.yaml"
            if p.exists():
                out[suite] = load_baselines(p)
                break
    return out


def make_report(results_dir: Path, baselines_dirs: list[Path] | None = None) -> dict[str, Path]:
    """Read every record under ``results_dir`` and write report.{md,csv,html} there."""
    store = ResultsStore(results_dir)
    records = list(store.records())
    if not records:
        raise ResultsError(f"no run records under {results_dir}/runs", hint="run `bench run SUITE` first")
    default_dirs = [Path.cwd() / "baselines", Path(__file__).resolve().parents[2] / "baselines"]
    explicit: dict[str, Path] = {}
    meta = Path(results_dir) / "suite.json"
    if meta.exists():
        info = json.loads(meta.read_text())
        if info.get("baselines"):
            explicit[info["suite"]] = Path(info["baselines"])
    baselines = find_baselines(records, (baselines_dirs or []) + default_dirs, explicit)
    rows = build_rows(records, baselines)
    suites = sorted({r.get("suite", "?") for r in records})
    title = "Reproduction report: " + ", ".join(suites)
    return write_reports(Path(results_dir), rows, title=title)
