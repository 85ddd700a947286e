"""``bench compare RESULTS_A RESULTS_B``: the same experiments in two result sets, side by side, Δ against seed noise.

Two results directories of the same suite and profile — two machines, two commits, two library versions, or a
suite edit — are matched run by run on ``(suite, profile, experiment, variant)``. For every metric of the value
matrix (``<probe>.top1`` / ``top5``) plus ``diagnostics.effective_rank`` and ``pretrain.final_loss`` where both
sets have it, the comparison gives each side's mean ± sd over seeds, ``Δ = B − A`` and a mark (asv's vocabulary):

====  ==================  =================================================================================
mark  meaning             rule
====  ==================  =================================================================================
=     identical           every seed present in both sets has exactly the same value
~     within seed noise   the 95 % t-interval of Δ contains 0: paired by seed when ≥ 2 seeds are in both
                          sets (same seed = same data order and initialisation), else Welch's interval over
                          the two sets' seeds
\\+    higher in B         that interval lies above 0
−     lower in B          that interval lies below 0
?     no noise estimate   fewer than 2 seeds on a side (Δ shown, not judged)
!     failed              a run of the row failed in one set and not in the other
====  ==================  =================================================================================

When the two records of a run were computed from different configs (their computation hashes differ), the row
names the changed keys (e.g. ``pretrain.optimizer.lr 0.05 → 0.5``). ``--fail-on-diff`` makes ``bench compare``
exit 1 on any ``+``, ``−`` or ``!``: a regression check of the suites themselves (rerun a profile on a new commit
into a second directory and compare it with the committed records).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.errors import ResultsError
from benchmark.formatting import fmt_number
from benchmark.report.claims import paired_stats, t_quantile
from benchmark.report.diff import probe_metrics
from benchmark.results.record import RecordLike, RunRecord, as_record
from benchmark.results.store import ResultsStore
from benchmark.suite.hashing import DESCRIPTIVE_FIELDS, computation_hash

MARKS = {"identical": "=", "within noise": "~", "higher": "+", "lower": "−", "no noise estimate": "?",
         "failed": "!"}
FAILING = ("higher", "lower", "failed")
EXTRA_METRICS = ("diagnostics.effective_rank", "pretrain.final_loss")
RunKey = tuple[str, str, str, str]  # suite, profile, experiment, variant


@dataclass
class Row:
    """One metric of one run key in both sets."""

    key: RunKey
    metric: str
    a: dict[int, float]
    b: dict[int, float]
    verdict: str
    delta: float | None = None
    interval: tuple[float, float] | None = None
    test: str = ""
    note: str = ""

    @property
    def mark(self) -> str:
        return MARKS[self.verdict]


@dataclass
class Comparison:
    """Rows of the runs both sets have, the run keys only one has, and provenance differences."""

    a_dir: Path
    b_dir: Path
    rows: list[Row] = field(default_factory=list)
    only_a: list[RunKey] = field(default_factory=list)
    only_b: list[RunKey] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        """True when a row is beyond seed noise or failed in one set only (what ``--fail-on-diff`` checks)."""
        return any(r.verdict in FAILING for r in self.rows)


def _group(records: list[RunRecord]) -> dict[RunKey, list[RunRecord]]:
    out: dict[RunKey, list[RunRecord]] = defaultdict(list)
    for rec in records:
        out[(str(rec.suite), str(rec.profile), str(rec.experiment), rec.variant or "")].append(rec)
    return out


def _metrics_of(recs: list[RunRecord]) -> list[str]:
    names: set[str] = set()
    for rec in recs:
        for probe, values in (rec.metrics or {}).items():
            names.update(f"{probe}.{m}" for m in probe_metrics(probe) if m in values)
        names.update(m for m in EXTRA_METRICS if rec.metric_value(m)[0] is not None)
    return sorted(names)


def _values(recs: list[RunRecord], metric: str) -> dict[int, float]:
    out = {}
    for rec in recs:
        value, _ = rec.metric_value(metric)
        if value is not None and math.isfinite(value):
            out[rec.seed_or] = value
    return out


def _welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Δ = mean(b) − mean(a) and Welch's 95 % interval."""
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1)
    se2 = va / len(a) + vb / len(b)
    delta = mb - ma
    if se2 == 0:
        return delta, delta, delta
    df = se2 ** 2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    half = t_quantile(0.975, max(1, int(df))) * math.sqrt(se2)
    return delta, delta - half, delta + half


def judge_row(key: RunKey, metric: str, a: dict[int, float], b: dict[int, float]) -> Row:
    """The mark of one metric given both sets' values per seed (see the module docstring)."""
    common = sorted(set(a) & set(b))
    if common and all(a[s] == b[s] for s in common) and set(a) == set(b):
        return Row(key, metric, a, b, "identical", 0.0, (0.0, 0.0), f"{len(common)} seeds equal")
    if len(common) >= 2:
        stats = paired_stats([b[s] - a[s] for s in common])
        lo, hi, test = stats.ci_low, stats.ci_high, f"paired over seeds {' '.join(map(str, common))}"
        delta = stats.mean
    elif len(a) >= 2 and len(b) >= 2:
        delta, lo, hi = _welch(list(a.values()), list(b.values()))
        test = f"Welch, {len(a)} vs {len(b)} seeds"
    else:
        delta = (sum(b.values()) / len(b) - sum(a.values()) / len(a)) if a and b else None
        return Row(key, metric, a, b, "no noise estimate", delta, None, f"{len(a)} vs {len(b)} seeds")
    if lo is None or hi is None or delta is None:
        return Row(key, metric, a, b, "no noise estimate", delta, None, test)
    verdict = "higher" if lo > 0 else "lower" if hi < 0 else "within noise"
    return Row(key, metric, a, b, verdict, delta, (lo, hi), test)


