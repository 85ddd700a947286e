"""The dataset registry: named sources with typed parameters, a cheap presence check and a loader.

Every entry of :data:`DATASETS` is a :class:`DataSource` with

- ``Params``: a pydantic model (``extra="forbid"``) of the suite-level parameters (``path``, splits, ...);
- ``check(params, *, data_root)``: a cheap presence check (file/folder existence, no decoding, no checksums) used by
  ``bench validate --data-root DIR`` and by ``bench run``'s pre-flight before the first run; raises
  :class:`~benchmark.errors.DataError`;
- ``load(params, *, data_root, download)``: returns :class:`~benchmark.data.base.DatasetSplits`.

Missing data is always a :class:`DataError` naming the dataset, the exact path(s) looked for and how to get the data
(``--download`` where torchvision can fetch it, the expected folder layout otherwise). A download that fails (no
network) is a :class:`DataError` too, never a raw traceback.

Importing this module does not import torch, torchvision or ``datasets``; sources import them when they load.

Example::

    from benchmark.data import load_dataset
    splits = load_dataset("cifar10", {}, data_root=Path("~/data"), download=True)
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from benchmark.errors import BenchError, DataError, SuiteError
from benchmark.registry import Registry, did_you_mean, import_modules

if TYPE_CHECKING:
    from benchmark.data.base import DatasetSplits

T = TypeVar("T")

#: Exceptions that mean "the files could not be read or fetched", turned into :class:`DataError`.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    RuntimeError,
    ValueError,
    KeyError,
    IndexError,
    EOFError,
    pickle.UnpicklingError,
)


class SourceParams(BaseModel):
    """Base of every source's ``Params``: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource:
    """One named dataset source. Subclasses set ``name``, ``Params``, ``description`` and implement the two methods.

    The dataset's facts are declared here once, for the default ``Params`` (``None`` where they depend on the files
    or the parameters: ``npz``, ``hf``): ``num_classes``, ``train_size`` / ``test_size`` (images of the train and
    test splits the loader returns) and ``image_size`` (native square side in pixels). ``bench validate`` (K-class
    sampling) and ``bench plan`` (step estimates) read them without loading anything.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[SourceParams]] = SourceParams
    num_classes: ClassVar[int | None] = None
    train_size: ClassVar[int | None] = None
    test_size: ClassVar[int | None] = None
    image_size: ClassVar[int | None] = None

    def check(self, params: Any, *, data_root: Path) -> None:
        """Cheap presence check (no decoding, no checksums). Raises :class:`DataError` when data is missing."""
        raise NotImplementedError

    def load(self, params: Any, *, data_root: Path, download: bool) -> DatasetSplits:
        """Load the train/test splits. Raises :class:`DataError` for missing, corrupt or undownloadable data."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<dataset source {self.name!r}>"


#: All dataset sources, by name.
DATASETS: Registry[DataSource] = Registry("dataset")


def register_source(cls: type[DataSource]) -> type[DataSource]:
    """Class decorator: instantiate ``cls`` and register it under ``cls.name``."""
    DATASETS.add(cls.name, cls())
    return cls


# ---------------------------------------------------------------------------------------------------------------------
# Public helpers


def dataset_params_model(name: str) -> type[BaseModel]:
    """The pydantic ``Params`` model of dataset source ``name`` (RegistryError with did-you-mean if unknown)."""
    return DATASETS.get(name).Params


def parse_params(name: str, params: Mapping[str, Any] | BaseModel | None) -> BaseModel:
    """Validate ``params`` against source ``name``'s model.

    Raises:
        RegistryError: Unknown dataset name.
        SuiteError: Unknown key (with did-you-mean) or a bad value; ``key`` is the offending parameter.
    """
    model = dataset_params_model(name)
    if isinstance(params, model):
        return params
    if isinstance(params, BaseModel):
        params = params.model_dump()
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as err:
        # A misspelt key also makes its intended key "missing": report the unknown key first (did-you-mean).
        first = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        key = ".".join(str(p) for p in first["loc"]) or None
        if first["type"] == "extra_forbidden":
            msg = f"unknown parameter '{key}' for dataset '{name}'{did_you_mean(str(key), list(model.model_fields))}"
        else:
            msg = f"invalid parameter for dataset '{name}': {first['msg']}"
        fields = ", ".join(model.model_fields) or "(none)"
        raise SuiteError(msg, key=key, hint=f"parameters of '{name}': {fields}") from None


