"""Suite-facing regularizer settings (``regularizer: {name: so, gamma: 1.0e-6, ...}``) → regularizer objects.

``none`` adds nothing; ``so`` and ``srip`` are the OR paper's orthogonality penalties on every Conv/Linear weight
of the encoder (see :mod:`benchmark.regularizers.orthogonality` for the conventions and their flags).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmark.registry import Registry


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrthogonalityParams(BaseModel):
    """OR flags (or_neurips24.md §6): defaults are the suite's documented choices where the paper is unverified."""

    model_config = ConfigDict(extra="forbid")

    gamma: float = Field(ge=0, description="γ multiplying the summed per-layer penalty")
    so_squared: bool = True
    srip_squared: bool = False
    power_iters: int = Field(default=2, ge=1)
    exact: bool = False
    gram_side: Literal["smaller", "fan_in"] = "smaller"
    exclude_first_conv: bool = False


REGULARIZERS: Registry[type[BaseModel]] = Registry("regularizer")
REGULARIZERS.add("none", NoParams)
REGULARIZERS.add("so", OrthogonalityParams)
REGULARIZERS.add("srip", OrthogonalityParams)


def build_regularizer(name: str, params: dict[str, Any]) -> Any | None:
    """None for ``none``; an ``OrthogonalityRegularizer`` for ``so``/``srip``."""
    model = REGULARIZERS.get(name)(**params)
    if name == "none":
        return None
    from benchmark.regularizers.orthogonality import OrthogonalityRegularizer

    return OrthogonalityRegularizer(kind=name, **model.model_dump())  # type: ignore[arg-type]
