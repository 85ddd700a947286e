"""Execute a plan: for each run, pretrain → probe → record, skipping finished runs and recording failures.

A failing run (divergence, collapse, out-of-memory, or an unexpected error) is written as ``status: failed`` with
its reason and step, and the suite goes on; ``bench report`` shows it. Pretraining checkpoints every
``checkpoint_every_n_steps`` and resumes from ``checkpoints/last.ckpt`` when the config hash matches.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.errors import BenchError, RunFailure, RunInterrupted, SuiteError
from benchmark.results.artifacts import write_figures_data
from benchmark.results.provenance import hardware, package_versions, process_git_state
from benchmark.results.store import ResultsStore
from benchmark.results.suite_meta import write_suite_meta
from benchmark.suite.plan import Plan, Run
from benchmark.suite.schema import ExperimentConfig, SubsetConfig, ValidationSplit


@dataclass
class RunOptions:
    """Where data and results live, and how to execute (CLI flags)."""

    data_root: Path = Path("data")
    results_dir: Path = Path("results")
    device: str = "cpu"
    download: bool = False
    progress: bool = True
    debug: bool = False
    force: bool = False
    loggers: tuple[str, ...] = ("csv",)  # Lightning loggers of pretraining (benchmark.train.loggers), checked
    log: Any = field(default=print)


# ---------------------------------------------------------------------------------------------- data
_DATA_CACHE: dict[str, Any] = {}


def load_splits(cfg: ExperimentConfig, opts: RunOptions) -> Any:
    """Load (and cache within the process) the dataset of an experiment."""
    from benchmark.data import load_dataset

    key = json.dumps([cfg.data.dataset, cfg.data.params, str(opts.data_root)], sort_keys=True, default=str)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = load_dataset(cfg.data.dataset, cfg.data.params, data_root=opts.data_root, download=opts.download)
    return _DATA_CACHE[key]


def subset_indices(labels: np.ndarray, sub: SubsetConfig | None) -> np.ndarray:
    """Indices selected by a subset block (per-class prefix, fraction, long tail, limit), in that order."""
    from benchmark.data.subsets import long_tailed_indices, per_class_subset, stratified_fraction

    idx = np.arange(len(labels))
    if sub is None:
        return idx
    if sub.per_class is not None or sub.offset:
        idx = per_class_subset(labels, sub.per_class or len(labels), offset=sub.offset, strict=sub.per_class is not None)
    if sub.fraction is not None:
        idx = idx[stratified_fraction(labels[idx], sub.fraction, seed=sub.seed)]
    if sub.long_tail is not None:
        idx = idx[long_tailed_indices(labels[idx], sub.long_tail, seed=sub.seed)]
    if sub.limit is not None and len(idx) > sub.limit:
        rng = np.random.default_rng(sub.seed)
        idx = np.sort(rng.choice(idx, size=sub.limit, replace=False))
    return np.sort(idx)


class _Views(torch.utils.data.Dataset):
    """(image, label) → (transform(image), label)."""

    def __init__(self, base: Any, indices: np.ndarray, transform: Any) -> None:
        self.base, self.indices, self.transform = base, indices, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        img, label = self.base[int(self.indices[i])]
        return self.transform(img), int(label)


class _Subset(torch.utils.data.Dataset):
    def __init__(self, base: Any, indices: np.ndarray) -> None:
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.base[int(self.indices[i])]


# ---------------------------------------------------------------------------------------------- model
def build_backbone(cfg: ExperimentConfig, seed: int) -> tuple[torch.nn.Module, int]:
    """The encoder of an experiment, initialised from ``seed``."""
    from benchmark.models import BACKBONES

    builder = BACKBONES.get(cfg.backbone.name)
    kwargs: dict[str, Any] = {
        "stem": cfg.backbone.stem,
        "width": cfg.backbone.width,
        "zero_init_residual": cfg.backbone.zero_init_residual,
        **cfg.backbone.extras(),
    }
    from benchmark.models.signature import accepted_keywords

    accepted = accepted_keywords(builder)
    if accepted is not None and "image_size" in accepted and "image_size" not in kwargs:
        kwargs["image_size"] = cfg.data.input_size
    torch.manual_seed(seed)
    try:
        return builder(**kwargs)
    except TypeError as exc:
        raise SuiteError(f"backbone '{cfg.backbone.name}': {exc}", key="backbone") from None


def _accelerator(device: str) -> str:
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BenchError("--device cuda but no CUDA device is visible", hint="use --device cpu, or check drivers")
        return "gpu"
    return "cpu"


def _quiet_lightning() -> None:
    """Keep the console to one line per run: Lightning's banners and tips go to the log level WARNING."""
    import logging
    import warnings

    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*(LeafSpec|does not have many workers|litlogger).*")
    # a resumed run's CSV/TensorBoard logs continue in the same directory on purpose (benchmark.train.loggers)
    warnings.filterwarnings("ignore", message=r".*Experiment logs directory .* exists and is not empty.*")


