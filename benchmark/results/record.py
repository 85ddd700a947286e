"""The run record: the typed content of one ``result.json`` (format :data:`~benchmark.results.store.RESULT_FORMAT`).

:class:`RunRecord` is what the runner writes, the store loads and validates, and the report, the claims, the plots,
the SLURM launcher and ``--until-decided`` read. Every section the code reads is a typed field; sections absent from
older records are ``None``. Open-ended payloads (measurement summaries, diagnostics, hardware) keep keys this
model does not name (``extra="allow"``), so loading and dumping an old record gives it back unchanged::

    RunRecord.model_validate(data).model_dump(mode="json", exclude_unset=True) == data

Fields are declared in the order the runner writes them, so a record written through the model keeps its layout.
Validation follows pydantic v2 (https://docs.pydantic.dev/latest/concepts/models/): ``status: 5`` or a
``metrics`` that is not a mapping is a :class:`pydantic.ValidationError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict

from benchmark.suite.claims_spec import MEASURE_ALIASES

__all__ = [
    "Controls",
    "DataInfo",
    "Diagnostics",
    "Failure",
    "FiguresData",
    "MeasureSummary",
    "PretrainSummary",
    "Provenance",
    "RecordLike",
    "RunRecord",
    "TransferTarget",
    "as_record",
    "as_records",
    "dig",
    "given",
    "number",
    "ok_records",
    "value_or",
]

_MISSING = object()


class _Closed(BaseModel):
    """A record part whose keys are all known: an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


class _Open(BaseModel):
    """A record part that keeps keys it does not name (payloads that grow with the code that writes them)."""

    model_config = ConfigDict(extra="allow", ser_json_inf_nan="constants")


# ------------------------------------------------------------------------------------------------ generic access
def _child(obj: Any, key: str) -> Any:
    """``obj[key]`` for a mapping, the field or extra key of a model; ``_MISSING`` when it was never given."""
    if isinstance(obj, BaseModel):
        if key in obj.model_fields_set:
            return getattr(obj, key)
        extra = obj.model_extra or {}
        return extra[key] if key in extra else _MISSING
    if isinstance(obj, Mapping):
        return obj[key] if key in obj else _MISSING
    return _MISSING


def dig(obj: Any, path: Iterable[str]) -> Any:
    """The value at ``path`` (keys, fields) inside nested models and mappings, or None when a step is absent."""
    cur = obj
    for part in path:
        cur = _child(cur, part)
        if cur is _MISSING:
            return None
    return cur


def value_or(part: BaseModel | None, name: str, default: Any) -> Any:
    """A part's ``name`` as recorded (None included), ``default`` when the part or the key is absent."""
    value = _child(part, name) if part is not None else _MISSING
    return default if value is _MISSING else value


def given(part: BaseModel | None) -> bool:
    """True when a part is present and holds at least one key (an empty ``{}`` in the record is not given)."""
    return part is not None and bool(part.model_fields_set or part.model_extra)


def number(value: Any) -> float | None:
    """A number as float; a statistics block (mapping or model) gives its median, else mean, else value."""
    if isinstance(value, BaseModel | Mapping):
        for key in ("median", "mean", "value"):
            inner = _child(value, key)
            if inner is not _MISSING:
                return number(inner)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# ------------------------------------------------------------------------------------------------ parts
class Reference(_Open):
    """Where in the paper the experiment's numbers are (the suite's ``reproduces:``, as recorded)."""

    kind: str | None = None
    table: str | None = None
    figure: str | None = None
    section: str | None = None
    row: str | None = None
    column: str | None = None
    note: str | None = None


class DataInfo(_Closed):
    """The pretraining/probe data of a run: dataset, where it came from, split sizes."""

    dataset: str | None = None
    source: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    num_classes: int | None = None
    evaluated_on: str | None = None  # set when the probes ran on a validation split of train


class TimeStats(_Open):
    """Summary statistics of timed calls, seconds (:mod:`benchmark.measure.callback`)."""

    n: int | None = None
    median: float | None = None
    p10: float | None = None
    p90: float | None = None
    q25: float | None = None
    q75: float | None = None
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class MemoryPeak(_Open):
    """Peak memory of a measured part, bytes (:mod:`benchmark.measure.memory`)."""

    device: str | None = None
    tensor_source: str | None = None
    tensor_peak_bytes: int | None = None
    tensor_peak_above_start_bytes: int | None = None
    rss_source: str | None = None
    rss_peak_bytes: int | None = None
    rss_peak_above_start_bytes: int | None = None


