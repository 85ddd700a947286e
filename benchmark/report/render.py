"""Render the value matrix as Markdown, CSV and a self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

from benchmark.report.diff import VERDICTS, Row
from benchmark.results.store import atomic_write_text

COLUMNS = ["suite", "profile", "experiment", "variant", "metric", "reproduced", "std", "n", "seeds", "reported",
           "delta", "verdict", "source", "scale"]


def _fmt(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def row_cells(r: Row) -> dict[str, Any]:
    return {
        "suite": r.suite,
        "profile": r.profile,
        "experiment": r.experiment,
        "variant": r.variant or "-",
        "metric": r.metric,
        "reproduced": _fmt(r.mean),
        "std": _fmt(r.std),
        "n": r.n,
        "seeds": " ".join(str(s) for s in r.seeds),
        "reported": _fmt(r.reported) if r.reported is not None else ("null (not transcribed)" if r.reported_status == "not transcribed" else ""),
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


def to_markdown(rows: list[Row], *, title: str, extra_sections: list[str] | None = None) -> str:
    lines = [f"# {title}", ""]
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
        lines.append("| experiment | variant | metric | reproduced | n | reported | Δ | verdict | paper ref / source |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in grp:
            c = row_cells(r)
            rep = f"{c['reproduced']} ± {c['std']}" if c["std"] else c["reproduced"]
            ref = r.source or r.reproduces or ""
            lines.append(f"| {r.experiment} | {c['variant']} | {r.metric} | {rep or '—'} | {r.n} | "
                         f"{c['reported'] or '—'} | {c['delta'] or '—'} | {c['verdict']} | {ref} |")
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
    for section in extra_sections or []:
        lines += [section, ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24;max-width:1400px}
table{border-collapse:collapse;margin:1rem 0;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.v-reproduced{background:#dafbe1}.v-below,.v-failed{background:#ffebe9}.v-above{background:#ddf4ff}
.v-within-noise{background:#fff8c5}.v-not-comparable,.v-no-reported-number{color:#57606a}
.scale{color:#57606a;font-size:13px} figure{margin:1rem 0} figcaption{font-size:13px;color:#57606a}
"""


def to_html(rows: list[Row], *, title: str, figures: list[tuple[str, str]] | None = None,
            extra_html: list[str] | None = None) -> str:
    """A single self-contained page (inline CSS, figures embedded as data: URIs)."""
    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>",
           "<p>Reproduced = mean over seeds (± sample std); Δ = reproduced − reported (points). Verdicts: "
           + ", ".join(f"<code>{e(m)}</code> {e(v)}" for v, m in VERDICTS.items()) + ".</p>"]
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.suite, r.profile), []).append(r)
    for (suite, profile), grp in groups.items():
        out.append(f"<h2>{e(suite)} — profile <code>{e(profile)}</code></h2>")
        out.append("<p class='scale'>Scale: " + e("; ".join(sorted({r.scale for r in grp}))) + "</p>")
        out.append("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in
                   ["experiment", "variant", "metric", "reproduced", "std", "n", "reported", "Δ", "verdict", "source"])
                   + "</tr></thead><tbody>")
        for r in grp:
            c = row_cells(r)
            cls = "v-" + r.verdict.replace(" ", "-")
            out.append(
                f"<tr class='{cls}'><td>{e(r.experiment)}</td><td>{e(c['variant'])}</td><td>{e(r.metric)}</td>"
                f"<td class='num'>{e(c['reproduced'])}</td><td class='num'>{e(c['std'])}</td>"
                f"<td class='num'>{r.n}</td><td class='num'>{e(str(c['reported']))}</td>"
                f"<td class='num'>{e(c['delta'])}</td><td>{e(c['verdict'])}</td>"
                f"<td>{e(r.source or r.reproduces or '')}</td></tr>")
        out.append("</tbody></table>")
        failed = sorted({f"{r.experiment} {r.variant}: {m}" for r in grp for m in r.failed})
        if failed:
            out.append("<h3>Failed runs</h3><ul>" + "".join(f"<li>{e(f)}</li>" for f in failed) + "</ul>")
    for caption, data_uri in figures or []:
        out.append(f"<figure><img alt='{e(caption)}' src='{data_uri}' style='max-width:100%'>"
                   f"<figcaption>{e(caption)}</figcaption></figure>")
    out.extend(extra_html or [])
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_reports(out_dir: Path, rows: list[Row], *, title: str, extra_md: list[str] | None = None,
                  figures: list[tuple[str, str]] | None = None, extra_html: list[str] | None = None) -> dict[str, Path]:
    """Write report.md, report.csv and report.html atomically; returns their paths."""
    paths = {"md": out_dir / "report.md", "csv": out_dir / "report.csv", "html": out_dir / "report.html"}
    atomic_write_text(paths["md"], to_markdown(rows, title=title, extra_sections=extra_md))
    atomic_write_text(paths["csv"], to_csv(rows))
    atomic_write_text(paths["html"], to_html(rows, title=title, figures=figures, extra_html=extra_html))
    return paths
