"""``bench``: list, validate, plan, run and report reproduction suites.

Examples::

    bench list                                   # suites and their experiments
    bench validate suites/or_neurips24.yaml      # schema + registry names + baselines, no training
    bench plan suites/or_neurips24.yaml --profile smoke
    bench run suites/or_neurips24.yaml --profile smoke          # the main job: writes results/ and a report
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
    from benchmark.report.baselines import load_baselines
    from benchmark.suite.loader import load_suite
    from benchmark.suite.validate import check_baselines_file, check_paper_items, validate_suite

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
        print(f"{path}: ok ({count} resolved experiment×profile×grid points{extra})")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from benchmark.report.baselines import load_baselines
    from benchmark.report.coverage import compute_coverage, coverage_csv, coverage_markdown, coverage_text
    from benchmark.suite.loader import load_suite
    from benchmark.suite.validate import baselines_path
    from benchmark.suite.yaml_loader import display_path

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
    from benchmark.suite.plan import estimate, make_plan
    from benchmark.suite.validate import validate_experiment

    suite = load_suite(args.suite)
    plan = make_plan(suite, args.profile, args.only)
    for res in {id(r.resolved): r.resolved for r in plan.runs}.values():
        validate_experiment(res)
    total_h = 0.0
    unknown = 0
    print(f"{suite.name} v{suite.file.version}, profile '{plan.profile}': {len(plan.runs)} runs")
    print(f"{'run':60s} {'reproduces':24s} {'steps':>8s} {'est. h':>8s}  config")
    for run in plan.runs:
        est = estimate(run, args.device)
        ref = run.config.reproduces
        refs = ref if isinstance(ref, list) else [ref] if ref else []
        where = "; ".join("extension" if r.kind == "extension" else " ".join(x for x in (r.table, r.figure) if x)
                          for r in refs)
        hours = est["hours"]
        if hours is None:
            unknown += 1
        else:
            total_h += hours
        print(f"{run.run_id:60s} {where[:24]:24s} {est['steps'] if est['steps'] is not None else '?':>8} "
              f"{f'{hours:.2f}' if hours is not None else '?':>8}  {run.config_hash}")
    note = f" (+{unknown} runs without an estimate)" if unknown else ""
    print(f"estimated total on {args.device}: {total_h:.2f} h at nominal throughput{note}; rough, see benchmark/suite/plan.py")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.results.provenance import process_git_state

    process_git_state()  # the checkout as this process loads it: what every record of this invocation names
    from benchmark.report import make_report
    from benchmark.runner import RunOptions, run_plan
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import make_plan
    from benchmark.suite.validate import validate_experiment

    suite = load_suite(args.suite)
    plan = make_plan(suite, args.profile, args.only)
    for res in {id(r.resolved): r.resolved for r in plan.runs}.values():
        validate_experiment(res)
    results_dir = Path(args.results_dir) if args.results_dir else Path("results") / suite.name / plan.profile
    opts = RunOptions(
        data_root=Path(args.data_root),
        results_dir=results_dir,
        device=args.device,
        download=args.download,
        progress=not args.no_progress,
        debug=args.debug,
        force=args.force,
    )
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
    failed = sum(1 for r in records if r.get("status") != "ok")
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
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list suites and their experiments")
    p.add_argument("--suites-dir", default=str(SUITES_DIR))
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("validate", help="check suite files without training")
    p.add_argument("suites", nargs="+")
    p.add_argument("--profile", default=None, help="validate one profile only (default: all)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="show the expanded runs and an estimated cost")
    p.add_argument("suite")
    p.add_argument("--profile", default=None)
    p.add_argument("--only", default=None, help="glob or substring of run paths / experiment ids")
    p.add_argument("--device", default="cuda", choices=["cpu", "cuda"], help="device class for the estimate")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="execute a suite (finished runs are skipped)")
    p.add_argument("suite")
    p.add_argument("--profile", default=None)
    p.add_argument("--only", default=None, help="glob or substring of run paths / experiment ids")
    p.add_argument("--data-root", default="data", help="where datasets are looked for (default: ./data)")
    p.add_argument("--results-dir", default=None, help="default: results/<suite>/<profile>")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--download", action="store_true", help="let torchvision download missing datasets")
    p.add_argument("--force", action="store_true", help="redo finished runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--launcher", default="local", choices=["local", "slurm"], help="slurm: submit runs via submitit")
    p.add_argument("--slurm-partition", default=None)
    p.add_argument("--slurm-time", type=int, default=24 * 60, help="minutes per job")
    p.add_argument("--slurm-gpus", type=int, default=1)
    p.add_argument("--slurm-cpus", type=int, default=8)
    p.add_argument("--slurm-local", action="store_true", help="use submitit's local executor (testing)")
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
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        if args.debug:
            raise
        print(f"error: {exc.format()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished runs are kept, rerun to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` & co.: stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
