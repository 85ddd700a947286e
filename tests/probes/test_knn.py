"""Weighted kNN probe: agreement with a brute-force numpy InstDisc vote, chunking, k capping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from benchmark.probes.base import FeatureSet
from benchmark.probes.knn import KNNProbe, KNNProbeParams


def brute_force(feats: FeatureSet, k: int, t: float) -> tuple[float, float]:
    """Top-1/top-5 (percent) of the InstDisc vote, written independently in float64 numpy."""
    tr = feats.train_x.double().numpy()
    te = feats.test_x.double().numpy()
    tr = tr / np.linalg.norm(tr, axis=1, keepdims=True)
    te = te / np.linalg.norm(te, axis=1, keepdims=True)
    ytr, yte = feats.train_y.numpy(), feats.test_y.numpy()
    hits1 = hits5 = 0
    for q, label in zip(te, yte, strict=True):
        sims = tr @ q
        nearest = np.argsort(-sims)[:k]
        votes = np.zeros(feats.num_classes)
        for j in nearest:
            votes[ytr[j]] += np.exp(sims[j] / t)
        order = np.argsort(-votes)
        hits1 += int(order[0] == label)
        hits5 += int(label in order[:5])
    n = len(yte)
    return 100.0 * hits1 / n, 100.0 * hits5 / n


def tiny(seed: int = 0) -> FeatureSet:
    g = torch.Generator().manual_seed(seed)
    return FeatureSet(
        train_x=torch.randn(40, 6, generator=g),
        train_y=torch.randint(0, 8, (40,), generator=g),
        test_x=torch.randn(25, 6, generator=g),
        test_y=torch.randint(0, 8, (25,), generator=g),
        num_classes=8,
    )


@pytest.mark.parametrize("temperature", [0.1, 0.07, 1.0])
def test_matches_brute_force_with_all_neighbours(temperature: float) -> None:
    # k = all train samples: every class gets a positive vote, so the top-5 ranking has no ties.
    feats = tiny()
    top1, top5 = brute_force(feats, k=40, t=temperature)
    result = KNNProbe({"k": 40, "temperature": temperature}).evaluate(feats, seed=0)
    assert result["top1"] == pytest.approx(top1)
    assert result["top5"] == pytest.approx(top5)
    assert (result["k"], result["temperature"]) == (40.0, temperature)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_top1_matches_brute_force_small_k(k: int) -> None:
    for seed in range(3):
        feats = tiny(seed)
        result = KNNProbe({"k": k, "temperature": 0.1}).evaluate(feats, seed=0)
        assert result["top1"] == pytest.approx(brute_force(feats, k=k, t=0.1)[0])


def test_chunking_does_not_change_the_result() -> None:
    feats = tiny(1)
    a = KNNProbe({"k": 7, "chunk_size": 4}).evaluate(feats, seed=0)
    b = KNNProbe({"k": 7, "chunk_size": 1000}).evaluate(feats, seed=0)
    assert a == b


def test_cosine_similarity_ignores_feature_scale() -> None:
    feats = tiny(2)
    g = torch.Generator().manual_seed(0)
    scaled = FeatureSet(
        feats.train_x * (torch.rand(40, 1, generator=g) * 10 + 0.1),
        feats.train_y,
        feats.test_x * (torch.rand(25, 1, generator=g) * 10 + 0.1),
        feats.test_y,
        feats.num_classes,
    )
    probe = KNNProbe({"k": 5})
    assert probe.evaluate(scaled, seed=0) == pytest.approx(probe.evaluate(feats, seed=0))


def test_k_larger_than_train_set_is_capped_with_a_warning() -> None:
    feats = tiny()
    with pytest.warns(UserWarning, match="exceeds"):
        result = KNNProbe({"k": 200}).evaluate(feats, seed=0)
    assert result["k"] == 40.0
    assert result["top1"] == pytest.approx(brute_force(feats, k=40, t=0.1)[0])


def test_defaults_are_lightly_resnet_protocol() -> None:
    p = KNNProbeParams()
    assert (p.k, p.temperature) == (200, 0.1)
    with pytest.raises(ValidationError):
        KNNProbeParams(temperature=0.0)
    with pytest.raises(ValidationError):
        KNNProbeParams(k=0)
