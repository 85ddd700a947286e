"""Numbers as the report shows them (one formatter for every table, CSV and verdict line)."""

from __future__ import annotations

import math

__all__ = ["fmt_number"]


def fmt_number(x: float | None) -> str:
    """Four significant digits; ``+inf`` for an out-of-memory side; empty for None."""
    if x is None:
        return ""
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    return f"{x:.4g}"
