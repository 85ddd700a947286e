"""The typed suite schema: every default a paper leaves implicit is a field here, and unknown keys are errors.

A suite file has the shape::

    suite: or_neurips24            # id (lowercase, digits, _)
    version: 1                     # bump when a change can move a number
    paper: {title, authors, venue, year, arxiv, url, code, citation, items}
    baselines: ../baselines/or_neurips24.yaml
    defaults: {<experiment fields>}
    experiments:
      - id: byol_c10
        reproduces: {table: "Table 1", row: BYOL, column: Top-1}   # or {kind: extension, note: ...}
        <experiment fields>
        grid: {regularizer: [{name: none}, {name: so, gamma: 1.0e-6}]}
    profiles:
      paper: {description: ...}
      smoke: {description: ..., overrides: {<experiment fields>}, experiments: {byol_c10: {...}}, only: [byol_c10]}
    report: {figures: [spectra, gamma]}   # optional: the figure kinds bench report draws (default: all)

Experiment fields are the models below (:class:`ExperimentConfig`). Method, regularizer, probe and dataset
parameters are open here (``extra="allow"``) and checked against the registered component's own ``Params`` model
by :mod:`benchmark.validation`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from benchmark.errors import HintedValueError
from benchmark.registry import did_you_mean

ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]*$"
ID_RE = re.compile(ID_PATTERN)


class Strict(BaseModel):
    """Base for schema models: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Open(BaseModel):
    """Base for component configs whose extra keys are the component's own parameters."""

    model_config = ConfigDict(extra="allow")

    def extras(self) -> dict[str, Any]:
        """The component-specific parameters (everything that is not a declared field)."""
        return dict(self.model_extra or {})


# --------------------------------------------------------------------------------------------- provenance
class Reference(Strict):
    """Where in the paper an experiment's numbers are reported, or (``kind: extension``) that the paper has none.

    When the suite declares ``paper.items``, ``table`` / ``figure`` (and ``section`` when it is an item id) must name
    items (:func:`benchmark.validation.check_paper_items`). An extension is this project's own experiment: it
    cites no table or figure and says in ``note`` what it adds.
    """

    kind: Literal["paper", "extension"] = Field(
        default="paper", description="extension = an experiment of this project that the paper does not run"
    )
    table: str | None = None
    figure: str | None = None
    section: str | None = None
    row: str | None = None
    column: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _extension(self) -> Reference:
        if self.kind != "extension":
            return self
        cited = [f"{k} '{v}'" for k, v in (("table", self.table), ("figure", self.figure)) if v]
        if cited:
            raise HintedValueError(
                f"{' and '.join(cited)} cited by a reference of kind 'extension': an extension reproduces nothing "
                "of the paper",
                hint="drop kind: extension if the experiment reproduces that item, else move the context into 'note'",
            )
        if not self.note:
            raise HintedValueError(
                "a reference of kind 'extension' needs a note saying what this project adds",
                hint='e.g. {kind: extension, note: "SimCLR is not among the methods of Table 2"}',
            )
        return self

    @model_serializer(mode="wrap")
    def _hash_neutral_kind(self, handler: Any) -> Any:
        """``kind: paper`` (the default) is left out of dumps, so existing config hashes do not change."""
        data = handler(self)
        if isinstance(data, dict) and data.get("kind") == "paper":
            data.pop("kind")
        return data


