"""One run end to end: data → pretrain (or a random-init backbone) → evaluate → record.

A failing run (divergence, collapse, out-of-memory, or an unexpected error) is written as ``status: failed`` with
its reason and step; ``bench report`` shows it. Under DDP launched by SLURM/torchrun every rank calls
:func:`execute_run`; only global rank 0 probes and writes the record. ``BENCH_FAULT`` (test-only,
:mod:`benchmark.train.faults`) can kill the process at fixed points.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from benchmark.atomic import atomic_write_text
from benchmark.errors import BenchError, ResultsError, RunFailure
from benchmark.results.artifacts import write_figures_data
from benchmark.results.provenance import hardware, package_versions, process_git_state
from benchmark.results.record import RunRecord
from benchmark.results.store import ResultsStore, validation_text
from benchmark.run.backbone import build_backbone
from benchmark.run.data import load_splits, subset_indices, validation_split
from benchmark.run.evaluate import diagnostics, figure_data, first_test_images, run_probes, run_transfer
from benchmark.run.options import RunOptions
from benchmark.run.pretrain import pretrain
from benchmark.suite.plan import Run
from benchmark.suite.schema import ExperimentConfig


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _dump_reference(cfg: ExperimentConfig) -> Any:
    ref = cfg.reproduces
    if ref is None:
        return None
    if isinstance(ref, list):
        return [r.model_dump(exclude_none=True) for r in ref]
    return ref.model_dump(exclude_none=True)


def _is_global_zero() -> bool:
    """False on DDP ranks other than 0 (a process group is left initialised by Lightning's DDP)."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def record_header(run: Run) -> dict[str, Any]:
    """What identifies a run in its record, written before anything is computed (``status: running``)."""
    record: dict[str, Any] = {
        "run_id": run.run_id,
        "path": run.path,
        "suite": run.suite,
        "suite_version": run.suite_version,
        "profile": run.profile,
        "experiment": run.experiment_id,
        "variant": run.variant,
        "variant_assignments": run.resolved.variant.assignments,
        "seed": run.seed,
        "config_hash": run.config_hash,
        "config": run.hashed_config(),
        "reproduces": _dump_reference(run.config),
        "status": "running",
    }
    if run.overrides:  # their values are in "config" (and so in the hash); this says where they came from
        record["overrides"] = list(run.overrides)
    return record


def run_data(cfg: ExperimentConfig, opts: RunOptions) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """(splits, train indices, test indices, the record's ``data`` section) of an experiment."""
    splits = load_splits(cfg, opts)
    train_idx = subset_indices(np.asarray(splits.train_labels), cfg.data.train_subset)
    test_idx = subset_indices(np.asarray(splits.test_labels), cfg.data.test_subset)
    info = {"dataset": cfg.data.dataset, "source": splits.source, "n_train": int(len(train_idx)),
            "n_test": int(len(test_idx)), "num_classes": int(splits.num_classes)}
    return splits, train_idx, test_idx, info


def trained_encoder(run: Run, splits: Any, train_idx: np.ndarray, run_dir: Path, opts: RunOptions,
                    record: dict[str, Any], timings: dict[str, Any]) -> torch.nn.Module | None:
    """The pretrained encoder (``epochs: 0``: the random-init backbone), its summary put into ``record``;
    None on a DDP rank other than 0."""
    cfg = run.config
    if cfg.pretrain.epochs == 0:
        encoder, _ = build_backbone(cfg, run.seed)
        record["pretrain"] = {"steps": 0, "epochs": 0, "note": "epochs = 0: randomly initialised backbone"}
        return encoder
    method, summary = pretrain(run, splits, train_idx, run_dir, opts)
    if not _is_global_zero():
        return None  # rank 0 of this DDP job probes and records
    timings["pretrain"] = summary["seconds"]
    record["pretrain"] = summary
    return method.encoder


def _probe_side(run: Run, splits: Any, train_idx: np.ndarray, test_idx: np.ndarray,
                record: dict[str, Any]) -> tuple[Any, np.ndarray, np.ndarray]:
    """The splits and indices the probes use: the test split, or (``eval.validation``) a held-out train share."""
    val = run.config.eval.validation
    if val is None:
        return splits, train_idx, test_idx
    probe_splits, probe_train, probe_test = validation_split(splits, train_idx, val)
    record["data"]["evaluated_on"] = (f"validation: {len(probe_test)} train images held out "
                                      f"(fraction {val.fraction}, seed {val.seed}); "
                                      f"probes trained on {len(probe_train)}")
    return probe_splits, probe_train, probe_test


def evaluate_encoder(run: Run, encoder: torch.nn.Module, data: tuple[Any, np.ndarray, np.ndarray], run_dir: Path,
                     opts: RunOptions, record: dict[str, Any], timings: dict[str, Any]) -> torch.Tensor | None:
    """Probes, spectra, figure data and transfer into ``record``; returns the spectra's first test images."""
    cfg = run.config
    probe_splits, probe_train, probe_test = _probe_side(run, *data, record)
    metrics, probe_t, feats, protocol = run_probes(run, encoder, probe_splits, probe_train, probe_test, opts)
    timings.update(probe_t)
    record["metrics"] = metrics
    record["probe_protocol"] = protocol
    first_images = None
    if cfg.eval.spectra:
        t1 = time.perf_counter()
        first_images = first_test_images(cfg, probe_splits.test, probe_test, cfg.eval.spectra_batch)
        record["diagnostics"] = diagnostics(encoder, feats, cfg, first_images)
        timings["spectra"] = time.perf_counter() - t1
    if cfg.eval.weight_correlation is not None or cfg.eval.umap is not None:
        t1 = time.perf_counter()
        fig_summary, fig_arrays = figure_data(run, encoder, feats, probe_splits.test, probe_test, opts)
        record.setdefault("diagnostics", {}).update(fig_summary)
        record["figures_data"] = write_figures_data(run_dir, fig_arrays)
        timings["figure_data"] = time.perf_counter() - t1
    if cfg.eval.transfer:
        t_metrics, t_timings, record["transfer"] = run_transfer(run, encoder, opts)
        metrics.update(t_metrics)
        timings.update(t_timings)
    return first_images


def random_init_control(run: Run, data: tuple[Any, np.ndarray, np.ndarray], first_images: torch.Tensor | None,
                        opts: RunOptions) -> dict[str, Any]:
    """The record's ``controls``: the same probes (and spectra) on the randomly initialised backbone."""
    cfg = run.config
    control, _ = build_backbone(cfg, run.seed)
    c_metrics, c_t, c_feats, c_protocol = run_probes(run, control, *data, opts)
    controls: dict[str, Any] = {"random_init": {"metrics": c_metrics, "timings": c_t, "probe_protocol": c_protocol}}
    if cfg.eval.spectra:
        controls["random_init"]["diagnostics"] = diagnostics(control, c_feats, cfg, first_images)
    return controls


def failure_of(exc: BaseException) -> dict[str, Any]:
    """The record's ``failure`` section for an exception that fails a run (the suite goes on)."""
    if isinstance(exc, RunFailure):
        return {"kind": exc.kind, "reason": exc.reason, "step": exc.step}
    if isinstance(exc, torch.cuda.OutOfMemoryError):  # outside pretraining (feature extraction, probes)
        return {"kind": "out_of_memory", "reason": str(exc).splitlines()[0], "step": None}
    return {"kind": "error", "reason": f"{type(exc).__name__}: {exc}", "step": None,
            "traceback": traceback.format_exc(limit=8)}


def provenance(started: str, git_at_start: Any, opts: RunOptions) -> dict[str, Any]:
    """The record's ``provenance``: when, which code, packages, hardware, command and data root."""
    return {
        "started": started,
        "finished": _now(),
        "git": git_at_start,
        "packages": package_versions(),
        "hardware": hardware(opts.device),
        "command": " ".join(sys.argv),
        "data_root": str(opts.data_root),
    }


#: Where a record that does not validate is kept (in the run directory), so nothing computed is lost.
INVALID_RECORD = "result.invalid.json"


def validated_record(record: dict[str, Any], run_dir: Path, run_id: str) -> RunRecord:
    """``record`` as a :class:`RunRecord`. One that does not validate (a section or field the record type does not
    declare: a bug of the code that made it) is kept as ``result.invalid.json`` and raises ResultsError naming the
    field, which stops the suite before more runs are computed for nothing."""
    try:
        return RunRecord.model_validate(record)
    except ValidationError as exc:
        kept = run_dir / INVALID_RECORD
        atomic_write_text(kept, json.dumps(record, indent=2, default=str) + "\n")
        raise ResultsError(f"the record of run {run_id} does not match RunRecord: {validation_text(exc)}",
                           path=str(kept), hint="declare the field in benchmark/results/record.py (README, "
                           "Extending); the computed record is kept in this file") from exc


def _write_record(run: Run, record: RunRecord, store: ResultsStore) -> None:
    from benchmark.train import faults

    if record.status == "failed" and torch.cuda.is_available():
        torch.cuda.empty_cache()  # let the next run start from a clean allocator after an OOM
    faults.maybe_kill("before_record")
    with faults.kill_before_replace("mid_record", store.record_path(run.path)):
        store.write(run.path, record)


def execute_run(run: Run, opts: RunOptions, store: ResultsStore) -> RunRecord:
    """Pretrain, probe and record one run. RunFailure and OOM become a failed record; BenchError propagates.

    The sections are assembled as they are computed and validated into a :class:`RunRecord` before writing (a
    section the record type does not know is a bug, reported before the file is touched)."""
    from benchmark.train import faults
    from benchmark.train.checkpoint import atomic_torch_save

    faults.set_run(run.path)
    cfg = run.config
    run_dir = store.run_dir(run.path)
    run_dir.mkdir(parents=True, exist_ok=True)
    started = _now()
    git_at_start = process_git_state()  # the checkout when this process loaded its code, not the tree of now
    t_start = time.perf_counter()
    record = record_header(run)
    splits, train_idx, test_idx, record["data"] = run_data(cfg, opts)
    timings: dict[str, Any] = {}
    if cfg.eval.umap is not None:  # fail before hours of pretraining, not after
        from benchmark.diagnostics.embedding import require_umap

        require_umap()
    try:
        encoder = trained_encoder(run, splits, train_idx, run_dir, opts, record, timings)
        if encoder is None:
            return validated_record({**record, "status": "worker"}, run_dir, run.run_id)
        faults.maybe_kill("after_pretrain")
        atomic_torch_save(encoder.state_dict(), run_dir / "encoder.pt")
        data = (splits, train_idx, test_idx)
        first_images = evaluate_encoder(run, encoder, data, run_dir, opts, record, timings)
        if cfg.eval.random_init_control:
            record["controls"] = random_init_control(run, data, first_images, opts)
        record["status"] = "ok"
    except (BenchError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one broken run must not stop the suite
        if opts.debug and not isinstance(exc, (RunFailure, torch.cuda.OutOfMemoryError)):
            raise
        record["status"] = "failed"
        record["failure"] = failure_of(exc)
    timings["total"] = time.perf_counter() - t_start
    record["timings"] = timings
    record["provenance"] = provenance(started, git_at_start, opts)
    typed = validated_record(record, run_dir, run.run_id)
    _write_record(run, typed, store)
    return typed

