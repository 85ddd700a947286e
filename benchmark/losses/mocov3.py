"""MoCo v3's contrastive loss (Chen, Xie, He, ICCV 2021, arXiv 2104.02057, Algorithm 1): Lightly has no MoCo v3 loss.

``ctr(q, k) = 2τ · CE(q̂ k̂ᵀ / τ, labels)`` with q̂, k̂ L2-normalised, the keys of *all* processes as the candidates
(gathered without gradient, as the official ``concat_all_gather``) and the label of query i on rank r the position of
its own key, ``r·n + i``. The factor 2τ is the official code's (it makes the loss scale independent of τ). The method
symmetrises it: ``ctr(q0, k1) + ctr(q1, k0)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.utils import dist
from torch import Tensor, nn

__all__ = ["MoCoV3Loss"]


class MoCoV3Loss(nn.Module):
    """InfoNCE of queries against the (gathered) keys of the other view, scaled by 2τ.

    Args:
        temperature: Softmax temperature τ.
        gather_distributed: Use the keys of every process as candidates (no gradient flows through them anyway).
    """

    def __init__(self, temperature: float = 0.2, gather_distributed: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed

    def forward(self, query: Tensor, key: Tensor) -> Tensor:
        n = query.shape[0]
        q = F.normalize(query, dim=1)
        k = F.normalize(key.detach(), dim=1)
        offset = 0
        if self.gather_distributed and dist.world_size() > 1:  # Lightly's gather (the keys carry no gradient)
            k = torch.cat(dist.gather(k), dim=0)
            offset = dist.rank() * n
        logits = q @ k.T / self.temperature
        labels = torch.arange(n, device=q.device) + offset
        return F.cross_entropy(logits, labels) * (2 * self.temperature)
