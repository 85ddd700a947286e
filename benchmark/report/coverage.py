"""Paper coverage: for every table and figure of the paper (``paper.items``), which experiments reproduce it and how
many of its reported cells the baselines file holds.

Per item: the experiments whose ``reproduces`` cites it (table, figure, or a section that is an item id); a status,
**covered** (cited, no gaps), **partly covered** (cited, with ``gaps``: the parts not reproduced and why) or **not
covered** (no citing experiment; ``not_covered`` says why); and counts of the reported cells citing it in the
baselines file: **transcribed** (entries with a value), **not transcribed** (entries with ``value: null``), **text
only** (``reported_differences``: gains stated in the paper's text) and the claims citing it. Experiments marked
``reproduces: {kind: extension}`` are this project's additions and are listed separately.

``bench coverage SUITE...`` prints it; every report has a "Coverage" section for the suites it covers.
"""

from __future__ import annotations

import csv
import html
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from benchmark.suite.schema import PaperItem, Reference
from benchmark.suite.yaml_loader import Pos, PosDict


# ------------------------------------------------------------------------------------------------ references
@dataclass
class ReferenceSite:
    """One ``reproduces`` entry of one experiment, with where it is written."""

    experiment: str
    reference: Reference
    raw: Any  # the reference's mapping in the file (PosDict) if available
    anchor: Pos | None  # the line of the experiment's ``reproduces`` key
    key: str  # experiments[<id>].reproduces[<k>]

    def position(self, field_name: str | None = None) -> Pos | None:
        """The line of ``field_name`` in the reference, or of the reference itself.

        A reference reused through a YAML alias (``reproduces: *t2``) was written elsewhere: its positions are
        the anchor's, so the experiment's own ``reproduces`` line is returned instead.
        """
        own = None
        if isinstance(self.raw, PosDict):
            own = (self.raw.key_pos.get(field_name) if field_name else None) or self.raw.pos
        if own and self.anchor and (own[0] != self.anchor[0] or own[1] < self.anchor[1]):
            return self.anchor
        return own or self.anchor


def experiment_references(suite: Any) -> list[ReferenceSite]:
    """Every distinct ``reproduces`` entry of every experiment, over all profiles and grid points (a profile or a
    grid point may change it); the default profile first."""
    profiles = [suite.file.default_profile] + [p for p in suite.profile_names() if p != suite.file.default_profile]
    sites: list[ReferenceSite] = []
    seen: set[tuple[str, str]] = set()
    for profile in profiles:
        for res in suite.resolve(profile):
            refs = res.config.reproduces
            if refs is None:
                continue
            raw_refs = res.raw.get("reproduces") if isinstance(res.raw, dict) else None
            anchor = res.raw.position_of("reproduces") if isinstance(res.raw, PosDict) else res.pos
            listed = isinstance(refs, list)
            for k, ref in enumerate(refs if listed else [refs]):
                memo = (res.experiment_id, ref.model_dump_json())
                if memo in seen:
                    continue
                seen.add(memo)
                if listed:
                    raw_ref = raw_refs[k] if isinstance(raw_refs, list) and k < len(raw_refs) else None
                else:
                    raw_ref = raw_refs
                key = f"experiments[{res.experiment_id}].reproduces" + (f"[{k}]" if listed else "")
                sites.append(ReferenceSite(res.experiment_id, ref, raw_ref, anchor, key))
    return sites


# ------------------------------------------------------------------------------------------------ coverage
@dataclass
class ItemCoverage:
    """One paper item: who reproduces it and how many reported cells cite it."""

    item: PaperItem
    experiments: list[str] = field(default_factory=list)
    transcribed: int = 0
    not_transcribed: int = 0
    text_only: int = 0
    claims: int = 0

    @property
    def status(self) -> str:
        if not self.experiments:
            return "not covered"
        return "partly covered" if self.item.gaps else "covered"

    @property
    def detail(self) -> str:
        """The reason it is not covered, or its gaps."""
        if not self.experiments:
            return self.item.not_covered or "(no not_covered reason given)"
        return "; ".join(f"gap: {g}" for g in self.item.gaps)


@dataclass
class SuiteCoverage:
    """The coverage matrix of one suite (``declared`` False: the suite lists no ``paper.items``)."""

    suite: str
    path: str
    title: str | None
    declared: bool
    baselines: str | None = None
    items: list[ItemCoverage] = field(default_factory=list)
    extensions: list[tuple[str, str]] = field(default_factory=list)  # (experiment, note)
    uncited: list[str] = field(default_factory=list)  # experiments citing no item (an invalid suite)
    unknown: dict[str, list[str]] = field(default_factory=dict)  # cited id that is no item -> citing experiments
    cells_without_item: dict[str, int] = field(default_factory=dict)  # entries/claims/differences citing no item

    def totals(self) -> dict[str, int]:
        status = [i.status for i in self.items]
        return {
            "items": len(self.items),
            "covered": status.count("covered"),
            "partly covered": status.count("partly covered"),
            "not covered": status.count("not covered"),
            "transcribed": sum(i.transcribed for i in self.items),
            "not transcribed": sum(i.not_transcribed for i in self.items),
            "text only": sum(i.text_only for i in self.items),
            "claims": sum(i.claims for i in self.items),
            "extension experiments": len(self.extensions),
        }

    def totals_text(self) -> str:
        t = self.totals()
        return (f"{t['items']} items: {t['covered']} covered, {t['partly covered']} partly covered, "
                f"{t['not covered']} not covered; reported cells: {t['transcribed']} transcribed, "
                f"{t['not transcribed']} not transcribed, {t['text only']} reported as text only; "
                f"{t['claims']} claims; {t['extension experiments']} extension experiments")


