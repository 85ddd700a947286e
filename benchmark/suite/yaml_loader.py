"""Safe YAML loading that remembers where every key came from (file and line).

Only plain data is constructed (``yaml.SafeLoader``: no Python objects). Mappings are returned as
:class:`PosDict`, a ``dict`` that also records the ``(file, line)`` of itself and of each key, so schema errors
found after merging defaults, includes and profiles still point at the line that set the offending value.

``include:`` (a path or list of paths, relative to the including file) pulls in other YAML files first; local keys
win, and include cycles are errors (lm-evaluation-harness style).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml

from benchmark.errors import BenchError, SuiteError

Pos = tuple[str, int]  # (file, 1-based line)
E = TypeVar("E", bound=BenchError)


def error_at(pos: Pos | None, message: str, *, key: str | None = None, hint: str | None = None,
             path: str | None = None, error: type[E] = SuiteError) -> E:  # type: ignore[assignment]
    """The error for a value found at YAML position ``pos``: located at its ``file:line``, or at ``path`` (no line)
    when the position is unknown. The one place a position becomes an error's location."""
    return error(message, path=pos[0] if pos else path, line=pos[1] if pos else None, key=key, hint=hint)


class PosDict(dict):
    """A dict that knows the position of itself (``pos``) and of each of its keys (``key_pos``)."""

    def __init__(self, *args: Any, pos: Pos | None = None, key_pos: dict[str, Pos] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.pos: Pos | None = pos
        self.key_pos: dict[str, Pos] = dict(key_pos or {})

    def position_of(self, key: str) -> Pos | None:
        """Where ``key`` was set, falling back to where this mapping starts."""
        return self.key_pos.get(key, self.pos)

    def __deepcopy__(self, memo: dict) -> PosDict:
        out = PosDict(pos=self.pos, key_pos=self.key_pos)
        for k, v in self.items():
            out[k] = copy.deepcopy(v, memo)
        return out


class PosList(list):
    """A list that knows its own position and that of each item."""

    def __init__(self, *args: Any, pos: Pos | None = None, item_pos: list[Pos] | None = None):
        super().__init__(*args)
        self.pos = pos
        self.item_pos: list[Pos] = list(item_pos or [])

    def __deepcopy__(self, memo: dict) -> PosList:
        return PosList([copy.deepcopy(v, memo) for v in self], pos=self.pos, item_pos=self.item_pos)


def item_position(node: Any, index: int, default: Pos | None = None) -> Pos | None:
    """The (file, line) of item ``index`` of a YAML list (a :class:`PosList`), else ``default``."""
    if isinstance(node, PosList) and 0 <= index < len(node.item_pos):
        return node.item_pos[index]
    return default


def _make_loader(filename: str) -> type[yaml.SafeLoader]:
    class _Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> PosDict:
        # Keys written in this mapping (not brought in by a `<<: *anchor` merge): YAML merge semantics let them
        # override merged keys (`{<<: *base, name: pmsn}`); a key written twice is still an error.
        explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        loader.flatten_mapping(node)
        out = PosDict(pos=(filename, node.start_mark.line + 1))
        merged_keys: set[str] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise SuiteError(
                    "mapping keys must be plain strings",
                    path=filename,
                    line=key_node.start_mark.line + 1,
                    hint="quote the key",
                )
            key = str(key)
            if key in out and id(key_node) not in explicit:
                continue  # a later merged mapping never overrides an earlier one or a written key
            if key in out and key in merged_keys:
                merged_keys.discard(key)  # the written key overrides the merged one
            elif key in out:
                raise SuiteError(
                    f"duplicate key '{key}' (first set on line {out.key_pos[key][1]})",
                    path=filename,
                    line=key_node.start_mark.line + 1,
                    hint="remove one of the two; YAML would silently keep the last",
                )
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_pos[key] = (filename, key_node.start_mark.line + 1)
            if id(key_node) not in explicit:
                merged_keys.add(key)
        return out

    def construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> PosList:
        items = [loader.construct_object(child, deep=True) for child in node.value]
        return PosList(
            items,
            pos=(filename, node.start_mark.line + 1),
            item_pos=[(filename, child.start_mark.line + 1) for child in node.value],
        )

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, construct_sequence)
    return _Loader


