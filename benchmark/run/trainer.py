"""The Lightning side of pretraining: accelerator, DDP strategy, the ``pl.Trainer``, and failures of spawned ranks.

See the Lightning docs on strategies (https://lightning.ai/docs/pytorch/stable/extensions/strategy.html) and
``DDPStrategy(start_method=...)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import BenchError, RunFailure
from benchmark.run.options import RunOptions


def accelerator(device: str) -> str:
    """Lightning's accelerator name for ``--device`` (``gpu`` for ``cuda*``, which must be visible)."""
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BenchError("--device cuda but no CUDA device is visible", hint="use --device cpu, or check drivers")
        return "gpu"
    return "cpu"


def quiet_lightning() -> None:
    """Keep the console to one line per run: Lightning's banners and tips go to the log level WARNING."""
    import logging
    import warnings

    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*(LeafSpec|does not have many workers|litlogger).*")
    # a resumed run's CSV/TensorBoard logs continue in the same directory on purpose (benchmark.train.loggers)
    warnings.filterwarnings("ignore", message=r".*Experiment logs directory .* exists and is not empty.*")


def strategy(pcfg: Any, device: str = "cpu") -> tuple[Any, list[Any], bool]:
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


def build_trainer(pcfg: Any, *, max_steps: int, steps_per_epoch: int, callbacks: list[Any], loggers: list[Any],
                  run_dir: Path, opts: RunOptions) -> tuple[Any, dict[str, Any]]:
    """The ``pl.Trainer`` of pretraining and its distribution facts (world, strategy, spawned, sync_bn)."""
    import pytorch_lightning as pl

    from benchmark.train.checkpoint import AtomicCheckpointIO

    world = pcfg.devices * pcfg.num_nodes
    strat, plugins, spawned = strategy(pcfg, opts.device)
    accel = accelerator(opts.device)
    sync_bn = pcfg.sync_batchnorm and world > 1 and accel == "gpu"  # torch's SyncBatchNorm is GPU-only
    trainer = pl.Trainer(
        accelerator=accel,
        devices=pcfg.devices,
        num_nodes=pcfg.num_nodes,
        strategy=strat,
        sync_batchnorm=sync_bn,
        precision=pcfg.precision,
        max_epochs=pcfg.epochs,
        max_steps=max_steps,
        deterministic="warn" if pcfg.deterministic else False,
        gradient_clip_val=pcfg.gradient_clip_val,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO(), *plugins],
        logger=loggers or False,
        enable_progress_bar=opts.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=max(1, min(50, steps_per_epoch, max_steps)),  # a short run logs at least once
        default_root_dir=str(run_dir),
        use_distributed_sampler=False,  # the loader's RunBatchSampler shards every global batch itself
    )
    return trainer, {"world": world, "strategy": strat, "spawned": spawned, "sync_bn": sync_bn}


def spawned_failure(exc: BaseException) -> RunFailure | None:
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