class PaperItem(Strict):
    """One table, figure, section, text passage or repository page of the paper, and whether the suite covers it.

    A covered item is cited by at least one experiment's ``reproduces``; ``gaps`` lists the parts it does not
    reproduce (each with the reason). An item no experiment cites must say why in ``not_covered``.
    """

    id: str = Field(min_length=1, description="how experiments and baselines cite it, e.g. 'Table 1', 'Fig. 3'")
    kind: Literal["table", "figure", "section", "text", "repository"] = "table"
    page: int | None = Field(default=None, ge=1)
    caption: str | None = None
    source: str | None = Field(default=None, description="where the caption was read (extraction, commit, page)")
    not_covered: str | None = Field(default=None, description="why no experiment of the suite reproduces it")
    gaps: list[str] = Field(default_factory=list, description="parts of a covered item not reproduced, with reasons")

    @model_validator(mode="after")
    def _gaps_need_coverage(self) -> PaperItem:
        if self.not_covered is not None and self.gaps:
            raise HintedValueError(
                "gaps lists the missing parts of a covered item, but this item is not_covered",
                hint="keep not_covered (the whole item is missing) or cite the item from an experiment and keep gaps",
            )
        if self.not_covered is not None and not self.not_covered.strip():
            raise HintedValueError("not_covered is empty", hint="say why no experiment reproduces this item")
        return self


class PaperInfo(Strict):
    """Suite metadata: the paper being reproduced and (optionally) its tables and figures."""

    title: str
    authors: list[str] | str
    venue: str
    year: int | None = None
    arxiv: str | None = None
    url: str | None = None
    code: str | None = Field(default=None, description="official repository (and commit) if any")
    citation: str | None = Field(default=None, description="BibTeX or a one-line citation")
    items: list[PaperItem] | None = Field(
        default=None, min_length=1,
        description="the paper's tables, figures, ...; when given, every citation must name one (bench coverage)",
    )

    def item_ids(self) -> list[str]:
        return [i.id for i in self.items or []]


# --------------------------------------------------------------------------------------------- data
class NormalizeStats(Strict):
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


NORMALIZE_PRESETS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class SubsetConfig(Strict):
    """Which part of a split is used (SFRIK IN20 % = first 260 per class; smoke runs = a few per class)."""

    per_class: int | None = Field(default=None, ge=1, description="first N images of each class, dataset order")
    offset: int = Field(default=0, ge=0, description="skip the first `offset` images of each class")
    fraction: float | None = Field(default=None, gt=0, le=1, description="stratified fraction, seeded")
    limit: int | None = Field(default=None, ge=1, description="at most this many images (after the above)")
    long_tail: float | None = Field(default=None, ge=1, description="imbalance factor n_max/n_min (CIFAR-LT style)")
    seed: int = 0


class SamplerConfig(Strict):
    """How pretraining batches are drawn: uniformly at random, or exactly K classes per global batch."""

    kind: Literal["random", "k_classes"] = "random"
    k: int | None = Field(default=None, ge=1, description="classes per global batch (k_classes only)")

    @model_validator(mode="after")
    def _k_needed(self) -> SamplerConfig:
        if self.kind == "k_classes" and self.k is None:
            raise ValueError("sampler kind 'k_classes' needs 'k' (classes per global batch)")
        if self.kind == "random" and self.k is not None:
            raise ValueError("'k' is only used with sampler kind 'k_classes'")
        return self


