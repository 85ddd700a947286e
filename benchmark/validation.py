"""Checks that need the registries: component names, their own parameters, and cross-field constraints.

Run by ``bench validate`` (and before every ``bench run``). Each error carries the file:line of the value.

Cross-field constraints checked here are the ones the code really enforces at run time (so a suite fails in
seconds, not hours into a job):

- K-class sampling (:class:`benchmark.data.samplers.KClassBatchSampler`): ``k`` <= the dataset's classes, the global
  batch >= ``k``, and with ``train_subset.per_class`` the ``k`` classes must hold one global batch
  (``per_class × k >= global batch``, the sampler's "no batch with exactly k classes exists");
- the pretraining set must hold one global batch (the runner's "fewer than one global batch"), checked where the
  suite bounds its size (``train_subset.limit`` or ``per_class`` × classes);
- DDP sharding (:class:`benchmark.data.samplers.ShardedBatchSampler`) needs ``global batch % world size == 0``, which
  the schema's product rule ``batch_size_global = per_device × devices × num_nodes`` already guarantees;
- pretraining schedules: warm-up shorter than training, step milestones inside ``(0, epochs)``;
- backbone parameters (built once on the ``meta`` device: no memory, no weights) and augmentation parameters (the
  Lightly transform is constructed) are checked by the components themselves;
- the views the augmentation yields (count and sizes, from one synthetic image) are checked by the method's own
  ``check_views`` (e.g. SFRIK's ``multi_crop`` needs multi-crop views, AUH two views).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from benchmark.errors import BenchError, RegistryError, SuiteError
from benchmark.models.signature import accepted_keywords
from benchmark.registry import did_you_mean
from benchmark.suite.errors_map import validate_model
from benchmark.suite.loader import ResolvedExperiment, Suite
from benchmark.suite.yaml_loader import Pos, PosDict, display_path, error_at, item_position, load_yaml


def _pos(raw: Any, *keys: str) -> Pos | None:
    cur, pos = raw, getattr(raw, "pos", None)
    for key in keys:
        if isinstance(cur, PosDict) and key in cur:
            pos = cur.key_pos.get(key, cur.pos) or pos
            cur = cur[key]
        else:
            break
    return pos


def _get(raw: Any, *keys: str) -> Any:
    cur = raw
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _fail(msg: str, pos: Pos | None, key: str, hint: str | None = None, cls: type[BenchError] = SuiteError) -> None:
    raise error_at(pos, msg, key=key, hint=hint, error=cls)


def _registry_get(registry: Any, name: str, pos: Pos | None, key: str) -> Any:
    try:
        return registry.get(name)
    except RegistryError as exc:
        raise error_at(
            pos, exc.message, key=key, hint=exc.hint
        ) from None


def _check_params(
    model: type[BaseModel], params: dict[str, Any], raw: Any, prefix: str, default: Pos | None, named: bool = True
) -> None:
    """Validate a component's own parameters; ``named`` components also accept the ``name`` key.

    ``raw`` is the component's mapping in the file (for positions); ``params`` its parameters without ``name``.
    """
    source = PosDict(
        params,
        pos=getattr(raw, "pos", None) or default,
        key_pos=getattr(raw, "key_pos", None) if isinstance(raw, PosDict) else None,
    )
    validate_model(model, source, prefix=prefix, default_pos=default, extra_fields=["name"] if named else None)


def _position_of_named_key(message: str, raw: Any, default: Pos | None) -> Pos | None:
    """The line of the first key of ``raw`` (searched recursively) that ``message`` quotes as 'key'."""
    quoted = re.findall(r"'([^']+)'", message) + re.findall(r"\[([^\]]+)\]", message)
    names = [q.strip(" '\"") for chunk in quoted for q in chunk.split(",")]

    def find(node: Any) -> Pos | None:
        if isinstance(node, PosDict):
            for name in names:
                if name in node:
                    return node.key_pos.get(name, node.pos)
            for value in node.values():
                found = find(value)
                if found:
                    return found
        return None

    return find(raw) or default


# --------------------------------------------------------------------------------------------- components
_BACKBONE_BUILT: dict[tuple[str, str], Any] = {}


def _check_backbone(res: ResolvedExperiment, builder: Any, ex: str) -> None:
    """Unknown backbone keys (did-you-mean) and the builder's own checks, by building it on the ``meta`` device.

    The built (weightless) module also answers whether ``eval.weight_correlation`` names a module of it.
    """
    import torch

    cfg, raw = res.config, res.raw
    extras = cfg.backbone.extras()
    accepted = accepted_keywords(builder)
    if accepted is not None:
        for key in extras:
            if key not in accepted:
                _fail(
                    f"unknown key '{key}'{did_you_mean(key, accepted)} for backbone '{cfg.backbone.name}'",
                    _pos(raw, "backbone", key),
                    f"{ex}.backbone",
                    f"{cfg.backbone.name} accepts: name, {', '.join(sorted(accepted))}",
                )
    from benchmark.run.backbone import backbone_kwargs

    kwargs = backbone_kwargs(cfg)  # as the run builds it: the keys the suite sets (ViTs: image_size = input_size)
    memo = (cfg.backbone.name, repr(sorted(kwargs.items())))
    if memo in _BACKBONE_BUILT:
        _check_weight_correlation(res, _BACKBONE_BUILT[memo], ex)
        return
    try:
        with torch.device("meta"):
            model, _ = builder(**kwargs)
    except SuiteError as exc:
        pos = _position_of_named_key(exc.message, raw.get("backbone"), _pos(raw, "backbone"))
        raise error_at(
            pos, exc.message, key=f"{ex}.backbone", hint=exc.hint
        ) from None
    except TypeError as exc:
        _fail(f"backbone '{cfg.backbone.name}' rejects its parameters: {exc}", _pos(raw, "backbone"), f"{ex}.backbone")
    except Exception:  # noqa: BLE001 - a meta-device quirk is not the user's error; the run itself will tell
        return
    _BACKBONE_BUILT[memo] = model
    _check_weight_correlation(res, model, ex)


def _check_weight_correlation(res: ResolvedExperiment, model: Any, ex: str) -> None:
    """``eval.weight_correlation`` must name a module of the backbone that holds a Conv/Linear weight."""
    from benchmark.diagnostics.spectra import last_weight_layer

    name = res.config.eval.weight_correlation
    if name is None:
        return
    try:
        last_weight_layer(model, name)
    except ValueError as exc:
        _fail(str(exc), _pos(res.raw, "eval", "weight_correlation") or _pos(res.raw, "eval"),
              f"{ex}.eval.weight_correlation",
              f"name a stage of backbone '{res.config.backbone.name}' (e.g. layer4 for the ResNets), or remove the key")


def _check_umap(res: ResolvedExperiment, ex: str) -> None:
    """``eval.umap`` needs umap-learn importable (checked without importing it: numba compiles on import)."""
    import importlib.util

    if res.config.eval.umap is None or importlib.util.find_spec("umap") is not None:
        return
    from benchmark.diagnostics.embedding import UMAP_PACKAGE

    _fail(f"eval.umap needs the '{UMAP_PACKAGE}' package, which is not installed", _pos(res.raw, "eval", "umap"),
          f"{ex}.eval.umap", f"pip install {UMAP_PACKAGE}, or remove eval.umap")


def _check_augment(res: ResolvedExperiment, preset: str, ex: str) -> None:
    """Construct the augmentation (cheap, no images): unknown or ill-typed Lightly arguments fail here."""
    from benchmark.data.transforms import build_train_transform

    cfg, raw = res.config, res.raw
    params_pos = _pos(raw, "augment", "params") or _pos(raw, "augment")
    memo = (preset, cfg.data.model_dump_json(), repr(cfg.augment.params))
    if memo in _AUGMENT_BUILT:
        return
    try:
        build_train_transform(preset, cfg.data, cfg.augment.params)
        if cfg.augment.on_device:
            from benchmark.data.device_augment import build_device_augment

            build_device_augment(preset, cfg.data, cfg.augment.params)
    except SuiteError as exc:
        if exc.key == "augment.on_device":  # the preset has no on-device implementation: point at on_device
            _fail(exc.message, _pos(raw, "augment", "on_device"), f"{ex}.augment.on_device", exc.hint)
        pos = _position_of_named_key(exc.message, _get(raw, "augment", "params"), params_pos)
        raise error_at(
            pos, exc.message.removeprefix("augment.params: "),
            key=f"{ex}.augment.params",
            hint=exc.hint,
        ) from None
    except (TypeError, ValueError) as exc:
        _fail(
            f"augmentation preset '{preset}' rejects its parameters: {exc}",
            params_pos,
            f"{ex}.augment.params",
            "see the Lightly transform's constructor arguments",
        )
    _AUGMENT_BUILT[memo] = None


_AUGMENT_BUILT: dict[tuple[str, str, str], None] = {}


def _check_views(res: ResolvedExperiment, method_cls: Any, preset: str, ex: str) -> None:
    """The method's ``check_views`` on the (H, W) of the views the preset makes of one grey input-size image.

    The method's error points at the method key it names (``SuiteError.key``, e.g. ``multi_crop``) when the suite
    sets it, otherwise at ``augment.preset`` (or the method block).
    """
    from PIL import Image

    from benchmark.data.transforms import build_train_transform
    from benchmark.methods.base import SSLMethod

    if method_cls.check_views.__func__ is SSLMethod.check_views.__func__:
        return
    cfg, raw = res.config, res.raw
    size = cfg.data.input_size
    try:
        views = build_train_transform(preset, cfg.data, cfg.augment.params)(Image.new("RGB", (size, size), (128,) * 3))
        shapes = [(int(v.shape[-2]), int(v.shape[-1])) for v in views]
    except Exception:  # noqa: BLE001 - the transform's own errors were reported by _check_augment
        return
    try:
        method_cls.check_views(method_cls.Params(**cfg.method.extras()), shapes)
    except SuiteError as exc:
        named = exc.key if exc.key and isinstance(raw.get("method"), PosDict) and exc.key in raw["method"] else None
        if named:
            pos, key = _pos(raw, "method", named), f"{ex}.method.{named}"
        elif _pos(raw, "augment", "preset") is not None and _get(raw, "augment", "preset") is not None:
            pos, key = _pos(raw, "augment", "preset"), f"{ex}.augment.preset"
        else:
            pos, key = _pos(raw, "method"), f"{ex}.method"
        _fail(exc.message, pos, key, exc.hint)


def validate_experiment(res: ResolvedExperiment) -> None:
    """Validate one resolved experiment against the registries; raises SuiteError with file:line."""
    from benchmark.data import DATASETS
    from benchmark.data.transforms import PRESETS
    from benchmark.methods import METHODS
    from benchmark.models import BACKBONES
    from benchmark.probes import PROBES
    from benchmark.regularizers import REGULARIZERS

    cfg, raw, ex = res.config, res.raw, f"experiments[{res.experiment_id}]"
    builder = _registry_get(BACKBONES, cfg.backbone.name, _pos(raw, "backbone", "name"), f"{ex}.backbone.name")

    method_cls = _registry_get(METHODS, cfg.method.name, _pos(raw, "method", "name"), f"{ex}.method.name")
    _check_params(method_cls.Params, cfg.method.extras(), raw.get("method"), f"{ex}.method", _pos(raw, "method"))

    preset = cfg.augment.preset or method_cls.default_augment
    _registry_get(
        PRESETS, preset, _pos(raw, "augment", "preset") or _pos(raw, "method", "name"), f"{ex}.augment.preset"
    )

    reg_model = _registry_get(
        REGULARIZERS, cfg.regularizer.name, _pos(raw, "regularizer", "name"), f"{ex}.regularizer.name"
    ).Params
    _check_params(
        reg_model, cfg.regularizer.extras(), raw.get("regularizer"), f"{ex}.regularizer", _pos(raw, "regularizer")
    )

    source = _registry_get(DATASETS, cfg.data.dataset, _pos(raw, "data", "dataset"), f"{ex}.data.dataset")
    _check_params(
        source.Params,
        cfg.data.params,
        _get(raw, "data", "params"),
        f"{ex}.data.params",
        _pos(raw, "data", "params") or _pos(raw, "data", "dataset"),
        named=False,
    )

    probes_raw = _get(raw, "eval", "probes")
    for i, probe in enumerate(cfg.eval.probes):
        praw = probes_raw[i] if isinstance(probes_raw, list) and i < len(probes_raw) else None
        ppos = item_position(probes_raw, i, _pos(raw, "eval"))
        probe_cls = _registry_get(PROBES, probe.name, _pos(praw, "name") or ppos, f"{ex}.eval.probes[{i}].name")
        _check_params(probe_cls.Params, probe.extras(), praw, f"{ex}.eval.probes[{i}]", ppos)
    names = [p.name for p in cfg.eval.probes]
    if len(set(names)) != len(names):
        twice = next(n for i, n in enumerate(names) if n in names[:i])
        index = names.index(twice, names.index(twice) + 1)
        pos = item_position(probes_raw, index)
        _fail(
            f"probe '{twice}' listed twice",
            pos or _pos(raw, "eval", "probes"),
            f"{ex}.eval.probes",
            "each probe runs once per run; give different protocols in different experiments",
        )

    transfer_raw = _get(raw, "eval", "transfer")
    for i, target in enumerate(cfg.eval.transfer):
        traw = transfer_raw[i] if isinstance(transfer_raw, list) and i < len(transfer_raw) else None
        tpos = item_position(transfer_raw, i, _pos(raw, "eval", "transfer"))
        tkey = f"{ex}.eval.transfer[{i}]"
        t_source = _registry_get(DATASETS, target.data.dataset, _pos(traw, "data", "dataset") or tpos,
                                 f"{tkey}.data.dataset")
        _check_params(t_source.Params, target.data.params, _get(traw, "data", "params"), f"{tkey}.data.params",
                      _pos(traw, "data", "params") or tpos, named=False)
        t_probes_raw = _get(traw, "probes")
        for j, probe in enumerate(target.probes or []):
            praw = t_probes_raw[j] if isinstance(t_probes_raw, list) and j < len(t_probes_raw) else None
            ppos = _pos(praw, "name") or tpos
            probe_cls = _registry_get(PROBES, probe.name, ppos, f"{tkey}.probes[{j}].name")
            _check_params(probe_cls.Params, probe.extras(), praw, f"{tkey}.probes[{j}]", ppos)

    _check_backbone(res, builder, ex)
    _check_umap(res, ex)
    _check_augment(res, preset, ex)
    _check_views(res, method_cls, preset, ex)
    _check_sampling(res, ex)
    _check_schedule(res, ex)


def _check_sampling(res: ResolvedExperiment, ex: str) -> None:
    """K-class sampler and dataset-size constraints that the sampler and the runner enforce at run time."""
    cfg, raw = res.config, res.raw
    gb = cfg.pretrain.global_batch_size
    batch_hint = "global batch = pretrain.batch_size_per_device × devices × num_nodes"
    from benchmark.data import DATASETS

    n_classes = DATASETS.get(cfg.data.dataset).num_classes
    sampler = cfg.data.sampler
    sub = cfg.data.train_subset
    if sampler.kind == "k_classes" and sampler.k is not None:
        spos = _pos(raw, "data", "sampler", "k")
        if n_classes is not None and sampler.k > n_classes:
            _fail(
                f"k={sampler.k} classes per batch but {cfg.data.dataset} has {n_classes} classes",
                spos,
                f"{ex}.data.sampler.k",
                f"use k <= {n_classes}",
            )
        if sampler.k > gb:
            _fail(
                f"k={sampler.k} classes per batch exceeds the global batch size {gb}",
                spos,
                f"{ex}.data.sampler.k",
                f"each class needs at least one image per batch; {batch_hint}",
            )
        if sub is not None and sub.per_class is not None and sub.per_class * sampler.k < gb:
            _fail(
                f"k={sampler.k} classes × train_subset.per_class={sub.per_class} = {sub.per_class * sampler.k} "
                f"images, fewer than one global batch of {gb}: no batch with exactly k classes exists",
                spos,
                f"{ex}.data.sampler.k",
                "raise k or per_class, or lower the batch size",
            )
    if cfg.pretrain.epochs > 0 and sub is not None:
        bounds: list[tuple[int, str, Pos | None]] = []
        if sub.limit is not None:
            bounds.append((sub.limit, f"train_subset.limit={sub.limit}", _pos(raw, "data", "train_subset", "limit")))
        if sub.per_class is not None and n_classes is not None:
            bounds.append(
                (
                    sub.per_class * n_classes,
                    f"train_subset.per_class={sub.per_class} × {n_classes} classes",
                    _pos(raw, "data", "train_subset", "per_class"),
                )
            )
        for size, what, pos in bounds:
            if size < gb:
                _fail(
                    f"the pretraining set has at most {size} images ({what}), fewer than one global batch of {gb}",
                    pos,
                    f"{ex}.data.train_subset",
                    f"lower the batch size or enlarge the subset; {batch_hint}",
                )


def _check_schedule(res: ResolvedExperiment, ex: str) -> None:
    """The pretraining lr schedule must fit inside the pretraining epochs."""
    cfg, raw = res.config, res.raw
    epochs, sched = cfg.pretrain.epochs, cfg.pretrain.schedule
    if epochs <= 0:
        return
    if sched.name == "warmup_cosine" and sched.warmup_epochs >= epochs:
        _fail(
            f"warmup_epochs={sched.warmup_epochs:g} is not shorter than pretrain.epochs={epochs}: the learning rate "
            "would never leave warm-up",
            _pos(raw, "pretrain", "schedule", "warmup_epochs"),
            f"{ex}.pretrain.schedule.warmup_epochs",
            "scale warm-up with the epochs (e.g. 10 of 1000 → 1 of 100)",
        )
    if sched.name == "step":
        bad = [m for m in sched.milestones if not 0 < m < epochs]
        if bad:
            _fail(
                f"milestones {bad} are outside (0, epochs={epochs}): the learning rate would never drop there",
                _pos(raw, "pretrain", "schedule", "milestones"),
                f"{ex}.pretrain.schedule.milestones",
                "scale the milestones with the epochs",
            )


def validate_suite(suite: Suite, profiles: list[str] | None = None) -> int:
    """Resolve and validate every experiment of the given profiles (default: all); returns the number checked."""
    from benchmark.report.figures import check_report_figures

    check_report_figures(suite)
    count = 0
    for profile in profiles or suite.profile_names():
        for res in suite.resolve(profile):
            validate_experiment(res)
            count += 1
    return count


# --------------------------------------------------------------------------------------------- paper items
def _item_hint(ids: list[str]) -> str:
    return f"items of the paper (paper.items): {', '.join(ids)}"


def check_paper_items(suite: Suite) -> None:
    """When the suite declares ``paper.items``: item ids are unique, every ``reproduces`` entry names an item (or is
    ``kind: extension``), every item is cited by an experiment or says ``not_covered``, and a cited item does not.

    Suites without ``paper.items`` (the framework suites, smoke) are not checked.
    """
    from benchmark.report.coverage import experiment_references

    paper = suite.file.paper
    if paper is None or paper.items is None:
        return
    raw_items = _get(suite.raw, "paper", "items")
    ids = paper.item_ids()

    def item_pos(index: int, *keys: str) -> Pos | None:
        raw_item = raw_items[index] if isinstance(raw_items, list) and index < len(raw_items) else None
        base = item_position(raw_items, index)
        return (_pos(raw_item, *keys) if keys and isinstance(raw_item, PosDict) and keys[0] in raw_item else None) or base

    seen: dict[str, int] = {}
    for index, item in enumerate(paper.items):
        if item.id in seen:
            first = item_pos(seen[item.id], "id")
            _fail(f"duplicate item id '{item.id}' (first on line {first[1] if first else '?'})", item_pos(index, "id"),
                  f"paper.items[{index}].id", "each table or figure is listed once; put its parts under gaps")
        seen[item.id] = index

    cited: dict[str, list[str]] = {}
    sites = experiment_references(suite)
    for site in sites:
        ref = site.reference
        if ref.kind == "extension":
            continue
        named = False
        for field in ("table", "figure"):
            value = getattr(ref, field)
            if value is None:
                continue
            if value not in seen:
                _fail(f"experiment '{site.experiment}' cites {field} '{value}', which is not an item of the paper"
                      f"{did_you_mean(value, ids)}", site.position(field), f"{site.key}.{field}",
                      _item_hint(ids) + "; add the item, or mark the reference kind: extension with a note")
            cited.setdefault(value, []).append(site.experiment)
            named = True
        if ref.section is not None and ref.section in seen:
            cited.setdefault(ref.section, []).append(site.experiment)
            named = True
        if not named:
            what = f"section '{ref.section}'" if ref.section else "no table, figure or section"
            _fail(f"experiment '{site.experiment}' cites {what}, which names no item of the paper"
                  + (did_you_mean(ref.section, ids) if ref.section else ""),
                  site.position("section" if ref.section else None), site.key + (".section" if ref.section else ""),
                  _item_hint(ids) + "; or mark the reference kind: extension with a note")
    for exp_id in suite.experiment_ids():
        if not any(s.experiment == exp_id for s in sites):
            pos = _experiment_pos(suite, exp_id)
            _fail(f"experiment '{exp_id}' has no 'reproduces': with paper.items declared every experiment cites the "
                  "item it reproduces or declares itself an extension", pos, f"experiments[{exp_id}]",
                  'add reproduces: {table: "Table 1", row: ...} or reproduces: {kind: extension, note: ...}')
    for index, item in enumerate(paper.items):
        citing = sorted(set(cited.get(item.id, [])))
        if not citing and item.not_covered is None:
            _fail(f"item '{item.id}' is reproduced by no experiment and gives no not_covered reason",
                  item_pos(index), f"paper.items[{item.id}]",
                  "add not_covered: <why no experiment reproduces it>, or cite it from an experiment's reproduces")
        if citing and item.not_covered is not None:
            _fail(f"item '{item.id}' is reproduced by {', '.join(citing)} but says not_covered",
                  item_pos(index, "not_covered"), f"paper.items[{item.id}].not_covered",
                  "remove not_covered; list the parts that are not reproduced under gaps, each with the reason")


def _experiment_pos(suite: Suite, exp_id: str) -> Pos | None:
    exps = suite.raw.get("experiments")
    for exp in exps if isinstance(exps, list) else []:
        if isinstance(exp, PosDict) and str(exp.get("id")) == exp_id:
            return exp.position_of("id")
    return None


def _check_item_citations(suite: Suite, baselines: Any, raw: Any, path: Path) -> None:
    """Baseline entries, claims and reported differences cite tables and figures the paper has (``paper.items``)."""
    paper = suite.file.paper
    if paper is None or paper.items is None:
        return
    ids = paper.item_ids()
    groups = [("entries", "baseline entry", [(e, e.source) for e in baselines.entries]),
              ("claims", "claim", [(c, c.source) for c in baselines.claims]),
              ("reported_differences", "reported difference", [(d, d.source) for d in baselines.reported_differences])]
    for top, what, items in groups:
        raw_list = raw.get(top) if isinstance(raw, dict) else None
        for i, (obj, source) in enumerate(items):
            if getattr(source, "kind", "paper") == "extension":
                continue
            for field in ("table", "figure"):
                value = getattr(source, field)
                if value is None or value in ids:
                    continue
                raw_item = raw_list[i] if isinstance(raw_list, list) and i < len(raw_list) else None
                pos = _pos(raw_item, "source", field) if isinstance(raw_item, PosDict) else None
                pos = pos or item_position(raw_list, i)
                name = f" '{obj.id}'" if hasattr(obj, "id") else f" for '{obj.experiment}'"
                raise error_at(
                    pos, f"{what}{name} cites {field} '{value}', which is not an item of the paper{did_you_mean(value, ids)}",
                    key=f"{top}[{i}].source.{field}",
                    hint=_item_hint(ids) + (" (or set source.kind: extension)" if top == "claims" else ""),
                    path=display_path(path),
                )


# --------------------------------------------------------------------------------------------- baselines
def baselines_path(suite: Suite) -> Path | None:
    """The suite's baselines file: explicit ``baselines:`` (must exist) or ``baselines/<suite>.yaml`` beside
    ``suites/`` if there is one; None otherwise."""
    if suite.file.baselines:
        p = (suite.path.parent / suite.file.baselines).resolve()
        if not p.is_file():
            pos = suite.raw.position_of("baselines")
            raise error_at(
                pos, f"baselines file not found: {display_path(p)}",
                key="baselines",
                hint="paths are relative to the suite file; remove 'baselines' if the paper has no numbers yet",
                path=str(suite.path),
            )
        return p
    guess = suite.path.resolve().parent.parent / "baselines" / f"{suite.name}.yaml"
    return guess if guess.is_file() else None


def check_baselines_file(suite: Suite) -> Path | None:
    """The suite's baselines file (explicit ``baselines:`` or ``baselines/<suite>.yaml`` beside ``suites/``), checked.

    The file is parsed with its schema (a reported value needs a citation) and every entry must name an experiment
    of the suite and, if it gives one, a grid variant that some profile of the suite produces; claims and reported
    differences must compare runs some profile produces; with ``paper.items`` declared, every cited table or figure
    must be an item.
    """
    p = baselines_path(suite)
    if p is not None:
        _check_baseline_entries(suite, p)
    return p


def _check_baseline_entries(suite: Suite, path: Path) -> None:
    from benchmark.suite.baselines_spec import load_baselines

    baselines = load_baselines(path)
    raw = load_yaml(path)
    raw_entries = raw.get("entries") if isinstance(raw, dict) else None
    ids = suite.experiment_ids()
    variants: dict[str, set[str]] = {}
    for profile in suite.profile_names():
        for res in suite.resolve(profile):
            variants.setdefault(res.experiment_id, set()).add(res.variant.label)
    for i, entry in enumerate(baselines.entries):
        item = raw_entries[i] if isinstance(raw_entries, list) and i < len(raw_entries) else None
        item_pos = item_position(raw_entries, i)
        where = f"entries[{i}]"
        if entry.experiment not in ids:
            pos = _pos(item, "experiment") or item_pos
            raise error_at(
                pos, f"baseline entry for unknown experiment '{entry.experiment}'{did_you_mean(entry.experiment, ids)}",
                key=f"{where}.experiment",
                hint=f"experiments of {suite.name}: {', '.join(ids)}",
                path=display_path(path),
            )
        known = sorted(v for v in variants.get(entry.experiment, set()) if v)
        if entry.variant is not None and entry.variant not in variants.get(entry.experiment, set()):
            pos = _pos(item, "variant") or item_pos
            raise error_at(
                pos, f"baseline entry names variant '{entry.variant}' that experiment '{entry.experiment}' does not have"
                f"{did_you_mean(entry.variant, known)}",
                key=f"{where}.variant",
                hint=(
                    f"variants of {entry.experiment}: {', '.join(known)}"
                    if known
                    else f"{entry.experiment} has no grid; remove 'variant'"
                ),
                path=display_path(path),
            )
    _check_claims(suite, baselines, raw, path)
    _check_differences(suite, baselines, raw, path)
    _check_item_citations(suite, baselines, raw, path)


def _check_claims(suite: Suite, baselines: Any, raw: Any, path: Path) -> None:
    """Every claim must compare experiments and grid variants that some profile of the suite runs."""
    from benchmark.report.claims import check_claims_against_suite, suite_variants

    problems = check_claims_against_suite(baselines.claims, suite_variants(suite), set(suite.experiment_ids()))
    if problems:
        pos = raw.position_of("claims") if hasattr(raw, "position_of") else None
        raise error_at(
            pos, "; ".join(problems),
            key="claims",
            hint="a claim's treatment and control must name an experiment and a variant label shown by `bench plan`",
            path=display_path(path),
        )


def _check_differences(suite: Suite, baselines: Any, raw: Any, path: Path) -> None:
    """Every comparison of a reported difference must name runs that some profile of the suite produces."""
    from benchmark.report.claims import suite_variants
    from benchmark.report.gains import check_differences_against_suite

    problems = check_differences_against_suite(baselines.reported_differences, suite_variants(suite),
                                               set(suite.experiment_ids()))
    if not problems:
        return
    i, j, message = problems[0]
    raw_list = raw.get("reported_differences") if isinstance(raw, dict) else None
    raw_diff = raw_list[i] if isinstance(raw_list, list) and i < len(raw_list) else None
    comps = raw_diff.get("comparisons") if isinstance(raw_diff, dict) else None
    pos = item_position(comps, j)
    pos = pos or (raw.position_of("reported_differences") if hasattr(raw, "position_of") else None)
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    raise error_at(
        pos, message + more,
        key=f"reported_differences[{i}].comparisons[{j}]",
        hint="treatment and control must name an experiment and a variant label shown by `bench plan`",
        path=display_path(path),
    )