def pretrain(run: Run, splits: Any, train_idx: np.ndarray, run_dir: Path, opts: RunOptions) -> tuple[Any, dict[str, Any]]:
    """Pretrain the method of ``run``; returns (method, pretraining summary).

    Resumes from ``checkpoints/last.ckpt`` when it is usable (:func:`benchmark.train.checkpoint.find_resume`);
    checkpoints are written atomically and loaded with ``weights_only=True``. Out of memory becomes
    ``RunFailure(kind="out_of_memory")`` with the step.
    """
    import warnings

    import pytorch_lightning as pl

    from benchmark.data.transforms import build_train_transform
    from benchmark.methods import METHODS, MethodContext, build_method
    from benchmark.train.checkpoint import BENCH_KEY, AtomicCheckpointIO, LastCheckpoint, load_checkpoint
    from benchmark.train.module import PretrainModule, check_collapse
    from benchmark.train.regularization import build_regularizer

    cfg = run.config
    pcfg = cfg.pretrain
    _quiet_lightning()
    # Mid-epoch resumes are exact here (RunBatchSampler skips the consumed batches); Lightning cannot know that.
    warnings.filterwarnings("ignore", message=r".*resuming from a checkpoint that ended before the epoch ended.*")
    pl.seed_everything(run.seed, workers=True, verbose=False)
    backbone, feat_dim = build_backbone(cfg, run.seed)
    method_cls = METHODS.get(cfg.method.name)
    preset = cfg.augment.preset or method_cls.default_augment
    device_augment = None
    if cfg.augment.on_device:  # the loader only decodes; PretrainModule augments the batch on the device
        from benchmark.data.device_augment import DecodeToUint8, build_device_augment, decode_size

        device_augment = build_device_augment(preset, cfg.data, cfg.augment.params)
        transform: Any = DecodeToUint8(decode_size(cfg.data, cfg.augment.decode_size))
    else:
        transform = build_train_transform(preset, cfg.data, cfg.augment.params)
    dataset = _Views(splits.train, train_idx, transform)
    gb = pcfg.global_batch_size
    steps_per_epoch = len(dataset) // gb
    if steps_per_epoch == 0:
        raise SuiteError(
            f"the pretraining set has {len(dataset)} images, fewer than one global batch of {gb}",
            key=f"experiments[{run.experiment_id}].pretrain.batch_size_per_device",
            hint="lower the batch size or use a larger train subset",
        )
    loader = _train_loader(run, dataset, splits, train_idx, opts)
    steps_per_epoch = len(loader.batch_sampler)  # K-class epochs can hold fewer batches than len // batch
    max_steps = steps_per_epoch * pcfg.epochs
    if pcfg.max_steps is not None:
        max_steps = min(max_steps, pcfg.max_steps)
    ctx = MethodContext(max_steps=max_steps, global_batch_size=gb, gather_distributed=pcfg.gather_distributed,
                        input_size=cfg.data.input_size)
    method = build_method(cfg.method.name, backbone=backbone, feature_dim=feat_dim, params=cfg.method.extras(), ctx=ctx)
    regularizer = build_regularizer(cfg.regularizer.name, cfg.regularizer.extras())
    module = PretrainModule(method, regularizer, pcfg, steps_per_epoch=steps_per_epoch, max_steps=max_steps,
                            history_every=max(1, max_steps // 500), config_hash=run.computation_hash,
                            device_augment=device_augment, seed=run.seed)

    ckpt_dir = run_dir / "checkpoints"
    # Checkpoints are stamped with the computation hash: a wording edit of the suite does not discard them.
    resume = _resumable_checkpoint(ckpt_dir, run.computation_hash, discard=opts.force)
    if resume.rejected:
        opts.log(f"  checkpoint {ckpt_dir / 'last.ckpt'} not resumed ({resume.rejected}); starting from scratch")
    if resume.path is not None:
        opts.log(f"  resuming pretraining from step {resume.step} ({resume.path})")
        if resume.epoch is not None and resume.batches_done is not None:
            loader.batch_sampler.resume(resume.epoch, resume.batches_done)
    ckpt_cb = LastCheckpoint(ckpt_dir, every_n_train_steps=min(pcfg.checkpoint_every_n_steps, max_steps))
    measure_cb = None
    if cfg.measure.enabled:  # per-step time/throughput/peak memory and the loss alone (benchmark/measure)
        from benchmark.measure import MeasureCallback

        measure_cb = MeasureCallback.from_config(cfg.measure)
    from benchmark.train.loggers import build_loggers

    loggers, log_dirs = build_loggers(opts.loggers, run_dir, run.run_id, run.hashed_config())
    world = pcfg.devices * pcfg.num_nodes
    strategy, plugins, spawned = _strategy(pcfg, opts.device)
    accelerator = _accelerator(opts.device)
    sync_bn = pcfg.sync_batchnorm and world > 1 and accelerator == "gpu"  # torch's SyncBatchNorm is GPU-only
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=pcfg.devices,
        num_nodes=pcfg.num_nodes,
        strategy=strategy,
        sync_batchnorm=sync_bn,
        precision=pcfg.precision,
        max_epochs=pcfg.epochs,
        max_steps=max_steps,
        deterministic="warn" if pcfg.deterministic else False,
        gradient_clip_val=pcfg.gradient_clip_val,
        callbacks=[ckpt_cb] + ([measure_cb] if measure_cb is not None else []),
        plugins=[AtomicCheckpointIO(), *plugins],
        logger=loggers or False,
        enable_progress_bar=opts.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, steps_per_epoch, max_steps)),  # a short run logs at least once
        default_root_dir=str(run_dir),
        use_distributed_sampler=False,  # the loader's RunBatchSampler shards every global batch itself
    )
    t0 = time.perf_counter()
    try:
        trainer.fit(module, train_dataloaders=loader, ckpt_path=str(resume.path) if resume.path else None,
                    weights_only=True)
    except torch.cuda.OutOfMemoryError as exc:
        raise RunFailure(f"out of memory: {str(exc).splitlines()[0] if str(exc) else exc!r}", kind="out_of_memory",
                         step=int(trainer.global_step)) from exc
    except SystemExit:
        if trainer.interrupted:  # Lightning turns Ctrl-C into sys.exit(1) and ignores SIGINT from then on
            import signal

            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt from None
        raise
    except Exception as exc:
        failure = _spawned_failure(exc) if spawned else None
        if failure is not None:
            raise failure from exc
        raise
    seconds = time.perf_counter() - t0
    steps = int(trainer.global_step)
    if spawned:  # the spawned ranks' bench state and step count come back through the final checkpoint
        final = load_checkpoint(ckpt_dir / "last.ckpt", config_hash=run.computation_hash)
        module.load_state_dict(final["state_dict"])
        module.restore_bench_state(final[BENCH_KEY], rng=False)
        steps = int(final["global_step"])
    check_collapse(module, pcfg.collapse_std_threshold, step=steps)
    summary = {
        "steps": steps,
        "max_steps": max_steps,
        "steps_per_epoch": steps_per_epoch,
        "epochs": pcfg.epochs,
        "global_batch_size": gb,
        "augment_preset": preset,
        "augment_on_device": bool(cfg.augment.on_device),
        "resumed_from_step": resume.step,
        "resumes": list(module.resumes),  # steps it was resumed from, as carried by its checkpoints
        "final_loss": module.loss_history[-1][1] if module.loss_history else None,
        "loss_history": module.loss_history,
        "or_penalty_history": module.penalty_history,
        "or_penalty_layers": module.last_penalty_layers,
        "embedding_std": module.last_embedding_std,
        "seconds": seconds,
        "logs": log_dirs,  # logger -> directory under the run directory
    }
    if resume.rejected:
        summary["checkpoint_rejected"] = resume.rejected
    if world > 1:
        summary["distributed"] = {"world_size": world, "launch": strategy._start_method if spawned else "external",
                                   "sync_batchnorm": sync_bn}
    if measure_cb is not None:
        summary["measure"] = measure_cb.summary()
    return method, summary


