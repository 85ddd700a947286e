"""One generic registry type for methods, backbones, datasets, probes, regularizers and report figures.

Duplicate names are errors; unknown names list close matches (did-you-mean)::

    BACKBONES = Registry("backbone")

    @BACKBONES.register("resnet18_cifar")
    def resnet18_cifar(...): ...

    BACKBONES.get("resnet18_cifr")  # RegistryError: unknown backbone 'resnet18_cifr' (did you mean 'resnet18_cifar'?)
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from benchmark.errors import RegistryError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """A `` (did you mean 'x'?)`` suffix for the closest choices, or the empty string."""
    close = difflib.get_close_matches(str(name), sorted(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"


class Registry(Generic[T]):
    """A name → object mapping with did-you-mean errors.

    Args:
        kind: What the registry holds, used in messages (``"method"``, ``"dataset"``, ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a second registration of a name is an error."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``."""
        if name in self._items:
            raise RegistryError(f"duplicate {self.kind} name '{name}'", hint="registry names must be unique")
        self._items[name] = obj

    def get(self, name: str) -> T:
        """The object registered under ``name``; :class:`RegistryError` with suggestions otherwise."""
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._items)}",
                hint=f"known {self.kind}s: {', '.join(sorted(self._items))}",
            ) from None

    def names(self) -> list[str]:
        """Sorted registered names."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


def import_modules(package: str, *, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Import every module of ``package`` (for the registrations they make on import); the imported names.

    A new probe, backbone, method or dataset source is a new module in its package, found here without an import
    line (``pkgutil.iter_modules`` over the package's ``__path__``). ``suffixes`` limits it to modules whose name ends
    with one of them (``("_source", "_sources")`` for :mod:`benchmark.data`, whose other modules import torch).
    Modules starting with ``_`` are skipped. Importing twice is a no-op (``sys.modules``).
    """
    pkg = importlib.import_module(package)
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(pkg.__path__)
        if not info.name.startswith("_") and (not suffixes or info.name.endswith(suffixes))
    )
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names
