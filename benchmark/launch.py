"""``bench run SUITE --launcher slurm``: one SLURM job per run through submitit, into one shared results directory.

* Runs already finished (same config hash) are skipped before anything is submitted; the others are submitted as
  job arrays (one array per resource shape), each job executing :func:`benchmark.run.execute_run` for its run.
* A job needs ``pretrain.devices`` tasks per node (one DDP rank per task, Lightning's SLURM environment) on
  ``pretrain.num_nodes`` nodes, ``--slurm-cpus`` CPUs per task and, with ``--device cuda``,
  ``max(pretrain.devices, --slurm-gpus)`` GPUs per node. Rank 0 of the job probes and writes the record.
* A job is a :class:`submitit.helpers.Checkpointable`: when SLURM pre-empts it or its time limit is near, submitit
  requeues it and the run resumes from ``checkpoints/last.ckpt`` (same mechanism as a rerun after a kill).
* ``bench run`` waits for the jobs (holding the results-directory lock, so no local ``bench run`` writes there
  meanwhile), logs each as it finishes, then writes the report. Interrupting the wait leaves the jobs running;
  rerun the same command later (finished runs are skipped) or ``bench report RESULTS_DIR``. With
  ``--slurm-no-wait`` (``args.no_wait``) it returns right after submitting and prints the job ids.
* The job re-reads the suite file and checks that the run's config hash is the one submitted, so editing the suite
  while jobs are queued cannot silently change what a job computes.

``--slurm-local`` uses submitit's local executor (processes on this machine): for tests and dry runs.
Job logs: ``<results>/slurm/<job id>_<task>_log.{out,err}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import BenchError, SuiteError
from benchmark.results.store import ResultsStore
from benchmark.suite.plan import Plan, Run

try:  # submitit is only needed for --launcher slurm
    from submitit.helpers import Checkpointable, DelayedSubmission
except ImportError:  # pragma: no cover - checked in submit_plan
    Checkpointable = object  # type: ignore[assignment,misc]
    DelayedSubmission = None  # type: ignore[assignment]

__all__ = ["RunJob", "submit_plan"]


@dataclass
class RunJob(Checkpointable):  # type: ignore[misc]
    """What one SLURM job executes: one run of a suite, identified by suite file, profile, run path and hash."""

    suite_path: str
    profile: str
    run_path: str
    config_hash: str
    options: dict[str, Any]
    overrides: tuple[Any, ...] = ()  # benchmark.suite.overrides.Override of the command line, applied again here

    def __call__(self) -> dict[str, Any]:
        import torch

        from benchmark.run import RunOptions, execute_run
        from benchmark.suite.loader import load_suite
        from benchmark.suite.plan import make_plan

        # as run_plan: BENCH_THREADS (else torch's default: the CPUs SLURM gives the task); results are bit-identical
        # only between processes with the same thread count
        torch.set_num_threads(max(1, int(os.environ.get("BENCH_THREADS", torch.get_num_threads()))))
        opts = RunOptions(**{k: Path(v) if k in ("data_root", "results_dir") else v for k, v in self.options.items()})
        plan = make_plan(load_suite(self.suite_path), self.profile, overrides=self.overrides)
        run = next((r for r in plan.runs if r.path == self.run_path), None)
        if run is None or run.config_hash != self.config_hash:
            raise SuiteError(
                f"run {self.run_path} of {self.suite_path} is no longer the submitted one "
                f"(config {self.config_hash} -> {run.config_hash if run else 'removed'})",
                path=self.suite_path,
                hint="the suite changed while the job was queued; rerun `bench run ... --launcher slurm`",
            )
        rec = execute_run(run, opts, ResultsStore(opts.results_dir))
        return {"run": run.run_id, "status": rec.status, "failure": None if rec.ok else rec.failure_text()}

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Called by submitit on pre-emption / timeout: requeue; the run resumes from its last checkpoint."""
        return DelayedSubmission(self)


def _resources(run: Run, args: argparse.Namespace, device: str) -> tuple[int, int, int]:
    """(nodes, tasks per node, GPUs per node) of a run's job."""
    p = run.config.pretrain
    gpus = max(p.devices, int(args.slurm_gpus or 0)) if device.startswith("cuda") else 0
    return p.num_nodes, p.devices, gpus


