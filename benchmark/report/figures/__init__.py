"""The report's figure kinds, by name, and the suite's choice of them (``report: {figures: [...]}``).

A figure kind is a function ``(records[, results_dir]) -> list[Figure]`` registered with
``@register_figure("name", order=...)``: the built-in kinds are the ``*_figures`` functions of
:mod:`benchmark.report.plots`; a new kind is one module in this package (found by
:func:`benchmark.registry.import_modules`, no import line), named by a suite's ``report.figures`` to be drawn there.
A suite without ``report.figures`` gets every registered kind, ordered by ``order`` then name.
"""

from __future__ import annotations

import base64
import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from benchmark.errors import RegistryError
from benchmark.registry import Registry, import_modules
from benchmark.suite.yaml_loader import error_at, item_position

if TYPE_CHECKING:
    from benchmark.suite.loader import Suite

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Figure:
    """A rendered figure: a file-safe ``slug``, a caption and the PNG bytes."""

    slug: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class FigureKind:
    """One registered figure kind: ``draw(records)`` or ``draw(records, results_dir=...)`` → figures."""

    name: str
    draw: Callable[..., list[Figure]]
    order: int

    def render(self, records: list[dict[str, Any]], results_dir: Path | None) -> list[Figure]:
        """The figures of this kind the records (and their files under ``results_dir``) support."""
        if "results_dir" in inspect.signature(self.draw).parameters:
            return self.draw(records, results_dir=results_dir)
        return self.draw(records)


#: Every figure kind, by name (``spectra``, ``gamma``, ...).
FIGURES: Registry[FigureKind] = Registry("figure")


def register_figure(name: str, *, order: int = 100) -> Callable[[F], F]:
    """Decorator registering a figure function under ``name``; ``order`` places it in the default list."""

    def deco(fn: F) -> F:
        FIGURES.add(name, FigureKind(name, fn, order))
        return fn

    return deco


def load_figures() -> Registry[FigureKind]:
    """:data:`FIGURES` with every kind registered: the built-ins (``plots``) and each module of this package."""
    importlib.import_module("benchmark.report.plots")
    import_modules(__name__)
    return FIGURES


def figure_kinds(names: Sequence[str] | None = None) -> list[FigureKind]:
    """The kinds ``names`` in that order (RegistryError with did-you-mean for an unknown one), or all by default."""
    registry = load_figures()
    if names is None:
        return sorted((registry.get(n) for n in registry), key=lambda k: (k.order, k.name))
    return [registry.get(n) for n in names]


def check_report_figures(suite: Suite) -> None:
    """Every name of the suite's ``report.figures`` is a registered kind; SuiteError at its file:line otherwise."""
    names = suite.file.report.figures
    if names is None:
        return
    registry = load_figures()
    raw = suite.raw.get("report") if isinstance(suite.raw, dict) else None
    raw_list = raw.get("figures") if isinstance(raw, dict) else None
    for index, name in enumerate(names):
        try:
            registry.get(name)
        except RegistryError as exc:
            pos = item_position(raw_list, index, getattr(raw_list, "pos", None))
            raise error_at(pos, exc.message, key=f"report.figures[{index}]", hint=exc.hint,
                           path=str(suite.path)) from None
