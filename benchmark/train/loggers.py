"""Lightning loggers of a pretraining run (``bench run --logger``): CSV by default, TensorBoard and W&B optional.

Each logger writes under the run directory, ``<run>/logs/<kind>/`` (``logs/csv/metrics.csv``: ``train/loss``, the
OR penalty and the method's own logged values, every ``log_every_n_steps`` steps). A resumed run appends to the
same files, so steps between its last checkpoint and the interruption can appear twice. Loggers only observe:
they are not part of the config hash, and a run logs the same numbers with or without them.

TensorBoard needs the ``tensorboard`` (or ``tensorboardX``) package and W&B the ``wandb`` package (``pip install
'ssl-repro-bench[loggers]'``); a missing one is reported before the first run starts. W&B reads its project and
mode from its own environment variables (``WANDB_PROJECT``, default ``ssl-repro-bench``; ``WANDB_MODE=offline``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError

#: Logger names accepted by ``--logger`` ("none" disables logging), with the packages each needs (any one of them).
LOGGER_PACKAGES: dict[str, tuple[str, ...]] = {"csv": (), "tensorboard": ("tensorboard", "tensorboardX"),
                                               "wandb": ("wandb",)}
LOGGER_CHOICES = (*LOGGER_PACKAGES, "none")
DEFAULT_LOGGERS = ("csv",)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_loggers(names: Sequence[str]) -> list[str]:
    """The loggers to use (``none`` drops all), each checked to be importable.

    Raises:
        BenchError: an unknown name, or the package a logger needs is not installed.
    """
    unknown = [n for n in names if n not in LOGGER_CHOICES]
    if unknown:
        raise BenchError(f"unknown logger {unknown[0]!r}", hint=f"--logger takes {', '.join(LOGGER_CHOICES)}")
    if "none" in names:
        return []
    out: list[str] = []
    for name in dict.fromkeys(names):
        packages = LOGGER_PACKAGES[name]
        if packages and not any(_installed(p) for p in packages):
            raise BenchError(
                f"--logger {name} needs the '{packages[0]}' package, which is not installed",
                hint=f"pip install {packages[0]}  (or pip install 'ssl-repro-bench[loggers]'), or drop --logger {name}",
            )
        out.append(name)
    return out


def build_loggers(names: Sequence[str], run_dir: Path, run_id: str, config: dict[str, Any] | None = None
                  ) -> tuple[list[Any], dict[str, str]]:
    """(Lightning loggers, {name: directory relative to ``run_dir``}) for the checked ``names``."""
    from pytorch_lightning import loggers as pl_loggers

    loggers: list[Any] = []
    dirs: dict[str, str] = {}
    for name in names:
        if name == "csv":
            loggers.append(pl_loggers.CSVLogger(save_dir=str(run_dir), name="logs", version="csv"))
        elif name == "tensorboard":
            loggers.append(pl_loggers.TensorBoardLogger(save_dir=str(run_dir), name="logs", version="tensorboard",
                                                        default_hp_metric=False))
        elif name == "wandb":
            (run_dir / "logs").mkdir(parents=True, exist_ok=True)
            logger = pl_loggers.WandbLogger(project=os.environ.get("WANDB_PROJECT", "ssl-repro-bench"), name=run_id,
                                            save_dir=str(run_dir / "logs"), config=config)
            loggers.append(logger)
        dirs[name] = f"logs/{name}" if name != "wandb" else "logs/wandb"
    return loggers, dirs
