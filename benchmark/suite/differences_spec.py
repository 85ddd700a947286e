"""The schema of a paper's reported differences (``reported_differences:`` in ``baselines/<paper>.yaml``).

A :class:`ReportedDifference` is a gain the paper states in its text (value or range, bound, unit) with the
treatment/control comparisons that check it; :class:`Interval` is what it reports on the number line.
:mod:`benchmark.report.gains` judges it on paired seeds (the reading rules are in that module's docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benchmark.formatting import fmt_number
from benchmark.suite.claims_spec import RunSelector, check_metric_name
from benchmark.suite.schema import ID_PATTERN, ID_RE

__all__ = ["READINGS", "UNIT_READINGS", "DifferenceSource", "GainComparison", "Interval", "ReportedDifference"]

#: The two ways of reading a reported percentage, and which a unit allows.
READINGS = ("points", "relative")
UNIT_READINGS: dict[str, tuple[str, ...]] = {
    "percent_unspecified": READINGS,
    "points": ("points",),
    "relative_percent": ("relative",),
}


class DifferenceSource(BaseModel):
    """Where the paper states the difference: the document, the item it is about, and where the sentence is."""

    model_config = ConfigDict(extra="forbid")

    paper: str = Field(description="arXiv id, DOI or venue")
    table: str | None = Field(default=None, description="the item the difference is about (a paper.items id)")
    figure: str | None = None
    section: str | None = None
    location: str | None = Field(default=None, description="where the sentence is, e.g. '§6.1, p. 8'")

    @model_validator(mode="after")
    def _somewhere(self) -> DifferenceSource:
        if not (self.table or self.figure or self.section or self.location):
            raise ValueError("say where the paper states it: source.table, figure, section or location")
        return self

    def where(self) -> str:
        return ", ".join(x for x in (self.paper, self.table, self.figure, self.section, self.location) if x)


class GainComparison(BaseModel):
    """One treatment/control pair of runs the difference is checked on."""

    model_config = ConfigDict(extra="forbid")

    treatment: RunSelector
    control: RunSelector
    profiles: list[str] | None = Field(default=None, description="profiles at which to judge it (default: all)")
    proxy: str | None = Field(default=None, description="what stands in for the paper's setting (never comparable)")

    def text(self) -> str:
        return f"{self.treatment.text()} − {self.control.text()}"


class ReportedDifference(BaseModel):
    """A difference the paper reports in its text (value or range, a bound, a unit) and the runs that check it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    statement: str
    quote: str = Field(min_length=1, description="the paper's sentence, verbatim")
    source: DifferenceSource
    value: float | None = None
    range: tuple[float, float] | None = None
    bound: Literal["exact", "up_to", "at_least"] | None = Field(
        default=None, description="with value: exact (default), up_to or at_least; a range is always 'between'"
    )
    unit: Literal["percent_unspecified", "points", "relative_percent"] = "percent_unspecified"
    metric: str = Field(description="<probe>.<metric>, a dotted record path, or measure.<alias>")
    comparisons: list[GainComparison] = Field(default_factory=list)
    not_covered: str | None = Field(default=None, description="why no comparison can check it (instead of comparisons)")
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"reported difference id '{v}' must match {ID_PATTERN}")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return check_metric_name(v)

    @model_validator(mode="after")
    def _consistent(self) -> ReportedDifference:
        if (self.value is None) == (self.range is None):
            raise ValueError("give exactly one of value (a number) and range ([low, high])")
        if self.range is not None:
            if self.bound is not None:
                raise ValueError(f"range is always 'between' its ends; remove bound '{self.bound}'")
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError(f"range must be [low, high] with low <= high, got {list(self.range)}")
        elif self.value is not None:
            if not math.isfinite(self.value):
                raise ValueError(f"value must be finite, got {self.value}")
            if self.bound in ("up_to", "at_least") and self.value == 0:
                raise ValueError(f"bound '{self.bound}' needs a non-zero value (the bound's distance from 0)")
        if bool(self.comparisons) == (self.not_covered is not None):
            raise ValueError("give exactly one of comparisons (a non-empty list) and not_covered (the reason no "
                             "experiment checks it)")
        return self

    @property
    def kind(self) -> str:
        """``exact``, ``up_to``, ``at_least`` or ``between`` (a range)."""
        return "between" if self.range is not None else (self.bound or "exact")

    @property
    def readings(self) -> tuple[str, ...]:
        return UNIT_READINGS[self.unit]

    def interval(self, scale: float = 1.0) -> Interval:
        """The reported interval in metric units, the value multiplied by ``scale`` (1 = points reading)."""
        if self.range is not None:
            iv = Interval(self.range[0], self.range[1])
        else:
            v = float(self.value or 0.0)
            if self.kind == "exact":
                iv = Interval(v, v)
            elif self.kind == "up_to":
                iv = Interval(0.0, v, lo_open=True) if v > 0 else Interval(v, 0.0, hi_open=True)
            else:  # at_least
                iv = Interval(v, math.inf) if v > 0 else Interval(-math.inf, v)
        return iv.scaled(scale)

    def reported_text(self) -> str:
        """The reported difference as written, with its unit: '3', '[3, 9]', 'up to 12', 'at least 3'."""
        unit = {"points": " points", "relative_percent": " % (relative)", "percent_unspecified": " %"}[self.unit]
        if self.range is not None:
            return f"{fmt_number(self.range[0])} to {fmt_number(self.range[1])}{unit}"
        prefix = {"exact": "", "up_to": "up to ", "at_least": "at least "}[self.kind]
        return f"{prefix}{fmt_number(self.value)}{unit}"


@dataclass(frozen=True)
class Interval:
    """A reported interval on the number line (``lo``/``hi`` may be ±inf; open ends exclude the end point)."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def scaled(self, factor: float) -> Interval:
        lo, hi = _times(self.lo, factor), _times(self.hi, factor)
        if factor < 0:
            return Interval(hi, lo, self.hi_open, self.lo_open)
        return Interval(lo, hi, self.lo_open, self.hi_open)

    def text(self) -> str:
        if self.lo == self.hi:
            return fmt_number(self.lo)
        if math.isinf(self.hi):
            return f"≥ {fmt_number(self.lo)}"
        if math.isinf(self.lo):
            return f"≤ {fmt_number(self.hi)}"
        return f"{'(' if self.lo_open else '['}{fmt_number(self.lo)}, {fmt_number(self.hi)}{')' if self.hi_open else ']'}"


def _times(x: float, factor: float) -> float:
    """``x × factor`` where an infinite end stays infinite (and keeps its side for factor 0)."""
    if math.isinf(x):
        return x if factor >= 0 else -x
    return x * factor
