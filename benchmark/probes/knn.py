"""Weighted kNN probe (InstDisc vote) on L2-normalised frozen features.

Protocol of Wu et al. 2018 (InstDisc) as implemented by ``lightly.utils.benchmarking.knn_predict`` (used here, not
re-written): cosine similarity between L2-normalised test and train features, the ``k`` most similar train samples
vote for their class with weight ``exp(s / T)``, classes are ranked by the summed weights.

Defaults ``k = 200, T = 0.1``: Lightly's ResNet setting (``frameworks.md`` §2.1 ``knn_eval.py`` "k = 200, T = 0.1",
and its CIFAR-10 table). The temperature moved between 0.1 and 0.07 across Lightly versions, which made a
published number irreproducible (``frameworks.md`` §5 pitfall 2, lightly-ai/lightly#1824, PR #1840); Lightly now uses
0.1 for ResNets and 0.07 for ViTs, and DINO-style evaluation (SFRIK ``knn_eval.py``, solo-learn offline kNN) uses
T = 0.07 with k ∈ {10, 20, 100, 200}: set ``temperature: 0.07`` (and ``k: 20``) explicitly for those protocols.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from tqdm.auto import tqdm

from benchmark.probes.base import PROBES, FeatureSet, ProbeParams, coerce_params, topk_correct_from_ranking


class KNNProbeParams(ProbeParams):
    """kNN probe parameters (defaults: Lightly ResNet protocol)."""

    k: int = Field(default=200, ge=1, description="neighbours that vote (capped at the train-set size)")
    temperature: float = Field(default=0.1, gt=0, description="vote weight exp(similarity / temperature)")
    chunk_size: int = Field(default=512, ge=1, description="test rows per similarity matmul (memory ≈ chunk × N)")


@PROBES.register("knn")
class KNNProbe:
    """InstDisc weighted kNN classifier (``lightly.utils.benchmarking.knn_predict``).

    Examples:
        >>> KNNProbe({"k": 20, "temperature": 0.07}).evaluate(features, seed=0)
        {'top1': ..., 'top5': ..., 'k': 20.0, 'temperature': 0.07}
    """

    Params = KNNProbeParams

    def __init__(self, params: KNNProbeParams | dict[str, Any] | None = None) -> None:
        self.params: KNNProbeParams = coerce_params(KNNProbeParams, params)  # type: ignore[assignment]

    @torch.no_grad()
    def evaluate(self, features: FeatureSet, *, seed: int, progress: bool = False) -> dict[str, float]:
        """Classify every test feature by its neighbours among the train features (``seed`` is unused: deterministic).

        Returns:
            ``top1``, ``top5`` (percent), ``k`` (the number of neighbours actually used), ``temperature``.
        """
        from lightly.utils.benchmarking import knn_predict  # lazy: pulls in pytorch_lightning (~5 s)

        p = self.params
        n_train = features.train_x.shape[0]
        k = p.k
        if k > n_train:
            warnings.warn(f"kNN probe: k={k} exceeds the {n_train} train samples; using k={n_train}", stacklevel=2)
            k = n_train
        bank = F.normalize(features.train_x, dim=1).t().contiguous()  # (D, N) as knn_predict expects
        bank_labels = features.train_y.to(bank.device)
        test_x = features.test_x.to(bank.device)
        test_y = features.test_y.to(bank.device)
        correct = {1: 0, 5: 0}
        starts = range(0, test_x.shape[0], p.chunk_size)
        for start in tqdm(starts, desc="knn probe", disable=not progress, leave=False):
            query = F.normalize(test_x[start : start + p.chunk_size], dim=1)
            ranking = knn_predict(query, bank, bank_labels, features.num_classes, knn_k=k, knn_t=p.temperature)
            for kk, c in topk_correct_from_ranking(ranking, test_y[start : start + p.chunk_size], (1, 5)).items():
                correct[kk] += c
        n = test_x.shape[0]
        return {
            "top1": 100.0 * correct[1] / n,
            "top5": 100.0 * correct[5] / n,
            "k": float(k),
            "temperature": p.temperature,
        }
