"""How a run executes: where data and results live, the device, and the CLI switches (``bench run`` flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
