"""Where ``bench run`` writes: outside the repository by default; committed results are read-only examples.

The default results directory of a suite and profile is ``$BENCH_RESULTS/<suite>/<profile>`` when ``BENCH_RESULTS``
is set, else ``<per-user data dir>/results/<suite>/<profile>`` (``platformdirs.user_data_dir("ssl-repro-bench")``,
e.g. ``~/.local/share/ssl-repro-bench/results/smoke/digits`` on Linux). A directory holding files tracked by git (the
committed records under ``results/``) is only written when ``--results-dir`` names it explicitly, and then with a
warning; reached through the default or ``BENCH_RESULTS`` it is refused before anything is written.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from benchmark.errors import ResultsError

APP_NAME = "ssl-repro-bench"
ENV_VAR = "BENCH_RESULTS"


def results_root() -> tuple[Path, str]:
    """(the root under which default results directories go, how it was chosen)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME)) / "results", "the per-user data directory"


def default_results_dir(suite: str, profile: str) -> Path:
    """``<results_root()>/<suite>/<profile>``."""
    return results_root()[0] / suite / profile


def tracked_files(path: Path) -> list[str]:
    """Files under ``path`` tracked by the git checkout containing it (empty outside git or when git is missing)."""
    path = Path(path).resolve()
    probe = path
    while not probe.exists():  # git needs an existing working directory
        if probe.parent == probe:
            return []
        probe = probe.parent
    cwd = probe if probe.is_dir() else probe.parent
    try:
        out = subprocess.run(["git", "ls-files", "--", str(path)], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in out.splitlines() if line]


def check_writable(path: Path, *, explicit: bool) -> str | None:
    """Refuse (or, for an explicit ``--results-dir``, warn about) writing into committed results.

    Returns the warning to print, or None.

    Raises:
        ResultsError: ``path`` holds git-tracked files and was not named by ``--results-dir``.
    """
    tracked = tracked_files(path)
    if not tracked:
        return None
    if not explicit:
        raise ResultsError(
            f"{path} holds {len(tracked)} files tracked by git (committed results are read-only examples); "
            "bench run would write its records over them",
            hint=f"unset {ENV_VAR} or point it outside the repository; to regenerate committed results on purpose, "
            f"pass --results-dir {path} explicitly",
        )
    return (f"warning: {path} holds {len(tracked)} git-tracked files (committed results); records there will be "
            "overwritten and the checkout becomes dirty")
