"""The ``hf`` source: a Hugging Face ``datasets`` dataset, from a local ``save_to_disk`` folder or the hub.

``name`` is first looked up as a folder (relative to ``data_root`` or absolute) written by
``DatasetDict.save_to_disk``; otherwise it is a hub id. Hub datasets are fetched only with ``--download``; without it
only the local Hugging Face cache is used (offline). Dataset loading scripts are never run: ``trust_remote_code`` is
passed as ``False`` where the installed ``datasets`` still has the option (``datasets`` >= 4 cannot run scripts).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from benchmark.data.sources import DataSource, SourceParams, guarded, missing_error, register_source, resolve
from benchmark.errors import DataError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
IMAGE_KEYS = ("img", "image")


class HfParams(SourceParams):
    """Parameters of ``hf``."""

    name: str = Field(..., description="save_to_disk folder (relative to data_root or absolute) or a hub dataset id")
    config_name: str | None = Field(None, description="hub configuration (subset) name")
    revision: str | None = Field(None, description="hub revision (branch, tag or commit) to pin")
    image_key: str | None = Field(None, description="image column; default: the first of 'img', 'image' present")
    label_key: str = Field("label", description="integer label column (ClassLabel names become the class names)")
    train_split: str = "train"
    test_split: str = "test"


def _save_hint(p: HfParams, local: Path) -> str:
    cfg = f", {p.config_name!r}" if p.config_name else ""
    return f"datasets.load_dataset({p.name!r}{cfg}).save_to_disk({str(local)!r}) on a machine with network access"


def _hub_cache_dir(hub_id: str) -> Path:
    """Where ``datasets`` caches a hub dataset (mirrors its cached-module lookup: ``namespace___snake_name``)."""
    import datasets.config
    from datasets.naming import camelcase_to_snakecase

    parts = hub_id.split("/")
    parts[-1] = camelcase_to_snakecase(parts[-1])
    return Path(datasets.config.HF_DATASETS_CACHE) / "___".join(parts)


@contextmanager
def _hf_offline() -> Iterator[None]:
    """Force ``datasets`` / ``huggingface_hub`` offline (cache only) for the duration of the block."""
    import datasets.config as dconfig
    import huggingface_hub.constants as hconst

    saved = {
        name: getattr(dconfig, name) for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") if hasattr(dconfig, name)
    }
    saved_hub = hconst.HF_HUB_OFFLINE
    try:
        for name in saved:
            setattr(dconfig, name, True)
        hconst.HF_HUB_OFFLINE = True
        yield
    finally:
        for name, value in saved.items():
            setattr(dconfig, name, value)
        hconst.HF_HUB_OFFLINE = saved_hub


class HfImage:
    """``(dataset, index) -> image`` for :class:`~benchmark.data.base.LabeledDataset`; a class so it pickles."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, ds: Any, index: int) -> Any:
        value = ds[index][self.key]
        if isinstance(value, dict) and value.get("bytes") is not None:  # undecoded Image feature
            import io

            from PIL import Image

            return Image.open(io.BytesIO(value["bytes"]))
        return value


