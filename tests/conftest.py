"""Shared fixtures: the repository root, the shared/ folder beside the checkout (optional), small suites."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def cifar_subset() -> Path:
    """The real CIFAR-10 subset npz, or a skip saying where it was looked for."""
    path = SHARED / "datasets" / "cifar10_subset.npz"
    if not path.exists():
        pytest.skip(f"real CIFAR-10 subset not found at {path} (optional; shipped beside the checkout in ../shared)")
    return path


@pytest.fixture
def write_suite(tmp_path: Path):
    """Write a suite YAML into tmp_path and return its path."""

    def _write(text: str, name: str = "s.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write


@pytest.fixture(autouse=True)
def _restore_sigint_handler():
    """Put Python's Ctrl-C handler back after every test.

    Lightning sets SIGINT to SIG_IGN when it handles a KeyboardInterrupt in-process; an ignored signal is inherited
    by every ``bench`` subprocess a later test starts (Python then installs no handler), so a later Ctrl-C test saw
    its SIGINT ignored and its run finish with exit code 0.
    """
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)
