"""Turn pydantic validation errors on position-tracked YAML into :class:`SuiteError` with file:line:key."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from benchmark.errors import SuiteError
from benchmark.registry import did_you_mean
from benchmark.suite.yaml_loader import Pos, PosDict, PosList


def position_at(raw: Any, loc: tuple[Any, ...], default: Pos | None) -> Pos | None:
    """The (file, line) of the value at ``loc`` inside ``raw``; the nearest enclosing position if absent."""
    pos = default
    cur = raw
    for part in loc:
        if isinstance(cur, PosDict):
            if part in cur:
                pos = cur.key_pos.get(part, cur.pos) or pos
                cur = cur[part]
                continue
            pos = cur.pos or pos
            break
        if isinstance(cur, PosList) and isinstance(part, int) and 0 <= part < len(cur):
            pos = cur.item_pos[part] if part < len(cur.item_pos) else cur.pos
            cur = cur[part]
            continue
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
            continue
        if isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
            continue
        break
    return pos


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """BaseModel classes reachable from a type annotation (through Optional, Union, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            out.extend(_models_in(arg))
    return out


def fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model that owns the last element of ``loc`` (for did-you-mean)."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for cls in candidates:
            field = cls.model_fields.get(part)
            if field is not None:
                nxt.extend(_models_in(field.annotation))
        if not nxt:
            return []
        candidates = nxt
    names: set[str] = set()
    for cls in candidates:
        names.update(cls.model_fields)
    return sorted(names)


def format_loc(prefix: str, loc: tuple[Any, ...]) -> str:
    """``experiments[3].method.name`` style key path."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "missing":
        return "required key is missing"
    if kind.startswith("value_error"):
        msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    if kind not in ("missing", "extra_forbidden") and not isinstance(value, dict | list):
        msg += f" (got {value!r})"
    return msg


def raise_validation_error(
    exc: ValidationError,
    *,
    raw: Any,
    model: type[BaseModel],
    prefix: str = "",
    default_pos: Pos | None = None,
    extra_fields: list[str] | None = None,
) -> typing.NoReturn:
    """Raise one :class:`SuiteError` describing the first problem (and how many more there are)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    pos = position_at(raw, loc, default_pos)
    key = format_loc(prefix, loc)
    if first["type"] == "extra_forbidden":
        known = fields_at(model, loc) + (extra_fields or [] if len(loc) == 1 else [])
        message = f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), known)}"
        hint = f"allowed keys here: {', '.join(known)}" if known else None
        key = format_loc(prefix, loc[:-1]) or None
    else:
        message = _describe(first)
        hint = None
        if first["type"] == "missing":
            hint = f"add '{loc[-1]}'"
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} in this block)"
    raise SuiteError(
        message,
        path=pos[0] if pos else None,
        line=pos[1] if pos else None,
        key=key or None,
        hint=hint,
    ) from None
