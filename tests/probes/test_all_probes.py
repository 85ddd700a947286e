"""Every registered probe: interface, parameter validation, separable vs random-label sanity."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

from benchmark.errors import RegistryError
from benchmark.probes import PROBES, Probe, ProbeParams, build_probe

from . import clusters

NAMES = PROBES.names()
# A cheaper linear protocol for the generic checks (the default 100 epochs is exercised in test_linear.py).
FAST = {"linear": {"epochs": 20, "milestones": [12, 16]}, "svm": {"c_grid": [0.1, 1.0, 10.0]}, "knn": {}}


def test_expected_probes_are_registered() -> None:
    assert {"linear", "svm", "knn"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_interface(name: str) -> None:
    cls = PROBES.get(name)
    assert issubclass(cls.Params, ProbeParams)
    probe = cls(None)
    assert isinstance(probe, Probe)
    assert probe.params == cls.Params()


@pytest.mark.parametrize("name", NAMES)
def test_params_reject_unknown_keys(name: str) -> None:
    cls = PROBES.get(name)
    with pytest.raises(ValidationError, match="bogus_key"):
        cls.Params(bogus_key=1)
    with pytest.raises(ValidationError, match="bogus_key"):
        cls({"bogus_key": 1})
    with pytest.raises(ValidationError, match="bogus_key"):
        build_probe(name, {"bogus_key": 1})


def test_unknown_probe_name_suggests_close_match() -> None:
    with pytest.raises(RegistryError, match="did you mean 'linear'"):
        build_probe("lineer")


def test_params_of_another_probe_are_rejected() -> None:
    with pytest.raises(TypeError):
        PROBES.get("linear")(PROBES.get("knn").Params())


@pytest.mark.parametrize("name", NAMES)
def test_separable_clusters_are_classified(name: str) -> None:
    result = build_probe(name, FAST.get(name)).evaluate(clusters(), seed=0)
    assert result["top1"] > 95.0, result
    assert result["top5"] >= result["top1"]
    json.dumps(result)  # JSON-serialisable
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.values()), result


@pytest.mark.parametrize("name", NAMES)
def test_random_labels_give_chance(name: str) -> None:
    # 500 test samples, 10 classes: chance 10 %, binomial std 1.3 points.
    result = build_probe(name, FAST.get(name)).evaluate(clusters(random_labels=True), seed=0)
    assert abs(result["top1"] - 10.0) < 6.0, result
    assert abs(result["top5"] - 50.0) < 10.0, result
