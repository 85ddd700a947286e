"""Load a suite file and resolve its experiments for a profile: defaults ⊕ experiment ⊕ profile ⊕ grid point.

Precedence (later wins): built-in schema defaults < included files < suite ``defaults`` < the experiment <
``profiles.<p>.overrides`` < ``profiles.<p>.experiments.<id>`` < the grid point < command-line overrides
(``key=value``, ``--seeds``, ``--epochs``, ``--steps``: :mod:`benchmark.suite.overrides`).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import SuiteError
from benchmark.registry import did_you_mean
from benchmark.suite.errors_map import reject_non_finite, validate_model
from benchmark.suite.schema import EXPERIMENT_FIELDS, ExperimentConfig, SuiteFile
from benchmark.suite.yaml_loader import (
    Pos,
    PosDict,
    PosList,
    deep_merge,
    display_path,
    error_at,
    item_position,
    load_with_includes,
)

if TYPE_CHECKING:
    from benchmark.suite.overrides import Override


@dataclass
class Variant:
    """One point of an experiment's grid: a label (stable, path-safe) and the dotted assignments it makes."""

    label: str
    assignments: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResolvedExperiment:
    """An experiment for one profile and one grid point, validated."""

    experiment_id: str
    variant: Variant
    config: ExperimentConfig
    raw: PosDict
    pos: Pos | None


