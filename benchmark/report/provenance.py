"""The provenance block near the top of a report: which code, when, with which packages and on what hardware the
records were made, and when and by which code the report was written. Everything comes from the records'
``provenance`` (nothing is assumed); values that differ between records are all listed, with their run counts.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter

from benchmark.results.provenance import git_state, package_versions
from benchmark.results.record import Hardware, Provenance, RecordLike, as_records

#: Packages named in the block (a record's ``provenance.packages`` has more).
SHOWN_PACKAGES = ("torch", "lightly", "pytorch-lightning", "torchvision", "ssl-repro-bench")


def _listed(values: list[str]) -> str:
    """``a`` when all records agree, else ``a (20 runs), b (4 runs)``."""
    c = Counter(values)
    if len(c) == 1:
        return next(iter(c))
    return ", ".join(f"{v} ({n} runs)" for v, n in c.most_common())


def _machine(hw: Hardware) -> str:
    what = hw.gpu or hw.cpu_model or hw.machine or "?"
    return (f"{_or(hw.device)}: {what}, {_or(hw.cpu_count)} CPUs, {_or(hw.torch_threads)} torch threads")


def _or(value: object) -> str:
    """``value`` as text, ``?`` when not recorded."""
    return "?" if value is None else str(value)


def provenance_items(records: list[RecordLike], *, now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """(label, text) pairs: code, dates, packages, hardware, command, report."""
    prov = [r.provenance or Provenance() for r in as_records(records)]
    commits = []
    for p in prov:
        if p.git is not None and p.git.commit:
            commits.append(f"{str(p.git.commit)[:10]} ({'dirty' if p.git.dirty else 'clean'})")
        else:
            commits.append("unknown (not a git checkout)")
    items = [("code", _listed(commits) if commits else "not recorded")]
    started = sorted(p.started for p in prov if p.started)
    finished = sorted(p.finished for p in prov if p.finished)
    if started:
        items.append(("runs made", f"{started[0]} to {finished[-1] if finished else '?'}"))
    for name in SHOWN_PACKAGES:
        versions = [str((p.packages or {})[name]) for p in prov if (p.packages or {}).get(name)]
        if versions:
            items.append((name, _listed(versions)))
    pythons = [str(p.hardware.python) for p in prov if p.hardware is not None and p.hardware.python]
    if pythons:
        items.append(("python", _listed(pythons)))
    machines = [_machine(p.hardware) for p in prov if p.hardware is not None and p.hardware.model_dump(exclude_unset=True)]
    if machines:
        items.append(("hardware", _listed(machines)))
    commands = [str(p.command) for p in prov if p.command]
    if commands:
        items.append(("command", _listed(commands)))
    here = git_state()
    code = f"{here['commit'][:10]} ({'dirty' if here['dirty'] else 'clean'})" if here.get("commit") else "unknown"
    when = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    items.append(("report written", f"{when} by ssl-repro-bench {package_versions().get('ssl-repro-bench')} at {code}"))
    return items


def provenance_markdown(records: list[RecordLike], *, now: dt.datetime | None = None) -> list[str]:
    lines = ["**Provenance**", ""]
    lines += [f"- {label}: {text}" for label, text in provenance_items(records, now=now)]
    return lines + [""]


def provenance_html(records: list[RecordLike], *, now: dt.datetime | None = None) -> list[str]:
    e = html.escape
    rows = "".join(f"<li><strong>{e(label)}</strong>: {e(text)}</li>" for label, text in provenance_items(records, now=now))
    return [f"<div class='provenance'><strong>Provenance</strong><ul>{rows}</ul></div>"]
