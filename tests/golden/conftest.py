"""Fixtures for the golden parity tests: locate ``<repo>/../shared/golden`` and load its ``.npz`` files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

GOLDEN_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "golden"


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The shared golden-vector directory; skips the test when it is absent."""
    if not GOLDEN_DIR.is_dir():
        pytest.skip(
            f"golden vectors not found at {GOLDEN_DIR.resolve()}; they live outside the repository "
            "(<repo>/../shared/golden, see its README.md)"
        )
    return GOLDEN_DIR


@pytest.fixture(scope="session")
def load_golden(golden_dir: Path) -> Callable[[str], dict[str, Any]]:
    """``load_golden("sfrik")`` → dict of arrays from ``sfrik.npz`` (plus ``meta`` parsed from ``meta_json``)."""
    cache: dict[str, dict[str, Any]] = {}

    def load(name: str) -> dict[str, Any]:
        if name not in cache:
            path = golden_dir / f"{name}.npz"
            if not path.is_file():
                pytest.skip(f"golden file {path.resolve()} not found; regenerate the shared golden set")
            with np.load(path) as z:
                data: dict[str, Any] = {k: z[k] for k in z.files}
            data["meta"] = json.loads(str(data["meta_json"]))
            cache[name] = data
        return cache[name]

    return load
