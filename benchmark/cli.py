"""``bench``: list, validate, plan, run and report reproduction suites.

Examples::

    bench list                                   # suites and their experiments
    bench validate suites/or_neurips24.yaml      # schema + registry names + baselines, no training
    bench plan suites/or_neurips24.yaml --profile smoke
    bench run suites/or_neurips24.yaml --profile digits         # the main job: decides a claim on digits in minutes, records and a report outside the repo
    bench run suites/or_neurips24.yaml --profile smoke          # the CI wiring check (3 runs of 3 steps)
    bench run suites/smoke.yaml --profile cifar10_subset --data-root ../shared/datasets
    bench report results/or_neurips24/smoke
    bench run suites/or_neurips24.yaml --profile cpu --data-root ../shared/datasets --until-decided --max-seeds 8
    bench compare results/or_neurips24/cpu /tmp/rerun --fail-on-diff   # Δ per metric against seed noise
    bench coverage suites/or_neurips24.yaml suites/sfrik_iclr23.yaml   # the paper's tables/figures vs experiments

User errors (bad suite, missing data, unknown names) print one line plus a hint and exit with code 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.errors import BenchError
from benchmark.version import VersionAction

SUITES_DIR = Path("suites")


def _suite_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))


def cmd_list(args: argparse.Namespace) -> int:
    from benchmark.suite.loader import load_suite

    directory = Path(args.suites_dir)
    files = _suite_files(directory)
    if not files:
        raise BenchError(f"no suite files in {directory}/", hint="pass --suites-dir or run from the repository root")
    for path in files:
        suite = load_suite(path)
        paper = suite.file.paper
        title = f" — {paper.title} ({paper.venue})" if paper else ""
        print(f"{path}  [{suite.name} v{suite.file.version}]{title}")
        print(f"  profiles: {', '.join(suite.profile_names())} (default {suite.file.default_profile})")
        for exp in suite.file.experiments:
            ref = exp.get("reproduces") or {}
            refs = ref if isinstance(ref, list) else [ref]
            where = "; ".join("extension" if r.get("kind") == "extension"
                              else " ".join(str(r.get(k)) for k in ("table", "figure") if r.get(k)) for r in refs if r)
            print(f"  - {exp['id']}" + (f"  ({where})" if where else ""))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from benchmark.suite.baselines_spec import load_baselines
    from benchmark.suite.loader import load_suite
    from benchmark.validation import check_baselines_file, check_paper_items, validate_suite

    for path in args.suites:
        suite = load_suite(path)
        count = validate_suite(suite, [args.profile] if args.profile else None)
        check_paper_items(suite)
        baselines = check_baselines_file(suite)
        extra = ""
        if suite.file.paper is not None and suite.file.paper.items is not None:
            extra += f", {len(suite.file.paper.items)} paper items"
        if baselines is not None:  # entries, claims and differences were checked against the suite
            bl = load_baselines(baselines)
            extra += (f", baselines {baselines.name}: {len(bl.entries)} entries, {len(bl.claims)} claims, "
                      f"{len(bl.reported_differences)} reported differences")
        if args.data_root is not None:
            extra += _check_datasets(suite, args.profile, Path(args.data_root))
        print(f"{path}: ok ({count} resolved experiment×profile×grid points{extra})")
    return 0


def _check_datasets(suite: object, profile: str | None, data_root: Path) -> str:
    """``bench validate --data-root``: every dataset of the profile's runs (all profiles without ``--profile``) is
    present under ``data_root`` (the same check as ``bench run`` before its first run); raises DataError otherwise."""
    from benchmark.preflight import check_data
    from benchmark.suite.plan import make_plan

    profiles = [profile] if profile else list(suite.profile_names())  # type: ignore[attr-defined]
    runs = [run for name in profiles for run in make_plan(suite, name, None).runs]  # type: ignore[arg-type]
    check_data(runs, data_root)
    return f", datasets of {len(runs)} runs present under {data_root}"


def cmd_coverage(args: argparse.Namespace) -> int:
    from benchmark.report.coverage import compute_coverage, coverage_csv, coverage_markdown, coverage_text
    from benchmark.suite.baselines_spec import load_baselines
    from benchmark.suite.loader import load_suite
    from benchmark.suite.yaml_loader import display_path
    from benchmark.validation import baselines_path

    covs = []
    for path in args.suites:
        suite = load_suite(path)
        bl_path = baselines_path(suite)
        baselines = load_baselines(bl_path) if bl_path is not None else None
        covs.append(compute_coverage(suite, baselines, baselines_path=display_path(bl_path) if bl_path else None))
    if args.format == "csv":
        sys.stdout.write(coverage_csv(covs))
        for cov in covs:
            if not cov.declared:
                print(f"{cov.path}: no paper.items declared", file=sys.stderr)
        return 0
    for cov in covs:
        if args.format == "md":
            print("\n".join(coverage_markdown(cov, level=2)))
        else:
            print(coverage_text(cov))
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import estimate, format_duration, make_plan
    from benchmark.validation import validate_experiment

    suite = load_suite(args.suite)
    plan = make_plan(suite, args.profile, args.only, overrides=cli_overrides(args))
    for res in {id(r.resolved): r.resolved for r in plan.runs}.values():
        validate_experiment(res)
    device = args.device or default_device()
    sizes = train_sizes(plan, Path(args.data_root))
    print(f"{suite.name} v{suite.file.version}, profile '{plan.profile}': {len(plan.runs)} runs")
    measured = None
    if args.measure:
        from benchmark.run.estimate import measured_hours

        print(f"measuring one pretraining step per training shape on {device} (batch capped at {args.measure_batch})")
        measured = measured_hours(plan.runs, device, n_train=sizes, max_batch=args.measure_batch, log=print)
    how = "measured step" if measured is not None else "nominal"
    print(f"{'run':60s} {'reproduces':24s} {'steps':>8s} {'est. ' + how:>16s}  config")
    total_s = 0.0
    unknown = 0
    for run in plan.runs:
        est = estimate(run, device, sizes.get(run.run_id))
        hours = measured[run.run_id] if measured is not None else est["hours"]
        ref = run.config.reproduces
        refs = ref if isinstance(ref, list) else [ref] if ref else []
        where = "; ".join("extension" if r.kind == "extension" else " ".join(x for x in (r.table, r.figure) if x)
                          for r in refs)
        if hours is None:
            unknown += 1
        else:
            total_s += hours * 3600
        print(f"{run.run_id:60s} {where[:24]:24s} {est['steps'] if est['steps'] is not None else '?':>8} "
              f"{format_duration(hours * 3600 if hours is not None else None):>16s}  {run.config_hash}")
    note = f" (+{unknown} runs without an estimate" + ("" if measured is not None else "; try --measure") + ")" \
        if unknown else ""
    basis = ("from one measured step per training shape (pretraining only; probes, data loading and optimizer "
             "updates not included)" if measured is not None else
             "at nominal throughput (rough, see benchmark/suite/plan.py; --measure times a step on this machine)")
    print(f"estimated total on {device}: {format_duration(total_s)} {basis}{note}")
    return 0


def default_device() -> str:
    """``cuda`` when a CUDA device is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def train_sizes(plan: object, data_root: Path) -> dict[str, int | None]:
    """Pretraining-set size (after subsets) of each run whose dataset source declares no ``train_size``
    (:func:`~benchmark.suite.plan.declared_train_size`) but loads from ``data_root`` (e.g. the npz CIFAR-10 subset);
    runs of datasets with a known size (ImageNet & co., never scanned here) or that do not load are left out."""
    import numpy as np

    from benchmark.run import RunOptions, load_splits, subset_indices
    from benchmark.suite.plan import declared_train_size

    out: dict[str, int | None] = {}
    counted: dict[str, int | None] = {}
    for run in plan.runs:  # type: ignore[attr-defined]
        data = run.config.data
        if declared_train_size(data.dataset) is not None:
            continue
        key = data.model_dump_json(include={"dataset", "params", "train_subset"})
        if key not in counted:
            try:
                splits = load_splits(run.config, RunOptions(data_root=data_root))
                counted[key] = len(subset_indices(np.asarray(splits.train_labels), data.train_subset))
            except BenchError:  # missing or unloadable here: the estimate says '?'
                counted[key] = None
        out[run.run_id] = counted[key]
    return out


