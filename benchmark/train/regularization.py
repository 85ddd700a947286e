"""Re-export of the regularizer registry, which lives in :mod:`benchmark.regularizers` (name → Params, builder)."""

from benchmark.regularizers import REGULARIZERS, build_regularizer

__all__ = ["REGULARIZERS", "build_regularizer"]
