"""Shared fixtures of the performance benchmarks (``-m benchmark``; deselected by the default ``addopts``).

Run all of them (about 30 minutes at low load on the 2-core development machine)::

    python -m pytest tests/benchmarks -m benchmark --benchmark-enable

Every benchmark measures its comparison **interleaved within one process** (ratios are robust to the load of a
shared machine; absolute times are not) and writes ``results/performance/<name>_<device>.json`` with the machine
(CPU model, cores, torch version, load average at start and end), the exact command, the raw measurements and each
target with ``met: true/false``. pytest-benchmark times the whole comparison once (``rounds=1``) and carries the
summary in ``extra_info``; the per-arm statistics are in the JSON. Environment:

* ``BENCH_DEVICE``: ``cpu`` or ``cuda`` (default: ``cuda`` when available);
* ``BENCH_PERF_DIR``: output folder (default ``<repo>/results/performance``);
* ``BENCH_THREADS``: ``torch.set_num_threads`` for the session (default on CPU: 1, see ``_bench_threads``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from benchmark.measure.machine import load_average, machine_info
from benchmark.results.provenance import git_state

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO / ".." / "shared").resolve()


def _command() -> str:
    argv = list(sys.argv)
    if argv and (argv[0].endswith("pytest") or argv[0].endswith("__main__.py") or argv[0].endswith("py.test")):
        argv = ["python", "-m", "pytest", *argv[1:]]
    env = [f"{k}={os.environ[k]}" for k in ("BENCH_DEVICE", "BENCH_THREADS", "BENCH_PERF_DIR") if k in os.environ]
    return " ".join(env + [shlex.quote(a) for a in argv])


class PerfRecorder:
    """Writes one JSON per benchmark: machine, command, load average, results, targets."""

    def __init__(self, out_dir: Path, device: str) -> None:
        self.out_dir = out_dir
        self.device = device

    def start(self) -> dict[str, Any]:
        return {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "machine": machine_info(self.device)}

    def write(self, name: str, header: dict[str, Any], results: dict[str, Any],
              targets: list[dict[str, Any]] | None = None, notes: list[str] | None = None) -> Path:
        payload = {
            "benchmark": name,
            **header,
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "load_average_end": load_average(),
            "command": _command(),
            "git": git_state(REPO),
            "targets": targets or [],
            "notes": notes or [],
            "results": results,
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{name}_{self.device.split(':')[0]}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=1, default=str) + "\n")
        tmp.replace(path)
        return path


@pytest.fixture(scope="session")
def bench_device() -> str:
    dev = os.environ.get("BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("BENCH_DEVICE=cuda but no CUDA device is visible")
    return dev


@pytest.fixture(scope="session", autouse=True)
def _bench_threads(bench_device: str) -> None:
    """``BENCH_THREADS``, else 1 intra-op thread on CPU: on the shared, oversubscribed 2-core machine OpenMP
    spin-waits made 2 threads erratic (SFRIK loss at q = 512: p90 = 6× the median with 2 threads, 1.15× with 1)."""
    if os.environ.get("BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
    elif not bench_device.startswith("cuda"):
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def perf(bench_device: str) -> PerfRecorder:
    out = Path(os.environ.get("BENCH_PERF_DIR") or REPO / "results" / "performance")
    return PerfRecorder(out, bench_device)


@pytest.fixture(scope="session")
def cifar_images() -> Any:
    """The real CIFAR-10 subset as (uint8 HWC array, labels), or a skip naming where it was looked for."""
    import numpy as np

    path = SHARED / "datasets" / "cifar10_subset.npz"
    if not path.exists():
        pytest.skip(f"real CIFAR-10 subset not found at {path} (optional; shipped beside the checkout in ../shared)")
    with np.load(path) as z:
        return z["x_train"], z["y_train"]


def target(name: str, goal: str, measured: Any, met: bool | None, note: str = "") -> dict[str, Any]:
    """One target line of a performance JSON (``met`` None = not measurable here)."""
    return {"target": name, "goal": goal, "measured": measured, "met": met, "note": note}
