"""Probes on frozen backbone features: linear (SGD), LIBLINEAR SVM, weighted kNN.

Each probe is one module with one ``@PROBES.register(name)`` class exposing ``Params`` (pydantic, unknown keys
rejected) and ``evaluate(features, *, seed, progress=False) -> dict[str, float]`` (see :mod:`benchmark.probes.base`).
Features are extracted once per backbone by :func:`benchmark.probes.features.extract_features`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.probes import knn, linear, svm  # noqa: F401  (registration side effects)
from benchmark.probes.base import PROBES, FeatureSet, Probe, ProbeParams, topk_accuracy
from benchmark.probes.features import extract_features


def build_probe(name: str, params: Mapping[str, Any] | None = None) -> Probe:
    """Instantiate the probe registered as ``name`` with validated ``params`` (defaults when ``None``).

    Raises:
        RegistryError: unknown probe name (with did-you-mean).
        pydantic.ValidationError: unknown keys or invalid values.
    """
    cls = PROBES.get(name)
    return cls(cls.Params(**dict(params or {})))


__all__ = ["PROBES", "FeatureSet", "Probe", "ProbeParams", "build_probe", "extract_features", "topk_accuracy"]
