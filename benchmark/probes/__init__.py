"""Probes on frozen backbone features: linear (SGD), LIBLINEAR SVM, weighted kNN.

Each probe is one module of this package with one ``@PROBES.register(name)`` class exposing ``Params`` (pydantic,
unknown keys rejected), ``reported_metrics`` and ``evaluate(features, *, seed, progress=False) -> dict[str, float]``
(see :mod:`benchmark.probes.base`). Every module here is imported on first import of the package
(:func:`benchmark.registry.import_modules`), so adding a probe needs no import line. Features are extracted once per
backbone by :func:`benchmark.probes.features.extract_features`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.probes.base import PROBES, FeatureSet, Probe, ProbeParams, topk_accuracy
from benchmark.probes.features import extract_features
from benchmark.registry import import_modules

import_modules(__name__)


def build_probe(name: str, params: Mapping[str, Any] | None = None) -> Probe:
    """Instantiate the probe registered as ``name`` with validated ``params`` (defaults when ``None``).

    Raises:
        RegistryError: unknown probe name (with did-you-mean).
        pydantic.ValidationError: unknown keys or invalid values.
    """
    cls = PROBES.get(name)
    return cls(cls.Params(**dict(params or {})))


def reported_metrics(name: str) -> tuple[str, ...]:
    """The metrics probe ``name`` declares for the report (``("top1", "top5")``); RegistryError if unknown."""
    return tuple(PROBES.get(name).reported_metrics)


__all__ = [
    "PROBES",
    "FeatureSet",
    "Probe",
    "ProbeParams",
    "build_probe",
    "extract_features",
    "reported_metrics",
    "topk_accuracy",
]