class MeasuredPart(_Open):
    """One measured part: the training step, the iteration, the loss alone or the regularizer alone."""

    status: str | None = None
    time_s: TimeStats | None = None
    cpu_time_s: TimeStats | None = None
    throughput_images_per_s: float | None = None
    memory: MemoryPeak | None = None
    inputs_bytes: int | None = None


class MeasureSummary(_Open):
    """``pretrain.measure``: :meth:`benchmark.measure.MeasureCallback.summary` (``measure: {enabled: true}``)."""

    device: str | None = None
    device_name: str | None = None
    warmup_steps: int | None = None
    steps_requested: int | None = None
    steps_measured: int | None = None
    batch_per_device: int | None = None
    world_size: int | None = None
    images_per_step: int | None = None
    step_definition: str | None = None
    iteration_definition: str | None = None
    status: str | None = None
    step: MeasuredPart | None = None
    iteration: MeasuredPart | None = None
    memory_profiled_step_index: int | None = None
    loss_only: MeasuredPart | None = None
    regularizer_only: MeasuredPart | None = None
    notes: list[str] | None = None


class Distributed(_Closed):
    """How a multi-process pretraining was launched."""

    world_size: int
    launch: str
    sync_batchnorm: bool


class PretrainSummary(_Closed):
    """``pretrain``: what pretraining did (steps, losses, OR penalty, time), or the note of a 0-epoch run."""

    steps: int | None = None
    max_steps: int | None = None
    steps_per_epoch: int | None = None
    epochs: int | None = None
    global_batch_size: int | None = None
    augment_preset: str | None = None
    augment_on_device: bool | None = None
    resumed_from_step: int | None = None
    resumes: list[int] | None = None
    final_loss: float | None = None
    loss_history: list[tuple[int, float]] | None = None
    or_penalty_history: list[tuple[int, float]] | None = None
    or_penalty_layers: dict[str, float] | None = None
    embedding_std: float | None = None
    seconds: float | None = None
    logs: dict[str, str] | None = None
    checkpoint_rejected: str | None = None
    distributed: Distributed | None = None
    measure: MeasureSummary | None = None
    note: str | None = None


class SpectrumEntry(_Open):
    """One layer's normalised eigenvalues in ``diagnostics.first_batch``."""

    layer: str | None = None
    shape: list[int] | None = None
    dim: int | None = None
    lambda_max: float | None = None
    normalised: list[float] | None = None


class FirstBatch(_Open):
    """``diagnostics.first_batch``: the OR paper's Figs. 3/4 protocol (He et al., NeurIPS 2024)."""

    protocol: str | None = None
    split: str | None = None
    requested: int | None = None
    n: int | None = None
    stages: list[str] | None = None
    stage_rule: str | None = None
    weights: dict[str, SpectrumEntry] | None = None
    features: dict[str, SpectrumEntry] | None = None


class WeightCorrelation(_Open):
    """``diagnostics.weight_correlation``: summary of the filter correlation of the OR paper's Fig. 5."""

    module: str | None = None
    layer: str | None = None
    shape: list[int] | None = None
    filters: int | None = None
    mean_abs_offdiag: float | None = None
    median_abs_offdiag: float | None = None
    max_abs_offdiag: float | None = None
    bicluster: dict[str, Any] | None = None


class UmapInfo(_Open):
    """``diagnostics.umap``: the settings of the OR paper's Fig. 6 embedding."""

    package: str | None = None
    n: int | None = None


class Diagnostics(_Open):
    """``diagnostics``: spectra, effective rank and figure summaries (``eval.spectra``, Figs. 5/6)."""

    feature_spectrum: list[float] | None = None
    effective_rank: float | None = None
    weight_spectra: dict[str, list[float]] | None = None
    first_batch: FirstBatch | None = None
    weight_correlation: WeightCorrelation | None = None
    umap: UmapInfo | None = None


class FiguresData(_Closed):
    """``figures_data``: the run's ``figures_data.npz`` (file, size, SHA-256, array keys)."""

    file: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    keys: list[str] | None = None


class TransferTarget(_Closed):
    """One ``eval.transfer`` target: what was probed."""

    dataset: str | None = None
    source: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    num_classes: int | None = None
    probe_protocol: dict[str, dict[str, Any]] | None = None