def _train_loader(run: Run, dataset: Any, splits: Any, train_idx: np.ndarray, opts: RunOptions) -> Any:
    """The pretraining loader: a data order that depends only on (seed, epoch), sharded per rank, resumable.

    Global batches come from ``KClassBatchSampler`` (``sampler.kind: k_classes``) or ``RandomBatchSampler``; each
    process takes its slice of every global batch and each sample is augmented under its own seed (see
    :mod:`benchmark.train.sampling`). ``pretrain`` calls ``loader.batch_sampler.resume(epoch, batches_done)``.
    """
    from benchmark.data.samplers import KClassBatchSampler, RandomBatchSampler
    from benchmark.train.sampling import RunBatchSampler, SeededViews

    cfg = run.config
    pcfg = cfg.pretrain
    common = {"num_workers": cfg.data.num_workers, "persistent_workers": cfg.data.num_workers > 0,
              "pin_memory": opts.device.startswith("cuda")}
    if cfg.data.sampler.kind == "k_classes":
        labels = np.asarray(splits.train_labels)[train_idx]
        parent: Any = KClassBatchSampler(labels, batch_size=pcfg.global_batch_size, k=int(cfg.data.sampler.k or 1),
                                         seed=run.seed, drop_last=True)
    else:
        parent = RandomBatchSampler(len(dataset), batch_size=pcfg.global_batch_size, seed=run.seed, drop_last=True)
    world = pcfg.devices * pcfg.num_nodes
    try:
        batch_sampler = RunBatchSampler(parent, seed=run.seed, world_size=world)
    except ValueError as exc:
        raise SuiteError(str(exc), key=f"experiments[{run.experiment_id}].pretrain",
                         hint="the global batch must split evenly over devices x num_nodes") from None
    # The generator only feeds DataLoader's worker base seed, keeping it off the global RNG stream.
    generator = torch.Generator().manual_seed(run.seed)
    return torch.utils.data.DataLoader(SeededViews(dataset), batch_sampler=batch_sampler, generator=generator, **common)


