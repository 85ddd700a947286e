"""``bench run SUITE --until-decided``: add seed pairs to undecided claims until each is decided or the budget ends.

The sequential design, per claim of the suite's baselines file judged at the run's profile:

1. The profile's own seeds run first (finished runs are skipped, as for every ``bench run``); the claim is judged
   by the fixed-sample 95 % t-interval (:mod:`benchmark.report.claims`).
2. An undecided claim gets one more seed pair per round: seed ``max(paired seeds) + 1`` of its treatment *and* its
   control (a run that exists already, e.g. for another claim sharing an arm, is reused, never recomputed). From
   its first added seed on it is judged by the always-valid 95 % confidence sequence of
   :mod:`benchmark.report.sequential`, after every round; it stops as soon as that interval leaves the margin.
3. A claim stops without a decision when it has ``--max-seeds`` pairs, when its power analysis says that at the
   observed effect and paired sd the confidence sequence would decide it by ``--max-seeds`` pairs with probability
   below :data:`EXTEND_MIN_CHANCE` (50 %; re-evaluated every round: "skipped"), or
   when the next round does not fit ``--budget-hours`` (estimated from the measured ``timings.total`` of the
   records of the same arm, else :func:`benchmark.suite.plan.estimate`). Claims closest to a decision go first.

The false-"reproduced" rate of the whole procedure at a true effect equal to the margin is at most 5 % (see
:mod:`benchmark.report.sequential`; checked by simulation in ``tests/report/test_sequential.py``). Skipping,
budgets and shared arms only ever stop a claim earlier, which cannot raise that rate.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmark.report.claims import ClaimResult, evaluate_claim, selects
from benchmark.report.power import observed, power_at_critical, seeds_needed_sequential
from benchmark.report.sequential import critical_t
from benchmark.results.record import RunRecord
from benchmark.results.store import ResultsStore
from benchmark.suite.claims_spec import ClaimSpec, RunSelector
from benchmark.suite.plan import Plan, Run, estimate

#: A claim is extended only if, at its observed effect and paired sd, the confidence sequence at ``--max-seeds``
#: pairs excludes the margin with at least this probability (a lower bound of P(decided by then)).
EXTEND_MIN_CHANCE = 0.5
EXTEND, DECIDED, SKIPPED, MAX_SEEDS, NOT_APPLICABLE, BUDGET = (
    "extend", "decided", "skipped", "max seeds", "not applicable", "budget")


@dataclass
class Decision:
    """What the sequential design does with one claim this round."""

    claim: ClaimSpec
    result: ClaimResult | None
    action: str
    reason: str
    next_seed: int | None = None
    needed: int | None = None  # pairs for 80 % power under the confidence sequence (sorting key)


def decide(result: ClaimResult, max_seeds: int) -> Decision:
    """Extend, stop or skip one judged claim (pure: the simulation test drives it with synthetic records)."""
    claim, n = result.claim, len(result.pairs)
    if result.verdict in ("reproduced", "not reproduced"):
        return Decision(claim, result, DECIDED, f"{result.verdict} at {n} pairs ({result.design} design)")
    if result.verdict != "inconclusive":
        return Decision(claim, result, NOT_APPLICABLE, result.reason)
    if any(not math.isfinite(a - b) for _, a, b in result.pairs):
        return Decision(claim, result, SKIPPED, "a side ran out of memory: judged by signs, no interval to narrow")
    if n >= max_seeds:
        return Decision(claim, result, MAX_SEEDS, f"{n} pairs = --max-seeds {max_seeds}")
    next_seed = max(result.seeds) + 1 if result.seeds else 0
    if n < 2:
        return Decision(claim, result, EXTEND, f"{n} pair(s): needs >= 2 for a power analysis", next_seed, max_seeds)
    _, sd, effect, note = observed(result)
    if note or sd is None or effect is None:
        return Decision(claim, result, SKIPPED, note or "no power analysis")
    needed = seeds_needed_sequential(effect, sd)
    chance = power_at_critical(effect, sd, max_seeds, critical_t(max_seeds))
    at80 = f"80 % power needs {needed} pairs" if needed is not None else "80 % power needs > 10000 pairs"
    where = f"at the observed |Δ − margin| = {effect:.3g} (paired sd {sd:.3g})"
    if chance < EXTEND_MIN_CHANCE:
        return Decision(claim, result, SKIPPED, f"{where} the confidence sequence decides by --max-seeds {max_seeds} "
                        f"with probability {chance:.0%} < {EXTEND_MIN_CHANCE:.0%} ({at80})", needed=needed)
    return Decision(claim, result, EXTEND, f"{n} pairs; {where} P(decided by {max_seeds} pairs) ≈ {chance:.0%}, {at80}",
                    next_seed, needed)


@dataclass
class UntilDecided:
    """Drives the rounds of one ``bench run --until-decided`` on a plan's results directory."""

    plan: Plan
    results_dir: Any
    claims: list[ClaimSpec]
    max_seeds: int
    budget_hours: float | None
    device: str = "cpu"
    log: Callable[[str], None] = print
    run_round: Callable[[Plan], Any] | None = None  # executes a plan (benchmark.run_suite.run_plan with the options)
    templates: dict[tuple[str, str], Run] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for run in self.plan.runs:  # one template per arm: the seed-independent config of experiment/variant
            self.templates.setdefault((run.experiment_id, run.variant), run)
        self.store = ResultsStore(self.results_dir)
        self.started = time.monotonic()
        self.records: list[RunRecord] = []  # this suite and profile, as of the last judge()

    # ----------------------------------------------------------------------------------------- judging
    def applicable(self) -> tuple[list[ClaimSpec], list[tuple[ClaimSpec, str]]]:
        """Claims both of whose arms this plan runs; the others with the reason."""
        keep, left = [], []
        for claim in self.claims:
            if claim.profiles is not None and self.plan.profile not in claim.profiles:
                left.append((claim, f"not judged at profile '{self.plan.profile}' (profiles: {claim.profiles})"))
                continue
            absent = [sel.text() for sel in (claim.treatment, claim.control) if self._key(sel) not in self.templates]
            if absent:
                left.append((claim, f"this run's plan has no runs of {', '.join(absent)}"))
            else:
                keep.append(claim)
        return keep, left

    @staticmethod
    def _key(sel: RunSelector) -> tuple[str, str]:
        return sel.experiment, sel.variant

    def judge(self, claims: list[ClaimSpec]) -> list[ClaimResult]:
        """Every claim on the records now in the results directory (this suite and profile only)."""
        from benchmark.report.diff import scale_of

        plan = self.plan
        self.records = [r for r in self.store.records() if r.suite == plan.suite.name and r.profile == plan.profile]
        out = []
        for claim in claims:
            recs = [r for r in self.records if selects(claim.treatment, r) or selects(claim.control, r)]
            scale = next((scale_of(r) for r in recs if r.ok), "")
            out.append(evaluate_claim(claim, recs, suite=plan.suite.name, profile=plan.profile, scale=scale))
        return out

    # ----------------------------------------------------------------------------------------- costs
    def run_for(self, sel: RunSelector, seed: int) -> Run:
        """The run of one arm at ``seed``: the arm's config with its planned ``seeds`` list left as it is, so the
        record shows that the seed was added beyond the profile's design."""
        t = self.templates[self._key(sel)]
        return Run(suite=t.suite, suite_version=t.suite_version, profile=t.profile, experiment_id=t.experiment_id,
                   variant=t.variant, seed=seed, config=t.config, resolved=t.resolved)

    def seconds_of(self, run: Run) -> float | None:
        """Estimated seconds of a run not done yet: mean measured total of its arm's records, else the plan's
        nominal estimate; 0 if already done; None if unknown."""
        if self.store.is_done(run.path, run.config_hash, run.computation_hash):
            return 0.0
        measured = [float(r.total_seconds) for r in self.records
                    if r.experiment == run.experiment_id and (r.variant or "") == run.variant and r.ok
                    and r.total_seconds is not None]
        if measured:
            return sum(measured) / len(measured)
        hours = estimate(run, self.device)["hours"]
        return None if hours is None else hours * 3600

    # ----------------------------------------------------------------------------------------- rounds
    def next_round(self, decisions: list[Decision]) -> tuple[list[Run], list[Decision], float]:
        """Runs of the next round (claims closest to a decision first, within the budget), the claims they serve
        and their estimated seconds; claims left out by the budget get action ``budget``."""
        runs: dict[str, Run] = {}
        served: list[Decision] = []
        total = 0.0
        left = None if self.budget_hours is None else self.budget_hours * 3600 - (time.monotonic() - self.started)
        for d in sorted((d for d in decisions if d.action == EXTEND), key=lambda d: (d.needed or 0, d.claim.id)):
            new = {r.path: r for r in (self.run_for(sel, d.next_seed) for sel in (d.claim.treatment, d.claim.control))
                   if r.path not in runs}
            costs = [self.seconds_of(r) for r in new.values()]
            cost = sum(c for c in costs if c is not None)
            if left is not None and total + cost > left:
                d.action, d.reason = BUDGET, (f"seed {d.next_seed} needs ~{cost / 60:.1f} min, "
                                              f"{max(0.0, left - total) / 60:.1f} min of --budget-hours left")
                continue
            if any(c is None for c in costs):
                self.log(f"  note: no time estimate for {[p for p, c in zip(new, costs, strict=True) if c is None]}")
            runs.update(new)
            served.append(d)
            total += cost
        return list(runs.values()), served, total

    def execute(self, *, dry_run: bool = False) -> list[ClaimResult]:
        """All rounds (or, with ``dry_run``, only the first one's plan); returns the final judgement."""
        claims, left = self.applicable()
        if left:
            reasons: dict[str, list[str]] = {}
            for claim, why in left:
                reasons.setdefault("not judged at this profile" if why.startswith("not judged")
                                   else "compare runs this plan does not make", []).append(claim.id)
            self.log("until-decided: left out: " + "; ".join(
                f"{len(ids)} claims {k} ({', '.join(ids[:4])}{', …' if len(ids) > 4 else ''})"
                for k, ids in reasons.items()))
        if not claims:
            self.log("until-decided: no claim of the baselines compares two arms of this plan")
            return []
        self.log(f"until-decided: {len(claims)} claims, --max-seeds {self.max_seeds}"
                 + (f", --budget-hours {self.budget_hours:g}" if self.budget_hours is not None else "")
                 + "; stopping rule: 95 % confidence sequence (benchmark/report/sequential.py)")
        round_no = 0
        while True:
            results = self.judge(claims)
            decisions = [decide(r, self.max_seeds) for r in results]
            runs, served, seconds = self.next_round(decisions)
            round_no += 1
            for d in decisions:
                self.log(f"  {d.claim.id}: {_state(d.result)} -> {d.action}: {d.reason}")
            if not runs:
                self.log(f"until-decided: nothing left to extend after {round_no - 1} round(s)")
                return results
            seeds = sorted({d.next_seed for d in served})
            self.log(f"until-decided round {round_no}: seed(s) {seeds} for {len(served)} claim(s): {len(runs)} runs, "
                     f"~{seconds / 60:.1f} min estimated; elapsed {(time.monotonic() - self.started) / 60:.1f} min")
            if dry_run:
                for run in runs:
                    self.log(f"    would run {run.run_id}")
                self.log("until-decided: dry run, nothing executed (later rounds depend on these results)")
                return results
            if self.run_round is None:
                raise RuntimeError("UntilDecided.run_round is needed unless dry_run")
            self.run_round(Plan(suite=self.plan.suite, profile=self.plan.profile, runs=runs))


