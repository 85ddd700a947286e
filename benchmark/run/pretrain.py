"""The pretraining stage of a run: build the method (backbone, transform, loader, module), resume, fit, summarise.

Resumes from ``checkpoints/last.ckpt`` when it is usable (:func:`benchmark.train.checkpoint.find_resume`);
checkpoints are written atomically and loaded with ``weights_only=True``. Out of memory becomes
``RunFailure(kind="out_of_memory")`` with the step; a collapsed embedding ``RunFailure(kind="collapsed")``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.errors import RunFailure, SuiteError
from benchmark.run.backbone import build_backbone
from benchmark.run.data import TransformedViews, train_loader
from benchmark.run.options import RunOptions
from benchmark.run.trainer import build_trainer, quiet_lightning, spawned_failure
from benchmark.suite.plan import Run
from benchmark.suite.schema import ExperimentConfig


@dataclass
class Pretraining:
    """What one run pretrains: the method, its Lightning module and loader, and the step budget."""

    method: Any
    module: Any
    loader: Any
    augment_preset: str
    steps_per_epoch: int
    max_steps: int


def augment_preset(cfg: ExperimentConfig) -> str:
    """The experiment's augmentation preset: ``augment.preset``, else its method's default."""
    from benchmark.methods import METHODS

    return cfg.augment.preset or METHODS.get(cfg.method.name).default_augment


def train_transform(cfg: ExperimentConfig) -> tuple[str, Any, Any]:
    """(augmentation preset, loader transform, on-device augmentation or None) of an experiment."""
    from benchmark.data.transforms import build_train_transform

    preset = augment_preset(cfg)
    if not cfg.augment.on_device:
        return preset, build_train_transform(preset, cfg.data, cfg.augment.params), None
    # the loader only decodes; PretrainModule augments the batch on the device
    from benchmark.data.device_augment import DecodeToUint8, build_device_augment, decode_size

    device_augment = build_device_augment(preset, cfg.data, cfg.augment.params)
    return preset, DecodeToUint8(decode_size(cfg.data, cfg.augment.decode_size)), device_augment


def _check_one_global_batch(run: Run, n_images: int) -> None:
    gb = run.config.pretrain.global_batch_size
    if n_images // gb == 0:
        raise SuiteError(
            f"the pretraining set has {n_images} images, fewer than one global batch of {gb}",
            key=f"experiments[{run.experiment_id}].pretrain.batch_size_per_device",
            hint="lower the batch size or use a larger train subset",
        )


def build_pretraining(run: Run, splits: Any, train_idx: np.ndarray, opts: RunOptions) -> Pretraining:
    """Backbone, transform, loader, method (:func:`benchmark.methods.build_method`), regulariser and module."""
    from benchmark.methods import MethodContext, build_method
    from benchmark.regularizers import build_regularizer
    from benchmark.train.module import PretrainModule

    cfg, pcfg = run.config, run.config.pretrain
    backbone, feat_dim = build_backbone(cfg, run.seed)
    preset, transform, device_augment = train_transform(cfg)
    dataset = TransformedViews(splits.train, train_idx, transform)
    _check_one_global_batch(run, len(dataset))
    loader = train_loader(run, dataset, splits, train_idx, opts)
    steps_per_epoch = len(loader.batch_sampler)  # K-class epochs can hold fewer batches than len // batch
    max_steps = steps_per_epoch * pcfg.epochs
    if pcfg.max_steps is not None:
        max_steps = min(max_steps, pcfg.max_steps)
    ctx = MethodContext(max_steps=max_steps, global_batch_size=pcfg.global_batch_size,
                        gather_distributed=pcfg.gather_distributed, input_size=cfg.data.input_size)
    method = build_method(cfg.method.name, backbone=backbone, feature_dim=feat_dim, params=cfg.method.extras(), ctx=ctx)
    regularizer = build_regularizer(cfg.regularizer.name, cfg.regularizer.extras())
    module = PretrainModule(method, regularizer, pcfg, steps_per_epoch=steps_per_epoch, max_steps=max_steps,
                            history_every=max(1, max_steps // 500), config_hash=run.computation_hash,
                            device_augment=device_augment, seed=run.seed)
    return Pretraining(method, module, loader, preset, steps_per_epoch, max_steps)


def resume_point(run: Run, loader: Any, ckpt_dir: Path, opts: RunOptions) -> Any:
    """Where pretraining resumes (:func:`benchmark.train.checkpoint.find_resume`); positions the loader there.

    Checkpoints are stamped with the computation hash: a wording edit of the suite does not discard them.
    """
    from benchmark.train.checkpoint import find_resume

    resume = find_resume(ckpt_dir, run.computation_hash, discard=opts.force)
    if resume.rejected:
        opts.log(f"  checkpoint {ckpt_dir / 'last.ckpt'} not resumed ({resume.rejected}); starting from scratch")
    if resume.path is not None:
        opts.log(f"  resuming pretraining from step {resume.step} ({resume.path})")
        if resume.epoch is not None and resume.batches_done is not None:
            loader.batch_sampler.resume(resume.epoch, resume.batches_done)
    return resume


def measure_callback(cfg: ExperimentConfig) -> Any:
    """The per-step time/throughput/peak-memory callback (:mod:`benchmark.measure`) when ``measure.enabled``."""
    if not cfg.measure.enabled:
        return None
    from benchmark.measure import MeasureCallback

    return MeasureCallback.from_config(cfg.measure)


def fit(trainer: Any, job: Pretraining, resume: Any, *, spawned: bool) -> float:
    """``trainer.fit``; seconds it took. OOM, Ctrl-C and failures of spawned ranks are mapped to their errors."""
    t0 = time.perf_counter()
    try:
        trainer.fit(job.module, train_dataloaders=job.loader, ckpt_path=str(resume.path) if resume.path else None,
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
        failure = spawned_failure(exc) if spawned else None
        if failure is not None:
            raise failure from exc
        raise
    return time.perf_counter() - t0


def finished_steps(trainer: Any, job: Pretraining, run: Run, ckpt_dir: Path, *, spawned: bool) -> int:
    """Optimizer steps done; spawned ranks' bench state and step count come back through the final checkpoint."""
    if not spawned:
        return int(trainer.global_step)
    from benchmark.train.checkpoint import BENCH_KEY, load_checkpoint

    final = load_checkpoint(ckpt_dir / "last.ckpt", config_hash=run.computation_hash)
    job.module.load_state_dict(final["state_dict"])
    job.module.restore_bench_state(final[BENCH_KEY], rng=False)
    return int(final["global_step"])