def _strategy(pcfg: Any, device: str = "cpu") -> tuple[Any, list[Any], bool]:
    """(Lightning strategy, extra plugins, spawned?) for the run's ``devices × num_nodes``.

    One process: the configured strategy. Several processes launched by SLURM (one task per device, as
    ``--launcher slurm`` submits) or torchrun: ``ddp`` on that environment. Otherwise ``bench run`` starts the
    ranks itself, because Lightning's default ``ddp`` launcher would re-execute the whole ``bench run`` command
    once per rank: ``start_method="spawn"`` on GPUs (CUDA cannot be forked once initialised), ``"fork"`` on CPU
    (nothing to pickle; spawning ships the model through shared-memory file descriptors, which some sandboxes
    refuse).
    """
    world = pcfg.devices * pcfg.num_nodes
    if world == 1:
        return pcfg.strategy, [], False
    from pytorch_lightning.strategies import DDPStrategy

    find_unused = pcfg.strategy == "ddp_find_unused_parameters_true"
    env = os.environ
    slurm_tasks = int(env.get("SLURM_NTASKS", "0") or 0)
    if slurm_tasks == world or ("LOCAL_RANK" in env and "WORLD_SIZE" in env):
        return DDPStrategy(find_unused_parameters=find_unused), [], False
    if pcfg.num_nodes > 1:
        raise BenchError(f"pretrain.num_nodes = {pcfg.num_nodes} needs one process per device started by a launcher",
                         hint="use `bench run SUITE --launcher slurm` (one SLURM task per device) or torchrun")
    from lightning_fabric.plugins.environments import LightningEnvironment

    start = "spawn" if device.startswith("cuda") else "fork"
    return DDPStrategy(start_method=start, find_unused_parameters=find_unused), [LightningEnvironment()], True


def _spawned_failure(exc: BaseException) -> RunFailure | None:
    """A RunFailure / OOM raised in a spawned rank arrives as text (``ProcessRaisedException``); rebuild it."""
    import re

    text = str(exc)
    m = re.search(r"RunFailure: (\w+) at step (\d+): (.*)", text)
    if m:
        return RunFailure(m.group(3).strip(), kind=m.group(1), step=int(m.group(2)))
    m = re.search(r"RunFailure: (\w+): (.*)", text)
    if m:
        return RunFailure(m.group(2).strip(), kind=m.group(1))
    if "OutOfMemoryError" in text:
        line = next((ln for ln in text.splitlines() if "OutOfMemoryError" in ln), "out of memory")
        return RunFailure(line.strip(), kind="out_of_memory")
    return None


def _resumable_checkpoint(ckpt_dir: Path, config_hash: str, *, discard: bool = False) -> Any:
    """Whether and where pretraining resumes (:func:`benchmark.train.checkpoint.find_resume`)."""
    from benchmark.train.checkpoint import find_resume

    return find_resume(ckpt_dir, config_hash, discard=discard)


def _ckpt_step(path: Path) -> int | None:
    """The optimizer step a checkpoint was written at (None if it cannot be loaded safely)."""
    from benchmark.train.checkpoint import CheckpointRejected, load_checkpoint

    try:
        return int(load_checkpoint(path)["global_step"])
    except CheckpointRejected:
        return None


