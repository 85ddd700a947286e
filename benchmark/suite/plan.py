"""Expand a suite into its plan: every experiment × grid point × seed becomes a :class:`Run` with a stable id.

Run ids look like ``or_neurips24/smoke/byol_c10/so-gamma1e-06/seed0``; the results path drops the suite and
profile (they name the results directory). The config hash covers everything that can move a number (the
resolved experiment, suite id and version, seed) and nothing that cannot (data root, results directory).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmark.data import DATASETS
from benchmark.errors import SuiteError
from benchmark.suite.hashing import computation_hash, config_hash, fill_probe_params
from benchmark.suite.loader import ResolvedExperiment, Suite
from benchmark.suite.schema import ExperimentConfig

if TYPE_CHECKING:
    from benchmark.suite.overrides import Override

# Nominal training throughput (images/s, forward+backward per view) used only for `bench plan` estimates.
# CPU numbers measured on this project's 2-core CI machine; GPU numbers are rough A100-class figures.
NOMINAL_THROUGHPUT = {
    ("cpu", "tiny"): 2500.0,
    ("cpu", "resnet18", 16): 480.0,
    ("cpu", "resnet18", 64): 33.0,
    ("cuda", "resnet18"): 6000.0,
    ("cuda", "resnet50"): 1200.0,
    ("cuda", "tiny"): 50000.0,
}



def declared_train_size(dataset: str) -> int | None:
    """The train-split size the dataset source declares (``DataSource.train_size``), None if unknown."""
    return DATASETS.get(dataset).train_size if dataset in DATASETS else None


#: (section, key) of experiment fields omitted from the config hash while empty (added in later versions).
HASH_NEUTRAL_WHEN_EMPTY: tuple[tuple[str, str], ...] = (
    ("eval", "transfer"), ("eval", "validation"), ("augment", "on_device"), ("augment", "decode_size"),
    ("eval", "weight_correlation"), ("eval", "umap"), ("measure", "regularizer_only"),
)
#: (section, key, value) of experiment fields omitted from the config hash while at that default (added later).
HASH_NEUTRAL_AT_DEFAULT: tuple[tuple[str, str, Any], ...] = (("eval", "spectra_batch", 4096),)

@dataclass
class Run:
    """One unit of work: pretrain (unless epochs = 0), probe, record."""

    suite: str
    suite_version: int
    profile: str
    experiment_id: str
    variant: str
    seed: int
    config: ExperimentConfig
    resolved: ResolvedExperiment
    overrides: tuple[str, ...] = ()  # the command-line overrides applied (their values are in ``config``)

    @property
    def path(self) -> str:
        """Path of the run inside the results directory's ``runs/``."""
        parts = [self.experiment_id] + ([self.variant] if self.variant else []) + [f"seed{self.seed}"]
        return "/".join(parts)

    @property
    def run_id(self) -> str:
        return f"{self.suite}/{self.profile}/{self.path}"

    def hashed_config(self) -> dict[str, Any]:
        experiment = self.config.model_dump(mode="json")
        # Fields added after results were published are left out while at their neutral default, so adding them
        # does not change the hash (and force a rerun) of every existing run.
        for section, key in HASH_NEUTRAL_WHEN_EMPTY:
            if not experiment.get(section, {}).get(key):
                experiment.get(section, {}).pop(key, None)
        for section, key, neutral in HASH_NEUTRAL_AT_DEFAULT:
            if experiment.get(section, {}).get(key) == neutral:
                experiment[section].pop(key, None)
        fill_probe_params(experiment, legacy=False)  # a changed probe default changes the hash of runs relying on it
        return {
            "suite": self.suite,
            "suite_version": self.suite_version,
            "experiment": experiment,
            "variant": self.variant,
            "seed": self.seed,
        }

    @property
    def config_hash(self) -> str:
        return config_hash(self.hashed_config())

    @property
    def computation_hash(self) -> str:
        """:func:`computation_hash` of this run (what ``bench run`` matches finished records against)."""
        return computation_hash(self.hashed_config())


@dataclass
class Plan:
    suite: Suite
    profile: str
    runs: list[Run]
    overrides: tuple[Override, ...] = ()  # the command-line overrides every run was resolved with