@dataclass
class Suite:
    """A loaded, schema-checked suite file."""

    path: Path
    file: SuiteFile
    raw: PosDict

    @property
    def name(self) -> str:
        return self.file.suite

    def experiment_ids(self) -> list[str]:
        return [str(e["id"]) for e in self.file.experiments]

    def profile_names(self) -> list[str]:
        return list(self.file.profiles)

    def resolve(self, profile: str | None = None, overrides: Sequence[Override] = ()) -> list[ResolvedExperiment]:
        """All experiments × grid points of ``profile`` (default: the suite's ``default_profile``), validated.

        ``overrides`` (command-line ``key=value``, :mod:`benchmark.suite.overrides`) apply last, to every point.
        """
        profile = profile or self.file.default_profile
        if profile not in self.file.profiles:
            raise SuiteError(
                f"unknown profile '{profile}'{did_you_mean(profile, self.file.profiles)}",
                path=display_path(self.path),
                hint=f"profiles of this suite: {', '.join(self.file.profiles)}",
            )
        prof = self.file.profiles[profile]
        raw_prof = self.raw["profiles"][profile] if "profiles" in self.raw else PosDict()
        ids = self.experiment_ids()
        self._check_profile_ids(profile, prof.only or [], prof.experiments, raw_prof, ids)
        defaults = self.raw.get("defaults", PosDict())
        out: list[ResolvedExperiment] = []
        raw_exps: PosList = self.raw["experiments"]
        for index, raw_exp in enumerate(raw_exps):
            exp_id = str(raw_exp["id"])
            if prof.only is not None and exp_id not in prof.only:
                continue
            merged = deep_merge(defaults, raw_exp)
            if isinstance(raw_exp, PosDict):
                merged.pos = raw_exp.pos  # a missing key is reported at the experiment, not at `defaults`
            merged = deep_merge(merged, raw_prof.get("overrides", PosDict()))
            merged = deep_merge(merged, raw_prof.get("experiments", PosDict()).get(exp_id, PosDict()))
            grid = merged.pop("grid", None)
            exp_pos = item_position(raw_exps, index)
            for variant, point in self._expand_grid(grid, merged, exp_id):
                for ov in overrides:
                    set_dotted(point, ov.key, copy.deepcopy(ov.value), (ov.where, None))  # type: ignore[arg-type]
                config = validate_model(ExperimentConfig, point, prefix=f"experiments[{exp_id}]", default_pos=exp_pos)
                out.append(ResolvedExperiment(exp_id, variant, config, point, exp_pos))
        return out

    def _check_profile_ids(
        self, profile: str, only: list[str], per_exp: dict[str, Any], raw_prof: PosDict, ids: list[str]
    ) -> None:
        for name, block in (("only", only), ("experiments", list(per_exp))):
            for index, exp_id in enumerate(block):
                if exp_id not in ids:
                    pos = raw_prof.position_of(name) if isinstance(raw_prof, PosDict) else None
                    sub = raw_prof.get(name) if isinstance(raw_prof, PosDict) else None
                    if isinstance(sub, PosList):
                        pos = item_position(sub, index, pos)
                    elif isinstance(sub, PosDict):
                        pos = sub.position_of(exp_id) or pos
                    raise error_at(
                        pos, f"profile '{profile}' names unknown experiment '{exp_id}'{did_you_mean(exp_id, ids)}",
                        key=f"profiles.{profile}.{name}",
                        hint=f"experiments of this suite: {', '.join(ids)}",
                        path=display_path(self.path),
                    )

    def _expand_grid(self, grid: Any, merged: PosDict, exp_id: str) -> list[tuple[Variant, PosDict]]:
        if grid is None:
            return [(Variant(label=""), merged)]
        pos = merged.position_of("grid") or merged.position_of("id")
        if not isinstance(grid, dict) or not grid:
            raise error_at(
                pos, "'grid' must be a non-empty mapping of dotted keys to lists of values",
                key=f"experiments[{exp_id}].grid",
                hint="e.g. grid: {regularizer: [{name: none}, {name: so, gamma: 1.0e-6}]}",
            )
        axes: list[tuple[str, list[Any], list[Pos]]] = []
        for key, values in grid.items():
            kpos = grid.position_of(key) if isinstance(grid, PosDict) else pos
            head = str(key).split(".")[0]
            allowed = EXPERIMENT_FIELDS - {"grid", "id"}
            if head not in allowed:
                what = (
                    f"a grid cannot vary '{head}'"
                    if head in ("grid", "id")
                    else f"grid key '{key}' does not name an experiment field{did_you_mean(head, allowed)}"
                )
                raise error_at(
                    kpos, what,
                    key=f"experiments[{exp_id}].grid",
                    hint=f"grid keys are dotted experiment fields, e.g. regularizer, pretrain.epochs ({', '.join(sorted(allowed))})",
                )
            if not isinstance(values, list) or not values:
                raise error_at(
                    kpos, f"grid values for '{key}' must be a non-empty list",
                    key=f"experiments[{exp_id}].grid.{key}",
                    hint=f"list the values to try, e.g. {key}: [a, b]",
                )
            item_pos = values.item_pos if isinstance(values, PosList) else [kpos] * len(values)
            axes.append((key, list(values), item_pos))
        out: list[tuple[Variant, PosDict]] = []
        seen: dict[str, int] = {}
        for combo in itertools.product(*[range(len(a[1])) for a in axes]):
            point = copy.deepcopy(merged)
            labels: list[str] = []
            assignments: dict[str, Any] = {}
            for (key, values, positions), i in zip(axes, combo, strict=True):
                set_dotted(point, key, copy.deepcopy(values[i]), positions[i] if i < len(positions) else None)
                labels.append(value_label(values[i]))
                assignments[key] = _plain(values[i])
            label = "+".join(labels)
            if label in seen:
                seen[label] += 1
                label = f"{label}~{seen[label]}"
            else:
                seen[label] = 0
            out.append((Variant(label=label, assignments=assignments), point))
        return out