# ---------------------------------------------------------------------------------------------- probes
def run_probes(run: Run, encoder: torch.nn.Module, splits: Any, train_idx: np.ndarray, test_idx: np.ndarray,
               opts: RunOptions, cfg: ExperimentConfig | None = None
               ) -> tuple[dict[str, Any], dict[str, float], Any, dict[str, dict[str, Any]]]:
    """Extract frozen features once, then run every probe; returns (metrics, timings, FeatureSet, protocol).

    ``protocol`` maps each probe to the parameters it ran with, defaults included (e.g. the linear probe's
    ``normalize``), so a record shows that its encoder and its random-init control were probed alike.
    ``cfg`` (default: the run's) supplies the data settings and probes: transfer passes the target dataset's.
    """
    from benchmark.data.transforms import build_eval_transform
    from benchmark.probes import PROBES
    from benchmark.probes.base import FeatureSet
    from benchmark.probes.features import extract_features

    cfg = cfg or run.config
    if not cfg.eval.probes and not cfg.eval.spectra:  # a measurement-only run: no features needed
        return {}, {}, None, {}
    transform = build_eval_transform(cfg.data)
    device = "cuda" if opts.device.startswith("cuda") else "cpu"
    encoder = encoder.to(device)
    t0 = time.perf_counter()
    kw = {"transform": transform, "batch_size": cfg.eval.feature_batch_size, "device": device, "progress": opts.progress}
    tr_x, tr_y = extract_features(encoder, _Subset(splits.train, train_idx), **kw)
    te_x, te_y = extract_features(encoder, _Subset(splits.test, test_idx), **kw)
    timings = {"features": time.perf_counter() - t0}
    feats = FeatureSet(train_x=tr_x, train_y=tr_y, test_x=te_x, test_y=te_y, num_classes=splits.num_classes)
    metrics: dict[str, Any] = {}
    protocol: dict[str, dict[str, Any]] = {}
    for probe_cfg in cfg.eval.probes:
        cls = PROBES.get(probe_cfg.name)
        params = cls.Params(**probe_cfg.extras())
        if hasattr(params, "report") and "report" not in probe_cfg.extras():
            params = params.model_copy(update={"report": cfg.report})
        t1 = time.perf_counter()
        metrics[probe_cfg.name] = cls(params).evaluate(feats, seed=run.seed, progress=opts.progress)
        timings[probe_cfg.name] = time.perf_counter() - t1
        protocol[probe_cfg.name] = params.model_dump(mode="json")
    return metrics, timings, feats, protocol


def validation_split(splits: Any, train_idx: np.ndarray, val: ValidationSplit) -> tuple[Any, np.ndarray, np.ndarray]:
    """``(splits', probe_train_idx, probe_val_idx)``: a stratified share of ``train_idx`` becomes the evaluation set.

    ``splits'`` is ``splits`` with its train set also serving as the "test" side, so the probes never see the test set.
    """
    import dataclasses

    from benchmark.data.subsets import stratified_fraction

    labels = np.asarray(splits.train_labels)[train_idx]
    held = np.zeros(len(train_idx), dtype=bool)
    held[stratified_fraction(labels, val.fraction, seed=val.seed)] = True
    as_test = dataclasses.replace(splits, test=splits.train, test_labels=splits.train_labels)
    return as_test, train_idx[~held], train_idx[held]


def run_transfer(run: Run, encoder: torch.nn.Module, opts: RunOptions
                 ) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """Probe the frozen encoder on each ``eval.transfer`` dataset.

    Returns metrics keyed ``'<name>/<probe>'`` (so report rows read e.g. ``food101/linear.top1``), timings keyed
    ``'transfer/<name>/<part>'`` and, per name, what was probed (dataset, split sizes).
    """
    cfg = run.config
    metrics: dict[str, Any] = {}
    timings: dict[str, float] = {}
    info: dict[str, Any] = {}
    for target in cfg.eval.transfer:
        probes = target.probes if target.probes is not None else cfg.eval.probes
        t_cfg = cfg.model_copy(update={"data": target.data,
                                       "eval": cfg.eval.model_copy(update={"probes": probes, "spectra": False})})
        splits = load_splits(t_cfg, opts)
        train_idx = subset_indices(np.asarray(splits.train_labels), target.data.train_subset)
        test_idx = subset_indices(np.asarray(splits.test_labels), target.data.test_subset)
        t_metrics, t_timings, _, t_protocol = run_probes(run, encoder, splits, train_idx, test_idx, opts, cfg=t_cfg)
        metrics.update({f"{target.name}/{probe}": values for probe, values in t_metrics.items()})
        timings.update({f"transfer/{target.name}/{part}": sec for part, sec in t_timings.items()})
        info[target.name] = {"dataset": target.data.dataset, "source": splits.source, "n_train": int(len(train_idx)),
                             "n_test": int(len(test_idx)), "num_classes": int(splits.num_classes),
                             "probe_protocol": t_protocol}
    return metrics, timings, info


