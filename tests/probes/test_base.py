"""FeatureSet validation, top-k accuracy, feature normalisation (train statistics only)."""

from __future__ import annotations

import pytest
import torch

from benchmark.errors import DataError
from benchmark.probes.base import FeatureSet, normalize_features, topk_accuracy


def test_topk_accuracy_by_hand() -> None:
    scores = torch.tensor(
        [
            [0.1, 0.9, 0.0, 0.0, 0.0, 0.0],  # label 1: top-1 hit
            [0.5, 0.4, 0.3, 0.2, 0.1, 0.0],  # label 4: 5th best -> top-5 hit only
            [0.5, 0.4, 0.3, 0.2, 0.1, 0.0],  # label 5: last -> miss
            [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],  # label 3: top-1 hit
        ]
    )
    y = torch.tensor([1, 4, 5, 3])
    assert topk_accuracy(scores, y) == {"top1": 50.0, "top5": 75.0}
    assert topk_accuracy(scores, y, ks=(1, 2, 6)) == {"top1": 50.0, "top2": 50.0, "top6": 100.0}


def test_topk_larger_than_class_count_is_capped() -> None:
    scores = torch.tensor([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]])
    assert topk_accuracy(scores, torch.tensor([0, 0, 1])) == pytest.approx({"top1": 200 / 3, "top5": 100.0})


def test_topk_errors() -> None:
    with pytest.raises(DataError, match="zero samples"):
        topk_accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(DataError, match="do not match"):
        topk_accuracy(torch.zeros(4, 3), torch.zeros(3, dtype=torch.long))


def test_featureset_casts_and_validates() -> None:
    x = torch.randn(6, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2], dtype=torch.int32)
    fs = FeatureSet(x, y, x[:2], y[:2], 3)
    assert fs.train_x.dtype == torch.float32 and fs.train_y.dtype == torch.int64 and fs.dim == 3
    with pytest.raises(DataError, match="outside"):
        FeatureSet(x, y, x[:2], y[:2], 2)
    with pytest.raises(DataError, match="dimensions differ"):
        FeatureSet(x, y, torch.randn(2, 4), y[:2], 3)
    with pytest.raises(DataError, match=r"\(N, D\)"):
        FeatureSet(x.view(6, 3, 1), y, x[:2], y[:2], 3)
    with pytest.raises(DataError, match="to match"):
        FeatureSet(x, y[:5], x[:2], y[:2], 3)
    with pytest.raises(DataError, match="integer"):
        FeatureSet(x, y.float(), x[:2], y[:2], 3)
    with pytest.raises(DataError, match="no samples"):
        FeatureSet(x, y, x[:0], y[:0], 3)


def test_normalize_l2_and_none() -> None:
    g = torch.Generator().manual_seed(0)
    tr, te = torch.randn(20, 5, generator=g) * 7, torch.randn(8, 5, generator=g)
    a, b = normalize_features(tr, te, "none")
    assert a is tr and b is te
    a, b = normalize_features(tr, te, "l2")
    torch.testing.assert_close(a.norm(dim=1), torch.ones(20))
    torch.testing.assert_close(b.norm(dim=1), torch.ones(8))


def test_standardize_uses_train_statistics_only() -> None:
    g = torch.Generator().manual_seed(0)
    tr = torch.randn(500, 4, generator=g) * torch.tensor([1.0, 10.0, 0.1, 3.0]) + torch.tensor([5.0, -2.0, 0.0, 1e4])
    te = tr[:50] + 100.0  # shifted test split: its own statistics must not be used
    a, b = normalize_features(tr, te, "standardize")
    torch.testing.assert_close(a.mean(0), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(a.var(0, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    std = tr.double().var(0, unbiased=False).sqrt().float()
    torch.testing.assert_close(b - a[:50], (100.0 / std).expand(50, 4), rtol=1e-3, atol=1e-3)
