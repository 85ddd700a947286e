"""Which keyword arguments a registered builder accepts, and their defaults (used by the run and `bench validate`)."""

from __future__ import annotations

import inspect
from typing import Any


def _target(fn: Any) -> Any:
    """The function behind a ``lambda **kw: f(x, **kw)`` registration wrapper (``fn`` itself otherwise; None if unknown)."""
    if getattr(fn, "__name__", "") != "<lambda>":
        return fn
    for name in fn.__code__.co_names:
        target = fn.__globals__.get(name)
        if inspect.isfunction(target):
            return _target(target)
    return None


def _keyword_parameters(fn: Any) -> list[inspect.Parameter] | None:
    target = _target(fn)
    if target is None:
        return None
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    return [
        p
        for p in params
        if not p.name.startswith("_")
        and (p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty))
    ]


def accepted_keywords(fn: Any) -> set[str] | None:
    """Keyword parameters a builder accepts (looking through ``lambda **kw: f(x, **kw)`` wrappers); None if unknown."""
    params = _keyword_parameters(fn)
    return None if params is None else {p.name for p in params}


def keyword_defaults(fn: Any) -> dict[str, Any] | None:
    """Default values of a builder's keyword parameters that have one (through wrappers as above); None if unknown."""
    params = _keyword_parameters(fn)
    return None if params is None else {p.name: p.default for p in params if p.default is not p.empty}