class RandomInitControl(_Closed):
    """The random-init control: the same probes on an untrained backbone."""

    metrics: dict[str, dict[str, float]] | None = None
    timings: dict[str, float] | None = None
    probe_protocol: dict[str, dict[str, Any]] | None = None
    diagnostics: Diagnostics | None = None


class Controls(_Closed):
    """``controls`` of a record."""

    random_init: RandomInitControl | None = None


class Failure(_Closed):
    """Why a run failed: ``kind`` (``diverged``, ``out_of_memory``, ``error``, ...), reason and step."""

    kind: str | None = None
    reason: str | None = None
    step: int | None = None
    traceback: str | None = None


class GitState(_Closed):
    """The checkout a run's code came from."""

    commit: str | None = None
    dirty: bool | None = None


class Hardware(_Open):
    """Where a run ran (:func:`benchmark.results.provenance.hardware`)."""

    device: str | None = None
    platform: str | None = None
    machine: str | None = None
    processor: str | None = None
    cpu_model: str | None = None
    cpu_count: int | None = None
    torch_threads: int | None = None
    python: str | None = None
    gpu: str | None = None


class Provenance(_Closed):
    """``provenance``: when, by which code, with which packages, on what hardware, by which command."""

    started: str | None = None
    finished: str | None = None
    git: GitState | None = None
    packages: dict[str, str] | None = None
    hardware: Hardware | None = None
    command: str | None = None
    data_root: str | None = None


# ------------------------------------------------------------------------------------------------ measurements
#: Aliases for which "out of memory" means "infinitely expensive" (throughput would be 0, handled as missing).
OOM_IS_INF = {"step_time", "iteration_time", "peak_memory", "loss_time", "loss_peak_memory"}
#: Top-level sections a dotted metric path may start with (``pretrain.final_loss``, ``diagnostics.effective_rank``).
RECORD_SECTIONS = {"pretrain", "diagnostics", "timings", "controls", "data", "metrics"}