def _executor(args: argparse.Namespace, folder: Path) -> Any:
    import submitit

    if args.slurm_local:
        return submitit.AutoExecutor(folder=folder, cluster="local")
    executor = submitit.AutoExecutor(folder=folder)
    if executor.cluster != "slurm":
        raise BenchError("--launcher slurm: no SLURM cluster found (sbatch is not on PATH)",
                         hint="run on a SLURM login node, or add --slurm-local to run the jobs on this machine")
    return executor


def _write_suite_meta(plan: Plan, store: ResultsStore) -> None:
    """suite.json, as ``run_plan`` writes it (``bench report`` reads the baselines file from it)."""
    from benchmark.results.suite_meta import write_suite_meta
    from benchmark.validation import check_baselines_file

    write_suite_meta(plan, store, check_baselines_file(plan.suite))


def submit_plan(plan: Plan, opts: Any, args: argparse.Namespace) -> int:
    """Submit every unfinished run of ``plan`` as a SLURM job, wait, write the report. Returns the exit code."""
    try:
        import submitit
    except ImportError:
        raise BenchError("--launcher slurm needs the 'submitit' package", hint="pip install submitit") from None
    from benchmark.report import make_report

    store = ResultsStore(opts.results_dir)
    log = opts.log
    no_wait = bool(getattr(args, "no_wait", False))
    options = {f.name: getattr(opts, f.name) for f in dataclasses.fields(opts) if f.name != "log"}
    options.update(data_root=str(Path(opts.data_root).resolve()), results_dir=str(Path(opts.results_dir).resolve()),
                   progress=False)
    with store.lock():
        _write_suite_meta(plan, store)
        pending: dict[tuple[int, int, int], list[Run]] = defaultdict(list)
        for run in plan.runs:
            if not opts.force and store.is_done(run.path, run.config_hash, run.computation_hash):
                log(f"{run.run_id}: done already (config {run.config_hash}), skipped")
            else:
                pending[_resources(run, args, opts.device)].append(run)
        folder = store.root / "slurm"
        executor = _executor(args, folder)
        submitted: list[tuple[Run, Any]] = []
        for (nodes, tasks, gpus), runs in pending.items():
            params: dict[str, Any] = {"timeout_min": int(args.slurm_time), "nodes": nodes, "tasks_per_node": tasks,
                                      "cpus_per_task": int(args.slurm_cpus), "gpus_per_node": gpus,
                                      "name": f"bench-{plan.suite.name}"}
            if args.slurm_partition and not args.slurm_local:
                params["slurm_partition"] = args.slurm_partition
            executor.update_parameters(**params)
            jobs = []
            with executor.batch():
                for run in runs:
                    job = RunJob(suite_path=str(plan.suite.path.resolve()), profile=plan.profile, run_path=run.path,
                                 config_hash=run.config_hash, options=options, overrides=plan.overrides)
                    jobs.append(executor.submit(job))
            submitted += list(zip(runs, jobs, strict=True))
        for run, job in submitted:
            log(f"{run.run_id}: submitted as job {job.job_id}")
        if no_wait or not submitted:
            if submitted:
                log(f"{len(submitted)} jobs submitted; when they finish: bench report {store.root}")
                return 0
        else:
            lost = _wait(submitted, log, submitit)
            if lost:
                log(f"{lost} job(s) ended without a record; rerun the same command to retry them "
                    "(pretraining resumes from its last checkpoint)")
    if not any(store.records()):
        log("no run records yet")
        return 1
    paths = make_report(store.root)
    records = [store.load(run.path) for run in plan.runs]
    failed = sum(1 for r in records if r is None or not r.ok)
    print(f"{len(records)} runs ({failed} failed or missing); report: {paths['md']} (also .csv, .html)")
    return 1 if any(r is None for r in records) else 0


def _wait(submitted: list[tuple[Run, Any]], log: Any, submitit: Any) -> int:
    """Wait for every job, logging each as it completes; the number of jobs that produced no result."""
    by_job = {id(job): run for run, job in submitted}
    lost = 0
    for job in submitit.helpers.as_completed([job for _, job in submitted]):
        run = by_job[id(job)]
        try:
            out = job.result()
        except Exception as exc:  # noqa: BLE001 - a crashed/cancelled job must not stop the others' report
            lost += 1
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log(f"{run.run_id}: job {job.job_id} ended without a record ({first}); log: {job.paths.stderr}")
            continue
        tail = f": FAILED ({out['failure']})" if out["status"] != "ok" else ": ok"
        log(f"{run.run_id}: job {job.job_id} finished{tail}")
    return lost
