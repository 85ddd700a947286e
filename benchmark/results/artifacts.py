"""Array artifacts stored next to a run record: ``<run_dir>/figures_data.npz`` (the OR paper's Figs. 5 and 6).

Arrays too large for ``result.json`` (a 512 × 512 filter-correlation matrix, 2-D UMAP coordinates) live in one
compressed ``.npz`` per run, written atomically before the record; the record's ``figures_data`` block names the
file, its keys and its SHA-256, so the report reads only an artifact that belongs to the record it draws.

Keys are ``<part>.<array>``: ``weight_correlation.abs_corr`` (float16), ``weight_correlation.row_order``, ...,
``umap.coords`` (float32, n × 2), ``umap.labels``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.atomic import atomic_write_bytes
from benchmark.results.record import FiguresData

__all__ = ["FIGURES_DATA", "read_figures_data", "write_figures_data"]

FIGURES_DATA = "figures_data.npz"


def write_figures_data(run_dir: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Write ``arrays`` to ``run_dir/figures_data.npz`` atomically; returns the record's ``figures_data`` block."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    payload = buf.getvalue()
    atomic_write_bytes(Path(run_dir) / FIGURES_DATA, payload)
    return {"file": FIGURES_DATA, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
            "keys": sorted(arrays)}


def read_figures_data(run_dir: Path, block: FiguresData | Mapping[str, Any] | None) -> dict[str, np.ndarray] | None:
    """The arrays of a record's ``figures_data`` block, or None if absent, missing or not the file it recorded."""
    if isinstance(block, Mapping):
        block = FiguresData.model_validate(block)
    if block is None or not block.file:
        return None
    path = Path(run_dir) / str(block.file)
    if not path.is_file():
        return None
    payload = path.read_bytes()
    if block.sha256 and hashlib.sha256(payload).hexdigest() != block.sha256:
        return None
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