@dataclass
class CoverageUnavailable:
    """A suite of a results directory whose coverage could not be computed, and why."""

    suite: str
    reason: str


def compute_coverage(suite: Any, baselines: Any | None = None, *, baselines_path: str | None = None
                     ) -> SuiteCoverage:
    """The coverage matrix of a loaded :class:`~benchmark.suite.loader.Suite` and its
    :class:`~benchmark.suite.baselines_spec.BaselineFile` (None: no reported cells)."""
    from benchmark.suite.yaml_loader import display_path

    paper = suite.file.paper
    cov = SuiteCoverage(suite=suite.name, path=display_path(suite.path), title=paper.title if paper else None,
                        declared=bool(paper and paper.items is not None), baselines=baselines_path)
    if not cov.declared:
        return cov
    items = {i.id: ItemCoverage(i) for i in paper.items}
    cited: dict[str, set[str]] = defaultdict(set)
    citing_any: set[str] = set()
    for site in experiment_references(suite):
        ref = site.reference
        if ref.kind == "extension":
            if (site.experiment, ref.note or "") not in cov.extensions:
                cov.extensions.append((site.experiment, ref.note or ""))
            citing_any.add(site.experiment)
            continue
        for value in (ref.table, ref.figure):
            if value is not None:
                cited[value].add(site.experiment)
                citing_any.add(site.experiment)
        if ref.section is not None and ref.section in items:
            cited[ref.section].add(site.experiment)
            citing_any.add(site.experiment)
    for item_id, exps in cited.items():
        if item_id in items:
            items[item_id].experiments = sorted(exps)
        else:
            cov.unknown[item_id] = sorted(exps)
    cov.uncited = [e for e in suite.experiment_ids() if e not in citing_any]
    if baselines is not None:
        _count_cells(items, baselines, cov)
    cov.items = list(items.values())
    return cov


def _count_cells(items: dict[str, ItemCoverage], baselines: Any, cov: SuiteCoverage) -> None:
    """Add each baseline entry, reported difference and (paper) claim to the items its source cites."""

    def attribute(source: Any, counter: str, label: str) -> None:
        # a section counts when it names an item (e.g. "§5.1 toy", a text-only passage), as for experiments
        cited = (source.table, source.figure, getattr(source, "section", None))
        hits = [items[i] for i in dict.fromkeys(v for v in cited if v) if i in items]
        for hit in hits:
            setattr(hit, counter, getattr(hit, counter) + 1)
        if not hits:
            cov.cells_without_item[label] = cov.cells_without_item.get(label, 0) + 1

    for entry in baselines.entries:
        if entry.value is None:
            attribute(entry.source, "not_transcribed", "not transcribed entries")
        else:
            attribute(entry.source, "transcribed", "transcribed entries")
    for diff in baselines.reported_differences:
        attribute(diff.source, "text_only", "reported differences")
    for claim in baselines.claims:
        if claim.source.kind != "extension":
            attribute(claim.source, "claims", "claims")


# ------------------------------------------------------------------------------------------------ rendering
COVERAGE_COLUMNS = ["suite", "item", "kind", "page", "caption", "status", "experiments", "transcribed",
                    "not_transcribed", "text_only", "claims", "reason_or_gaps"]
_HEADS = ["item", "kind", "page", "status", "experiments", "transcribed", "not transcribed", "text only", "claims",
          "reason / gaps"]


_TERMINAL_EXPERIMENTS_WIDTH = 60


def experiments_cell(names: list[str], width: int | None = None) -> str:
    """The experiments of an item joined by commas; with ``width``, as many as fit and "… +N more" (terminal)."""
    if not names:
        return "—"
    joined = ", ".join(names)
    if width is None or len(joined) <= width:
        return joined
    shown: list[str] = []
    for name in names:
        rest = len(names) - len(shown) - 1
        candidate = ", ".join([*shown, name]) + (f", … +{rest} more" if rest else "")
        if shown and len(candidate) > width:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f", … +{rest} more" if rest else "")


def _cells(c: ItemCoverage, experiments_width: int | None = None) -> list[str]:
    return [c.item.id, c.item.kind, str(c.item.page or "—"), c.status, experiments_cell(c.experiments, experiments_width),
            str(c.transcribed), str(c.not_transcribed), str(c.text_only), str(c.claims), c.detail]


