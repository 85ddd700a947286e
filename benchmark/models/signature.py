"""Which keyword arguments a registered builder accepts (used by the runner and by `bench validate`)."""

from __future__ import annotations

import inspect
from typing import Any


def accepted_keywords(fn: Any) -> set[str] | None:
    """Keyword parameters a builder accepts (looking through ``lambda **kw: f(x, **kw)`` wrappers); None if unknown."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if getattr(fn, "__name__", "") == "<lambda>":
        for name in fn.__code__.co_names:
            target = fn.__globals__.get(name)
            if inspect.isfunction(target):
                return accepted_keywords(target)
        return None
    return {
        p.name
        for p in params
        if not p.name.startswith("_")
        and (p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty))
    }
