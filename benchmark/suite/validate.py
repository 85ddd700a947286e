"""Checks that need the registries: component names, their own parameters, and cross-field ranges.

Run by ``bench validate`` (and before every ``bench run``). Each error carries the file:line of the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from benchmark.errors import BenchError, RegistryError, SuiteError
from benchmark.suite.errors_map import raise_validation_error
from benchmark.suite.loader import ResolvedExperiment, Suite
from benchmark.suite.yaml_loader import Pos, PosDict

KNOWN_NUM_CLASSES = {
    "cifar10": 10,
    "cifar100": 100,
    "stl10": 10,
    "imagenet100": 100,
    "imagenet": 1000,
    "digits": 10,
    "food101": 101,
    "flowers102": 102,
    "dtd": 47,
    "gtsrb": 43,
}


def _pos(raw: Any, *keys: str) -> Pos | None:
    cur, pos = raw, getattr(raw, "pos", None)
    for key in keys:
        if isinstance(cur, PosDict) and key in cur:
            pos = cur.key_pos.get(key, cur.pos) or pos
            cur = cur[key]
        else:
            break
    return pos


def _fail(msg: str, pos: Pos | None, key: str, hint: str | None = None, cls: type[BenchError] = SuiteError) -> None:
    raise cls(msg, path=pos[0] if pos else None, line=pos[1] if pos else None, key=key, hint=hint)


def _registry_get(registry: Any, name: str, pos: Pos | None, key: str) -> Any:
    try:
        return registry.get(name)
    except RegistryError as exc:
        raise SuiteError(exc.message, path=pos[0] if pos else None, line=pos[1] if pos else None, key=key, hint=exc.hint) from None


def _check_params(model: type[BaseModel], params: dict[str, Any], raw: Any, prefix: str, default: Pos | None,
                  named: bool = True) -> None:
    """Validate a component's own parameters; ``named`` components also accept the ``name`` key."""
    try:
        model(**params)
    except ValidationError as exc:
        raise_validation_error(exc, raw=raw, model=model, prefix=prefix, default_pos=default,
                               extra_fields=["name"] if named else None)


def validate_experiment(res: ResolvedExperiment) -> None:
    """Validate one resolved experiment against the registries; raises SuiteError with file:line."""
    from benchmark.data import DATASETS
    from benchmark.data.transforms import PRESETS
    from benchmark.methods import METHODS
    from benchmark.models import BACKBONES
    from benchmark.probes import PROBES
    from benchmark.train.regularization import REGULARIZERS

    cfg, raw, ex = res.config, res.raw, f"experiments[{res.experiment_id}]"
    _registry_get(BACKBONES, cfg.backbone.name, _pos(raw, "backbone", "name"), f"{ex}.backbone.name")

    method_cls = _registry_get(METHODS, cfg.method.name, _pos(raw, "method", "name"), f"{ex}.method.name")
    _check_params(method_cls.Params, cfg.method.extras(), raw.get("method"), f"{ex}.method", _pos(raw, "method"))

    preset = cfg.augment.preset or method_cls.default_augment
    _registry_get(PRESETS, preset, _pos(raw, "augment", "preset") or _pos(raw, "method", "name"), f"{ex}.augment.preset")

    reg_model = _registry_get(REGULARIZERS, cfg.regularizer.name, _pos(raw, "regularizer", "name"), f"{ex}.regularizer.name")
    _check_params(reg_model, cfg.regularizer.extras(), raw.get("regularizer"), f"{ex}.regularizer", _pos(raw, "regularizer"))

    source = _registry_get(DATASETS, cfg.data.dataset, _pos(raw, "data", "dataset"), f"{ex}.data.dataset")
    params_raw = raw.get("data", {}).get("params") if isinstance(raw.get("data"), dict) else None
    _check_params(source.Params, cfg.data.params, params_raw, f"{ex}.data.params", _pos(raw, "data", "params"),
                  named=False)

    probes_raw = raw.get("eval", {}).get("probes") if isinstance(raw.get("eval"), dict) else None
    for i, probe in enumerate(cfg.eval.probes):
        praw = probes_raw[i] if isinstance(probes_raw, list) and i < len(probes_raw) else None
        ppos = probes_raw.item_pos[i] if praw is not None and hasattr(probes_raw, "item_pos") else _pos(raw, "eval")
        probe_cls = _registry_get(PROBES, probe.name, ppos, f"{ex}.eval.probes[{i}].name")
        _check_params(probe_cls.Params, probe.extras(), praw, f"{ex}.eval.probes[{i}]", ppos)
    names = [p.name for p in cfg.eval.probes]
    if len(set(names)) != len(names):
        _fail(f"probe listed twice: {names}", _pos(raw, "eval", "probes"), f"{ex}.eval.probes",
              "each probe runs once per run; give different protocols in different experiments")

    sampler = cfg.data.sampler
    if sampler.kind == "k_classes" and sampler.k is not None:
        n_classes = KNOWN_NUM_CLASSES.get(cfg.data.dataset)
        spos = _pos(raw, "data", "sampler", "k")
        if n_classes is not None and sampler.k > n_classes:
            _fail(f"k={sampler.k} classes per batch but {cfg.data.dataset} has {n_classes} classes", spos,
                  f"{ex}.data.sampler.k", f"use k <= {n_classes}")
        if sampler.k > cfg.pretrain.global_batch_size:
            _fail(f"k={sampler.k} classes per batch exceeds the global batch size {cfg.pretrain.global_batch_size}",
                  spos, f"{ex}.data.sampler.k", "each class needs at least one image per batch")


def validate_suite(suite: Suite, profiles: list[str] | None = None) -> int:
    """Resolve and validate every experiment of the given profiles (default: all); returns the number checked."""
    count = 0
    for profile in profiles or suite.profile_names():
        for res in suite.resolve(profile):
            validate_experiment(res)
            count += 1
    return count


def check_baselines_file(suite: Suite) -> Path | None:
    """The suite's baselines file (explicit ``baselines:`` or ``baselines/<suite>.yaml`` beside ``suites/``)."""
    if suite.file.baselines:
        p = (suite.path.parent / suite.file.baselines).resolve()
        if not p.exists():
            pos = suite.raw.position_of("baselines")
            raise SuiteError(
                f"baselines file not found: {p}",
                path=pos[0] if pos else str(suite.path),
                line=pos[1] if pos else None,
                key="baselines",
                hint="paths are relative to the suite file",
            )
        return p
    guess = suite.path.resolve().parent.parent / "baselines" / f"{suite.name}.yaml"
    return guess if guess.exists() else None