@register_source
class HuggingFace(DataSource):
    """Any image-classification dataset of the Hugging Face hub or saved with ``save_to_disk``."""

    name = "hf"
    description = "Hugging Face datasets: a save_to_disk folder or a hub id (hub needs --download or the HF cache)"
    Params = HfParams

    def check(self, params: HfParams, *, data_root: Path) -> None:
        local = resolve(data_root, params.name)
        if local.exists():
            markers = [local / "dataset_dict.json", local / "state.json"]
            if not any(m.is_file() for m in markers):
                raise missing_error(
                    self.name,
                    markers,
                    what=f"folder {local} is not a datasets.save_to_disk folder",
                    hint=f"write it with {_save_hint(params, local)}",
                )
            return
        if not HUB_ID.match(params.name):
            raise missing_error(self.name, [local], hint=f"create it with {_save_hint(params, local)}")
        cache = _hub_cache_dir(params.name)
        if not cache.is_dir():
            raise missing_error(
                self.name,
                [local, cache],
                what=f"'{params.name}' not found locally nor in the Hugging Face cache",
                hint=f"pass --download to fetch '{params.name}' from the Hugging Face hub, or save it first with "
                + _save_hint(params, local),
            )

    def _open(self, params: HfParams, *, data_root: Path, download: bool) -> tuple[Any, str]:
        import datasets

        local = resolve(data_root, params.name)
        if local.exists():
            self.check(params, data_root=data_root)
            ds = guarded(
                self.name,
                local,
                lambda: datasets.load_from_disk(str(local)),
                download=False,
                can_download=False,
                manual=f"re-create it with {_save_hint(params, local)}",
            )
            return ds, f"datasets.load_from_disk({local})"
        if not download:
            self.check(params, data_root=data_root)
        kwargs: dict[str, Any] = {"revision": params.revision}
        if "trust_remote_code" in inspect.signature(datasets.load_dataset).parameters:
            kwargs["trust_remote_code"] = False

        def fetch() -> Any:
            if download:
                return datasets.load_dataset(params.name, params.config_name, **kwargs)
            with _hf_offline():
                return datasets.load_dataset(params.name, params.config_name, **kwargs)

        ds = guarded(
            self.name,
            _hub_cache_dir(params.name),
            fetch,
            download=download,
            manual=f"save it with {_save_hint(params, local)} and set name to that folder",
        )
        rev = f"@{params.revision}" if params.revision else ""
        cfg = f" config {params.config_name}" if params.config_name else ""
        return ds, f"Hugging Face hub {params.name}{rev}{cfg}"

    def load(self, params: HfParams, *, data_root: Path, download: bool) -> Any:
        import datasets

        from benchmark.data.base import DatasetSplits, LabeledDataset

        dd, where = self._open(params, data_root=data_root, download=download)
        if not isinstance(dd, datasets.DatasetDict):
            raise DataError(
                f"dataset 'hf': {where} is a single split ({type(dd).__name__}); train and test splits are needed",
                hint="save a DatasetDict({'train': ..., 'test': ...}) with save_to_disk",
            )
        splits = {}
        for role, split in (("train", params.train_split), ("test", params.test_split)):
            if split not in dd:
                raise DataError(
                    f"dataset 'hf': {where} has no split '{split}' (splits: {', '.join(dd)})",
                    key=f"{role}_split",
                    hint=f"set {role}_split to one of: {', '.join(dd)}",
                )
            splits[role] = dd[split]
        columns = splits["train"].column_names
        image_key = params.image_key or next((k for k in IMAGE_KEYS if k in columns), None)
        for key, role in ((image_key, "image_key"), (params.label_key, "label_key")):
            for part in splits.values():
                if key is None or key not in part.column_names:
                    raise DataError(
                        f"dataset 'hf': {where} has no {'image' if role == 'image_key' else 'label'} column "
                        f"{key!r} (columns: {', '.join(part.column_names)})",
                        key=role,
                        hint=f"set {role} to one of the columns",
                    )
        feature = splits["train"].features[params.label_key]
        classes = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None

        def labels_of(part: Any) -> np.ndarray:
            return np.asarray(part.select_columns([params.label_key]).with_format("numpy")[:][params.label_key])

        labels = {role: labels_of(part) for role, part in splits.items()}
        for role, lbl in labels.items():
            if lbl.size == 0:
                raise DataError(f"dataset 'hf': {where} {role} split '{getattr(params, role + '_split')}' is empty")
        num_classes = len(classes) if classes else int(max(lbl.max() for lbl in labels.values())) + 1
        wrapped = {
            role: LabeledDataset(part.select_columns([image_key]), labels[role], get_image=HfImage(image_key))
            for role, part in splits.items()
        }
        first, _ = wrapped["train"][0]
        return DatasetSplits(
            name=self.name,
            train=wrapped["train"],
            test=wrapped["test"],
            num_classes=num_classes,
            classes=classes,
            train_labels=labels["train"],
            test_labels=labels["test"],
            source=f"{where} (splits {params.train_split}/{params.test_split}, columns {image_key}/{params.label_key})",
            image_size=first.width if first.width == first.height else None,
        )