def config_changes(rec_a: RecordLike, rec_b: RecordLike, limit: int = 4) -> list[str]:
    """The computed config keys that differ between two records of the same run (``a → b``), at most ``limit``."""
    config_a, config_b = as_record(rec_a).config or {}, as_record(rec_b).config or {}
    if computation_hash(config_a) == computation_hash(config_b):
        return []
    changes: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if path == "experiment" and k in DESCRIPTIVE_FIELDS:
                    continue
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else k)
        elif x != y and path != "seed":
            changes.append(f"{path.removeprefix('experiment.')} {_short(x)} → {_short(y)}")

    walk(config_a, config_b, "")
    return changes[:limit] + ([f"… {len(changes) - limit} more"] if len(changes) > limit else [])


def _short(value: Any) -> str:
    """A config value for a one-line note: mappings without their null entries."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items() if v is not None) + "}"
    return repr(value)


def _provenance(records: list[RunRecord]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        prov = rec.provenance
        if prov is None:
            continue
        if prov.git is not None and prov.git.commit:
            out["commit"].add(str(prov.git.commit)[:8] + (" (dirty)" if prov.git.dirty else ""))
        for name, version in (prov.packages or {}).items():
            if name in ("torch", "lightly", "pytorch-lightning", "numpy", "scikit-learn"):
                out[name].add(str(version))
        hw = prov.hardware
        if hw is not None and (hw.cpu_model or hw.gpu):
            out["hardware"].add(" / ".join(str(x) for x in (hw.cpu_model, hw.gpu) if x))
    return out


def compare_results(a_dir: Path, b_dir: Path) -> Comparison:
    """Match the records of two results directories and judge every shared metric."""
    sets = []
    for d in (a_dir, b_dir):
        records = list(ResultsStore(Path(d)).records())
        if not records:
            raise ResultsError(f"no run records under {d}/runs", hint="pass a directory written by `bench run`")
        sets.append(records)
    groups_a, groups_b = _group(sets[0]), _group(sets[1])
    comp = Comparison(Path(a_dir), Path(b_dir), only_a=sorted(set(groups_a) - set(groups_b)),
                      only_b=sorted(set(groups_b) - set(groups_a)))
    for key in sorted(set(groups_a) & set(groups_b)):
        ra, rb = groups_a[key], groups_b[key]
        failed_a = {r.seed_or for r in ra if not r.ok}
        failed_b = {r.seed_or for r in rb if not r.ok}
        by_seed_a = {r.seed_or: r for r in ra if r.ok}
        by_seed_b = {r.seed_or: r for r in rb if r.ok}
        shared = sorted(set(by_seed_a) & set(by_seed_b))
        note = "; ".join(config_changes(by_seed_a[shared[0]], by_seed_b[shared[0]])) if shared else ""
        if failed_a != failed_b:
            comp.rows.append(Row(key, "status", {}, {}, "failed", note=(
                f"failed seeds: A {sorted(failed_a) or '-'}, B {sorted(failed_b) or '-'}")))
        for metric in sorted(set(_metrics_of(ra)) & set(_metrics_of(rb))):
            row = judge_row(key, metric, _values(ra, metric), _values(rb, metric))
            row.note = note
            comp.rows.append(row)
    pa, pb = _provenance(sets[0]), _provenance(sets[1])
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) != pb.get(name):
            comp.provenance.append(f"{name}: A {', '.join(sorted(pa.get(name, set()))) or '?'} / "
                                   f"B {', '.join(sorted(pb.get(name, set()))) or '?'}")
    return comp


def _side(values: dict[int, float]) -> str:
    if not values:
        return "—"
    vals = list(values.values())
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return f"{fmt_number(mean)} (n=1)"
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    return f"{fmt_number(mean)} ± {fmt_number(sd)} (n={len(vals)})"


def render_markdown(comp: Comparison) -> str:
    """The comparison as Markdown (what ``bench compare`` prints)."""
    lines = [f"# Comparison: A = {comp.a_dir}, B = {comp.b_dir}", "",
             "Δ = B − A; marks: " + ", ".join(f"`{m}` {v}" for v, m in MARKS.items())
             + " (95 % t-interval of Δ: paired by seed, else Welch).", ""]
    if comp.provenance:
        lines += ["Provenance that differs: " + "; ".join(comp.provenance), ""]
    if comp.rows:
        lines += ["| suite/profile | experiment | variant | metric | A | B | Δ | 95% CI | test | mark | config change |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in comp.rows:
        ci = f"[{fmt_number(r.interval[0])}, {fmt_number(r.interval[1])}]" if r.interval else "—"
        cells = [f"{r.key[0]}/{r.key[1]}", r.key[2], r.key[3] or "-", r.metric, _side(r.a), _side(r.b),
                 fmt_number(r.delta) or "—", ci, r.test or "—", f"{r.mark} {r.verdict}", r.note or "—"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    for label, keys in (("Only in A", comp.only_a), ("Only in B", comp.only_b)):
        if keys:
            lines += ["", f"{label}: " + ", ".join("/".join(x for x in k if x) for k in keys)]
    counts = defaultdict(int)
    for r in comp.rows:
        counts[r.verdict] += 1
    lines += ["", "Summary: " + (", ".join(f"{n} {MARKS[v]} {v}" for v, n in sorted(counts.items())) or "no shared runs")]
    return "\n".join(lines) + "\n"
