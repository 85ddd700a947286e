"""The schema of a paper's relative statements (``claims:`` in ``baselines/<paper>.yaml``).

A :class:`ClaimSpec` says ``treatment − control`` is expected to be ``greater``/``less`` than ``margin`` on a
metric; :mod:`benchmark.report.claims` judges it on paired seeds. The spec lives in the suite layer with the
other declarative files, so validation and the report read the same models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benchmark.errors import HintedValueError
from benchmark.suite.schema import ID_PATTERN, ID_RE

__all__ = ["MEASURE_ALIASES", "ClaimSource", "ClaimSpec", "RunSelector", "check_metric_name"]

#: ``measure.<alias>`` → candidate paths inside ``record["pretrain"]["measure"]`` (first non-null wins). The
#: measurement summary (``benchmark.measure.callback.MeasureCallback.summary``) stores seconds and bytes; on CUDA
#: ``tensor_peak_bytes`` is ``torch.cuda.max_memory_allocated`` (what the SFRIK code logs), on CPU only the
#: profiler's peak above the step's start is available.
MEASURE_ALIASES: dict[str, tuple[tuple[str, ...], ...]] = {
    "step_time": (("step", "time_s", "median"), ("step", "time_s", "mean"), ("step_time_s",), ("step_time",)),
    "iteration_time": (("iteration", "time_s", "median"), ("iteration", "time_s", "mean")),
    "throughput": (("step", "throughput_images_per_s"),),
    "peak_memory": (("step", "memory", "tensor_peak_bytes"), ("step", "memory", "tensor_peak_above_start_bytes"),
                    ("step", "memory", "rss_peak_above_start_bytes"), ("peak_memory_bytes",)),
    "loss_time": (("loss_only", "time_s", "median"), ("loss_only", "step", "time_s", "median")),
    "loss_peak_memory": (("loss_only", "memory", "tensor_peak_bytes"),
                         ("loss_only", "memory", "tensor_peak_above_start_bytes")),
    "regularizer_time": (("regularizer_only", "time_s", "mean"), ("regularizer_only", "time_s", "median")),
}


def check_metric_name(v: str) -> str:
    """``v`` if it names a metric a claim or reported difference can compare: ``<probe>.<metric>``, a dotted record
    path, or ``measure.<alias>`` of :data:`MEASURE_ALIASES`; ValueError (shown at the YAML line) otherwise."""
    parts = v.split(".")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"metric '{v}' must be '<probe>.<metric>', a dotted record path or 'measure.<alias>'")
    if parts[0] == "measure" and (len(parts) != 2 or parts[1] not in MEASURE_ALIASES):
        raise ValueError(f"unknown measurement '{v}'; known: " + ", ".join(f"measure.{k}" for k in MEASURE_ALIASES))
    return v


class ClaimSource(BaseModel):
    """Where the paper makes the statement (the verdict never needs a number from it).

    ``kind: extension`` marks a statement of this project (e.g. an expectation about a method the paper does not
    run): it cites no table or figure, and the report shows it as "extension (not a claim of the paper)".
    """

    model_config = ConfigDict(extra="forbid")

    paper: str = Field(description="arXiv id, DOI or venue")
    kind: Literal["paper", "extension"] = "paper"
    section: str | None = None
    table: str | None = None
    figure: str | None = None
    location: str | None = Field(default=None, description="where in the document, e.g. '§6.1, p. 8'")
    quote: str | None = Field(default=None, description="the sentence, when transcribed verbatim")
    reliability: str | None = Field(default=None, description="e.g. '[paper] abstract', '[2nd] summary'")

    @model_validator(mode="after")
    def _extension_cites_nothing(self) -> ClaimSource:
        if self.kind == "extension":
            cited = [f"{k} '{v}'" for k, v in (("table", self.table), ("figure", self.figure)) if v]
            if cited:
                raise HintedValueError(
                    f"{' and '.join(cited)} cited by a claim of kind 'extension': an extension is not a claim of "
                    "the paper", hint="drop kind: extension if the paper states it there, else drop the table/figure "
                    "and say where the idea comes from in section or location")
        return self

    def where(self) -> str:
        """``paper, table, figure, section, location`` as one string."""
        return ", ".join(x for x in (self.paper, self.table, self.figure, self.section, self.location) if x)


class RunSelector(BaseModel):
    """One side of a comparison: the runs of an experiment's grid variant (``variant`` omitted = no grid)."""

    model_config = ConfigDict(extra="forbid")

    experiment: str
    variant: str = Field(default="", description="grid label as in the run path, e.g. 'so-gamma1e-06'")

    def text(self) -> str:
        return f"{self.experiment}/{self.variant}" if self.variant else self.experiment


class ClaimSpec(BaseModel):
    """A relative statement of a paper: ``treatment − control`` is expected to be ``greater``/``less`` than ``margin``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    statement: str
    source: ClaimSource
    metric: str = Field(description="<probe>.<metric>, a dotted record path, or measure.<alias>")
    treatment: RunSelector
    control: RunSelector
    expect: Literal["greater", "less"]
    margin: float = Field(default=0.0, description="threshold for the difference (metric units); 0 = direction only")
    profiles: list[str] | None = Field(default=None, description="profiles at which to judge it (default: all)")
    note: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"claim id '{v}' must match {ID_PATTERN}")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        return check_metric_name(v)

    @property
    def sign(self) -> int:
        return 1 if self.expect == "greater" else -1

    def expectation_text(self) -> str:
        op = ">" if self.expect == "greater" else "<"
        return f"{self.treatment.text()} − {self.control.text()} {op} {self.margin:g} ({self.metric})"