def _state(result: ClaimResult | None) -> str:
    if result is None:
        return "?"
    s = result.stats
    mean = f"Δ {s.mean:.4g}" if s.mean is not None and math.isfinite(s.mean) else "Δ —"
    return f"{result.mark} {result.verdict}, {len(result.pairs)} pairs, {mean}"


def select_claims(claims: list[ClaimSpec], patterns: str | None) -> list[ClaimSpec]:
    """Claims whose id matches one of the comma-separated globs (all when ``patterns`` is None)."""
    if not patterns:
        return list(claims)
    globs = [p.strip() for p in patterns.split(",") if p.strip()]
    return [c for c in claims if any(fnmatch.fnmatch(c.id, g) for g in globs)]


def run_cli(plan: Plan, opts: Any, args: Any) -> int:
    """``bench run SUITE --until-decided [--max-seeds N] [--budget-hours H] [--claims GLOBS] [--dry-run]``."""
    from benchmark.errors import BenchError
    from benchmark.report import make_report
    from benchmark.run_suite import run_plan
    from benchmark.suite.baselines_spec import load_baselines
    from benchmark.validation import check_baselines_file

    if args.max_seeds < 2:
        raise BenchError(f"--max-seeds {args.max_seeds}: a claim needs at least 2 seed pairs", hint="--max-seeds 8")
    if args.budget_hours is not None and args.budget_hours <= 0:
        raise BenchError(f"--budget-hours {args.budget_hours:g} leaves no time", hint="give a positive number of hours")
    path = check_baselines_file(plan.suite)
    claims = select_claims(load_baselines(path).claims if path is not None else [], args.claims)
    if not claims:
        why = f"--claims '{args.claims}' matches no claim id" if args.claims else "the suite's baselines have no claims"
        raise BenchError(f"--until-decided has no claim to decide: {why}",
                         hint="claims.csv of a report lists the claim ids; --claims takes comma-separated globs")
    driver = UntilDecided(plan, opts.results_dir, claims, max_seeds=args.max_seeds, budget_hours=args.budget_hours,
                          device=opts.device, log=opts.log, run_round=lambda p: run_plan(p, opts))
    if args.dry_run:
        store = ResultsStore(opts.results_dir)
        todo = [r for r in plan.runs if not store.is_done(r.path, r.config_hash, r.computation_hash)]
        if todo:
            opts.log(f"until-decided: {len(todo)} of the profile's {len(plan.runs)} runs are not finished; they run "
                     "first, and the claims below are judged without them")
        driver.execute(dry_run=True)
        return 0
    run_plan(plan, opts)  # the profile's own seeds first (finished runs are skipped; they count against the budget)
    results = driver.execute()
    paths = make_report(opts.results_dir, max_seeds=args.max_seeds)
    for r in results:
        interval = f" [{r.interval[0]:.4g}, {r.interval[1]:.4g}]" if r.interval is not None else ""
        opts.log(f"{r.mark} {r.claim.id}: {r.verdict} with {len(r.pairs)} pairs (seeds "
                 f"{' '.join(map(str, r.seeds)) or '-'}; {r.design}{interval})")
    opts.log(f"report: {paths['md']} (also .csv, .html)")
    return 0
