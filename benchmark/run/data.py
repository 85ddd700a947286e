"""The data stage of a run: the dataset's splits (cached per process), subsets, the validation hold-out, and the
pretraining loader with its batch sampler (:func:`benchmark.data.samplers.make_batch_sampler`)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import torch

from benchmark.errors import SuiteError
from benchmark.run.options import RunOptions
from benchmark.suite.plan import Run
from benchmark.suite.schema import ExperimentConfig, SubsetConfig, ValidationSplit

_DATA_CACHE: dict[str, Any] = {}


def load_splits(cfg: ExperimentConfig, opts: RunOptions) -> Any:
    """Load (and cache within the process) the dataset of an experiment."""
    from benchmark.data import load_dataset

    key = json.dumps([cfg.data.dataset, cfg.data.params, str(opts.data_root)], sort_keys=True, default=str)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = load_dataset(cfg.data.dataset, cfg.data.params, data_root=opts.data_root, download=opts.download)
    return _DATA_CACHE[key]


def subset_indices(labels: np.ndarray, sub: SubsetConfig | None) -> np.ndarray:
    """Indices selected by a subset block (per-class prefix, fraction, long tail, limit), in that order."""
    from benchmark.data.subsets import long_tailed_indices, per_class_subset, stratified_fraction

    idx = np.arange(len(labels))
    if sub is None:
        return idx
    if sub.per_class is not None or sub.offset:
        idx = per_class_subset(labels, sub.per_class or len(labels), offset=sub.offset, strict=sub.per_class is not None)
    if sub.fraction is not None:
        idx = idx[stratified_fraction(labels[idx], sub.fraction, seed=sub.seed)]
    if sub.long_tail is not None:
        idx = idx[long_tailed_indices(labels[idx], sub.long_tail, seed=sub.seed)]
    if sub.limit is not None and len(idx) > sub.limit:
        rng = np.random.default_rng(sub.seed)
        idx = np.sort(rng.choice(idx, size=sub.limit, replace=False))
    return np.sort(idx)


def validation_split(splits: Any, train_idx: np.ndarray, val: ValidationSplit) -> tuple[Any, np.ndarray, np.ndarray]:
    """``(splits', probe_train_idx, probe_val_idx)``: a stratified share of ``train_idx`` becomes the evaluation set.

    ``splits'`` is ``splits`` with its train set also serving as the "test" side, so the probes never see the test set.
    """
    from benchmark.data.subsets import stratified_fraction

    labels = np.asarray(splits.train_labels)[train_idx]
    held = np.zeros(len(train_idx), dtype=bool)
    held[stratified_fraction(labels, val.fraction, seed=val.seed)] = True
    as_test = dataclasses.replace(splits, test=splits.train, test_labels=splits.train_labels)
    return as_test, train_idx[~held], train_idx[held]


class TransformedViews(torch.utils.data.Dataset):
    """(image, label) → (transform(image), label), over the ``indices`` of ``base``."""

    def __init__(self, base: Any, indices: np.ndarray, transform: Any) -> None:
        self.base, self.indices, self.transform = base, indices, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        img, label = self.base[int(self.indices[i])]
        return self.transform(img), int(label)


class IndexSubset(torch.utils.data.Dataset):
    """The items of ``base`` at ``indices``, unchanged."""

    def __init__(self, base: Any, indices: np.ndarray) -> None:
        self.base, self.indices = base, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.base[int(self.indices[i])]


def train_loader(run: Run, dataset: Any, splits: Any, train_idx: np.ndarray, opts: RunOptions) -> Any:
    """The pretraining loader: a data order that depends only on (seed, epoch), sharded per rank, resumable.

    Global batches come from :func:`benchmark.data.samplers.make_batch_sampler` (``KClassBatchSampler`` for
    ``sampler.kind: k_classes``, else ``RandomBatchSampler``); each process takes its slice of every global batch and
    each sample is augmented under its own seed (see :mod:`benchmark.train.sampling`). The pretraining stage calls
    ``loader.batch_sampler.resume(epoch, batches_done)``. ``dataset`` holds the images at ``train_idx``.
    """
    from benchmark.data.samplers import make_batch_sampler
    from benchmark.train.sampling import RunBatchSampler, SeededViews

    cfg = run.config
    pcfg = cfg.pretrain
    common = {"num_workers": cfg.data.num_workers, "persistent_workers": cfg.data.num_workers > 0,
              "pin_memory": opts.device.startswith("cuda")}
    k = cfg.data.sampler.k if cfg.data.sampler.kind == "k_classes" else None
    labels = np.asarray(splits.train_labels)[train_idx]
    parent = make_batch_sampler(labels, batch_size=pcfg.global_batch_size, k=k, seed=run.seed, drop_last=True)
    world = pcfg.devices * pcfg.num_nodes
    try:
        batch_sampler = RunBatchSampler(parent, seed=run.seed, world_size=world)
    except ValueError as exc:
        raise SuiteError(str(exc), key=f"experiments[{run.experiment_id}].pretrain",
                         hint="the global batch must split evenly over devices x num_nodes") from None
    # The generator only feeds DataLoader's worker base seed, keeping it off the global RNG stream.
    generator = torch.Generator().manual_seed(run.seed)
    return torch.utils.data.DataLoader(SeededViews(dataset), batch_sampler=batch_sampler, generator=generator, **common)
