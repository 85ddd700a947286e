"""Reported numbers with provenance (``baselines/<paper>.yaml``).

Every entry names the experiment (and optionally the grid variant) and metric it is compared with, and either a
value with its citation (paper, table or figure, row, column) or ``value: null`` with ``status: not transcribed``.
A number without a citation is an error: the suite never invents a reported value.

    paper: or_neurips24
    citation: "He, Du, Ma. Preventing Dimensional Collapse in SSL via Orthogonality Regularization. NeurIPS 2024."
    entries:
      - experiment: byol_c10
        variant: so-gamma1e-06      # optional; omitted = every variant of the experiment
        metric: linear.top1
        value: null
        status: not transcribed
        source: {paper: "arXiv 2411.00392", table: "Table 1", row: "BYOL + SO", column: "Top-1"}
    claims:                         # relative statements, checked on paired seeds (benchmark.report.claims)
      - {id: so_improves_byol, statement: "...", source: {paper: "arXiv 2411.00392", section: Abstract},
         metric: linear.top1, treatment: {experiment: byol_c10, variant: so-gamma1e-06},
         control: {experiment: byol_c10, variant: none}, expect: greater}
    reported_differences:           # gains stated in the text, checked on paired seeds (benchmark.report.gains)
      - {id: or_gain_byol_c100, statement: "...", quote: "...", source: {paper: ..., table: "Table 2", location: ...},
         value: 1.0, metric: linear.top1, comparisons: [{treatment: {...}, control: {...}}]}

Statuses: ``transcribed`` (read from the paper with table/row/column), ``from official repository`` (e.g. a README
table of the authors' code, with ``source.repository`` = repo@commit and file), ``from framework docs`` (Lightly /
solo-learn reported tables, for the framework suites), ``not transcribed`` (value null).

When the suite declares ``paper.items``, every ``source.table`` / ``source.figure`` here (entries, claims, reported
differences) must name one of them (checked by ``bench validate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from benchmark.suite.claims_spec import ClaimSpec
from benchmark.suite.differences_spec import ReportedDifference
from benchmark.suite.errors_map import raise_validation_error
from benchmark.suite.yaml_loader import display_path, load_yaml


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper: str = Field(description="arXiv id, DOI or venue of the document the number is read from")
    table: str | None = None
    figure: str | None = None
    row: str | None = None
    column: str | None = None
    repository: str | None = Field(default=None, description="for code-derived numbers: repo@commit and file")
    url: str | None = None


class BaselineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str
    variant: str | None = None
    metric: str = Field(description="<probe>.<metric>, e.g. linear.top1, knn.top1, svm.top1")
    value: float | None
    status: Literal["transcribed", "not transcribed", "from framework docs", "from official repository"] = "transcribed"
    source: Source
    note: str | None = None

    @model_validator(mode="after")
    def _provenance(self) -> BaselineEntry:
        if self.value is None and self.status != "not transcribed":
            raise ValueError("value is null: set status: not transcribed")
        if self.value is not None and self.status == "not transcribed":
            raise ValueError("a value marked 'not transcribed' must be null (never estimate a reported number)")
        if self.value is not None and not (self.source.table or self.source.figure or self.source.repository):
            raise ValueError("a reported value needs source.table, source.figure or source.repository")
        if self.value is not None and not (self.source.row or self.source.column):
            raise ValueError("a reported value needs source.row and/or source.column")
        if self.status in ("from framework docs", "from official repository") and not self.source.repository:
            raise ValueError(f"status '{self.status}' needs source.repository (repo@commit and file)")
        return self


class BaselineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paper: str
    citation: str
    format: int = 1
    notes: list[str] = Field(default_factory=list)
    entries: list[BaselineEntry] = Field(default_factory=list)
    claims: list[ClaimSpec] = Field(default_factory=list, description="relative statements (benchmark.report.claims)")
    reported_differences: list[ReportedDifference] = Field(
        default_factory=list, description="differences stated in the paper's text (benchmark.report.gains)"
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> BaselineFile:
        ids = [c.id for c in self.claims]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate claim id(s) {dup}")
        diff_ids = [d.id for d in self.reported_differences]
        dup = sorted({i for i in diff_ids if diff_ids.count(i) > 1} | (set(diff_ids) & set(ids)))
        if dup:
            raise ValueError(f"id(s) {dup} used twice (ids are unique across reported_differences and claims)")
        return self

    def lookup(self, experiment: str, variant: str, metric: str) -> BaselineEntry | None:
        """The entry for (experiment, variant, metric): an exact variant match wins over a variant-less one."""
        generic = None
        for e in self.entries:
            if e.experiment != experiment or e.metric != metric:
                continue
            if e.variant == variant:
                return e
            if e.variant is None:
                generic = e
        return generic


def load_baselines(path: str | Path) -> BaselineFile:
    """Parse and validate a baselines file (errors carry file:line)."""
    raw = load_yaml(path)
    try:
        return BaselineFile.model_validate(raw)
    except ValidationError as exc:
        raise_validation_error(exc, raw=raw, model=BaselineFile, default_pos=(display_path(Path(path)), 1))
