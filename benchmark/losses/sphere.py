"""Shared first step of the losses that compare two views on the unit sphere (SFRIK, AUH).

Both official losses (valeoai/sfrik ``SFRIK`` and ``AUH``) L2-normalise the projector outputs, take the MSE between
the two normalised views on the local batch (over n·q elements) and compute their uniformity term on the batch
gathered across devices. ``sphere_pair`` does exactly that once, so the two losses cannot drift apart.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor


def check_pair(name: str, z_a: Tensor, z_b: Tensor) -> None:
    """Raise a ValueError naming ``name`` unless both inputs are (n, q) tensors of the same shape."""
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"{name} expects two (n, q) tensors of equal shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )


def sphere_pair(z_a: Tensor, z_b: Tensor, *, gather_distributed: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(x, y, inv)``: the L2-normalised views (gathered over ranks when asked and running under DDP) and the
    invariance term, the MSE of the *local* normalised views (as the official code, before gathering)."""
    x = F.normalize(z_a, p=2, dim=1, eps=1e-12)
    y = F.normalize(z_b, p=2, dim=1, eps=1e-12)
    inv = F.mse_loss(x, y)
    if gather_distributed and dist.is_initialized() and dist.get_world_size() > 1:
        from lightly.utils.dist import gather

        x = torch.cat(gather(x), dim=0)
        y = torch.cat(gather(y), dim=0)
    return x, y, inv