def make_plan(suite: Suite, profile: str | None = None, only: str | None = None,
              overrides: Sequence[Override] = ()) -> Plan:
    """All runs of ``profile``; ``only`` is a glob (or substring) matched against run paths and experiment ids;
    ``overrides`` (command line) apply after the grid point, so they are part of every run's config and hash."""
    profile = profile or suite.file.default_profile
    runs: list[Run] = []
    texts = tuple(o.text for o in overrides)
    for res in suite.resolve(profile, overrides):
        for seed in res.config.seeds:
            runs.append(
                Run(
                    suite=suite.name,
                    suite_version=suite.file.version,
                    profile=profile,
                    experiment_id=res.experiment_id,
                    variant=res.variant.label,
                    seed=seed,
                    config=res.config,
                    resolved=res,
                    overrides=texts,
                )
            )
    if only:
        pattern = only if any(c in only for c in "*?[") else f"*{only}*"
        runs = [r for r in runs if fnmatch.fnmatch(r.path, pattern) or fnmatch.fnmatch(r.experiment_id, pattern)]
        if not runs:
            raise SuiteError(
                f"--only '{only}' matches no run of profile '{profile}'",
                path=str(suite.path),
                hint="`bench plan SUITE --profile P` lists the run paths",
            )
    return Plan(suite=suite, profile=profile, runs=runs, overrides=tuple(overrides))


def training_shape(run: Run) -> str:
    """What the time of one pretraining step depends on (method, backbone, regulariser, augmentation, input size,
    per-device batch, precision), as a canonical JSON string: runs of one shape share a measured step time."""
    import json

    exp = run.config.model_dump(mode="json")
    data = exp["data"]
    keys = {"method": exp["method"], "backbone": exp["backbone"], "regularizer": exp["regularizer"],
            "augment": exp["augment"], "data": {k: data[k] for k in ("input_size", "eval_resize")},
            "pretrain": {k: exp["pretrain"][k] for k in ("batch_size_per_device", "precision")}}
    return json.dumps(keys, sort_keys=True, default=str)


def format_duration(seconds: float | None) -> str:
    """``'?'``, ``'42 s'``, ``'12 min'``, ``'3.4 h'`` or ``'2.1 d'``: a duration in the unit that reads best."""
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def estimate(run: Run, device: str = "cuda", n_train: int | None = None) -> dict[str, Any]:
    """Steps, images seen and a rough time estimate (hours, at the nominal throughput of ``device``) for one run.

    ``n_train``: the size of the run's pretraining set after its subsets, when known (``bench plan`` loads small
    datasets under ``--data-root`` to count it); else it is the size the source declares (:func:`declared_train_size`).
    """
    cfg = run.config
    n = n_train if n_train is not None else declared_train_size(cfg.data.dataset)
    sub = cfg.data.train_subset
    if sub is not None and n is not None and n_train is None:
        if sub.per_class is not None:  # at most per_class images of each of the classes the source declares
            classes = DATASETS.get(cfg.data.dataset).num_classes if cfg.data.dataset in DATASETS else None
            n = min(n, sub.per_class * classes) if classes else None
        if sub.fraction is not None and n is not None:
            n = int(n * sub.fraction)
        if sub.limit is not None:
            n = min(n, sub.limit) if n is not None else sub.limit
    gb = cfg.pretrain.global_batch_size
    steps = None if n is None else (n // gb) * cfg.pretrain.epochs
    if cfg.pretrain.max_steps is not None:
        steps = cfg.pretrain.max_steps if steps is None else min(steps, cfg.pretrain.max_steps)
    images = None if steps is None else steps * gb * 2
    key_w = (device, cfg.backbone.name, cfg.backbone.width)
    thr = NOMINAL_THROUGHPUT.get(key_w) or NOMINAL_THROUGHPUT.get((device, cfg.backbone.name))
    hours = None if images is None or thr is None else images / thr / 3600 / max(1, cfg.pretrain.devices * cfg.pretrain.num_nodes)
    return {"steps": steps, "images": images, "hours": hours}