def cli_overrides(args: argparse.Namespace) -> list:
    """The ``key=value`` overrides and ``--seeds/--epochs/--steps`` of ``bench run`` / ``bench plan``."""
    from benchmark.suite.overrides import collect

    return collect(args.overrides, seeds=args.seeds, epochs=args.epochs, steps=args.steps)


def add_override_arguments(p: argparse.ArgumentParser) -> None:
    """``KEY=VALUE ...`` (after the suite), ``--seeds``, ``--epochs``, ``--steps``."""
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="set a dotted experiment field for every run, after the suite's profile and grid "
                   "(e.g. pretrain.epochs=2 method.temperature=0.2); part of each run's config and hash")
    p.add_argument("--seeds", default=None, help="comma-separated seeds for every experiment, e.g. 0,1,2")
    p.add_argument("--epochs", type=int, default=None, help="pretraining epochs of every run (pretrain.epochs)")
    p.add_argument("--steps", type=int, default=None, help="cap on pretraining steps of every run (pretrain.max_steps)")


def choose_results_dir(args: argparse.Namespace, suite: str, profile: str) -> Path:
    """``--results-dir``, else ``$BENCH_RESULTS/<suite>/<profile>``, else the per-user data directory's; printed,
    and refused (or, named by ``--results-dir``, warned about) when it holds committed results."""
    from benchmark.results.location import check_writable, default_results_dir, results_root

    if args.results_dir:
        path, how = Path(args.results_dir), "--results-dir"
    else:
        path, how = default_results_dir(suite, profile), f"{results_root()[1]}; --results-dir DIR to choose"
    warning = check_writable(path, explicit=bool(args.results_dir))
    print(f"results directory: {path} ({how})")
    if warning:
        print(warning, file=sys.stderr)
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.results.provenance import process_git_state

    process_git_state()  # the checkout as this process loads it: what every record of this invocation names
    from benchmark.report import make_report
    from benchmark.run import RunOptions
    from benchmark.run_suite import run_plan
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import make_plan
    from benchmark.train.loggers import DEFAULT_LOGGERS, check_loggers
    from benchmark.validation import validate_experiment

    suite = load_suite(args.suite)
    plan = make_plan(suite, args.profile, args.only, overrides=cli_overrides(args))
    for res in {id(r.resolved): r.resolved for r in plan.runs}.values():
        validate_experiment(res)
    results_dir = choose_results_dir(args, suite.name, plan.profile)
    opts = RunOptions(
        data_root=Path(args.data_root),
        results_dir=results_dir,
        device=args.device,
        download=args.download,
        progress=not args.no_progress,
        debug=args.debug,
        force=args.force,
        loggers=tuple(check_loggers(args.logger or list(DEFAULT_LOGGERS))),
    )
    warning = paper_profile_warning(plan, args.device)
    if warning:
        print(warning, file=sys.stderr)
    sequential_flags = [f for f, on in (("--max-seeds", args.max_seeds is not None), ("--budget-hours",
                        args.budget_hours is not None), ("--claims", args.claims), ("--dry-run", args.dry_run)) if on]
    if sequential_flags and not args.until_decided:
        raise BenchError(f"{', '.join(sequential_flags)} only apply with --until-decided", hint="add --until-decided")
    if args.until_decided:
        if args.launcher != "local":
            raise BenchError("--until-decided runs locally only", hint="drop --launcher slurm")
        from benchmark.report.power import DEFAULT_MAX_SEEDS
        from benchmark.until_decided import run_cli

        args.max_seeds = DEFAULT_MAX_SEEDS if args.max_seeds is None else args.max_seeds
        return run_cli(plan, opts, args)
    if args.launcher == "slurm":
        from benchmark.launch import submit_plan

        return submit_plan(plan, opts, args)
    records = run_plan(plan, opts)
    paths = make_report(results_dir)
    failed = sum(1 for r in records if not r.ok)
    print(f"{len(records)} runs ({failed} failed); report: {paths['md']} (also .csv, .html)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.report import make_report

    paths = make_report(Path(args.results_dir), [Path(b) for b in args.baselines] if args.baselines else None,
                        max_seeds=args.max_seeds)
    print(f"wrote {paths['md']}, {paths['csv']}, {paths['html']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmark.report.compare import compare_results, render_markdown

    comparison = compare_results(Path(args.results_a), Path(args.results_b))
    sys.stdout.write(render_markdown(comparison))
    return 1 if args.fail_on_diff and comparison.differs else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for user errors")
    parser.add_argument("--version", action=VersionAction,
                        help="print the package, torch, lightly and Lightning versions and the git commit, then exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list suites and their experiments")
    p.add_argument("--suites-dir", default=str(SUITES_DIR))
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("validate", help="check suite files without training")
    p.add_argument("suites", nargs="+")
    p.add_argument("--profile", default=None, help="validate one profile only (default: all)")
    p.add_argument("--data-root", default=None,
                   help="also check that every dataset of the (profile's) runs is present under this directory")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="show the expanded runs and an estimated cost")
    p.add_argument("suite")
    p.add_argument("--profile", default=None)
    p.add_argument("--only", default=None, help="glob or substring of run paths / experiment ids")
    p.add_argument("--device", default=None, choices=["cpu", "cuda"],
                   help="device of the estimate (default: cuda if one is visible, else cpu)")
    p.add_argument("--data-root", default="data", help="datasets of unknown size (npz, ...) are counted from here")
    p.add_argument("--measure", action="store_true",
                   help="time one pretraining step per training shape on the device instead of nominal throughput")
    p.add_argument("--measure-batch", type=int, default=32, help="largest batch timed by --measure (scaled linearly)")
    add_override_arguments(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="execute a suite (finished runs are skipped)")
    p.add_argument("suite")
    p.add_argument("--profile", default=None)
    p.add_argument("--only", default=None, help="glob or substring of run paths / experiment ids")
    p.add_argument("--data-root", default="data", help="where datasets are looked for (default: ./data)")
    p.add_argument("--results-dir", default=None,
                   help="default: $BENCH_RESULTS/<suite>/<profile>, else the per-user data directory's "
                   "(~/.local/share/ssl-repro-bench/results/<suite>/<profile> on Linux)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--download", action="store_true", help="let torchvision download missing datasets")
    p.add_argument("--force", action="store_true", help="redo finished runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--logger", action="append", choices=["csv", "tensorboard", "wandb", "none"], default=None,
                   help="Lightning logger of pretraining, into <run>/logs/ (repeatable; default csv; tensorboard "
                   "and wandb need their packages; none: no logs)")
    p.add_argument("--launcher", default="local", choices=["local", "slurm"], help="slurm: submit runs via submitit")
    p.add_argument("--slurm-partition", default=None)
    p.add_argument("--slurm-time", type=int, default=24 * 60, help="minutes per job")
    p.add_argument("--slurm-gpus", type=int, default=1)
    p.add_argument("--slurm-cpus", type=int, default=8)
    p.add_argument("--slurm-local", action="store_true", help="use submitit's local executor (testing)")
    p.add_argument("--slurm-no-wait", dest="no_wait", action="store_true",
                   help="--launcher slurm: return right after submitting (the jobs write their records; run "
                   "`bench report RESULTS_DIR` when they are done)")
    add_override_arguments(p)
    p.add_argument("--until-decided", action="store_true",
                   help="after the profile's seeds, add seed pairs to undecided claims until an always-valid 95%% "
                   "confidence sequence decides them (README: Power and sequential seeds)")
    p.add_argument("--max-seeds", type=int, default=None,
                   help="--until-decided: at most this many seed pairs per claim (default 10)")
    p.add_argument("--budget-hours", type=float, default=None,
                   help="--until-decided: start no round that would end past this many hours (estimated from the "
                   "records' measured run times)")
    p.add_argument("--claims", default=None, help="--until-decided: comma-separated globs of the claim ids to extend")
    p.add_argument("--dry-run", action="store_true",
                   help="--until-decided: print the claims' power analysis and the first round, run nothing")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "coverage", help="which of the paper's tables and figures (paper.items) the suite reproduces",
        description="For every item of the paper (paper.items of the suite file): the experiments citing it, "
        "covered / partly covered (gaps) / not covered (reason), and the reported cells of the baselines file "
        "citing it (transcribed, not transcribed, reported as text only).\n\nexample:\n"
        "  bench coverage suites/or_neurips24.yaml suites/sfrik_iclr23.yaml suites/uniform_prior_iclr23.yaml\n"
        "  bench coverage suites/or_neurips24.yaml --format md > coverage.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("suites", nargs="+")
    p.add_argument("--format", default="table", choices=["table", "md", "csv"], help="default: an aligned table")
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser("report", help="write report.md/.csv/.html from a results directory")
    p.add_argument("results_dir")
    p.add_argument("--baselines", action="append", help="extra directory with <suite>.yaml baselines")
    p.add_argument("--max-seeds", type=int, default=10,
                   help="affordable seeds per claim for the power analysis (default 10)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "compare", help="the same runs in two results directories side by side: Δ and whether it exceeds seed noise",
        description="Match the runs of two results directories (two machines, commits or library versions) by "
        "suite, profile, experiment and variant; per metric: each side's mean ± sd, Δ = B − A, its 95 % t-interval "
        "(paired by seed) and a mark (= identical, ~ within seed noise, +/− beyond it, ? no noise estimate, ! failed "
        "in one set).\n\nexample:\n  bench compare results/or_neurips24/cpu /tmp/rerun/or_neurips24/cpu --fail-on-diff",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results_a")
    p.add_argument("results_b")
    p.add_argument("--fail-on-diff", action="store_true",
                   help="exit 1 if a metric differs beyond seed noise or a run failed in one set only")
    p.set_defaults(func=cmd_compare)
    return parser


def interrupted_message(exc: KeyboardInterrupt, argv: list[str]) -> str:
    """What Ctrl-C stopped, what is kept and the command that resumes (the same command line)."""
    import shlex

    from benchmark.errors import RunInterrupted

    again = "bench " + shlex.join(argv)
    if not isinstance(exc, RunInterrupted):
        return f"interrupted; finished runs are kept; rerun to continue: {again}"
    where = (f"it resumes from its last checkpoint (step {exc.checkpoint_step})" if exc.checkpoint_step is not None
             else "it had no checkpoint yet and restarts")
    return (f"interrupted during run {exc.index}/{exc.total} {exc.run_id}: {where}; {exc.finished} finished runs "
            f"are kept in {exc.results_dir} and skipped on rerun.\nresume with: {again}")


#: The paper-profile-on-CPU warning is left out for suites with fewer runs than this whose GPU time is under 1 h.
PAPER_WARNING_MIN_RUNS = 10


def paper_profile_warning(plan: object, device: str) -> str | None:
    """A warning when the ``paper`` profile (the papers' full protocol, GPU-days) is started on a CPU."""
    from benchmark.suite.plan import estimate, format_duration

    others = [p for p in plan.suite.profile_names() if p != "paper"]  # type: ignore[attr-defined]
    if plan.profile != "paper" or device != "cpu" or not others:  # type: ignore[attr-defined]
        return None
    runs = plan.runs  # type: ignore[attr-defined]
    gpu_hours = [estimate(r, "cuda")["hours"] for r in runs]
    known = [h for h in gpu_hours if h is not None]
    if len(runs) < PAPER_WARNING_MIN_RUNS and sum(known) < 1.0 and len(known) == len(runs):
        return None  # a small suite whose paper profile is cheap anyway
    cost = f", about {format_duration(sum(known) * 3600)} at nominal GPU throughput" if known else ""
    return (f"warning: profile 'paper' is the papers' full protocol ({len(runs)} runs{cost}) and this run is on "
            f"the CPU; for a check on this machine use --profile {' / '.join(others) or '...'} "
            "(`bench plan SUITE --profile P --device cpu --measure` estimates any profile here); Ctrl-C stops "
            "and a rerun resumes")


def parse_with_trailing_overrides(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args`` that also accepts ``KEY=VALUE`` overrides of ``run``/``plan`` after options
    (argparse alone takes positionals only before the first option)."""
    args, extra = parser.parse_known_args(argv)
    late = [a for a in extra if "=" in a and not a.startswith("-")] if hasattr(args, "overrides") else []
    unknown = [a for a in extra if a not in late]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if late:
        args.overrides = [*args.overrides, *late]
    return args


def _passive_openmp_waits() -> None:
    """Let idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose.

    With torch's default active waiting, a process whose threads share the cores with other work (a second job on
    a 2-core machine) ran a tiny-ConvNet digits run 6x slower (3 min instead of 29 s); the policy only changes how
    threads wait, not the arithmetic (that run's metrics and losses were identical under both). Must run before
    torch is imported.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    _passive_openmp_waits()
    parser = build_parser()
    args = parse_with_trailing_overrides(parser, argv)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        if args.debug:
            raise
        print(f"error: {exc.format()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(interrupted_message(exc, sys.argv[1:] if argv is None else argv), file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
