"""The summary line at the top of a report: runs, value-matrix verdicts and claim verdicts, counted.

Order at the top of ``report.md`` / ``report.html``: this line, then the verdicts block, then the provenance block
(:mod:`benchmark.report.provenance`).
"""

from __future__ import annotations

import html
from collections import Counter

from benchmark.report.claims import ClaimResult
from benchmark.report.diff import Row
from benchmark.results.record import RecordLike, as_records


def _counts(values: list[str], order: list[str]) -> str:
    c = Counter(values)
    keys = [k for k in order if c.get(k)] + sorted(k for k in c if k not in order)
    return ", ".join(f"{c[k]} {k}" for k in keys)


def summary_text(records: list[RecordLike], rows: list[Row], claims: list[ClaimResult]) -> str:
    """One sentence: ``24 runs (23 ok, 1 failed) of or_neurips24 (profile cpu), seeds 0-2; 48 rows: ...``."""
    records = as_records(records)
    status = Counter("ok" if r.ok else "failed" for r in records)
    suites = sorted({f"{r.suite} (profile {r.profile})" for r in records})
    seeds = sorted({r.seed for r in records if r.seed is not None})
    seed_text = ""
    if seeds:
        contiguous = seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2
        seed_text = f", seeds {seeds[0]}–{seeds[-1]}" if contiguous else f", seeds {', '.join(map(str, seeds))}"
    parts = [f"{len(records)} runs ({status['ok']} ok, {status['failed']} failed) of {', '.join(suites)}{seed_text}"]
    if rows:
        verdicts = ["reproduced", "within noise", "below", "above", "failed", "not comparable", "no reported number"]
        parts.append(f"{len(rows)} value rows: {_counts([r.verdict for r in rows], verdicts)}")
    if claims:
        order = ["reproduced", "not reproduced", "inconclusive", "not checked"]
        parts.append(f"{len(claims)} claim checks: {_counts([c.verdict for c in claims], order)}")
    return "; ".join(parts) + "."


def summary_markdown(records: list[RecordLike], rows: list[Row], claims: list[ClaimResult]) -> list[str]:
    return [f"**Summary:** {summary_text(records, rows, claims)}", ""]


def summary_html(records: list[RecordLike], rows: list[Row], claims: list[ClaimResult]) -> list[str]:
    return [f"<p class='summary'><strong>Summary:</strong> {html.escape(summary_text(records, rows, claims))}</p>"]