def display_path(path: Path) -> str:
    """A path as users typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_yaml(path: str | Path) -> Any:
    """Parse one YAML file safely into PosDict/PosList values; errors carry file:line."""
    p = Path(path)
    shown = display_path(p)
    if not p.exists():
        raise SuiteError("file not found", path=shown, hint="check the path (suites live in suites/)")
    if p.is_dir():
        raise SuiteError("is a directory, expected a YAML file", path=shown)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(f"not UTF-8 text ({exc.reason})", path=shown, hint="save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_make_loader(shown))  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or "invalid YAML"
        if exc.context:
            what = f"{exc.context}, {what}"
        raise SuiteError(
            f"invalid YAML: {what}",
            path=shown,
            line=line,
            hint="check indentation, colons and quoting around this line",
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"invalid YAML: {exc}", path=shown) from None
    return data


def deep_merge(base: Any, override: Any) -> Any:
    """Recursively merge ``override`` into a copy of ``base`` (mappings merge, everything else replaces).

    Positions follow the winning value, so errors point at the line that set it. A mapping value with the key
    ``_replace: true`` replaces instead of merging, and so does one that names a different component (a different
    ``name``); a ``data`` block that switches ``dataset`` drops the old dataset's ``params``.
    """
    if isinstance(base, dict) and isinstance(override, dict):
        if override.get("_replace") is True:
            out = copy.deepcopy(override)
            out.pop("_replace")
            if isinstance(out, PosDict):
                out.key_pos.pop("_replace", None)
            return out
        if _switches_component(base, override):
            return copy.deepcopy(override)
        out = copy.deepcopy(base) if isinstance(base, PosDict) else PosDict(copy.deepcopy(base))
        if "dataset" in override and override["dataset"] != base.get("dataset"):
            out.pop("params", None)
        if isinstance(override, PosDict) and out.pos is None:
            out.pos = override.pos
        for key, value in override.items():
            out[key] = deep_merge(out[key], value) if key in out else _without_replace_marks(value)
            if isinstance(override, PosDict) and key in override.key_pos:
                out.key_pos[key] = override.key_pos[key]
        return out
    return _without_replace_marks(override)


def _without_replace_marks(value: Any) -> Any:
    """A deep copy of ``value`` without ``_replace`` keys: with nothing underneath to replace they mean nothing."""
    out = copy.deepcopy(value)
    stack = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("_replace") is True:
                node.pop("_replace")
                if isinstance(node, PosDict):
                    node.key_pos.pop("_replace", None)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _switches_component(base: dict, override: dict) -> bool:
    """An override naming a different component (``name``) replaces the block: old parameters never leak."""
    return "name" in override and "name" in base and override["name"] != base["name"]


def load_with_includes(path: str | Path, _stack: tuple[Path, ...] = ()) -> PosDict:
    """Load a YAML mapping, resolving ``include:`` files first (local keys win; cycles are errors)."""
    p = Path(path).resolve()
    if p in _stack:
        chain = " -> ".join(display_path(x) for x in (*_stack, p))
        raise SuiteError(f"include cycle: {chain}", path=display_path(_stack[-1]), hint="remove one include")
    data = load_yaml(p)
    if data is None:
        raise SuiteError("file is empty", path=display_path(p), hint="a suite needs at least 'suite' and 'experiments'")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} value"
        raise error_at(getattr(data, "pos", None) or (display_path(p), 1), f"top level must be a mapping, got {kind}",
                       hint="start the file with 'suite: <name>'")
    includes = data.pop("include", None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise error_at(data.key_pos.get("include") or data.pos or (display_path(p), 1),
                       "'include' must be a path or a list of paths")
    merged: Any = PosDict(pos=data.pos)
    for inc in includes:
        inc_path = (p.parent / inc).resolve()
        if not inc_path.exists():
            raise error_at(
                data.pos, f"included file '{inc}' not found (looked for {display_path(inc_path)})",
                path=display_path(p),
                key="include",
                hint="include paths are relative to the including file",
            )
        merged = deep_merge(merged, load_with_includes(inc_path, (*_stack, p)))
    return deep_merge(merged, data)