# ------------------------------------------------------------------------------------------------ the record
class RunRecord(_Closed):
    """One run's ``result.json``: identity, config, status, and what pretraining, probes and diagnostics gave."""

    format: int | None = None
    run_id: str | None = None
    path: str | None = None
    suite: str | None = None
    suite_version: int | None = None
    profile: str | None = None
    experiment: str | None = None
    variant: str | None = None
    variant_assignments: dict[str, Any] | None = None
    seed: int | None = None
    config_hash: str | None = None
    config: dict[str, Any] | None = None  # Run.hashed_config(): the suite's config as hashed, kept as written
    reproduces: Reference | list[Reference] | None = None
    status: Literal["ok", "failed", "running", "worker"] | None = None
    overrides: list[str] | None = None
    data: DataInfo | None = None
    pretrain: PretrainSummary | None = None
    metrics: dict[str, dict[str, float]] | None = None
    probe_protocol: dict[str, dict[str, Any]] | None = None
    diagnostics: Diagnostics | None = None
    figures_data: FiguresData | None = None
    transfer: dict[str, TransferTarget] | None = None
    controls: Controls | None = None
    failure: Failure | None = None
    timings: dict[str, float] | None = None
    provenance: Provenance | None = None
    measure: MeasureSummary | None = None  # pre-``pretrain.measure`` location, still read

    # -------------------------------------------------------------------------------------- status
    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def failure_text(self) -> str:
        """``kind at step N: reason`` of a failed run."""
        f = self.failure or Failure()
        return f"{f.kind} at step {f.step}: {f.reason}"

    # -------------------------------------------------------------------------------------- config
    @property
    def experiment_config(self) -> dict[str, Any]:
        """The experiment's resolved config as recorded (``config.experiment``; empty when absent)."""
        exp = (self.config or {}).get("experiment")
        return exp if isinstance(exp, dict) else {}

    def config_section(self, name: str) -> dict[str, Any]:
        """One section of the experiment config (``method``, ``backbone``, ``data``, ``eval``, ...), or empty."""
        section = self.experiment_config.get(name)
        return section if isinstance(section, dict) else {}

    @property
    def regularizer(self) -> dict[str, Any]:
        """The regularizer config; ``{"name": "none"}`` when the record has none."""
        return self.config_section("regularizer") or {"name": "none"}

    @property
    def regularizer_name(self) -> str | None:
        return self.regularizer.get("name")

    @property
    def tolerance(self) -> float:
        """The experiment's tolerance against the reported number (points; default 1)."""
        return float(self.experiment_config.get("tolerance", 1.0))

    @property
    def planned_seeds(self) -> list[int] | None:
        """The profile's ``seeds`` of the experiment, when recorded."""
        seeds = self.experiment_config.get("seeds")
        return seeds if isinstance(seeds, list) else None

    @property
    def probe_names(self) -> list[str]:
        """Names of the experiment's ``eval.probes``."""
        return [p.get("name") for p in self.config_section("eval").get("probes", [])]

    @property
    def backbone_label(self) -> str:
        """``resnet18`` or ``resnet18-w16`` (width shown when not the default 64)."""
        bb = self.config_section("backbone")
        return str(bb.get("name", "?")) + (f"-w{bb['width']}" if bb.get("width") not in (None, 64) else "")

    @property
    def references(self) -> list[Reference]:
        """``reproduces`` as a list."""
        if self.reproduces is None:
            return []
        return self.reproduces if isinstance(self.reproduces, list) else [self.reproduces]

    # -------------------------------------------------------------------------------------- values
    @property
    def seed_or(self) -> int:
        """The seed, ``-1`` when the record has none."""
        return -1 if self.seed is None else int(self.seed)

    def probe_metric(self, probe: str, name: str = "top1") -> float | None:
        """One probe's metric (``linear``, ``top1``), or None."""
        return (self.metrics or {}).get(probe, {}).get(name)

    @property
    def measurement(self) -> MeasureSummary | None:
        """The measurement summary (``pretrain.measure``, or the old top-level ``measure`` when that is empty)."""
        measure = self.pretrain.measure if self.pretrain is not None else None
        return measure if given(measure) else self.measure

    @property
    def total_seconds(self) -> float | None:
        """``timings.total``: wall time of the run."""
        return (self.timings or {}).get("total")

    def at(self, dotted: str) -> Any:
        """The value at a dotted path of the record (``diagnostics.effective_rank``), or None."""
        return dig(self, dotted.split("."))

    def metric_value(self, metric: str) -> tuple[float | None, str | None]:
        """The value of ``metric`` and, when it is missing, why.

        ``metric`` is ``<probe>.<metric>`` (``linear.top1``, ``food101/linear.top5``), a dotted record path
        (``diagnostics.effective_rank``, ``pretrain.final_loss``) or ``measure.<alias>`` (:data:`MEASURE_ALIASES`).

        Returns:
            ``(value, None)``, or ``(None, reason)``; ``(inf, "out of memory")`` for a measurement that ran out of
            memory (time and memory aliases).
        """
        if self.status != "ok":
            f = self.failure or Failure()
            return None, f"run failed ({f.kind}: {f.reason})"
        parts = metric.split(".")
        if parts[0] == "measure":
            measure = self.measurement
            if measure is None:
                return None, "no measurement in the record (measure.enabled was off or the runner does not measure)"
            if measure.status == "out_of_memory":
                return (math.inf, "out of memory") if parts[1] in OOM_IS_INF else (None, "out of memory")
            for path in MEASURE_ALIASES[parts[1]]:
                value = number(dig(measure, path))
                if value is not None:
                    return value, None
            return None, f"measurement has no {parts[1]} (status {measure.status!r})"
        if parts[0] in RECORD_SECTIONS and parts[0] != "metrics":
            value = number(dig(self, parts))
            return (value, None) if value is not None else (None, f"record has no {metric}")
        path = parts[1:] if parts[0] == "metrics" else parts
        value = number(dig(self.metrics or {}, path))
        return (value, None) if value is not None else (None, f"record has no metric {metric}")

    # -------------------------------------------------------------------------------------- io
    def to_json(self) -> dict[str, Any]:
        """The record as JSON data, only the keys it was given (what ``result.json`` holds)."""
        return self.model_dump(mode="json", exclude_unset=True)


#: What the report and the launchers accept during the transition: a typed record or its JSON mapping.
RecordLike: TypeAlias = RunRecord | Mapping[str, Any]


def as_record(record: RecordLike) -> RunRecord:
    """``record`` as a :class:`RunRecord` (a mapping is validated; a RunRecord is returned as is)."""
    return record if isinstance(record, RunRecord) else RunRecord.model_validate(record)


def as_records(records: Iterable[RecordLike]) -> list[RunRecord]:
    """Every record as a :class:`RunRecord` (see :func:`as_record`)."""
    return [as_record(r) for r in records]


def ok_records(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The records of finished runs."""
    return [r for r in records if r.ok]
