"""Render the value matrix, claim verdicts and figures as Markdown, CSV and a self-contained HTML page.

Files written by :func:`write_reports` into the results directory:

* ``report.md`` — one table per (suite, profile): reproduced (mean ± std, seeds) vs reported, Δ, verdict, source,
  with the scale of the runs; the claims table (mean paired difference, 95 % CI, verdict, profile and scale); the
  reported differences (the paper's text-only gains, judged under the points and the relative reading); the
  coverage of the paper's tables and figures; figures linked from ``figures/*.png``; the suite's notes (what it
  leaves out and why);
* ``report.csv`` — the value matrix (one row per experiment × variant × metric), ``claims.csv`` — the claims,
  ``gains.csv`` — the reported differences (one row per difference × comparison × profile);
* ``report.html`` — the same content in one self-contained page: inline CSS, figures as ``data:`` URIs, no
  scripts and no external resources (it renders offline and in a headless browser).
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

from benchmark.atomic import atomic_write_bytes, atomic_write_text
from benchmark.report import gains as gains_mod
from benchmark.report.claims import CLAIM_COLUMNS, CLAIM_VERDICTS, EXTENSION_MARK, ClaimResult, result_cells
from benchmark.report.coverage import CoverageUnavailable, SuiteCoverage, coverage_html, coverage_markdown
from benchmark.report.diff import VERDICTS, Row
from benchmark.report.gains import GAIN_COLUMNS, GAIN_VERDICTS, GainResult
from benchmark.report.provenance import provenance_html, provenance_markdown
from benchmark.report.summary import summary_html, summary_markdown
from benchmark.report.verdicts import verdicts_html, verdicts_markdown
from benchmark.results.record import RecordLike

#: A figure for the HTML page: an object with ``caption``, ``data_uri`` (and ``slug``, ``png`` to be written as a
#: file), or a plain ``(caption, data_uri)`` tuple.
FigureLike = Any

#: report.csv: ``variant`` is the grid label (the run path), ``variant_label`` the grid point in words; accuracies
#: (``reproduced``, ``std``, ``reported``) in ``unit``, ``delta`` (reproduced − reported) in points of it;
#: ``reported`` is a number or empty, ``reported_status`` says why it is empty (not transcribed, or no entry).
COLUMNS = ["suite", "profile", "experiment", "variant", "variant_label", "metric", "unit", "reproduced", "std", "n",
           "seeds", "reported", "reported_status", "delta", "verdict", "source", "scale"]

#: Unit of every value-matrix metric (top-1/top-5 accuracies, as in the papers' tables).
ACCURACY_UNIT = "%"


def _fmt(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def reported_status(r: Row) -> str:
    """``transcribed``, ``not transcribed`` (the baseline is null) or ``no entry`` (no baseline names the row)."""
    if r.reported is not None:
        return r.reported_status or "transcribed"
    return "not transcribed" if r.reported_status == "not transcribed" else "no entry"


def row_cells(r: Row) -> dict[str, Any]:
    """The cells of one value-matrix row (CSV: numbers only in the numeric columns)."""
    return {
        "suite": r.suite,
        "profile": r.profile,
        "experiment": r.experiment,
        "variant": r.variant or "-",
        "variant_label": r.variant_label or ("no grid" if not r.variant else r.variant),
        "metric": r.metric,
        "unit": ACCURACY_UNIT,
        "reproduced": _fmt(r.mean),
        "std": _fmt(r.std),
        "n": r.n,
        "seeds": " ".join(str(s) for s in r.seeds),
        "reported": _fmt(r.reported),
        "reported_status": reported_status(r),
        "delta": _fmt(r.delta),
        "verdict": f"{r.mark} {r.verdict}",
        "source": r.source or "",
        "scale": r.scale,
    }


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(row_cells(r))
    return buf.getvalue()


def _fig_parts(fig: FigureLike) -> tuple[str, str, str | None]:
    """(caption, data URI, slug or None) of a figure object or tuple."""
    if isinstance(fig, tuple):
        return str(fig[0]), str(fig[1]), None
    return str(fig.caption), str(fig.data_uri), str(getattr(fig, "slug", "") or "") or None


def claims_markdown(claims: list[ClaimResult]) -> list[str]:
    """The claims section: one row per claim and profile."""
    if not claims:
        return []
    lines = ["## Claims", "",
             "Each claim is checked on paired seeds (same seed, runs differing only in the compared variant): "
             "mean paired difference treatment − control, 95 % t-interval over the differences, and a verdict: "
             + ", ".join(f"`{m}` {v}" for v, m in CLAIM_VERDICTS.items()) + ". A verdict holds only at the "
             "profile and scale it was checked at. Claims whose seeds were added by `--until-decided` are judged by "
             "an always-valid 95 % confidence sequence instead of the t-interval. Power analysis (normal paired "
             "differences, observed sd taken as the true one): paired sd; MDE = the smallest |Δ − margin| the "
             "t-interval decides with 80 % power at these seeds; seeds needed = pairs for 80 % power at the "
             "observed Δ, with fixed seeds / with `--until-decided` (see the README, *Power and sequential "
             "seeds*).", ""]
    if any(r.verdict != "not checked" for r in claims):
        lines += ["| claim | statement | expectation | profile | n | seeds | mean diff | 95% CI | verdict | reason "
                  "| paired sd | MDE | seeds needed (fixed / sequential) | source |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in claims if r.verdict != "not checked"):
        c = result_cells(r)
        statement = c["statement"] if r.claim.source.kind == "paper" else f"*{EXTENSION_MARK}*: {c['statement']}"
        source = c["source"] + (f' — "{shorten(c["quote"])}"' if c["quote"] else "")
        needed = f"{c['seeds_needed']} / {c['seeds_needed_sequential']}" if c["seeds_needed"] else "—"
        if c["seeds_needed"] and c["seeds_needed"] == c["seeds_needed_sequential"]:
            needed = c["seeds_needed"]
        cells = [c["claim"], statement, c["expectation"], c["profile"] or "—", c["n_pairs"], c["seeds"] or "—",
                 with_unit(c["mean_diff"], c["unit"]) or "—", with_unit(c["ci95"], c["unit"]) or "—", c["verdict"],
                 c["reason"], with_unit(c["paired_sd"], c["unit"]) or "—", with_unit(c["mde"], c["unit"]) or "—",
                 needed, source]
        lines.append("| " + " | ".join(md_cell(x) for x in cells) + " |")
    unchecked = [r.claim.id + (" (extension)" if r.claim.source.kind == "extension" else "")
                 for r in claims if r.verdict == "not checked"]
    if unchecked:
        lines += ["", f"`{CLAIM_VERDICTS['not checked']}` Not checked (no runs of the compared variants in these "
                  f"results; see claims.csv): " + ", ".join(f"`{i}`" for i in unchecked)]
    scales = sorted({(r.profile, r.scale) for r in claims if r.profile and r.scale})
    if scales:
        lines += ["", "Scales: " + "; ".join(f"`{p}` = {sc}" for p, sc in scales)]
    lines.append("")
    return lines


def with_unit(value: str, unit: str) -> str:
    """``'+2.13 points'``, ``'[0.98, 4.25] dimensions'``; the bare value without a unit, empty for no value."""
    return f"{value} {unit}" if value and unit else value


def shorten(text: str, width: int = 90) -> str:
    """``text`` on one line, cut at a word boundary to at most ``width`` characters (with '…')."""
    one = " ".join(text.split())
    if len(one) <= width:
        return one
    cut = one[: width - 1].rsplit(" ", 1)[0]
    return cut + "…"


def md_cell(text: str) -> str:
    """A Markdown table cell: pipes escaped, on one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def gains_markdown(gains: list[GainResult]) -> list[str]:
    """The reported-differences section: one row per difference × comparison × profile."""
    if not gains:
        return []
    lines = ["## Reported differences", "",
             "Differences the paper states in its text (not in a table cell), checked on paired seeds: the mean "
             "paired difference treatment − control with its 95 % t-interval, against the reported value read as "
             "**points** and as **relative** (value % of the control's mean over the paired seeds, shown in points). "
             "Verdicts per reading: " + ", ".join(f"`{m}` {v}" for v, m in GAIN_VERDICTS.items())
             + ". Rows at a profile other than `paper`, or on a proxy setting, are computed but "
             f"`{gains_mod.NOT_COMPARABLE}` with the paper.", ""]
    judged = [r for r in gains if r.status == "judged"]
    if judged:
        lines += ["| id | statement | source | comparison | profile | reported Δ (points) | reported Δ (relative) "
                  "| reproduced Δ [95% CI] (n; seeds) | verdict (points) | verdict (relative) | scale |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in judged:
        c = gains_mod.result_cells(r)
        statement = f'{c["statement"]} — "{shorten(c["quote"], 70)}"'
        repro = (f"{c['mean_diff'] or '—'} {c['ci95']} (n={c['n_pairs']}; seeds {c['seeds'] or '—'})")
        cells = [c["id"], statement, c["source"], f"{c['comparison']} ({c['metric']})", c["profile"],
                 c["reported_points"], c["reported_relative"], repro, c["verdict_points"], c["verdict_relative"],
                 c["comparable"]]
        lines.append("| " + " | ".join(md_cell(x) for x in cells) + " |")
    unchecked = [r for r in gains if r.status == "not checked"]
    if unchecked:
        lines += ["", f"`{GAIN_VERDICTS['not checked']}` Not checked (no runs of either side in these results; see "
                  "gains.csv): " + ", ".join(f"`{r.difference.id}` ({r.comparison.text() if r.comparison else ''})"
                                             for r in unchecked)]
    uncovered = [r for r in gains if r.status == "not covered"]
    if uncovered:
        lines += ["", f"`{GAIN_VERDICTS['not covered']}` Not covered by any experiment:", ""]
        lines += [f"- `{r.difference.id}` — {md_cell(r.difference.statement)} ({r.difference.reported_text()}; "
                  f"{md_cell(r.difference.source.where())}): {md_cell(r.reason)}" for r in uncovered]
    lines.append("")
    return lines


def gains_to_csv(gains: list[GainResult]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=GAIN_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in gains:
        w.writerow(gains_mod.result_cells(r))
    return buf.getvalue()


def coverage_section_md(coverage: list[SuiteCoverage | CoverageUnavailable]) -> list[str]:
    if not coverage:
        return []
    lines = ["## Coverage", "", "Which of the paper's tables and figures (`paper.items` of the suite file) an "
             "experiment reproduces, and how many reported cells of each the baselines file holds.", ""]
    for cov in coverage:
        lines += coverage_markdown(cov)
    return lines


def claims_to_csv(claims: list[ClaimResult]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CLAIM_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in claims:
        w.writerow(result_cells(r))
    return buf.getvalue()


def to_markdown(rows: list[Row], *, title: str, extra_sections: list[str] | None = None,
                claims: list[ClaimResult] | None = None, figures: list[tuple[str, str]] | None = None,
                notes: dict[str, list[str]] | None = None, gains: list[GainResult] | None = None,
                coverage: list[SuiteCoverage | CoverageUnavailable] | None = None,
                records: list[RecordLike] | None = None) -> str:
    """Markdown report; ``figures`` are (caption, relative image path) pairs, ``notes`` per suite; with
    ``records``, the summary line and the provenance block come first."""
    lines = [f"# {title}", ""]
    if records is not None:
        lines += summary_markdown(records, rows, claims or [])
    lines += verdicts_markdown(claims or [])
    if records is not None:
        lines += provenance_markdown(records)
    lines.append("Reproduced = mean over seeds (± sample std, n seeds); Δ = reproduced − reported, in points. "
                 "Verdicts: " + ", ".join(f"`{m}` {v}" for v, m in VERDICTS.items()) + ".")
    lines.append("")
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.suite, r.profile), []).append(r)
    for (suite, profile), grp in groups.items():
        lines += [f"## {suite} — profile `{profile}`", ""]
        scales = sorted({r.scale for r in grp})
        lines.append("Scale of these runs: " + "; ".join(scales))
        lines.append("")
        lines.append("| experiment | variant | metric | reproduced | n | reported | Δ | verdict | paper ref / source "
                     "| seeds |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in grp:
            c = row_cells(r)
            rep = f"{c['reproduced']} ± {c['std']}" if c["std"] else c["reproduced"]
            ref = r.source or r.reproduces or ""
            reported = c["reported"] or ("null (not transcribed)" if c["reported_status"] == "not transcribed" else "—")
            variant = c["variant"] if c["variant_label"] in (c["variant"], "no grid") else \
                f"{c['variant']} ({md_cell(c['variant_label'])})"
            lines.append(f"| {r.experiment} | {variant} | {r.metric} | {rep or '—'} | {r.n} | "
                         f"{reported} | {c['delta'] or '—'} | {c['verdict']} | {ref} | "
                         f"{c['seeds'] or '—'} |")
        failed = [(r, msg) for r in grp for msg in r.failed]
        if failed:
            lines += ["", "Failed runs:", ""]
            seen = set()
            for r, msg in failed:
                if (r.experiment, r.variant, msg) in seen:
                    continue
                seen.add((r.experiment, r.variant, msg))
                lines.append(f"- `{r.experiment}` {r.variant or ''} — {msg}")
        lines.append("")
    lines += claims_markdown(claims or [])
    lines += gains_markdown(gains or [])
    lines += coverage_section_md(coverage or [])
    for section in extra_sections or []:
        lines += [section, ""]
    if figures:
        lines += ["## Figures", ""]
        for caption, path in figures:
            lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    for suite, items in (notes or {}).items():
        if items:
            lines += [f"## Notes of suite `{suite}` (deviations, what is left out and why)", ""]
            lines += [f"- {item}" for item in items] + [""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;max-width:1400px}
table{border-collapse:collapse;margin:1rem 0;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.v-reproduced{background:#dafbe1}.v-below,.v-failed{background:#ffebe9}.v-above{background:#ddf4ff}
.v-within-noise{background:#fff8c5}.v-not-comparable,.v-no-reported-number{color:#57606a}
.scale{color:#57606a;font-size:13px} figure{margin:1rem 0} figcaption{font-size:13px;color:#57606a}
.c-reproduced{background:#dafbe1}.c-not-reproduced{background:#ffebe9}.c-inconclusive{background:#fff8c5}
.c-not-checked{color:#57606a} img{border:1px solid #d0d7de}
.cov-covered{background:#dafbe1}.cov-partly-covered{background:#fff8c5}.cov-not-covered{background:#ffebe9}
.g-consistent{background:#dafbe1}.g-smaller-than-reported,.g-larger-than-reported{background:#ffebe9}
.g-inconclusive,.g-mixed{background:#fff8c5}.g-nc{color:#57606a} details{font-size:13px} .ext{font-style:italic}
.summary{font-size:16px} .provenance{font-size:13px;color:#57606a} .provenance ul{margin:4px 0}
"""


def claims_html(claims: list[ClaimResult]) -> list[str]:
    """The claims table of the HTML page."""
    if not claims:
        return []
    e = html.escape
    out = ["<h2>Claims</h2>",
           "<p>Paired seeds (same seed, runs differing only in the compared variant); mean paired difference "
           "treatment − control with its 95 % t-interval. Verdicts: "
           + ", ".join(f"<code>{e(m)}</code> {e(v)}" for v, m in CLAIM_VERDICTS.items())
           + ". A verdict holds only at the profile and scale it was checked at.</p>"]
    judged = [r for r in claims if r.verdict != "not checked"]
    if judged:
        out.append("<table class='claims'><thead><tr>" + "".join(f"<th>{h}</th>" for h in
                   ["claim", "statement", "expectation", "profile", "n", "seeds", "mean diff", "95% CI", "verdict",
                    "reason", "paired sd", "MDE", "seeds needed (fixed)", "seeds needed (sequential)", "scale",
                    "source"]) + "</tr></thead><tbody>")
    for r in judged:
        c = result_cells(r)
        ext = f"<span class='ext'>{e(EXTENSION_MARK)}</span>: " if r.claim.source.kind == "extension" else ""
        quote = f" title='{e(c['quote'])}'" if c["quote"] else ""
        out.append(
            f"<tr class='c-{r.verdict.replace(' ', '-')}'><td>{e(c['claim'])}</td><td{quote}>{ext}{e(c['statement'])}"
            "</td>"
            f"<td>{e(c['expectation'])}</td><td>{e(c['profile'])}</td><td class='num'>{e(c['n_pairs'])}</td>"
            f"<td>{e(c['seeds'])}</td><td class='num'>{e(with_unit(c['mean_diff'], c['unit']))}</td>"
            f"<td class='num'>{e(with_unit(c['ci95'], c['unit']))}</td>"
            f"<td>{e(c['verdict'])}</td><td>{e(c['reason'])}</td>"
            f"<td class='num'>{e(with_unit(c['paired_sd'], c['unit']))}</td>"
            f"<td class='num'>{e(with_unit(c['mde'], c['unit']))}</td><td>{e(c['seeds_needed'])}</td>"
            f"<td>{e(c['seeds_needed_sequential'])}</td><td class='scale'>{e(c['scale'])}</td>"
            f"<td>{e(c['source'])}</td></tr>")
    if judged:
        out.append("</tbody></table>")
    unchecked = [r.claim.id for r in claims if r.verdict == "not checked"]
    if unchecked:
        out.append(f"<p class='c-not-checked'>{e(CLAIM_VERDICTS['not checked'])} Not checked (no runs of the compared "
                   "variants in these results; see claims.csv): " + ", ".join(f"<code>{e(i)}</code>" for i in unchecked)
                   + "</p>")
    return out


def gains_html(gains: list[GainResult]) -> list[str]:
    """The reported-differences table of the HTML page (the full quote in a details element; no scripts)."""
    if not gains:
        return []
    e = html.escape
    out = ["<h2>Reported differences</h2>",
           "<p>Differences the paper states in its text, checked on paired seeds: mean paired difference treatment − "
           "control with its 95 % t-interval, against the reported value read as points and as relative (value % of "
           "the control's mean over the paired seeds, in points). Verdicts: "
           + ", ".join(f"<code>{e(m)}</code> {e(v)}" for v, m in GAIN_VERDICTS.items())
           + f". Rows at a profile other than <code>paper</code> or on a proxy are <code>"
           f"{e(gains_mod.NOT_COMPARABLE)}</code>.</p>"]
    heads = ["id", "statement and quote", "source", "comparison", "profile", "reported Δ (points)",
             "reported Δ (relative)", "reproduced Δ", "95% CI", "n", "seeds", "verdict (points)", "verdict (relative)",
             "scale", "reason"]
    rows = [r for r in gains if r.status != "not covered"]
    if rows:
        out.append("<table class='gains'><thead><tr>" + "".join(f"<th>{h}</th>" for h in heads)
                   + "</tr></thead><tbody>")
    for r in rows:
        c = gains_mod.result_cells(r)
        judged = sorted({v.verdict for v in r.readings.values()})
        cls = "g-nc" if r.status != "judged" else ("g-" + judged[0].replace(" ", "-") if len(judged) == 1
                                                    else "g-mixed")
        if r.status == "judged" and not r.comparable:
            cls += " g-nc"
        quote = (f"<details><summary>quote</summary>{e(c['quote'])}</details>")
        cells = [e(c["id"]), f"<span title='{e(c['quote'])}'>{e(c['statement'])}</span>{quote}", e(c["source"]),
                 e(f"{c['comparison']} ({c['metric']})"), e(c["profile"]), e(c["reported_points"]),
                 e(c["reported_relative"]), e(c["mean_diff"]), e(c["ci95"]), e(c["n_pairs"]), e(c["seeds"]),
                 e(c["verdict_points"]), e(c["verdict_relative"]), e(c["comparable"] or c["scale"]), e(c["reason"])]
        out.append(f"<tr class='{cls}'>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    if rows:
        out.append("</tbody></table>")
    uncovered = [r for r in gains if r.status == "not covered"]
    if uncovered:
        out.append(f"<p>{e(GAIN_VERDICTS['not covered'])} Not covered by any experiment:</p><ul>"
                   + "".join(f"<li><code>{e(r.difference.id)}</code> — {e(r.difference.statement)} "
                             f"({e(r.difference.reported_text())}; {e(r.difference.source.where())}): {e(r.reason)}"
                             f"<details><summary>quote</summary>{e(r.difference.quote)}</details></li>"
                             for r in uncovered) + "</ul>")
    return out


def coverage_section_html(coverage: list[SuiteCoverage | CoverageUnavailable]) -> list[str]:
    if not coverage:
        return []
    out = ["<h2>Coverage</h2>", "<p>Which of the paper's tables and figures (<code>paper.items</code>) an experiment "
           "reproduces, and how many reported cells of each the baselines file holds.</p>"]
    for cov in coverage:
        out += coverage_html(cov)
    return out


def to_html(rows: list[Row], *, title: str, figures: list[FigureLike] | None = None,
            extra_html: list[str] | None = None, claims: list[ClaimResult] | None = None,
            notes: dict[str, list[str]] | None = None, gains: list[GainResult] | None = None,
            coverage: list[SuiteCoverage | CoverageUnavailable] | None = None,
            records: list[RecordLike] | None = None) -> str:
    """A single self-contained page (inline CSS, figures embedded as data: URIs, no scripts)."""
    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    if records is not None:
        out += summary_html(records, rows, claims or [])
    out += verdicts_html(claims or [])
    if records is not None:
        out += provenance_html(records)
    out.append("<p>Reproduced = mean over seeds (± sample std); Δ = reproduced − reported (points). Verdicts: "
               + ", ".join(f"<code>{e(m)}</code> {e(v)}" for v, m in VERDICTS.items()) + ".</p>")
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.suite, r.profile), []).append(r)
    for (suite, profile), grp in groups.items():
        out.append(f"<h2>{e(suite)} — profile <code>{e(profile)}</code></h2>")
        out.append("<p class='scale'>Scale: " + e("; ".join(sorted({r.scale for r in grp}))) + "</p>")
        out.append("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in
                   ["experiment", "variant", "metric", "reproduced", "std", "n", "seeds", "reported", "Δ", "verdict",
                    "source", "grid point"]) + "</tr></thead><tbody>")
        for r in grp:
            c = row_cells(r)
            cls = "v-" + r.verdict.replace(" ", "-")
            out.append(
                f"<tr class='{cls}'><td>{e(r.experiment)}</td><td>{e(c['variant'])}</td><td>{e(r.metric)}</td>"
                f"<td class='num'>{e(c['reproduced'])}</td><td class='num'>{e(c['std'])}</td>"
                f"<td class='num'>{r.n}</td><td>{e(c['seeds'])}</td><td class='num'>"
                f"{e(c['reported'] or ('null (not transcribed)' if c['reported_status'] == 'not transcribed' else ''))}</td>"
                f"<td class='num'>{e(c['delta'])}</td><td>{e(c['verdict'])}</td>"
                f"<td>{e(r.source or r.reproduces or '')}</td><td class='scale'>{e(c['variant_label'])}</td></tr>")
        out.append("</tbody></table>")
        failed = sorted({f"{r.experiment} {r.variant}: {m}" for r in grp for m in r.failed})
        if failed:
            out.append("<h3>Failed runs</h3><ul>" + "".join(f"<li>{e(f)}</li>" for f in failed) + "</ul>")
    out.extend(claims_html(claims or []))
    out.extend(gains_html(gains or []))
    out.extend(coverage_section_html(coverage or []))
    out.extend(extra_html or [])
    if figures:
        out.append("<h2>Figures</h2>")
    for fig in figures or []:
        caption, data_uri, _ = _fig_parts(fig)
        out.append(f"<figure><img alt='{e(caption)}' src='{e(data_uri)}' style='max-width:100%'>"
                   f"<figcaption>{e(caption)}</figcaption></figure>")
    for suite, items in (notes or {}).items():
        if items:
            out.append(f"<h2>Notes of suite <code>{e(suite)}</code></h2><ul>"
                       + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_reports(out_dir: Path, rows: list[Row], *, title: str, extra_md: list[str] | None = None,
                  figures: list[FigureLike] | None = None, extra_html: list[str] | None = None,
                  claims: list[ClaimResult] | None = None, notes: dict[str, list[str]] | None = None,
                  gains: list[GainResult] | None = None,
                  coverage: list[SuiteCoverage | CoverageUnavailable] | None = None,
                  records: list[RecordLike] | None = None) -> dict[str, Path]:
    """Write report.md, report.csv, claims.csv, gains.csv, report.html (and figures/*.png) atomically; returns
    their paths."""
    paths = {"md": out_dir / "report.md", "csv": out_dir / "report.csv", "html": out_dir / "report.html",
             "claims_csv": out_dir / "claims.csv", "gains_csv": out_dir / "gains.csv"}
    md_figures: list[tuple[str, str]] = []
    for fig in figures or []:
        caption, _, slug = _fig_parts(fig)
        if slug is not None and getattr(fig, "png", None):
            atomic_write_bytes(out_dir / "figures" / f"{slug}.png", fig.png)
            md_figures.append((caption, f"figures/{slug}.png"))
    atomic_write_text(paths["md"], to_markdown(rows, title=title, extra_sections=extra_md, claims=claims,
                                               figures=md_figures, notes=notes, gains=gains, coverage=coverage,
                                               records=records))
    atomic_write_text(paths["csv"], to_csv(rows))
    atomic_write_text(paths["claims_csv"], claims_to_csv(claims or []))
    atomic_write_text(paths["gains_csv"], gains_to_csv(gains or []))
    atomic_write_text(paths["html"], to_html(rows, title=title, figures=figures, extra_html=extra_html,
                                             claims=claims, notes=notes, gains=gains, coverage=coverage,
                                             records=records))
    return paths