def _plain(value: Any) -> Any:
    """Strip position bookkeeping (PosDict/PosList → dict/list)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def set_dotted(target: PosDict, dotted: str, value: Any, pos: Pos | None) -> None:
    """Assign ``value`` at ``a.b.c`` inside ``target``, merging mappings, recording ``pos``."""
    parts = dotted.split(".")
    cur = target
    for part in parts[:-1]:
        if part not in cur or not isinstance(cur[part], dict):
            cur[part] = PosDict(pos=pos)
        if isinstance(cur, PosDict) and pos:
            cur.key_pos.setdefault(part, pos)
        cur = cur[part]
    last = parts[-1]
    if isinstance(value, dict) and isinstance(cur.get(last), dict) and "name" not in value:
        cur[last] = deep_merge(cur[last], value)
    else:
        cur[last] = value
    if isinstance(cur, PosDict) and pos:
        cur.key_pos[last] = pos


def value_label(value: Any) -> str:
    """A short, path-safe label for a grid value: ``so-gamma1e-06``, ``byol``, ``k2``."""
    if isinstance(value, dict):
        parts = [str(value["name"])] if "name" in value else []
        for k, v in value.items():
            if k == "name" or isinstance(v, dict | list):
                continue
            parts.append(f"{k}{v}")
        text = "-".join(parts) or "default"
    elif isinstance(value, list):
        text = "_".join(value_label(v) for v in value)
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    safe = "".join(c if c.isalnum() or c in "._-=" else "_" for c in text)
    return safe[:80] or "x"


def load_suite(path: str | Path) -> Suite:
    """Parse and schema-check a suite file (includes resolved). Experiments are validated by :meth:`Suite.resolve`."""
    p = Path(path)
    raw = load_with_includes(p)
    shown = display_path(p)
    reject_non_finite(raw, default_pos=(shown, 1))
    file = validate_model(SuiteFile, raw, default_pos=raw.pos or (shown, 1))
    ids: dict[str, Pos | None] = {}
    exps = raw["experiments"]
    for index, exp in enumerate(exps):
        pos = item_position(exps, index, (shown, 1))
        if "id" not in exp:
            raise error_at(
                pos, "experiment has no 'id'",
                key=f"experiments[{index}]",
                hint="give each experiment a stable id, e.g. id: byol_cifar10",
            )
        exp_id = str(exp["id"])
        id_pos = exp.position_of("id") if isinstance(exp, PosDict) else pos
        if exp_id in ids:
            first = ids[exp_id]
            raise error_at(
                id_pos, f"duplicate experiment id '{exp_id}' (first on line {first[1] if first else '?'})",
                key=f"experiments[{index}].id",
                hint="experiment ids name result folders and must be unique within a suite",
                path=shown,
            )
        ids[exp_id] = id_pos
        _check_experiment_keys(exp, EXPERIMENT_FIELDS, f"experiments[{exp_id}]", pos, shown)
    _check_experiment_keys(raw.get("defaults"), EXPERIMENT_FIELDS - {"id"}, "defaults", raw.pos, shown)
    for pname, prof in (raw.get("profiles") or {}).items():
        if not isinstance(prof, dict):
            continue
        _check_experiment_keys(
            prof.get("overrides"), EXPERIMENT_FIELDS - {"id"}, f"profiles.{pname}.overrides", prof.pos, shown
        )
        for exp_id, block in (prof.get("experiments") or {}).items():
            _check_experiment_keys(
                block, EXPERIMENT_FIELDS - {"id"}, f"profiles.{pname}.experiments.{exp_id}", prof.pos, shown
            )
    return Suite(path=p, file=file, raw=raw)


def _check_experiment_keys(block: Any, allowed: set[str], where: str, pos: Pos | None, shown: str) -> None:
    """Top-level keys of an experiment-shaped block (an experiment, ``defaults``, profile overrides) are fields."""
    if not isinstance(block, dict):
        return
    for key in block:
        if key in allowed:
            continue
        kpos = block.position_of(key) if isinstance(block, PosDict) else pos
        if key == "id":
            message = f"'id' cannot be set in {where.split('.')[0]}"
            hint = "ids belong to the experiments themselves"
        else:
            message = f"unknown key '{key}'{did_you_mean(str(key), allowed)}"
            hint = f"allowed keys: {', '.join(sorted(allowed))}"
        raise error_at(
            kpos, message,
            key=where,
            hint=hint,
            path=shown,
        )
