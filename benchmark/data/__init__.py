"""Datasets for the benchmark: the source registry, loaders, subsets and class-controlled batch samplers.

- :data:`DATASETS`, :func:`load_dataset`, :func:`check_dataset`, :func:`dataset_params_model` (``sources``): named
  sources (``cifar10``, ``cifar100``, ``stl10``, ``mnist``, ``imagenet``, ``imagenet100``, ``hf``, ``npz``, ``digits``,
  ``food101``, ``flowers102``, ``dtd``, ``gtsrb``, ``clevr_count``, ``places365``, ``places205``, ``inaturalist``,
  ``digit_overlay``).
- :class:`DatasetSplits`, :class:`ArrayDataset` (``base``): what a source returns.
- ``subsets``: per-class prefixes (SFRIK IN20 %), stratified fractions, long-tailed subsets, validation carving.
- ``samplers``: :class:`KClassBatchSampler` (exactly K classes per batch) and the :class:`RandomBatchSampler` control.

The registry side imports neither torch nor torchvision (``bench list`` / ``bench validate`` stay fast); the names
that need torch are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

# Register the built-in sources: each module adds its entries to DATASETS when imported (here, not at the end of
# ``sources``, so that the source modules importing ``sources`` form no import cycle with it).
from benchmark.data import array_sources, folder_sources, hf_source, overlay_sources, tv_sources  # noqa: F401
from benchmark.data.sources import (
    DATASETS,
    DataSource,
    SourceParams,
    check_dataset,
    dataset_params_model,
    load_dataset,
    parse_params,
)

_LAZY = {
    "DatasetSplits": "benchmark.data.base",
    "ArrayDataset": "benchmark.data.base",
    "LabeledDataset": "benchmark.data.base",
    "KClassBatchSampler": "benchmark.data.samplers",
    "RandomBatchSampler": "benchmark.data.samplers",
    "ShardedBatchSampler": "benchmark.data.samplers",
    "make_batch_sampler": "benchmark.data.samplers",
    "per_class_subset": "benchmark.data.subsets",
    "stratified_fraction": "benchmark.data.subsets",
    "long_tailed_indices": "benchmark.data.subsets",
    "exponential_class_sizes": "benchmark.data.subsets",
    "power_law_class_sizes": "benchmark.data.subsets",
    "carve_validation": "benchmark.data.subsets",
    "restrict_splits": "benchmark.data.subsets",
}

__all__ = [
    "DATASETS",
    "DataSource",
    "SourceParams",
    "check_dataset",
    "dataset_params_model",
    "load_dataset",
    "parse_params",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'benchmark.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
