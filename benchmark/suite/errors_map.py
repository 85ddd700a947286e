"""Turn pydantic validation errors on position-tracked YAML into :class:`SuiteError` with file:line:key.

pydantic's messages are rewritten in plain words ("expected an integer, got 'lots'", "unknown value 'sdg' (did you
mean 'sgd'?)"), union-member tags are dropped from key paths, and an error raised by a model-level validator points
at the key its message names (e.g. ``batch_size_global=100 but ...`` points at ``batch_size_global``). Two checks
pydantic does not make are added: a YAML boolean where a number is expected (pydantic would read ``true`` as 1) and
a non-finite number (``.nan``, ``.inf``) anywhere in a suite.
"""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from benchmark.registry import did_you_mean
from benchmark.suite.yaml_loader import Pos, PosDict, PosList, error_at, item_position

M = typing.TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------------------------- positions
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
            pos = item_position(cur, part, cur.pos)
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


def _value_at(raw: Any, loc: tuple[Any, ...]) -> Any:
    cur = raw
    for part in loc:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return None
    return cur


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
    return sorted(_field_names(_models_at(model, loc[:-1])))


def _models_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[type[BaseModel]]:
    """The model classes that describe the mapping at ``loc`` (several for unions)."""
    candidates: list[type[BaseModel]] = [model]
    skip_key = False  # the previous field was a dict[str, Model]: this part is a user-chosen key
    for part in loc:
        if isinstance(part, int):
            continue
        if skip_key:
            skip_key = False
            continue
        nxt: list[type[BaseModel]] = []
        for cls in candidates:
            field = cls.model_fields.get(part)
            if field is not None:
                nxt.extend(_models_in(field.annotation))
                skip_key = skip_key or _is_mapping_of_models(field.annotation)
        if not nxt:
            return []
        candidates = nxt
    return candidates


def _is_mapping_of_models(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return bool(_models_in(typing.get_args(annotation)[-1]))
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        return any(_is_mapping_of_models(a) for a in typing.get_args(annotation))
    return False


def _field_names(models: list[type[BaseModel]]) -> set[str]:
    names: set[str] = set()
    for cls in models:
        names.update(cls.model_fields)
    return names


class Item(str):
    """A list item named by its id in key paths (``experiments[byol_c10]`` rather than ``experiments[0]``)."""


def format_loc(prefix: str, loc: tuple[Any, ...]) -> str:
    """``experiments[3].method.name`` style key path."""
    out = prefix
    for part in loc:
        if isinstance(part, int | Item):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _clean_loc(raw: Any, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], int | None]:
    """Drop pydantic's union-member tags (``literal[...]``, ``NormalizeStats``, ``list[int]``) from ``loc``.

    Returns the cleaned loc and the length of the prefix at which the first tag was dropped (None if none was).
    """
    out: list[Any] = []
    cur: Any = raw
    tag_at: int | None = None
    for part in loc:
        if not isinstance(part, str) or (isinstance(cur, dict) and part in cur):
            is_tag = False
        elif "[" in part or part[:1].isupper() or part in _SCALAR_TAGS:
            is_tag = True
        else:  # a key under a scalar or list that is present in the file can only be a union tag
            is_tag = cur is not _ABSENT and not isinstance(cur, dict)
        if is_tag:
            if tag_at is None:
                tag_at = len(out)
            continue
        out.append(part)
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            cur = _ABSENT
    return tuple(out), tag_at


_ABSENT = object()
_SCALAR_TAGS = {"str", "int", "float", "bool", "none", "is-instance", "function-after", "function-before"}