def first_test_images(cfg: ExperimentConfig, test_set: Any, test_idx: np.ndarray, n: int) -> torch.Tensor:
    """The first ``n`` images of the evaluated test split in its order, through the deterministic eval transform."""
    from benchmark.data.transforms import build_eval_transform

    transform = build_eval_transform(cfg.data)
    subset = _Subset(test_set, np.asarray(test_idx)[:n])
    return torch.stack([transform(subset[i][0]) for i in range(len(subset))])


def _split_name(cfg: ExperimentConfig) -> str:
    return "validation" if cfg.eval.validation is not None else "test"


def _diagnostics(encoder: torch.nn.Module, feats: Any, cfg: ExperimentConfig, images: torch.Tensor) -> dict[str, Any]:
    """Spectra and effective rank (``eval.spectra``).

    ``feature_spectrum`` / ``effective_rank`` / ``weight_spectra``: the whole evaluated test split's representations
    and every regularised weight. ``first_batch``: the OR paper's Fig. 3/4 protocol
    (:func:`benchmark.diagnostics.spectra.first_batch_spectra`) on ``images``, the first ``eval.spectra_batch``
    images of that split.
    """
    from benchmark.diagnostics.spectra import effective_rank, feature_spectrum, first_batch_spectra, weight_spectra

    spectrum = feature_spectrum(feats.test_x)
    first = first_batch_spectra(encoder, images, batch_size=cfg.eval.feature_batch_size)
    return {
        "feature_spectrum": np.asarray(spectrum).tolist(),
        "effective_rank": float(effective_rank(feats.test_x)),
        "weight_spectra": {k: np.asarray(v).tolist() for k, v in weight_spectra(encoder).items()},
        "first_batch": {
            "protocol": "He et al., NeurIPS 2024, Figs. 3/4: first test batch, eval transform (no augmentation), "
                        "normalised eigenvalues (lambda / lambda_max)",
            "split": _split_name(cfg),
            "requested": cfg.eval.spectra_batch,
            **first,
        },
    }