def load_dataset(
    name: str,
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    data_root: str | Path,
    download: bool = False,
) -> DatasetSplits:
    """Load dataset ``name`` with ``params`` from under ``data_root``.

    Args:
        name: Registry name (``"cifar10"``, ``"imagenet100"``, ``"npz"``, ...).
        params: Source parameters (a dict, validated against :func:`dataset_params_model`).
        data_root: Root folder holding the datasets; relative ``path`` parameters are resolved against it.
        download: Allow sources that can download (torchvision, Hugging Face hub) to fetch missing data.

    Raises:
        RegistryError: Unknown dataset. SuiteError: Bad parameters. DataError: Missing/corrupt data, failed download.
    """
    source = DATASETS.get(name)
    parsed = parse_params(name, params)
    return source.load(parsed, data_root=Path(data_root).expanduser(), download=bool(download))


def check_dataset(name: str, params: Mapping[str, Any] | BaseModel | None = None, *, data_root: str | Path) -> None:
    """Cheap presence check of dataset ``name`` (``bench validate --data-root``, ``bench run``'s pre-flight).
    Raises like :func:`load_dataset`."""
    source = DATASETS.get(name)
    source.check(parse_params(name, params), data_root=Path(data_root).expanduser())


# ---------------------------------------------------------------------------------------------------------------------
# Helpers for source implementations


def resolve(data_root: Path, path: str | Path) -> Path:
    """``path`` if absolute (after ``~`` expansion), else ``data_root / path``."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(data_root).expanduser() / p


def _short_list(items: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def missing_error(name: str, looked_for: Sequence[Path], *, hint: str, what: str = "not found") -> DataError:
    """The standard missing-data error: dataset name, every path looked for, and the remedy."""
    return DataError(
        f"dataset '{name}' {what}: looked for {_short_list([str(p) for p in looked_for], limit=8)}",
        path=str(looked_for[0]) if looked_for else None,
        hint=hint,
    )


def require_paths(name: str, paths: Iterable[Path], *, hint: str) -> None:
    """Raise :func:`missing_error` for the entries of ``paths`` that do not exist."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise missing_error(name, missing, hint=hint)


def download_hint(root: Path, *, what: str, manual: str | None = None) -> str:
    """``pass --download ...`` remedy text for sources torchvision (or the hub) can fetch."""
    text = f"pass --download to fetch {what} into {root}"
    if manual:
        text += f", or {manual}"
    return text


def guarded(
    name: str,
    root: Path,
    fn: Callable[[], T],
    *,
    download: bool,
    manual: str,
    can_download: bool = True,
) -> T:
    """Run ``fn`` (which may download and then reads files); turn read/download failures into :class:`DataError`.

    Args:
        name: Dataset name for the message.
        root: Folder being downloaded into / read from.
        fn: The torchvision (or other library) call.
        download: Whether ``fn`` may download; changes the message and remedy.
        manual: How to obtain the files by hand (used in the hint).
        can_download: Whether ``--download`` is a remedy for this source.
    """
    try:
        return fn()
    except BenchError:
        raise
    except READ_ERRORS as err:
        reason = f"{type(err).__name__}: {err}".strip()
        if download:
            raise DataError(
                f"dataset '{name}': downloading into {root} failed ({reason})",
                path=str(root),
                hint=f"check the network connection (or proxy settings) and retry, or {manual}",
            ) from err
        raise DataError(
            f"dataset '{name}' at {root} could not be read ({reason})",
            path=str(root),
            hint="the files look corrupt or incomplete; "
            + ("delete them and re-run with --download, or " if can_download else "")
            + manual,
        ) from err


#: Module-name endings of the source modules of :mod:`benchmark.data` (the others import torch at import time).
SOURCE_MODULE_SUFFIXES = ("_source", "_sources")

# Register the built-in sources: every ``benchmark/data/*_source(s).py`` adds its entries to DATASETS when imported.
import_modules("benchmark.data", suffixes=SOURCE_MODULE_SUFFIXES)