# --------------------------------------------------------------------------------------------- messages
def _show(value: Any) -> str:
    """A user-facing rendering of a YAML value: mappings and lists by kind, scalars as written in YAML."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _describe(err: dict[str, Any]) -> tuple[str, str | None]:
    """(message, hint) for one pydantic error, in plain words."""
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "invalid value"))
    ctx = err.get("ctx") or {}
    value = err.get("input")
    loc = tuple(err.get("loc", ()))
    got = _show(value)
    if kind == "missing":
        if loc and isinstance(loc[-1], int):
            return f"too few values: item {loc[-1]} is missing", "give every item of the list"
        return "required key is missing", f"add '{loc[-1]}'" if loc else None
    if kind in ("int_parsing", "int_type"):
        return f"expected an integer, got {got}", None
    if kind == "int_from_float":
        return f"expected an integer, got {got} (a number with a fractional part)", None
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {got}", None
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got}", None
    if kind == "string_type":
        return f"expected a string, got {got}", f'quote it: "{value}"' if not isinstance(value, dict | list) else None
    if kind in ("list_type", "tuple_type", "set_type"):
        return f"expected a list, got {got}", "write a YAML list, e.g. [a, b] or one '- item' per line"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"expected a mapping, got {got}", "write a YAML mapping, e.g. {key: value} or one 'key: value' per line"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = re.findall(r"'([^']*)'", expected)
        suggestion = did_you_mean(str(value), choices) if isinstance(value, str) else ""
        hint = f"allowed values: {', '.join(choices) or expected}"
        if not isinstance(value, str) and choices:
            hint += f' (these are strings: quote them, e.g. "{choices[0]}")'
        return f"unknown value {got}{suggestion}", hint
    if kind in ("too_short", "too_long"):
        field_kind = str(ctx.get("field_type", "List")).lower()
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        actual = ctx.get("actual_length")
        word = "at least" if kind == "too_short" else "at most"
        hint = f"give {word} {bound}"
        return f"{field_kind} must have {word} {bound} item{'s' if bound != 1 else ''}, got {actual}", hint
    comparisons = {
        "greater_than": ("greater than", "gt"),
        "greater_than_equal": ("greater than or equal to", "ge"),
        "less_than": ("less than", "lt"),
        "less_than_equal": ("less than or equal to", "le"),
    }
    if kind in comparisons:
        words, key = comparisons[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {words} {bound}, got {got}", None
    if kind == "finite_number":
        return f"expected a finite number, got {got}", None
    if kind.startswith("value_error") or kind == "assertion_error":
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if not isinstance(value, dict | list):
            msg += f" (got {got})"
        return msg, getattr(ctx.get("error"), "hint", None)
    if not isinstance(value, dict | list):
        msg += f" (got {got})"
    return msg, None


def _named_field(message: str, raw_here: Any, names: set[str]) -> str | None:
    """The first field (present in ``raw_here``) that a model-level validator's message names, if any."""
    if not isinstance(raw_here, dict):
        return None
    best: tuple[int, str] | None = None
    for name in names:
        if name not in raw_here:
            continue
        m = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), name)
    return best[1] if best else None


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
    cleaned = [(_clean_loc(raw, tuple(e["loc"])), e) for e in errors]
    (loc, tag_at), first = cleaned[0]
    if first["type"] == "missing":
        # a misspelt key shows up as "missing" + "extra": the extra one (with its did-you-mean) says more
        for (lc, t), e in cleaned:
            if e["type"] == "extra_forbidden" and lc[:-1] == loc[:-1]:
                (loc, tag_at), first = (lc, t), e
                break
    if tag_at is not None:
        # a union: report the member that got furthest (a mapping's own key error beats "expected a string")
        group = [(lc, e) for (lc, t), e in cleaned if t == tag_at and lc[:tag_at] == loc[:tag_at]]
        loc, first = max(group, key=lambda item: len(item[0]))
    # count problems, not union members: the alternatives of one union are one problem
    distinct = {lc if t is None else (*lc[:t], "<union>") for (lc, t), _ in cleaned}
    extra = len(distinct) - 1

    if first["type"] == "extra_forbidden":
        known = fields_at(model, loc) + (extra_fields or [] if len(loc) == 1 else [])
        message = f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), known)}"
        hint = f"allowed keys here: {', '.join(sorted(set(known)))}" if known else None
        pos = position_at(raw, loc, default_pos)
        key = format_loc(prefix, loc[:-1]) or None
    else:
        message, hint = _describe(first)
        if first["type"].startswith("value_error") and isinstance(first.get("input"), dict):
            named = _named_field(message, _value_at(raw, loc), _field_names(_models_at(model, loc)))
            if named is not None:
                loc = (*loc, named)
        pos = position_at(raw, loc, default_pos)
        key = format_loc(prefix, loc) or None
    if extra > 0:
        message += f" (+{extra} more problem{'s' if extra > 1 else ''} in this block)"
    raise error_at(
        pos, message,
        key=key,
        hint=hint,
    ) from None


