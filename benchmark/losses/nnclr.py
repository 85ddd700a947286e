"""NNCLR's one-sided contrastive loss (Dwibedi et al., ICCV 2021, arXiv 2104.14548, Eq. 1), as solo-learn computes it.

``nnclr(nn, p) = CE(n̂ p̂ᵀ / τ, labels)``: each support-set neighbour ``NN(z_i)`` (L2-normalised, no gradient) is
contrasted with the predictions p of the other view of **all** images of the (gathered) batch, the positive being
its own image's prediction — the paper's ``−log exp(NN(z_i)·z_i⁺/τ) / Σ_k exp(NN(z_i)·z_k⁺/τ)``. Identical to
vturrisi/solo-learn ``solo/losses/nnclr.py`` (``nnclr_loss_func``: ``p`` gathered with gradient, labels offset by the
rank). Lightly has no such loss: its NNCLR examples use the two-sided ``NTXentLoss`` (also contrasting the
predictions against each other and against the neighbours).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.utils import dist
from torch import Tensor, nn

__all__ = ["NNCLRLoss"]


class NNCLRLoss(nn.Module):
    """Cross-entropy of neighbours against the (gathered) predictions of the other view, at temperature τ.

    Args:
        temperature: Softmax temperature τ.
        gather_distributed: Use the predictions of every process as candidates (autograd-aware gather, as
            solo-learn's ``gather``); the neighbours stay local.
    """

    def __init__(self, temperature: float = 0.2, gather_distributed: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed

    def forward(self, neighbours: Tensor, predictions: Tensor) -> Tensor:
        n = neighbours.shape[0]
        nn_hat = F.normalize(neighbours.detach(), dim=-1)
        p_hat = F.normalize(predictions, dim=-1)
        offset = 0
        if self.gather_distributed and dist.world_size() > 1:
            p_hat = torch.cat(dist.gather(p_hat), dim=0)
            offset = dist.rank() * n
        logits = nn_hat @ p_hat.T / self.temperature
        labels = torch.arange(n, device=neighbours.device) + offset
        return F.cross_entropy(logits, labels)