def _heading(cov: SuiteCoverage) -> str:
    title = f" — {cov.title}" if cov.title else ""
    return f"{cov.path} [{cov.suite}]{title}"


def _footer(cov: SuiteCoverage) -> list[str]:
    """Extension experiments and anything not attributed to an item, as plain sentences."""
    out = []
    if cov.extensions:
        out.append("Extension experiments (this project's, not in the paper): "
                   + "; ".join(f"{e} ({note})" if note else e for e, note in cov.extensions))
    if cov.uncited:
        out.append("Experiments citing no item: " + ", ".join(cov.uncited))
    if cov.unknown:
        out.append("Cited but not items of the paper: "
                   + "; ".join(f"'{k}' by {', '.join(v)}" for k, v in sorted(cov.unknown.items())))
    if cov.cells_without_item:
        out.append("Baselines citing no item: " + ", ".join(f"{n} {k}" for k, n in cov.cells_without_item.items()))
    return out


def coverage_text(cov: SuiteCoverage) -> str:
    """An aligned plain-text table for the terminal (``bench coverage``)."""
    lines = [_heading(cov)]
    if not cov.declared:
        return "\n".join([*lines, "  no paper.items declared (coverage is not tracked for this suite)", ""])
    rows = [_HEADS] + [_cells(c, _TERMINAL_EXPERIMENTS_WIDTH) for c in cov.items]
    widths = [max(len(r[k]) for r in rows) for k in range(len(_HEADS) - 1)]
    for r in rows:
        lines.append("  " + "  ".join(r[k].ljust(widths[k]) for k in range(len(widths))) + "  " + r[-1])
    lines.append("  " + cov.totals_text())
    lines += ["  " + x for x in _footer(cov)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def coverage_markdown(cov: SuiteCoverage | CoverageUnavailable, *, level: int = 3) -> list[str]:
    """A Markdown section (heading at ``level``) with the matrix, totals and extension experiments."""
    h = "#" * level
    if isinstance(cov, CoverageUnavailable):
        return [f"{h} `{cov.suite}`", "", f"Coverage not computed: {cov.reason}", ""]
    lines = [f"{h} `{cov.suite}`" + (f" — {cov.title}" if cov.title else ""), ""]
    if not cov.declared:
        return [*lines, f"No paper.items declared in `{cov.path}`: coverage is not tracked for this suite.", ""]
    lines += ["| item | kind | page | caption | status | experiments | transcribed | not transcribed | text only "
              "| claims | reason / gaps |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in cov.items:
        cells = _cells(c)
        cells.insert(3, c.item.caption or "")
        lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
    lines += ["", f"Totals: {cov.totals_text()}."]
    lines += ["", *(f"- {_md(x)}" for x in _footer(cov))] if _footer(cov) else []
    return [*lines, ""]


def coverage_csv(covs: list[SuiteCoverage]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COVERAGE_COLUMNS, lineterminator="\n")
    w.writeheader()
    for cov in covs:
        for c in cov.items:
            w.writerow({"suite": cov.suite, "item": c.item.id, "kind": c.item.kind, "page": c.item.page or "",
                        "caption": c.item.caption or "", "status": c.status, "experiments": " ".join(c.experiments),
                        "transcribed": c.transcribed, "not_transcribed": c.not_transcribed,
                        "text_only": c.text_only, "claims": c.claims, "reason_or_gaps": c.detail})
    return buf.getvalue()


def coverage_html(cov: SuiteCoverage | CoverageUnavailable) -> list[str]:
    """The HTML fragment of one suite's coverage (a table; the caption and source as a tooltip)."""
    e = html.escape
    if isinstance(cov, CoverageUnavailable):
        return [f"<h3><code>{e(cov.suite)}</code></h3>", f"<p>Coverage not computed: {e(cov.reason)}</p>"]
    out = [f"<h3><code>{e(cov.suite)}</code>" + (f" — {e(cov.title)}" if cov.title else "") + "</h3>"]
    if not cov.declared:
        return [*out, f"<p>No paper.items declared in <code>{e(cov.path)}</code>: coverage is not tracked for this "
                      "suite.</p>"]
    heads = ["item", "kind", "page", "caption", "status", "experiments", "transcribed", "not transcribed",
             "text only", "claims", "reason / gaps"]
    out.append("<table class='coverage'><thead><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>")
    for c in cov.items:
        cells = _cells(c)
        cells.insert(3, c.item.caption or "")
        title = f" title='{e(c.item.source)}'" if c.item.source else ""
        tds = [f"<td{title if k == 3 else ''}>{e(x)}</td>" for k, x in enumerate(cells)]
        out.append(f"<tr class='cov-{c.status.replace(' ', '-')}'>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    out.append(f"<p>Totals: {e(cov.totals_text())}.</p>")
    footer = _footer(cov)
    if footer:
        out.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in footer) + "</ul>")
    return out