class DataConfig(Strict):
    """Dataset, resolution and normalisation: stated explicitly because Lightly and solo-learn differ."""

    dataset: str = "cifar10"
    params: dict[str, Any] = Field(default_factory=dict, description="the dataset source's own parameters")
    input_size: int = Field(default=32, ge=8, description="crop size fed to the backbone")
    eval_resize: int | None = Field(
        default=None, ge=8, description="probe images: resize shorter side to this, then centre-crop input_size"
    )
    normalize: Literal["imagenet", "cifar10", "cifar100", "none"] | NormalizeStats = "cifar10"
    train_subset: SubsetConfig | None = None
    test_subset: SubsetConfig | None = None
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    num_workers: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _eval_resize(self) -> DataConfig:
        if self.eval_resize is not None and self.eval_resize < self.input_size:
            raise HintedValueError(
                f"eval_resize={self.eval_resize} is smaller than input_size={self.input_size}: the centre crop "
                "would pad the probe images with black borders",
                hint="use eval_resize >= input_size (e.g. 256 for 224 crops, or the input size itself)",
            )
        return self

    def normalize_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(mean, std) or None for no normalisation."""
        if isinstance(self.normalize, NormalizeStats):
            return self.normalize.mean, self.normalize.std
        if self.normalize == "none":
            return None
        return NORMALIZE_PRESETS[self.normalize]


# --------------------------------------------------------------------------------------------- model
class BackboneConfig(Open):
    """Encoder architecture. ``stem: cifar`` = 3×3 conv, stride 1, no max-pool (Lightly pitfall #1)."""

    name: str = "resnet18"
    stem: Literal["cifar", "imagenet"] = "cifar"
    width: int = Field(default=64, ge=1, description="channels of the first stage (64 = standard ResNet)")
    zero_init_residual: bool = False


class MethodConfig(Open):
    """The SSL method; every other key is a hyperparameter of that method (see its Params)."""

    name: str


class RegularizerConfig(Open):
    """Weight regulariser on the encoder: ``none``, ``so`` or ``srip`` (OR paper)."""

    name: str = "none"


class AugmentConfig(Strict):
    """Two-view (or multi-crop) augmentation: a Lightly transform preset plus its constructor arguments."""

    preset: str | None = Field(default=None, description="Lightly transform preset; default: the method's own")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for the Lightly transform")
    on_device: bool = Field(
        default=False,
        description="augment whole batches on the training device (benchmark/data/device_augment.py) instead of "
        "per image in the loader workers; presets simclr, vicreg, moco_v2, simsiam, byol",
    )
    decode_size: int | None = Field(
        default=None, ge=8,
        description="on_device only: images are resized/centre-cropped to this square before batching; default "
        "input_size up to 64 px, else input_size*8/7",
    )

    @model_validator(mode="after")
    def _decode_size_needs_on_device(self) -> AugmentConfig:
        if self.decode_size is not None and not self.on_device:
            raise HintedValueError(
                "decode_size is only used by the on-device augmentation",
                hint="set on_device: true, or remove decode_size",
            )
        return self


# --------------------------------------------------------------------------------------------- training
class OptimizerConfig(Strict):
    name: Literal["sgd", "lars", "adamw", "adam"] = "sgd"
    lr: float = Field(default=0.06, gt=0, description="base learning rate before scaling")
    lr_scaling: Literal["linear", "sqrt", "none"] = Field(
        default="linear", description="lr = base · (global_batch / base_batch_size) or its square root"
    )
    base_batch_size: int = Field(default=256, ge=1)
    weight_decay: float = Field(default=5e-4, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    exclude_bias_and_norm: bool = Field(default=True, description="no weight decay (and no LARS) on 1-D params")
    trust_coefficient: float = Field(default=0.001, gt=0, description="LARS eta")


class ScheduleConfig(Strict):
    name: Literal["cosine", "warmup_cosine", "step", "constant"] = "warmup_cosine"
    warmup_epochs: float = Field(default=0.0, ge=0)
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1, description="final lr as a fraction of the peak")
    milestones: list[int] = Field(default_factory=list, description="epochs at which lr is multiplied by gamma")
    gamma: float = Field(default=0.1, gt=0)

    @field_validator("milestones")
    @classmethod
    def _milestones(cls, v: list[int]) -> list[int]:
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise HintedValueError(f"milestones must be strictly increasing, got {v}", hint="e.g. milestones: [60, 80]")
        return v


class PretrainConfig(Strict):
    """Budget, batch and engine settings. The global batch is per-device × devices × nodes (checked)."""

    epochs: int = Field(default=200, ge=0, description="0 = no pretraining (random-init control)")
    max_steps: int | None = Field(default=None, ge=1, description="cap on optimizer steps (smoke profiles)")
    batch_size_per_device: int = Field(default=256, ge=1)
    batch_size_global: int | None = Field(default=None, ge=1, description="if given, must equal the product")
    devices: int = Field(default=1, ge=1)
    num_nodes: int = Field(default=1, ge=1)
    strategy: Literal["auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true"] = "auto"
    sync_batchnorm: bool = True
    gather_distributed: bool = Field(default=True, description="losses use statistics of the global batch")
    precision: Literal["32", "16-mixed", "bf16-mixed"] = "32"
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    gradient_clip_val: float | None = Field(default=None, gt=0)
    checkpoint_every_n_steps: int = Field(default=200, ge=1, description="resume granularity")
    deterministic: bool = True
    collapse_std_threshold: float = Field(
        default=1e-4, ge=0, description="mean per-dim std of normalised embeddings below which a run is 'collapsed'"
    )

    @model_validator(mode="after")
    def _global_batch(self) -> PretrainConfig:
        product = self.batch_size_per_device * self.devices * self.num_nodes
        if self.batch_size_global is not None and self.batch_size_global != product:
            raise ValueError(
                f"batch_size_global={self.batch_size_global} but batch_size_per_device × devices × num_nodes = "
                f"{self.batch_size_per_device} × {self.devices} × {self.num_nodes} = {product}"
            )
        return self

    @property
    def global_batch_size(self) -> int:
        return self.batch_size_per_device * self.devices * self.num_nodes


class ProbeConfig(Open):
    """One probe on frozen features; other keys are the probe's parameters (see its Params)."""

    name: str


class TransferConfig(Strict):
    """Transfer by linear classification: probe the frozen encoder on another dataset (its own train/test split)."""

    name: str = Field(pattern=ID_PATTERN, description="label of the metrics: '<name>/<probe>.<metric>'")
    data: DataConfig = Field(description="the target dataset, resolution and normalisation (nothing is inherited)")
    probes: list[ProbeConfig] | None = Field(default=None, description="default: the experiment's eval.probes")


class ValidationSplit(Strict):
    """Probe on a validation split carved from the training set (for tuning, e.g. OR's gamma), not on the test set."""

    fraction: float = Field(default=0.1, gt=0, lt=1, description="share of every class held out from the train set")
    seed: int = Field(default=0, description="which images are held out (fixed across runs so they are comparable)")


class UmapConfig(Strict):
    """UMAP of the test representations (OR paper Fig. 6); the paper states no parameter: umap-learn's defaults."""

    samples: int = Field(default=2000, ge=3, description="the first N images of the evaluated test split")
    n_neighbors: int = Field(default=15, ge=2, description="umap-learn's default")
    min_dist: float = Field(default=0.1, ge=0, description="umap-learn's default")
    metric: str = "euclidean"
    seed: int = Field(default=0, ge=0, description="UMAP random_state (reproducible, single-threaded)")


class EvalConfig(Strict):
    probes: list[ProbeConfig] = Field(
        default_factory=lambda: [ProbeConfig(name="linear")],
        description="[] skips the probes (and feature extraction unless spectra): measurement-only runs",
    )
    feature_batch_size: int = Field(default=256, ge=1)
    random_init_control: bool = Field(
        default=False, description="also probe a randomly initialised backbone of the same shape (control)"
    )
    spectra: bool = Field(default=False, description="store weight/feature eigenvalue spectra and effective rank")
    spectra_batch: int = Field(
        default=4096, ge=2,
        description="spectra of the paper's Figs. 3/4 use the first N test images, in test-set order (all if fewer)",
    )
    weight_correlation: str | None = Field(
        default=None,
        description="module whose last Conv/Linear weight gets the |corr| heatmap + biclustering (Fig. 5), e.g. layer4",
    )
    umap: UmapConfig | None = Field(default=None, description="2-D UMAP of test representations (Fig. 6)")
    transfer: list[TransferConfig] = Field(
        default_factory=list, description="other datasets the frozen encoder is probed on (transfer)"
    )
    validation: ValidationSplit | None = Field(
        default=None,
        description="probes train on the rest of the train set and report on this held-out part (the test set is "
        "not touched); pretraining still sees the whole (unlabelled) train set",
    )

    @model_validator(mode="after")
    def _unique_transfer_names(self) -> EvalConfig:
        names = [t.name for t in self.transfer]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise HintedValueError(f"eval.transfer names must be unique; repeated: {', '.join(dup)}",
                                   hint="give each target dataset its own name")
        return self


class MeasureConfig(Strict):
    """Performance measurement of the training step (issue: performance)."""

    enabled: bool = False
    warmup_steps: int = Field(default=3, ge=0)
    steps: int = Field(default=10, ge=1)
    loss_only: bool = Field(default=True, description="also time the loss alone on the step's embeddings")
    regularizer_only: bool = Field(
        default=False, description="also time the OR penalty alone (forward + backward over the encoder's weights)"
    )


class ExperimentConfig(Strict):
    """One fully resolved experiment (defaults ⊕ experiment ⊕ profile ⊕ grid point)."""

    id: str
    title: str | None = None
    reproduces: Reference | list[Reference] | None = None
    assumptions: list[str] = Field(default_factory=list, description="protocol facts unknown from the paper")
    tags: list[str] = Field(default_factory=list)
    data: DataConfig = Field(default_factory=DataConfig)
    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    method: MethodConfig
    regularizer: RegularizerConfig = Field(default_factory=RegularizerConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    report: Literal["max", "last"] = Field(default="max", description="metric over probe epochs that is reported")
    tolerance: float = Field(default=1.0, ge=0, description="|Δ| in points within which a number 'reproduced'")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise HintedValueError(
                "experiment ids name result folders: lowercase letters, digits, '_', '.', '-', starting with a "
                "letter or digit",
                hint=f"use e.g. '{_id_suggestion(v)}' (pattern {ID_PATTERN})",
            )
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        if any(s < 0 for s in v):
            raise ValueError(f"seeds must be >= 0, got {v}")
        return v


class ProfileConfig(Strict):
    """A named budget: overrides applied to every experiment, then per experiment; optionally a subset."""

    description: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    only: list[str] | None = Field(default=None, min_length=1, description="run only these experiments")


class ReportSettings(Strict):
    """What ``bench report`` draws for the suite."""

    figures: list[str] | None = Field(
        default=None,
        min_length=1,
        description="figure kinds drawn, in this order (names of benchmark.report.figures.FIGURES); default: all",
    )


class SuiteFile(Strict):
    """The top level of a suite file (before experiments are resolved)."""

    suite: str
    version: int = Field(default=1, ge=1)
    description: str | None = None
    paper: PaperInfo | None = None
    baselines: str | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    experiments: list[dict[str, Any]] = Field(min_length=1)
    profiles: dict[str, ProfileConfig] = Field(default_factory=lambda: {"paper": ProfileConfig()})
    default_profile: str = "paper"
    notes: list[str] = Field(default_factory=list)
    report: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("suite")
    @classmethod
    def _suite_id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise HintedValueError(
                "suite ids name result folders: lowercase letters, digits, '_', '.', '-', starting with a letter or "
                "digit",
                hint=f"use e.g. '{_id_suggestion(v)}' (pattern {ID_PATTERN})",
            )
        return v

    @model_validator(mode="after")
    def _default_profile(self) -> SuiteFile:
        if self.default_profile not in self.profiles:
            raise HintedValueError(
                f"default_profile '{self.default_profile}' is not a profile of this suite"
                f"{did_you_mean(self.default_profile, list(self.profiles))}",
                hint=f"profiles: {', '.join(self.profiles)}",
            )
        return self


EXPERIMENT_FIELDS = set(ExperimentConfig.model_fields) | {"grid"}


def _id_suggestion(value: str) -> str:
    """A valid id close to ``value`` (lowercased, other characters → '_'), for hints."""
    text = re.sub(r"[^a-z0-9_.\-]", "_", str(value).lower()).lstrip("._-")
    return text or "my_experiment"
