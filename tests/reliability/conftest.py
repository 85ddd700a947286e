"""Tiny suites and a `bench run` subprocess helper for the reliability tests (digits, tiny backbone, 16 px)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]

# 96 training images / global batch 32 = 3 steps per epoch; max_steps 7 crosses two epoch boundaries, checkpoints
# every 2 steps land mid-epoch. BYOL (momentum encoder: its per-step update must be inside the checkpoint) runs second.
SUITE = textwrap.dedent(
    """\
    suite: rel
    defaults:
      data: {dataset: digits, params: {size: 16}, input_size: 16, normalize: none,
             train_subset: {limit: 96}, test_subset: {limit: 120}}
      backbone: {name: tiny, width: 8}
      augment: {params: {gaussian_blur: 0.0}}
      pretrain:
        epochs: 3
        max_steps: 7
        batch_size_per_device: 32
        optimizer: {name: sgd, lr: 0.05, base_batch_size: 64}
        schedule: {name: cosine}
        checkpoint_every_n_steps: 2
      eval:
        probes:
          - {name: linear, epochs: 6, milestones: [4], lr: 0.5}
          - {name: knn, k: 10}
    experiments:
      - id: simclr
        method: {name: simclr, proj_hidden_dim: 32, proj_output_dim: 16}
      - id: byol
        method: {name: byol, proj_hidden_dim: 32, proj_output_dim: 16, pred_hidden_dim: 32, momentum_start: 0.9}
    """
)


@pytest.fixture
def suite_file(tmp_path: Path):
    def _write(text: str = SUITE, name: str = "s.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write


def bench(*args: str, fault: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m benchmark.cli ARGS`` in a fresh process (one thread, optional BENCH_FAULT)."""
    env = {k: v for k, v in os.environ.items() if k != "BENCH_FAULT"}
    env["BENCH_THREADS"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if fault:
        env["BENCH_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    """In the child before exec: SIGINT at its default, so Python installs its Ctrl-C handler even when the test
    process inherited or was left with SIGINT ignored (background jobs, Lightning's in-process interrupt handling)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_in_process(suite: Path, results: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    """``bench run`` inside the test process, with the same single thread as :func:`bench`."""
    from benchmark.cli import main

    monkeypatch.setenv("BENCH_THREADS", "1")
    monkeypatch.delenv("BENCH_FAULT", raising=False)
    threads = torch.get_num_threads()
    try:
        return main(["run", str(suite), "--results-dir", str(results), "--no-progress", *extra])
    finally:
        torch.set_num_threads(threads)


def record(results: Path, run_path: str) -> dict[str, Any]:
    return json.loads((results / "runs" / run_path / "result.json").read_text())


def comparable(rec: dict[str, Any]) -> dict[str, Any]:
    """Everything that must be bit-identical between two runs of the same config (no timings, no provenance)."""
    pre = rec.get("pretrain") or {}
    return {
        "metrics": rec.get("metrics"),
        "loss_history": pre.get("loss_history"),
        "final_loss": pre.get("final_loss"),
        "embedding_std": pre.get("embedding_std"),
        "steps": pre.get("steps"),
    }


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """(suite file, results dir) of one uninterrupted in-process run of :data:`SUITE`."""
    root = tmp_path_factory.mktemp("reference")
    suite = root / "s.yaml"
    suite.write_text(SUITE)
    with pytest.MonkeyPatch.context() as mp:
        assert run_in_process(suite, root / "results", mp) == 0
    return suite, root / "results"
