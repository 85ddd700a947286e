"""Deterministic fault injection for the reliability tests (test-only; inert unless ``BENCH_FAULT`` is set).

``BENCH_FAULT`` is a comma-separated list of ``point[:N][@RUN_GLOB]``; ``RUN_GLOB`` (fnmatch) restricts a fault to
runs whose results path (``experiment/variant/seed<k>``) matches. Points:

=====================  ===================================================================================
``after_step:N``       SIGKILL right after optimizer step N completed (after that step's checkpoint, if any)
``mid_checkpoint:N``   SIGKILL while the checkpoint of step N is written (temp file complete, not yet renamed)
``after_pretrain``     SIGKILL after pretraining, before the probes
``before_record``      SIGKILL after the probes, before the run's ``result.json`` is written
``mid_record``         SIGKILL while ``result.json`` is written (temp file complete, not yet renamed)
``nan_at_step:N``      the training loss of step N becomes NaN (divergence without a huge learning rate)
``oom_at_step:N``      step N raises ``torch.cuda.OutOfMemoryError`` (out of memory without a GPU)
``sigint_after_step:N`` SIGINT (a Ctrl-C) right after optimizer step N completed
=====================  ===================================================================================

SIGKILL (not an exception) is used so that no ``finally`` block, atexit handler or Lightning teardown runs: the
process dies exactly as under the OOM killer or a pre-empted node. Example::

    BENCH_FAULT="after_step:5@simclr/none/seed0" bench run suite.yaml    # dies in seed0's 6th step
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import signal
from collections.abc import Iterator
from pathlib import Path

ENV = "BENCH_FAULT"
POINTS = ("after_step", "mid_checkpoint", "after_pretrain", "before_record", "mid_record", "nan_at_step", "oom_at_step",
          "sigint_after_step")

_current_run: str | None = None


def set_run(run_path: str | None) -> None:
    """Name the run being executed (its results path), for ``@RUN_GLOB`` filters."""
    global _current_run
    _current_run = run_path


def _specs() -> list[tuple[str, int | None, str | None]]:
    raw = os.environ.get(ENV, "").strip()
    out: list[tuple[str, int | None, str | None]] = []
    for item in filter(None, (x.strip() for x in raw.split(","))):
        item, _, glob = item.partition("@")
        name, _, arg = item.partition(":")
        if name not in POINTS:
            raise ValueError(f"{ENV}: unknown fault point {name!r}; expected one of {', '.join(POINTS)}")
        out.append((name, int(arg) if arg else None, glob or None))
    return out


def active(point: str, step: int | None = None) -> bool:
    """True when ``point`` (at ``step``, for step faults) is requested for the current run."""
    for name, arg, glob in _specs():
        if name != point or (arg is not None and arg != step):
            continue
        if glob is None or (_current_run is not None and fnmatch.fnmatch(_current_run, glob)):
            return True
    return False


def kill(point: str) -> None:
    """Die now, without cleanup (``SIGKILL`` to this process)."""
    print(f"[{ENV}] {point}: SIGKILL", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def maybe_kill(point: str, step: int | None = None) -> None:
    """SIGKILL this process if ``point`` is requested (no-op otherwise)."""
    if active(point, step):
        kill(f"{point}" + (f":{step}" if step is not None else ""))


def maybe_interrupt(point: str, step: int | None = None) -> None:
    """Send this process a SIGINT (what Ctrl-C sends) if ``point`` is requested (no-op otherwise)."""
    if active(point, step):
        print(f"[{ENV}] {point}:{step}: SIGINT", flush=True)
        os.kill(os.getpid(), signal.SIGINT)


@contextlib.contextmanager
def kill_before_replace(point: str, target: Path) -> Iterator[None]:
    """While active: SIGKILL when ``os.replace`` is about to move a finished temp file onto ``target``.

    Used around ``ResultsStore.write`` so the kill lands inside the real atomic-write code path.
    """
    if not active(point):
        yield
        return
    real = os.replace
    target = Path(target).resolve()

    def replace(src: str | os.PathLike, dst: str | os.PathLike, *args: object, **kwargs: object) -> None:
        if Path(dst).resolve() == target:
            kill(point)
        real(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    os.replace = replace  # type: ignore[assignment]
    try:
        yield
    finally:
        os.replace = real  # type: ignore[assignment]
