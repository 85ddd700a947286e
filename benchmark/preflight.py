"""Checks ``bench run`` makes before its first run starts, so a missing GPU or dataset fails in seconds, not hours.

- ``--device cuda`` needs a CUDA device visible to torch;
- every dataset the runs to do pretrain or probe on (transfer targets included) must be present under
  ``--data-root`` (the sources' cheap presence check, :func:`benchmark.data.check_dataset`; with ``--download``
  missing torchvision datasets are fetched by the run instead). The error names ``--data-root`` and its value.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError, DataError


def check_device(device: str) -> None:
    """Raises BenchError for ``cuda`` without a visible CUDA device."""
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise BenchError("--device cuda but torch sees no CUDA device", path="command line",
                         hint=f"use --device cpu, or check the GPU driver and CUDA_VISIBLE_DEVICES (torch "
                         f"{torch.__version__} is {built})")


def _datasets(runs: Iterable[Any]) -> dict[str, tuple[str, dict[str, Any], str]]:
    """Distinct (dataset, params, used by) of the runs' pretraining/probe data and transfer targets."""
    out: dict[str, tuple[str, dict[str, Any], str]] = {}
    for run in runs:
        cfg = run.config
        targets = [(cfg.data, run.run_id)] + [(t.data, f"{run.run_id} (transfer '{t.name}')") for t in cfg.eval.transfer]
        for data, user in targets:
            key = data.model_dump_json(include={"dataset", "params"})
            out.setdefault(key, (data.dataset, dict(data.params), user))
    return out


def check_data(runs: Iterable[Any], data_root: Path, *, download: bool = False) -> None:
    """Every dataset of ``runs`` present under ``data_root`` (skipped with ``download``).

    Raises:
        DataError: the first missing dataset, with where it was looked for and a hint naming ``--data-root``.
    """
    if download:
        return
    from benchmark.data import check_dataset

    for name, params, user in _datasets(runs).values():
        try:
            check_dataset(name, params, data_root=data_root)
        except DataError as exc:
            hint = exc.hint or ""
            root_hint = f"datasets are looked for under --data-root (now '{data_root}'): pass --data-root DIR"
            if "--data-root" not in hint:
                hint = f"{hint}; {root_hint}" if hint else root_hint
            raise DataError(f"{exc.message} (needed by {user} and the runs after it)", path=exc.path,
                            line=exc.line, key=exc.key, hint=hint) from None


def check_before_first_run(runs: list[Any], *, device: str, data_root: Path, download: bool = False) -> None:
    """:func:`check_device`, then :func:`check_data` for the runs still to do."""
    check_device(device)
    if runs:
        check_data(runs, data_root, download=download)
