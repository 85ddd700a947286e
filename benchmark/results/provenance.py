"""What can move a number, recorded with every result: config hash, git commit, package versions, hardware."""

from __future__ import annotations

import hashlib
import json
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


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any) -> str:
    """First 16 hex digits of the SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


#: Experiment fields that describe a run but do not change what it computes (titles, paper references, notes, the
#: verdict tolerance, the list of seeds — the run's own seed is hashed separately). Editing them leaves the
#: computation hash unchanged, so finished runs are still recognised as done.
DESCRIPTIVE_FIELDS: tuple[str, ...] = ("title", "reproduces", "assumptions", "tags", "tolerance", "seeds")


#: Probe parameters hashed by their EFFECTIVE value: probe name -> {key: (the probe's default now, its default
#: before it was hashed)}. ``Run.hashed_config`` fills the current default into every probe config that omits the
#: key, so changing a probe's default changes the hash of every run relying on it and its old records are not
#: reused. A stored config that lacks the key was written before, under the old default: :func:`computation_hash`
#: fills that one in, so a run that now states the old value explicitly still matches its records.
#: ``tests/probes/test_random_init_fairness.py`` checks the current defaults against the probes' ``Params``.
PROBE_PARAMS_HASHED_EFFECTIVE: dict[str, dict[str, tuple[Any, Any]]] = {
    "linear": {"normalize": ("standardize", "none")},  # 'none' until issue 13 (random-init fairness)
}


def fill_probe_params(experiment: dict[str, Any], *, legacy: bool) -> None:
    """Fill :data:`PROBE_PARAMS_HASHED_EFFECTIVE` into the probe configs of a dumped experiment, in place: the
    current default, or with ``legacy`` the default of records written before the key was hashed."""
    eval_cfg = experiment.get("eval")
    if not isinstance(eval_cfg, dict):
        return
    lists = [eval_cfg.get("probes")] + [t.get("probes") for t in eval_cfg.get("transfer") or [] if isinstance(t, dict)]
    for probes in lists:
        for probe in probes or []:
            for key, (default, old) in PROBE_PARAMS_HASHED_EFFECTIVE.get(str(probe.get("name")), {}).items():
                probe.setdefault(key, old if legacy else default)


def computation_hash(hashed: dict[str, Any]) -> str:
    """Hash of a run's hashed config (``Run.hashed_config()``, also stored as a record's ``config``) without the
    descriptive fields: two runs with the same computation hash train and probe identically. Probe parameters a
    stored config lacks get the value they had when it was written (:data:`PROBE_PARAMS_HASHED_EFFECTIVE`)."""
    experiment = {k: v for k, v in (hashed.get("experiment") or {}).items() if k not in DESCRIPTIVE_FIELDS}
    experiment = json.loads(json.dumps(experiment, default=str))  # a copy: the caller's config is left as it is
    fill_probe_params(experiment, legacy=True)
    return config_hash({**hashed, "experiment": experiment})


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
