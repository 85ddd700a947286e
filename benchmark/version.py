"""``bench --version``: this package's version, the versions that can move a number, and the git commit."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata
from typing import Any

from benchmark.results.provenance import git_state

#: Distributions shown by ``bench --version`` (a record's ``provenance.packages`` has the full list).
SHOWN = ("ssl-repro-bench", "torch", "lightly", "pytorch-lightning")


def version_text() -> str:
    """One line: ``ssl-repro-bench 0.1.0 (commit 1a2b3c4, clean); torch ...; lightly ...; ...; python ...``."""
    versions = []
    for name in SHOWN:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    git = git_state()
    if git["commit"]:
        where = f"commit {git['commit'][:10]}, {'dirty' if git['dirty'] else 'clean'}"
    else:
        where = "not a git checkout"
    head, *rest = versions
    return "; ".join([f"{head[0]} {head[1]} ({where})", *(f"{n} {v}" for n, v in rest),
                      f"python {platform.python_version()}"])


class VersionAction(argparse.Action):
    """``--version``: print :func:`version_text` (computed only when asked) and exit."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(version_text())
        sys.exit(0)