def _figure_data(run: Run, encoder: torch.nn.Module, feats: Any, test_set: Any, test_idx: np.ndarray,
                 opts: RunOptions) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``eval.weight_correlation`` (Fig. 5) and ``eval.umap`` (Fig. 6): (record summaries, artifact arrays)."""
    cfg = run.config
    summary: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    if cfg.eval.weight_correlation is not None:
        from benchmark.diagnostics.correlation import weight_correlation

        summary["weight_correlation"], corr = weight_correlation(encoder, cfg.eval.weight_correlation, seed=run.seed)
        arrays.update({f"weight_correlation.{k}": v for k, v in corr.items()})
    if cfg.eval.umap is not None:
        from benchmark.diagnostics.embedding import umap_embedding

        u = cfg.eval.umap
        if feats is not None:
            x, y = feats.test_x[: u.samples], feats.test_y[: u.samples]
        else:  # no probes and no spectra: extract the representations of the first images only
            from benchmark.data.transforms import build_eval_transform
            from benchmark.probes.features import extract_features

            device = "cuda" if opts.device.startswith("cuda") else "cpu"
            x, y = extract_features(encoder.to(device), _Subset(test_set, np.asarray(test_idx)[: u.samples]),
                                    transform=build_eval_transform(cfg.data), batch_size=cfg.eval.feature_batch_size,
                                    device=device, progress=opts.progress)
        coords, settings = umap_embedding(x, n_neighbors=u.n_neighbors, min_dist=u.min_dist, metric=u.metric,
                                          seed=u.seed)
        summary["umap"] = {**settings, "split": _split_name(cfg), "requested": u.samples}
        arrays["umap.coords"] = coords
        arrays["umap.labels"] = np.asarray(y, dtype=np.int32)
    return summary, arrays


# ---------------------------------------------------------------------------------------------- one run
def execute_run(run: Run, opts: RunOptions, store: ResultsStore) -> dict[str, Any]:
    """Pretrain, probe and record one run. RunFailure and OOM become a failed record; BenchError propagates.

    Under DDP launched by SLURM/torchrun every rank calls this; only global rank 0 probes and writes the record.
    ``BENCH_FAULT`` (test-only, :mod:`benchmark.train.faults`) can kill the process at fixed points.
    """
    from benchmark.train import faults
    from benchmark.train.checkpoint import atomic_torch_save

    faults.set_run(run.path)
    cfg = run.config
    run_dir = store.run_dir(run.path)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    git_at_start = process_git_state()  # the checkout when this process loaded its code, not the tree of now
    t_start = time.perf_counter()
    record: dict[str, Any] = {
        "run_id": run.run_id,
        "path": run.path,
        "suite": run.suite,
        "suite_version": run.suite_version,
        "profile": run.profile,
        "experiment": run.experiment_id,
        "variant": run.variant,
        "variant_assignments": run.resolved.variant.assignments,
        "seed": run.seed,
        "config_hash": run.config_hash,
        "config": run.hashed_config(),
        "reproduces": _dump_reference(cfg),
        "status": "running",
    }
    if run.overrides:  # their values are in "config" (and so in the hash); this says where they came from
        record["overrides"] = list(run.overrides)
    splits = load_splits(cfg, opts)
    train_labels = np.asarray(splits.train_labels)
    test_labels = np.asarray(splits.test_labels)
    train_idx = subset_indices(train_labels, cfg.data.train_subset)
    test_idx = subset_indices(test_labels, cfg.data.test_subset)
    record["data"] = {"dataset": cfg.data.dataset, "source": splits.source, "n_train": int(len(train_idx)),
                      "n_test": int(len(test_idx)), "num_classes": int(splits.num_classes)}
    timings: dict[str, Any] = {}
    if cfg.eval.umap is not None:  # fail before hours of pretraining, not after
        from benchmark.diagnostics.embedding import require_umap

        require_umap()
    try:
        if cfg.pretrain.epochs > 0:
            method, summary = pretrain(run, splits, train_idx, run_dir, opts)
            if not _is_global_zero():
                return {**record, "status": "worker"}  # rank 0 of this DDP job probes and records
            encoder = method.encoder
            timings["pretrain"] = summary["seconds"]
            record["pretrain"] = summary
        else:
            encoder, _ = build_backbone(cfg, run.seed)
            record["pretrain"] = {"steps": 0, "epochs": 0, "note": "epochs = 0: randomly initialised backbone"}
        faults.maybe_kill("after_pretrain")
        atomic_torch_save(encoder.state_dict(), run_dir / "encoder.pt")
        probe_splits, probe_train, probe_test = splits, train_idx, test_idx
        if cfg.eval.validation is not None:
            probe_splits, probe_train, probe_test = validation_split(splits, train_idx, cfg.eval.validation)
            record["data"]["evaluated_on"] = (f"validation: {len(probe_test)} train images held out "
                                              f"(fraction {cfg.eval.validation.fraction}, seed "
                                              f"{cfg.eval.validation.seed}); probes trained on {len(probe_train)}")
        metrics, probe_t, feats, protocol = run_probes(run, encoder, probe_splits, probe_train, probe_test, opts)
        timings.update(probe_t)
        record["metrics"] = metrics
        record["probe_protocol"] = protocol
        first_images = None
        if cfg.eval.spectra:
            t1 = time.perf_counter()
            first_images = first_test_images(cfg, probe_splits.test, probe_test, cfg.eval.spectra_batch)
            record["diagnostics"] = _diagnostics(encoder, feats, cfg, first_images)
            timings["spectra"] = time.perf_counter() - t1
        if cfg.eval.weight_correlation is not None or cfg.eval.umap is not None:
            t1 = time.perf_counter()
            fig_summary, fig_arrays = _figure_data(run, encoder, feats, probe_splits.test, probe_test, opts)
            record.setdefault("diagnostics", {}).update(fig_summary)
            record["figures_data"] = write_figures_data(run_dir, fig_arrays)
            timings["figure_data"] = time.perf_counter() - t1
        if cfg.eval.transfer:
            t_metrics, t_timings, record["transfer"] = run_transfer(run, encoder, opts)
            metrics.update(t_metrics)
            timings.update(t_timings)
        if cfg.eval.random_init_control:
            control, _ = build_backbone(cfg, run.seed)
            c_metrics, c_t, c_feats, c_protocol = run_probes(run, control, splits, train_idx, test_idx, opts)
            record["controls"] = {"random_init": {"metrics": c_metrics, "timings": c_t, "probe_protocol": c_protocol}}
            if cfg.eval.spectra:
                record["controls"]["random_init"]["diagnostics"] = _diagnostics(control, c_feats, cfg, first_images)
        record["status"] = "ok"
    except RunFailure as failure:
        record["status"] = "failed"
        record["failure"] = {"kind": failure.kind, "reason": failure.reason, "step": failure.step}
    except torch.cuda.OutOfMemoryError as exc:  # outside pretraining (feature extraction, probes)
        record["status"] = "failed"
        record["failure"] = {"kind": "out_of_memory", "reason": str(exc).splitlines()[0], "step": None}
    except (BenchError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one broken run must not stop the suite
        if opts.debug:
            raise
        record["status"] = "failed"
        record["failure"] = {"kind": "error", "reason": f"{type(exc).__name__}: {exc}", "step": None,
                             "traceback": traceback.format_exc(limit=8)}
    timings["total"] = time.perf_counter() - t_start
    record["timings"] = timings
    record["provenance"] = {
        "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_at_start,
        "packages": package_versions(),
        "hardware": hardware(opts.device),
        "command": " ".join(sys.argv),
        "data_root": str(opts.data_root),
    }
    if record["status"] == "failed" and torch.cuda.is_available():
        torch.cuda.empty_cache()  # let the next run start from a clean allocator after an OOM
    faults.maybe_kill("before_record")
    with faults.kill_before_replace("mid_record", store.record_path(run.path)):
        store.write(run.path, record)
    return record


def _is_global_zero() -> bool:
    """False on DDP ranks other than 0 (a process group is left initialised by Lightning's DDP)."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _dump_reference(cfg: ExperimentConfig) -> Any:
    ref = cfg.reproduces
    if ref is None:
        return None
    if isinstance(ref, list):
        return [r.model_dump(exclude_none=True) for r in ref]
    return ref.model_dump(exclude_none=True)


# ---------------------------------------------------------------------------------------------- suite
def run_plan(plan: Plan, opts: RunOptions) -> list[dict[str, Any]]:
    """Execute every run of ``plan`` not already finished, under the results-directory lock."""
    process_git_state()  # fix the recorded code version now, before the first (possibly hours-long) run
    store = ResultsStore(opts.results_dir)
    torch.set_num_threads(max(1, int(os.environ.get("BENCH_THREADS", torch.get_num_threads()))))
    records: list[dict[str, Any]] = []
    with store.lock():
        from benchmark.preflight import check_before_first_run
        from benchmark.progress import SuiteProgress
        from benchmark.validation import check_baselines_file

        write_suite_meta(plan, store, check_baselines_file(plan.suite))
        total = len(plan.runs)
        todo = {r.path for r in plan.runs
                if opts.force or not store.is_done(r.path, r.config_hash, r.computation_hash)}
        check_before_first_run([r for r in plan.runs if r.path in todo], device=opts.device,
                               data_root=opts.data_root, download=opts.download)
        progress = SuiteProgress(opts.device)
        opts.log(progress.line(total - len(todo), total, [r for r in plan.runs if r.path in todo]))
        for i, run in enumerate(plan.runs, 1):
            prefix = f"[{i}/{total}] {run.run_id}"
            if run.path not in todo:
                opts.log(f"{prefix}: done already (config {run.config_hash}), skipped")
                records.append(store.load(run.path) or {})
                continue
            opts.log(f"{prefix}: running")
            try:
                rec = execute_run(run, opts, store)
            except KeyboardInterrupt:
                ckpt = store.run_dir(run.path) / "checkpoints" / "last.ckpt"
                finished = sum(1 for r in plan.runs if store.is_done(r.path, r.config_hash, r.computation_hash))
                raise RunInterrupted(run.run_id, index=i, total=total, results_dir=str(store.root),
                                     checkpoint_step=_ckpt_step(ckpt) if ckpt.exists() else None,
                                     finished=finished) from None
            records.append(rec)
            progress.observe(run, rec)
            opts.log(f"{prefix}: {summarize(rec)}")
            opts.log(f"  {progress.line(i, total, [r for r in plan.runs[i:] if r.path in todo])}")
    return records


def summarize(rec: dict[str, Any]) -> str:
    """One line per finished run for the console."""
    if rec.get("status") != "ok":
        f = rec.get("failure", {})
        return f"FAILED ({f.get('kind')} at step {f.get('step')}: {f.get('reason')})"
    parts = []
    for probe, m in (rec.get("metrics") or {}).items():
        if "top1" in m:
            parts.append(f"{probe} top1 {m['top1']:.2f}")
    ctrl = (rec.get("controls") or {}).get("random_init", {}).get("metrics", {})
    for probe, m in ctrl.items():
        if "top1" in m:
            parts.append(f"random-init {probe} top1 {m['top1']:.2f}")
    return f"ok in {rec['timings']['total']:.1f}s: " + ", ".join(parts)