# --------------------------------------------------------------------------------------------- extra checks
def _flat_types(annotation: Any) -> set[Any]:
    """The scalar types an annotation admits at its top level (through Optional/Union/Annotated)."""
    if annotation is typing.Any:
        return {typing.Any}
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flat_types(typing.get_args(annotation)[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        out: set[Any] = set()
        for arg in typing.get_args(annotation):
            out |= _flat_types(arg)
        return out
    if origin is typing.Literal:
        return {type(a) for a in typing.get_args(annotation)}
    return {origin or annotation}


def _item_annotations(annotation: Any) -> list[Any]:
    """Item annotations of the list/tuple members of an annotation (``list[int] | None`` → [int])."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or isinstance(annotation, types.UnionType) or origin is typing.Annotated:
        out: list[Any] = []
        for arg in typing.get_args(annotation)[: 1 if origin is typing.Annotated else None]:
            out.extend(_item_annotations(arg))
        return out
    if origin in (list, tuple, set, frozenset):
        return [a for a in typing.get_args(annotation) if a is not Ellipsis]
    return []


def _number_not_bool(annotation: Any) -> bool:
    """The annotation takes a number but not a boolean (so a YAML ``true`` there is a mistake)."""
    flat = _flat_types(annotation)
    return bool(flat & {int, float}) and bool not in flat and typing.Any not in flat


_FIELD_TYPES: dict[type[BaseModel], dict[str, tuple[bool, bool, list[type[BaseModel]]]]] = {}


def _field_types(model: type[BaseModel]) -> dict[str, tuple[bool, bool, list[type[BaseModel]]]]:
    """Per field of ``model``: (takes a number, takes a list of numbers, nested models), computed once per model."""
    if model not in _FIELD_TYPES:
        _FIELD_TYPES[model] = {
            name: (
                _number_not_bool(f.annotation),
                any(_number_not_bool(a) for a in _item_annotations(f.annotation)),
                _models_in(f.annotation),
            )
            for name, f in model.model_fields.items()
        }
    return _FIELD_TYPES[model]


def reject_bools_for_numbers(
    model: type[BaseModel], raw: Any, *, prefix: str = "", default_pos: Pos | None = None, _loc: tuple = ()
) -> None:
    """A YAML ``true``/``false`` where ``model`` expects a number is an error (pydantic would read it as 1/0)."""
    if not isinstance(raw, dict):
        return
    fields = _field_types(model)
    for key, value in raw.items():
        if key not in fields:
            continue
        numeric, item_numeric, submodels = fields[key]
        loc = (*_loc, key)
        bad_item = None
        if numeric and isinstance(value, bool):
            pass
        elif item_numeric and isinstance(value, list) and any(isinstance(v, bool) for v in value):
            bad_item = next(v for v in value if isinstance(v, bool))
        else:
            for sub in submodels:
                if isinstance(value, dict):
                    reject_bools_for_numbers(sub, value, prefix=prefix, default_pos=default_pos, _loc=loc)
                elif isinstance(value, list):
                    for i, v in enumerate(value):
                        reject_bools_for_numbers(sub, v, prefix=prefix, default_pos=default_pos, _loc=(*loc, i))
            continue
        shown = _show(value if bad_item is None else bad_item)
        pos = position_at(raw, (key,), default_pos)
        raise error_at(
            pos, f"expected a number, got {shown}" + (" in the list" if bad_item is not None else ""),
            key=format_loc(prefix, loc),
            hint="YAML reads true/false/yes/no/on/off as booleans; write a number",
        )


def validate_model(
    model: type[M],
    raw: Any,
    *,
    prefix: str = "",
    default_pos: Pos | None = None,
    extra_fields: list[str] | None = None,
) -> M:
    """``model.model_validate(raw)`` with every failure raised as one positioned :class:`SuiteError`."""
    if isinstance(raw, dict):
        reject_bools_for_numbers(model, raw, prefix=prefix, default_pos=default_pos)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise_validation_error(
            exc, raw=raw, model=model, prefix=prefix, default_pos=default_pos, extra_fields=extra_fields
        )


def reject_non_finite(raw: Any, *, prefix: str = "", default_pos: Pos | None = None) -> None:
    """``.nan`` / ``.inf`` anywhere in a suite is an error: no suite setting is meant to be non-finite."""

    def walk(node: Any, loc: tuple[Any, ...], pos: Pos | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                kpos = node.key_pos.get(k, node.pos) if isinstance(node, PosDict) else pos
                walk(v, (*loc, k), kpos or pos)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                ipos = item_position(node, i, pos)
                part: Any = Item(str(v["id"])) if isinstance(v, dict) and "id" in v else i
                walk(v, (*loc, part), ipos or pos)
        elif isinstance(node, float) and not math.isfinite(node):
            shown = ".nan" if math.isnan(node) else (".inf" if node > 0 else "-.inf")
            raise error_at(
                pos, f"expected a finite number, got {shown}",
                key=format_loc(prefix, loc) or None,
                hint="suite values must be finite; .nan and .inf are not valid settings",
            )

    walk(raw, (), default_pos)
