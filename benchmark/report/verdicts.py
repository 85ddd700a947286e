"""The verdicts block at the top of the report: every judged claim, decided or not, with the scale it was checked at.

A first reader should learn what was decided before any table: one line per claim and profile with its verdict,
the mean paired difference and the interval that decided it (95 % t-interval over the profile's seeds, or the
confidence sequence when seeds were added by ``--until-decided``), the seeds, and the scale; for an undecided claim
how far it is from a verdict (minimum detectable effect and seeds needed, :mod:`benchmark.report.power`). Decided
claims come first. Claims without a seed pair are counted, not listed (the claims section lists them).
"""

from __future__ import annotations

import html

from benchmark.formatting import fmt_number
from benchmark.report.claims import EXTENSION_MARK, ClaimResult, metric_unit

_ORDER = {"reproduced": 0, "not reproduced": 1, "inconclusive": 2}


def _judged(claims: list[ClaimResult]) -> list[ClaimResult]:
    """Claims with at least one seed pair, decided first."""
    judged = [r for r in claims if r.verdict != "not checked" and r.pairs]
    return sorted(judged, key=lambda r: (_ORDER.get(r.verdict, 3), r.suite, r.profile or "", r.claim.id))


def _not_judged_text(claims: list[ClaimResult]) -> str:
    """How many claims have no pair here: no runs at all, or runs of one side only."""
    none = sum(r.verdict == "not checked" for r in claims)
    one_side = sum(r.verdict != "not checked" and not r.pairs for r in claims)
    parts = ([f"{one_side} {'has' if one_side == 1 else 'have'} runs of one side only"] if one_side else []) + (
        [f"{none} have no runs in these results (not checked)"] if none else [])
    return f"Of the other claims of the baselines, {' and '.join(parts)}." if parts else ""


def _seeds_text(seeds: list[int]) -> str:
    if not seeds:
        return "no paired seeds"
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]})"
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({' '.join(map(str, seeds))})"


def claim_line(r: ClaimResult) -> str:
    """One claim as plain text: verdict, statement, Δ with its interval, seeds, power (if undecided), scale."""
    label = "interval" if r.design == "fixed" else "confidence sequence"
    parts = [f"{r.mark} {r.verdict}: {r.claim.statement}"]
    if r.claim.source.kind == "extension":
        parts[0] += f" ({EXTENSION_MARK})"
    unit, factor = metric_unit(r.claim.metric)
    in_unit = f" {unit}" if unit else ""
    if r.stats.mean is not None:
        delta = f"Δ = {fmt_number(r.stats.mean * factor)}{in_unit}"
        if r.interval is not None:
            delta += (f", 95 % {label} [{fmt_number(r.interval[0] * factor)}, {fmt_number(r.interval[1] * factor)}]"
                      f"{in_unit}")
        parts.append(f"{delta} ({r.claim.metric})")
    parts.append(_seeds_text(r.seeds) + (" (seeds added by --until-decided)" if r.design == "sequential" else ""))
    if r.verdict == "inconclusive" and r.power is not None:
        parts.append(r.power.summary(factor, unit))
    parts.append(f"checked at {r.scale}" if r.scale else "scale unknown")
    return " — ".join(parts)


def verdicts_markdown(claims: list[ClaimResult]) -> list[str]:
    """The ``## Verdicts`` section (empty when no claim was judged)."""
    judged = _judged(claims)
    if not judged:
        return []
    decided = sum(r.verdict != "inconclusive" for r in judged)
    lines = ["## Verdicts", "",
             f"{decided} of {len(judged)} judged claims decided. Each verdict holds only at the scale it was checked "
             "at; paired seeds, treatment − control. Details and the power analysis: [Claims](#claims).", ""]
    lines += [f"- `{r.claim.id}` ({r.profile}): " + claim_line(r).replace("|", "\\|") for r in judged]
    rest = _not_judged_text(claims)
    return lines + (["", rest] if rest else []) + [""]


def verdicts_html(claims: list[ClaimResult]) -> list[str]:
    """The same block for the HTML page."""
    judged = _judged(claims)
    if not judged:
        return []
    e = html.escape
    decided = sum(r.verdict != "inconclusive" for r in judged)
    out = ["<h2 id='verdicts'>Verdicts</h2>",
           f"<p>{decided} of {len(judged)} judged claims decided. Each verdict holds only at the scale it was checked "
           "at; paired seeds, treatment − control.</p>", "<ul class='verdicts'>"]
    out += [f"<li class='c-{r.verdict.replace(' ', '-')}'><code>{e(r.claim.id)}</code> ({e(r.profile or '')}): "
            f"{e(claim_line(r))}</li>" for r in judged]
    out.append("</ul>")
    rest = _not_judged_text(claims)
    if rest:
        out.append(f"<p class='c-not-checked'>{e(rest)}</p>")
    return out
