"""The value matrix: reproduced (mean ± std over seeds) vs reported, Δ and a verdict from a closed vocabulary.

Verdicts (asv-style marks):

====  ==================  =====================================================================================
mark  verdict             meaning
====  ==================  =====================================================================================
✓     reproduced          |Δ| ≤ the experiment's tolerance (points), at paper scale
~     within noise        |Δ| > tolerance but ≤ 2 × seed std (n ≥ 2): not distinguishable at this many seeds
−     below               reproduced is lower than reported beyond tolerance and noise
+     above               reproduced is higher than reported beyond tolerance and noise
!     failed              every run of the row failed (reason in the report)
x     not comparable      the run's scale differs from the paper's (any profile other than ``paper``)
?     no reported number  the baseline is ``null`` (not transcribed) or absent
====  ==================  =====================================================================================
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from benchmark.probes import reported_metrics
from benchmark.results.record import RecordLike, Reference, RunRecord, as_record, as_records
from benchmark.suite.baselines_spec import BaselineFile

VERDICTS = {
    "reproduced": "✓",
    "within noise": "~",
    "below": "−",
    "above": "+",
    "failed": "!",
    "not comparable": "x",
    "no reported number": "?",
}


def probe_metrics(probe_key: str) -> tuple[str, ...]:
    """The metrics the report shows for a record's probe entry (``linear``, ``digit/linear``: a transfer target's),
    as the probe class declares them (``reported_metrics``)."""
    return reported_metrics(probe_key.rsplit("/", 1)[-1])


@dataclass
class Row:
    """One (experiment, variant, metric) cell group of the report."""

    suite: str
    profile: str
    experiment: str
    variant: str
    metric: str
    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    reported: float | None = None
    reported_status: str | None = None
    source: str | None = None
    tolerance: float = 1.0
    scale: str = ""
    reproduces: str = ""
    variant_label: str = ""  # readable form of the grid point (:func:`readable_variant`)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        if len(self.values) < 2:
            return None
        m = self.mean or 0.0
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (len(self.values) - 1))

    @property
    def delta(self) -> float | None:
        if self.mean is None or self.reported is None:
            return None
        return self.mean - self.reported

    @property
    def verdict(self) -> str:
        if not self.values and self.failed:
            return "failed"
        if self.reported is None:
            return "no reported number"
        if self.profile != "paper":
            return "not comparable"
        d = self.delta
        if d is None:
            return "failed"
        if abs(d) <= self.tolerance:
            return "reproduced"
        if self.std is not None and abs(d) <= 2 * self.std:
            return "within noise"
        return "below" if d < 0 else "above"

    @property
    def mark(self) -> str:
        return VERDICTS[self.verdict]


def scale_of(rec: RecordLike) -> str:
    """A short description of the run's scale: profile, data, backbone, budget."""
    rec = as_record(rec)
    data = rec.data
    bb = rec.config_section("backbone")
    pre = rec.pretrain
    width = f"-w{bb.get('width')}" if bb.get("width") not in (None, 64) else ""
    split = " [probed on a validation split of train]" if data is not None and data.evaluated_on else ""
    epochs = pre.epochs if pre is not None and "epochs" in pre.model_fields_set else "?"
    steps = pre.steps if pre is not None and "steps" in pre.model_fields_set else "?"
    return (f"{rec.profile}: {data.dataset if data else None} n={data.n_train if data else None}, {bb.get('name')}"
            f"{width}, {epochs} ep / {steps} steps{split}")


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        params = ", ".join(f"{k} {_value_text(v)}" for k, v in value.items() if k != "name")
        if "name" in value:
            return f"{value['name']}" + (f" ({params})" if params else "")
        return "{" + params + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return str(value)


def _or(value: str | None, default: str) -> str:
    """``value``, or ``default`` when the record lacks it."""
    return default if value is None else value


def readable_variant(assignments: dict[str, Any] | None) -> str:
    """The grid point as a reader says it: ``regularizer so (gamma 1e-06)``, ``method.whitening_weight = 0.001``,
    assignments joined by ``; `` (empty for an experiment without a grid)."""
    parts = []
    for key, value in (assignments or {}).items():
        named = isinstance(value, dict) and "name" in value
        parts.append(f"{key} {_value_text(value)}" if named else f"{key} = {_value_text(value)}")
    return "; ".join(parts)


def _ref_text(refs: list[Reference]) -> str:
    return "; ".join("extension (not in the paper)" if r.kind == "extension"
                     else " ".join(str(v) for v in (r.table, r.figure, r.row, r.column) if v) for r in refs)


def _row(key: tuple[str, ...], rec: RunRecord) -> Row:
    """An empty row of ``key`` described by one of its records."""
    return Row(*key, tolerance=rec.tolerance, scale=scale_of(rec), reproduces=_ref_text(rec.references),
               variant_label=readable_variant(rec.variant_assignments))


def build_rows(records: list[RecordLike], baselines: dict[str, BaselineFile]) -> list[Row]:
    """Group records by (suite, profile, experiment, variant, probe.metric) and attach reported numbers."""
    rows: dict[tuple[str, ...], Row] = {}
    failures: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for rec in as_records(records):
        key0 = (_or(rec.suite, "?"), _or(rec.profile, "?"), _or(rec.experiment, "?"), _or(rec.variant, ""))
        if not rec.ok:
            failures[key0].append(f"seed {rec.seed}: {rec.failure_text()}")
            for probe in rec.probe_names:
                k = (*key0, f"{probe}.{probe_metrics(probe)[0]}")
                if k not in rows:
                    rows[k] = _row(k, rec)
            continue
        sources = [("", rec.metrics or {})]
        control = rec.controls.random_init if rec.controls is not None else None
        if control is not None and control.metrics:
            sources.append(("random_init/", control.metrics))
        for prefix, metrics in sources:
            for probe, values in metrics.items():
                for m in probe_metrics(probe):
                    if values.get(m) is None:
                        continue
                    k = (*key0, f"{prefix}{probe}.{m}")
                    if k not in rows:
                        rows[k] = _row(k, rec)
                    rows[k].values.append(float(values[m]))
                    rows[k].seeds.append(rec.seed_or)
    for k, msgs in failures.items():
        for rk, row in rows.items():
            if rk[:4] == k:
                row.failed.extend(msgs)
    for row in rows.values():
        bl = baselines.get(row.suite)
        if bl is None or row.metric.startswith("random_init/"):
            continue
        entry = bl.lookup(row.experiment, row.variant, row.metric)
        if entry is not None:
            row.reported = entry.value
            row.reported_status = entry.status
            s = entry.source
            row.source = ", ".join(x for x in (s.paper, s.table or s.figure or s.repository, s.row, s.column) if x)
    return sorted(rows.values(), key=lambda r: (r.suite, r.profile, r.experiment, r.variant, r.metric))
