"""What can move a number, recorded with every result: git commit, package versions, hardware.

The config and computation hashes of a run are computed from its plan (:mod:`benchmark.suite.hashing`).
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "torch",
    "torchvision",
    "lightly",
    "pytorch-lightning",
    "numpy",
    "scikit-learn",
    "liblinear-official",
    "datasets",
    "pydantic",
    "ssl-repro-bench",
)


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


_PROCESS_GIT: dict[str, Any] | None = None


def process_git_state() -> dict[str, Any]:
    """:func:`git_state` as it was at this process's first call (``bench run`` calls it before its first run).

    Python loads the package's modules when the process starts, so the code a run executes is the checkout as it
    was then, not as it is when the run starts hours later: records carry this state, not a later one.
    """
    global _PROCESS_GIT
    if _PROCESS_GIT is None:
        _PROCESS_GIT = git_state()
    return dict(_PROCESS_GIT)


def git_state(start: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the checkout this package runs from (None outside a git checkout)."""
    root = start or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def hardware(device: str) -> dict[str, Any]:
    """CPU, thread count, and GPU name when running on CUDA."""
    import torch

    from benchmark.measure.machine import cpu_model

    info: dict[str, Any] = {
        "device": device,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_model": cpu_model(),  # /proc/cpuinfo's model name: platform.processor() is empty on most Linux systems
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
        info["cuda"] = torch.version.cuda
    return info
