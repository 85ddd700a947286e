"""``suite.json`` of a results directory: which suite file and baselines file its records came from.

Paths inside this repository are stored relative to its root (``suites/smoke.yaml``), so committed results do not
name the machine they were made on and a fresh clone reads them as they are; a file outside the repository is
stored as an absolute path (there is nothing to be relative to). Older ``suite.json`` files with absolute paths
still load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_text
from benchmark.results.store import ResultsStore

#: The checkout this package runs from: stored paths inside it are relative to it.
REPO_ROOT = Path(__file__).resolve().parents[2]


def portable_path(path: Path) -> str:
    """``path`` relative to the repository root when inside it (POSIX separators), else absolute."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(resolved)


def resolve_recorded_path(text: str) -> Path:
    """A path as stored by :func:`portable_path`: absolute as is, else under the repository root (falling back to
    the working directory for a relative path that is not there)."""
    p = Path(text)
    if p.is_absolute():
        return p
    in_repo = REPO_ROOT / p
    return in_repo if in_repo.exists() or not p.exists() else p


def write_suite_meta(plan: Any, store: ResultsStore, baselines: Path | None) -> dict[str, Any]:
    """Write ``suite.json`` for ``plan`` (a :class:`benchmark.suite.plan.Plan`) into ``store``; returns its content."""
    meta = {"suite": plan.suite.name, "profile": plan.profile, "suite_file": portable_path(plan.suite.path),
            "version": plan.suite.file.version, "baselines": portable_path(baselines) if baselines else None}
    atomic_write_text(store.root / "suite.json", json.dumps(meta, indent=2) + "\n")
    return meta


def read_suite_meta(results_dir: Path) -> dict[str, Any] | None:
    """The parsed ``suite.json`` of ``results_dir`` (None when absent)."""
    path = Path(results_dir) / "suite.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())