def pretrain_summary(run: Run, job: Pretraining, *, steps: int, seconds: float, resume: Any, dist: dict[str, Any],
                     log_dirs: Any, measure_cb: Any) -> dict[str, Any]:
    """The record's ``pretrain`` section."""
    cfg, module = run.config, job.module
    summary: dict[str, Any] = {
        "steps": steps,
        "max_steps": job.max_steps,
        "steps_per_epoch": job.steps_per_epoch,
        "epochs": cfg.pretrain.epochs,
        "global_batch_size": cfg.pretrain.global_batch_size,
        "augment_preset": job.augment_preset,
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
    if dist["world"] > 1:
        summary["distributed"] = {"world_size": dist["world"],
                                  "launch": dist["strategy"]._start_method if dist["spawned"] else "external",
                                  "sync_batchnorm": dist["sync_bn"]}
    if measure_cb is not None:
        summary["measure"] = measure_cb.summary()
    return summary


def pretrain(run: Run, splits: Any, train_idx: np.ndarray, run_dir: Path, opts: RunOptions) -> tuple[Any, dict[str, Any]]:
    """Pretrain the method of ``run``; returns (method, pretraining summary). See the module docstring."""
    import warnings

    import pytorch_lightning as pl

    from benchmark.train.checkpoint import LastCheckpoint
    from benchmark.train.loggers import build_loggers
    from benchmark.train.module import check_collapse

    pcfg = run.config.pretrain
    quiet_lightning()
    # Mid-epoch resumes are exact here (RunBatchSampler skips the consumed batches); Lightning cannot know that.
    warnings.filterwarnings("ignore", message=r".*resuming from a checkpoint that ended before the epoch ended.*")
    pl.seed_everything(run.seed, workers=True, verbose=False)
    job = build_pretraining(run, splits, train_idx, opts)
    ckpt_dir = run_dir / "checkpoints"
    resume = resume_point(run, job.loader, ckpt_dir, opts)
    ckpt_cb = LastCheckpoint(ckpt_dir, every_n_train_steps=min(pcfg.checkpoint_every_n_steps, job.max_steps))
    measure_cb = measure_callback(run.config)
    loggers, log_dirs = build_loggers(opts.loggers, run_dir, run.run_id, run.hashed_config())
    trainer, dist = build_trainer(pcfg, max_steps=job.max_steps, steps_per_epoch=job.steps_per_epoch,
                                  callbacks=[ckpt_cb] + ([measure_cb] if measure_cb is not None else []),
                                  loggers=loggers, run_dir=run_dir, opts=opts)
    seconds = fit(trainer, job, resume, spawned=dist["spawned"])
    steps = finished_steps(trainer, job, run, ckpt_dir, spawned=dist["spawned"])
    check_collapse(job.module, pcfg.collapse_std_threshold, step=steps)
    summary = pretrain_summary(run, job, steps=steps, seconds=seconds, resume=resume, dist=dist, log_dirs=log_dirs,
                               measure_cb=measure_cb)
    return job.method, summary
