"""The regularizer registry: suite name → (parameter model, builder); ``build_regularizer`` dispatches by name.

A suite's ``regularizer: {name: so, gamma: 1.0e-6, ...}`` is validated against the named entry's ``Params``
(``extra="forbid"``: a key of another regularizer is an unknown-key error) and built by its ``build``. ``none`` is
a registered entry whose builder returns ``None`` (nothing is added to the loss). A new regularizer is one module
of :mod:`benchmark.regularizers` registering its builder with ``@register_regularizer(name, Params)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from benchmark.registry import Registry

B = TypeVar("B", bound=Callable[..., Any])


@dataclass(frozen=True)
class RegularizerEntry:
    """One registered regularizer: its suite parameters and ``build(params) -> regularizer | None``."""

    Params: type[BaseModel]
    build: Callable[[Any], Any]


#: Every regularizer, by suite name (``none``, ``so``, ``srip``).
REGULARIZERS: Registry[RegularizerEntry] = Registry("regularizer")


def register_regularizer(name: str, params: type[BaseModel]) -> Callable[[B], B]:
    """Decorator registering ``build(params_instance)`` under ``name`` with parameter model ``params``."""

    def deco(build: B) -> B:
        REGULARIZERS.add(name, RegularizerEntry(params, build))
        return build

    return deco


def build_regularizer(name: str, params: Mapping[str, Any]) -> Any | None:
    """The regularizer ``name`` built from its validated ``params`` (``None`` for ``none``).

    Raises:
        RegistryError: unknown name (with did-you-mean). pydantic.ValidationError: bad or unknown keys.
    """
    entry = REGULARIZERS.get(name)
    return entry.build(entry.Params(**dict(params)))


class NoParams(BaseModel):
    """``none`` takes no parameters."""

    model_config = ConfigDict(extra="forbid")


@register_regularizer("none", NoParams)
def build_none(params: NoParams) -> None:
    """No regularizer: nothing is added to the loss."""
    return None
