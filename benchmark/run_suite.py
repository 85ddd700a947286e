"""Execute a plan: every run not already finished, under the results-directory lock, with a progress line.

Each run goes through :func:`benchmark.run.execute_run` (pretrain → probe → record); a failing run is recorded and
the suite goes on. Pretraining checkpoints every ``checkpoint_every_n_steps`` and resumes from
``checkpoints/last.ckpt`` when the computation hash matches. This module sits above :mod:`benchmark.run` because it
also runs the pre-flight checks (:mod:`benchmark.preflight`), the progress estimate (:mod:`benchmark.progress`) and
the baselines-file check of the suite, which the run package must not import.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from benchmark.errors import RunInterrupted
from benchmark.results.provenance import process_git_state
from benchmark.results.record import RunRecord
from benchmark.results.store import ResultsStore
from benchmark.results.suite_meta import write_suite_meta
from benchmark.run import RunOptions, execute_run
from benchmark.suite.plan import Plan


def _ckpt_step(path: Path) -> int | None:
    """The optimizer step a checkpoint was written at (None if it cannot be loaded safely)."""
    from benchmark.train.checkpoint import CheckpointRejected, load_checkpoint

    try:
        return int(load_checkpoint(path)["global_step"])
    except CheckpointRejected:
        return None


def _interrupted(plan: Plan, store: ResultsStore, run_id: str, run_path: str, index: int) -> RunInterrupted:
    """What Ctrl-C during run ``index`` reports: where it stopped and how far the suite got."""
    ckpt = store.run_dir(run_path) / "checkpoints" / "last.ckpt"
    finished = sum(1 for r in plan.runs if store.is_done(r.path, r.config_hash, r.computation_hash))
    return RunInterrupted(run_id, index=index, total=len(plan.runs), results_dir=str(store.root),
                          checkpoint_step=_ckpt_step(ckpt) if ckpt.exists() else None, finished=finished)


def run_plan(plan: Plan, opts: RunOptions) -> list[RunRecord]:
    """Execute every run of ``plan`` not already finished, under the results-directory lock."""
    process_git_state()  # fix the recorded code version now, before the first (possibly hours-long) run
    store = ResultsStore(opts.results_dir)
    torch.set_num_threads(max(1, int(os.environ.get("BENCH_THREADS", torch.get_num_threads()))))
    records: list[RunRecord] = []
    with store.lock():
        from benchmark.preflight import check_before_first_run
        from benchmark.progress import SuiteProgress
        from benchmark.validation import check_baselines_file

        write_suite_meta(plan, store, check_baselines_file(plan.suite))
        total = len(plan.runs)
        todo = {r.path for r in plan.runs
                if opts.force or not store.is_done(r.path, r.config_hash, r.computation_hash)}
        check_before_first_run([r for r in plan.runs if r.path in todo], device=opts.device,
                               data_root=opts.data_root, download=opts.download)
        progress = SuiteProgress(opts.device)
        opts.log(progress.line(total - len(todo), total, [r for r in plan.runs if r.path in todo]))
        for i, run in enumerate(plan.runs, 1):
            prefix = f"[{i}/{total}] {run.run_id}"
            if run.path not in todo:
                opts.log(f"{prefix}: done already (config {run.config_hash}), skipped")
                done = store.load(run.path)
                if done is not None:  # is_done read it a moment ago; None only if it was removed since
                    records.append(done)
                continue
            opts.log(f"{prefix}: running")
            try:
                rec = execute_run(run, opts, store)
            except KeyboardInterrupt:
                raise _interrupted(plan, store, run.run_id, run.path, i) from None
            records.append(rec)
            progress.observe(run, rec)
            opts.log(f"{prefix}: {summarize(rec)}")
            opts.log(f"  {progress.line(i, total, [r for r in plan.runs[i:] if r.path in todo])}")
    return records


def summarize(rec: RunRecord) -> str:
    """One line per finished run for the console."""
    if not rec.ok:
        return f"FAILED ({rec.failure_text()})"
    parts = [f"{probe} top1 {m['top1']:.2f}" for probe, m in (rec.metrics or {}).items() if "top1" in m]
    control = rec.controls.random_init if rec.controls is not None else None
    if control is not None:
        parts += [f"random-init {probe} top1 {m['top1']:.2f}" for probe, m in (control.metrics or {}).items()
                  if "top1" in m]
    return f"ok in {rec.total_seconds or 0.0:.1f}s: " + ", ".join(parts)
