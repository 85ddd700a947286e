"""``build_regularizer`` dispatches by name through the registry of :mod:`benchmark.regularizers`."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from benchmark.errors import RegistryError
from benchmark.regularizers import REGULARIZERS, OrthogonalityRegularizer, RegularizerEntry, build_regularizer


def test_none_is_a_registered_entry_building_nothing() -> None:
    assert "none" in REGULARIZERS
    assert build_regularizer("none", {}) is None
    with pytest.raises(ValidationError, match="gamma"):
        build_regularizer("none", {"gamma": 1.0})


def test_so_and_srip_build_orthogonality_regularizers_with_their_params() -> None:
    so = build_regularizer("so", {"gamma": 1e-6, "so_squared": False})
    srip = build_regularizer("srip", {"gamma": 1e-3, "estimator": "exact"})
    assert isinstance(so, OrthogonalityRegularizer) and (so.kind, so.gamma) == ("so", 1e-6)
    assert isinstance(srip, OrthogonalityRegularizer) and (srip.kind, srip.estimator) == ("srip", "exact")


def test_a_new_entry_is_built_by_name_without_touching_build_regularizer(monkeypatch: pytest.MonkeyPatch) -> None:
    class L2Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        weight: float

    monkeypatch.setitem(REGULARIZERS._items, "l2", RegularizerEntry(L2Params, lambda p: ("l2", p.weight)))
    assert build_regularizer("l2", {"weight": 0.5}) == ("l2", 0.5)
    with pytest.raises(RegistryError, match="did you mean 'srip'"):
        build_regularizer("sripp", {})

