"""The probe interface: a probe turns frozen train/test features into test accuracies.

Every probe in :mod:`benchmark.probes` works on cached features (:class:`FeatureSet`, produced once per backbone
by :func:`benchmark.probes.features.extract_features`), so a linear probe, an SVM and a kNN on the same backbone see
exactly the same numbers. Accuracies are percentages (0–100), like the papers' tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor

from benchmark.errors import DataError
from benchmark.registry import Registry

Normalization = Literal["none", "l2", "standardize"]

#: ``eps`` of the "standardize" normalisation, as in ``torch.nn.BatchNorm1d`` (its default ``eps=1e-5``).
STANDARDIZE_EPS = 1e-5


@dataclass
class FeatureSet:
    """Frozen-backbone features of a labelled train and test split.

    ``train_x``/``test_x`` are cast to float32 and ``train_y``/``test_y`` to int64 on construction; shapes and the
    label range are checked (:class:`DataError` otherwise).

    Args:
        train_x: (N, D) train features.
        train_y: (N,) train labels in ``[0, num_classes)``.
        test_x: (M, D) test features.
        test_y: (M,) test labels in ``[0, num_classes)``.
        num_classes: Number of classes of the dataset (not only those present in the splits).
    """

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            x: Tensor = getattr(self, f"{name}_x")
            y: Tensor = getattr(self, f"{name}_y")
            if not isinstance(x, Tensor) or not isinstance(y, Tensor):
                raise DataError(f"{name} features and labels must be torch tensors", hint="use torch.as_tensor(...)")
            if x.ndim != 2:
                raise DataError(
                    f"{name}_x must be (N, D), got shape {tuple(x.shape)}", hint="flatten features with x.flatten(1)"
                )
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise DataError(f"{name}_y must be ({x.shape[0]},) to match {name}_x, got shape {tuple(y.shape)}")
            if x.shape[0] == 0:
                raise DataError(f"the {name} split has no samples", hint="check the dataset split and its size")
            if not (x.is_floating_point() and not y.is_floating_point() and not y.is_complex()):
                raise DataError(f"{name}_x must be floating point and {name}_y integer, got {x.dtype} / {y.dtype}")
            setattr(self, f"{name}_x", x.float())
            setattr(self, f"{name}_y", y.long())
        if self.train_x.shape[1] != self.test_x.shape[1]:
            raise DataError(
                f"train and test feature dimensions differ: {self.train_x.shape[1]} vs {self.test_x.shape[1]}",
                hint="extract both splits with the same backbone",
            )
        if int(self.num_classes) < 2:
            raise DataError(f"num_classes must be >= 2, got {self.num_classes}")
        self.num_classes = int(self.num_classes)
        for name, y in (("train", self.train_y), ("test", self.test_y)):
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= self.num_classes:
                raise DataError(
                    f"{name} labels span [{lo}, {hi}], outside [0, {self.num_classes})",
                    hint="labels must be class indices 0..num_classes-1",
                )

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.train_x.shape[1])


class ProbeParams(BaseModel):
    """Base of every probe's ``Params``: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class Probe(Protocol):
    """What the runner needs from a probe.

    ``Params`` is the probe's pydantic parameter model (``extra="forbid"``); the constructor takes an instance of it
    (or a mapping validated by it); :meth:`evaluate` returns JSON-serialisable floats, accuracies in percent.
    """

    Params: ClassVar[type[ProbeParams]]

    def __init__(self, params: Any = None) -> None: ...

    def evaluate(self, features: FeatureSet, *, seed: int, progress: bool = False) -> dict[str, float]: ...


#: The probe registry: each probe module registers its class with ``@PROBES.register(name)``.
PROBES: Registry[Any] = Registry("probe")


def coerce_params(params_cls: type[ProbeParams], params: ProbeParams | Mapping[str, Any] | None) -> ProbeParams:
    """``params`` as an instance of ``params_cls`` (a mapping is validated; ``None`` gives the defaults).

    Raises:
        pydantic.ValidationError: unknown keys or invalid values in a mapping.
        TypeError: ``params`` is an instance of another probe's Params.
    """
    if params is None:
        return params_cls()
    if isinstance(params, params_cls):
        return params
    if isinstance(params, BaseModel):
        raise TypeError(f"expected {params_cls.__name__} or a mapping, got {type(params).__name__}")
    return params_cls(**dict(params))


def topk_correct_from_ranking(ranking: Tensor, y: Tensor, ks: Sequence[int]) -> dict[int, int]:
    """Number of samples whose label is among the first ``k`` columns of ``ranking`` ((N, ≥k) class indices)."""
    hits = ranking == y.view(-1, 1)
    return {k: int(hits[:, : min(k, ranking.shape[1])].any(dim=1).sum()) for k in ks}


def topk_correct(scores: Tensor, y: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, int]:
    """Number of samples whose label has one of the ``k`` largest scores; ``k`` is capped at the class count."""
    kmax = min(max(ks), scores.shape[1])
    ranking = scores.topk(kmax, dim=1).indices
    return topk_correct_from_ranking(ranking, y, ks)


def topk_accuracy(logits_or_scores: Tensor, y: Tensor, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracies in percent (0–100), keyed ``top1``, ``top5``, ...

    ``k`` larger than the number of classes counts every sample as correct (as ``torch.topk`` capped at C would).

    Args:
        logits_or_scores: (N, C) scores, larger = more likely.
        y: (N,) integer labels.
        ks: The k values.

    Raises:
        DataError: empty input or mismatched shapes.
    """
    if logits_or_scores.ndim != 2 or y.ndim != 1 or logits_or_scores.shape[0] != y.shape[0]:
        raise DataError(
            f"scores (N, C) and labels (N,) do not match: {tuple(logits_or_scores.shape)} / {tuple(y.shape)}"
        )
    n = y.shape[0]
    if n == 0:
        raise DataError("cannot compute an accuracy on zero samples")
    correct = topk_correct(logits_or_scores, y.to(logits_or_scores.device), ks)
    return {f"top{k}": 100.0 * correct[k] / n for k in ks}


def normalize_features(train_x: Tensor, test_x: Tensor, mode: Normalization) -> tuple[Tensor, Tensor]:
    """Normalise train and test features; statistics come from the TRAIN split only.

    - ``none``: unchanged.
    - ``l2``: each row divided by its L2 norm (``torch.nn.functional.normalize``).
    - ``standardize``: per dimension ``(x - mean) / sqrt(var + 1e-5)`` with the train mean and biased train variance,
      i.e. a BatchNorm1d without affine parameters in eval mode, fitted on the train features (in float64).
    """
    if mode == "none":
        return train_x, test_x
    if mode == "l2":
        return torch.nn.functional.normalize(train_x, dim=1), torch.nn.functional.normalize(test_x, dim=1)
    if mode == "standardize":
        x64 = train_x.double()  # float64 statistics: squares of large float32 features would overflow
        mean = x64.mean(dim=0, keepdim=True)
        scale = x64.var(dim=0, unbiased=False, keepdim=True).add(STANDARDIZE_EPS).rsqrt()
        return ((x64 - mean) * scale).to(train_x.dtype), ((test_x.double() - mean) * scale).to(test_x.dtype)
    raise ValueError(f"unknown normalization {mode!r}")
