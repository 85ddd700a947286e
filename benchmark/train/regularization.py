"""Suite-facing regularizer settings (``regularizer: {name: so, gamma: 1.0e-6, ...}``) → regularizer objects.

``none`` adds nothing; ``so`` and ``srip`` are the OR paper's orthogonality penalties on every Conv/Linear weight
of the encoder (see :mod:`benchmark.regularizers.orthogonality` for the conventions and their flags). Each name has
its own keys, so a key of the other penalty (``estimator`` on ``so``, ``so_squared`` on ``srip``) is an unknown-key
error, and ``power_iters`` is accepted only with ``estimator: power``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmark.registry import Registry


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _OrthogonalityCommon(BaseModel):
    """OR flags shared by SO and SRIP (or_neurips24.md §6)."""

    model_config = ConfigDict(extra="forbid")

    gamma: float = Field(ge=0, description="γ multiplying the summed per-layer penalty")
    gram_side: Literal["smaller", "fan_in"] = "smaller"
    exclude_first_conv: bool = False


class SOParams(_OrthogonalityCommon):
    so_squared: bool = Field(default=True, description="‖WᵀW − I‖_F² (paper) or ‖WᵀW − I‖_F")


class SRIPParams(_OrthogonalityCommon):
    srip_squared: bool = Field(default=False, description="σ (paper) or σ² (Bansal et al.)")
    estimator: Literal["paper", "power", "exact"] = Field(
        default="paper", description="paper: the OR paper's two mat-vecs; power: power_iters rounds; exact"
    )
    power_iters: int | None = Field(default=None, ge=1, description="rounds of estimator: power (default 2)")

    @model_validator(mode="after")
    def _power_iters_needs_power(self) -> SRIPParams:
        if self.power_iters is not None and self.estimator != "power":
            raise ValueError(
                f"power_iters={self.power_iters} only applies to estimator: power (estimator is '{self.estimator}'); "
                "drop power_iters or add estimator: power"
            )
        return self


REGULARIZERS: Registry[type[BaseModel]] = Registry("regularizer")
REGULARIZERS.add("none", NoParams)
REGULARIZERS.add("so", SOParams)
REGULARIZERS.add("srip", SRIPParams)


def build_regularizer(name: str, params: dict[str, Any]) -> Any | None:
    """None for ``none``; an ``OrthogonalityRegularizer`` for ``so``/``srip``."""
    model = REGULARIZERS.get(name)(**params)
    if name == "none":
        return None
    from benchmark.regularizers.orthogonality import OrthogonalityRegularizer

    return OrthogonalityRegularizer(kind=name, **model.model_dump())  # type: ignore[arg-type]
