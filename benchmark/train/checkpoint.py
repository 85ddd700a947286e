"""Crash-safe, resumable and safely loadable pretraining checkpoints.

* **Atomic writes.** :class:`AtomicCheckpointIO` writes ``last.ckpt`` to a temp file in the same directory, fsyncs
  it and ``os.replace``-s it over the old one (then fsyncs the directory), so a kill at any instant leaves either
  the previous complete checkpoint or the new complete one. (Lightning's own ``_atomic_save`` stages the file in
  the system temp directory and ``shutil.move``-s it: a copy, not a rename, when ``/tmp`` is another filesystem,
  and nothing is fsynced.)
* **What is resumed.** :class:`LastCheckpoint` saves every ``every_n_train_steps`` optimizer steps and once more
  when training ends, so a process killed during the probes does not retrain. Besides Lightning's state (weights,
  optimizer, LR schedule, loop counters) the module stores under :data:`BENCH_KEY` the loss history, the torch /
  CUDA / numpy / ``random`` RNG states, the data position (epoch, batches consumed in it) and the run's config hash
  (see :meth:`benchmark.train.module.PretrainModule.on_save_checkpoint`).
* **Safe loading.** Everything stored is a tensor, number, string, list or dict, so checkpoints load with
  ``torch.load(weights_only=True)`` (and ``trainer.fit(..., weights_only=True)``): a file containing any other
  pickled object is refused instead of executed. :func:`find_resume` inspects ``last.ckpt`` before Lightning sees
  it; a checkpoint that is truncated, unreadable, unsafe, from another config hash or missing the bench state is
  moved aside to ``last.ckpt.rejected`` and the run restarts from scratch.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from benchmark.atomic import atomic_write, atomic_write_text
from benchmark.train import faults

__all__ = [
    "BENCH_KEY",
    "AtomicCheckpointIO",
    "CheckpointRejected",
    "LastCheckpoint",
    "Resume",
    "atomic_torch_save",
    "find_resume",
    "get_rng_state",
    "load_checkpoint",
    "set_rng_state",
]

BENCH_KEY = "bench"
LAST = "last.ckpt"
STAMP = "config_hash"


class CheckpointRejected(Exception):
    """A checkpoint that must not be resumed from (corrupt, unsafe, foreign config, or incomplete)."""


# ------------------------------------------------------------------------------------------------- writing
def atomic_torch_save(obj: Any, path: Path, *, step: int | None = None) -> None:
    """``torch.save`` to ``path`` atomically: same-directory temp file, fsync, ``os.replace``, fsync the directory.

    ``step`` only serves the test-only ``mid_checkpoint:N`` fault (:mod:`benchmark.train.faults`).
    """
    atomic_write(Path(path), lambda fh: torch.save(obj, fh),
                 before_replace=lambda: faults.maybe_kill("mid_checkpoint", step), sync_dir=True)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O plugin writing local checkpoints with :func:`atomic_torch_save`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options (got {storage_options!r})")
        atomic_torch_save(checkpoint, Path(path), step=checkpoint.get("global_step"))


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every ``every_n_train_steps`` optimizer steps and at the end of training (no top-k files)."""

    def __init__(self, dirpath: Path, *, every_n_train_steps: int) -> None:
        super().__init__(dirpath=dirpath, every_n_train_steps=every_n_train_steps, save_last=True, save_top_k=0,
                         enable_version_counter=False)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._last_global_step_saved = trainer.global_step  # a resumed run's checkpoint is already on disk

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The final state, so that a kill between pretraining and the record does not redo any step.
        if trainer.global_step > 0 and self._last_global_step_saved != trainer.global_step:
            trainer.save_checkpoint(Path(self.dirpath) / LAST)
            self._last_global_step_saved = trainer.global_step


# ------------------------------------------------------------------------------------------------- RNG
def get_rng_state() -> dict[str, Any]:
    """torch (CPU and initialised CUDA devices), numpy and ``random`` states as tensors / lists (weights_only-safe)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_version), "internal": list(py_internal), "gauss_next": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`get_rng_state` (CUDA states only when the device count matches)."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)


# ------------------------------------------------------------------------------------------------- reading
def load_checkpoint(path: Path, *, config_hash: str | None = None) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check it is a complete bench checkpoint.

    Raises:
        CheckpointRejected: unreadable or truncated file, a pickled object other than tensors and plain containers,
            no Lightning/bench state, or a config hash other than ``config_hash``.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to load means "do not resume from this file"
        text = str(exc).strip()
        if isinstance(exc, pickle.UnpicklingError) and "weights only load failed" in text.lower():
            unsafe = next((ln.strip() for ln in text.splitlines() if "GLOBAL" in ln or "Unsupported" in ln), "")
            raise CheckpointRejected(
                f"refused by weights_only loading: it pickles objects other than tensors and plain containers ({unsafe})"
            ) from None
        first = text.splitlines()[0][:160] if text else ""
        raise CheckpointRejected(f"unreadable or truncated ({type(exc).__name__}: {first})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointRejected(f"not a Lightning checkpoint (top level is {type(ckpt).__name__})")
    missing = [k for k in ("global_step", "state_dict", "loops", BENCH_KEY) if k not in ckpt]
    if missing:
        raise CheckpointRejected(f"incomplete checkpoint (no {', '.join(missing)})")
    bench = ckpt[BENCH_KEY]
    if config_hash is not None and bench.get("config_hash") != config_hash:
        raise CheckpointRejected(f"written for config {bench.get('config_hash')}, this run is {config_hash}")
    return ckpt


@dataclass
class Resume:
    """The outcome of looking for a checkpoint: resume from ``path`` (at ``step``), or start fresh."""

    path: Path | None = None
    step: int | None = None
    epoch: int | None = None
    batches_done: int | None = None
    rejected: str | None = None  # why an existing last.ckpt was not used


def find_resume(ckpt_dir: Path, config_hash: str, *, discard: bool = False) -> Resume:
    """Decide whether the run in ``ckpt_dir`` resumes, then stamp the directory with ``config_hash``.

    A usable ``last.ckpt`` (same config hash, loadable with ``weights_only=True``, bench state present) gives a
    :class:`Resume` with its step and data position. Anything else is moved aside to ``last.ckpt.rejected`` (its
    reason in :attr:`Resume.rejected`) so that a stale file can never be picked up later; ``discard=True``
    (``--force``) starts fresh without inspecting it.
    """
    ckpt_dir = Path(ckpt_dir)
    last = ckpt_dir / LAST
    for stale in ckpt_dir.glob(f".{LAST}.*.tmp"):  # left by a process killed mid-write (never a complete file)
        with contextlib.suppress(OSError):
            stale.unlink()
    out = Resume()
    if last.exists():
        try:
            if discard:
                raise CheckpointRejected("--force: starting from scratch")
            ckpt = load_checkpoint(last, config_hash=config_hash)
            pos = ckpt[BENCH_KEY].get("data_position") or {}
            out = Resume(path=last, step=int(ckpt["global_step"]), epoch=pos.get("epoch"),
                         batches_done=pos.get("batches_done"))
        except CheckpointRejected as exc:
            with contextlib.suppress(FileNotFoundError):  # another DDP rank may have moved it already
                os.replace(last, ckpt_dir / f"{LAST}.rejected")
            out = Resume(rejected=str(exc))
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(ckpt_dir / STAMP, config_hash)
    return out
