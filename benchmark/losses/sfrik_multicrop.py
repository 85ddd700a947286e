"""SFRIK with multi-crop views: invariance of every view to the anchor (global) views, MMD on the chosen views.

Zheng et al., ICLR 2023; valeoai/sfrik ``src/sfrik/ssl.py`` (commit c6ce16e), ``SFRIK.obow_multi_crop_forward`` and
``SFRIK.swav_multi_crop_forward``. Both compute, on L2-normalised projections z_0 … z_{V−1} whose first A views are
the anchors:

* invariance ``(1/A) Σ_{a<A} (1/(V − 1)) Σ_{i≠a} MSE(z_a, z_i)`` on the local batch (each MSE a mean over n·q
  elements, as the two-view term). SwAV crops: A = ``len(general_indices)`` = 2 global crops, so the pair of global
  crops counts once in each anchor's average; OBoW crops: A = 1, the single un-augmented "original" view
  (``repr_loss = sum(mse(img_orig, img) for img in img_crops) / len(img_crops)``);
* MMD ``mean_v MMD²(gather(z_v))`` over the anchors only (``--reg_small False``) or over all V views
  (``--reg_small True``: "apply MMD loss on: large views + small views if True; large views only if False"), each
  view's MMD on its all-gathered batch (:func:`benchmark.losses.sfrik.sfrik_mmd`);
* ``loss = sim_coeff · invariance + mmd_coeff · MMD``.

With V = 2 and A = 2 (or reg_small with A = 1) this is the two-view :class:`~benchmark.losses.SFRIKLoss`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.losses.sfrik import sfrik_mmd

__all__ = ["SFRIKMultiCropLoss"]


class SFRIKMultiCropLoss(nn.Module):
    """Multi-crop SFRIK loss over a list of views, the first ``n_anchors`` of which are the anchor views.

    Args:
        sim_coeff: Weight of the averaged invariance term.
        mmd_coeff: Weight of the averaged MMD term.
        weights: Kernel weights ``(b_1, …, b_L)``, all >= 0.
        n_anchors: Number of anchor views at the front of the list (SwAV crops: the global crops, 2; OBoW: 1).
        reg_small: Also apply the MMD to the non-anchor views (official ``--reg_small True``).
        gather_distributed: MMD on embeddings all-gathered with ``lightly.utils.dist.gather`` when
            ``torch.distributed`` runs several processes; the invariance stays local.

    Raises:
        ValueError: On ``n_anchors < 1``, negative or empty weights, or ``gather_distributed`` without
            ``torch.distributed``.
    """

    def __init__(
        self,
        *,
        sim_coeff: float = 4000.0,
        mmd_coeff: float = 1.0,
        weights: Sequence[float] = (1.0, 40.0, 40.0),
        n_anchors: int = 2,
        reg_small: bool = False,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if gather_distributed and not dist.is_available():
            raise ValueError("gather_distributed=True but torch.distributed is not available in this torch build")
        if n_anchors < 1:
            raise ValueError(f"SFRIKMultiCropLoss: n_anchors must be >= 1, got {n_anchors}")
        w = tuple(float(b) for b in weights)
        if not w or any(not b >= 0 for b in w):
            raise ValueError(f"SFRIKMultiCropLoss: kernel weights b_l must be >= 0 and at least one, got {list(w)}")
        self.sim_coeff = float(sim_coeff)
        self.mmd_coeff = float(mmd_coeff)
        self.weights = w
        self.n_anchors = int(n_anchors)
        self.reg_small = bool(reg_small)
        self.gather_distributed = gather_distributed

    def _gathered(self, z: Tensor) -> Tensor:
        if self.gather_distributed and dist.is_initialized() and dist.get_world_size() > 1:
            from lightly.utils.dist import gather

            return torch.cat(gather(z), dim=0)
        return z

    def terms(self, views: Sequence[Tensor]) -> dict[str, Tensor]:
        """``inv``, ``mmd`` (both unweighted), ``mmd_anchor`` (mean over anchors), ``mmd_small`` (mean over the
        other views, present with ``reg_small``) and ``loss``."""
        n_views, n_anchors = len(views), self.n_anchors
        if n_views < max(2, n_anchors):
            raise ValueError(
                f"SFRIKMultiCropLoss needs at least 2 views and its {n_anchors} anchor view(s), got {n_views} view(s)"
            )
        if any(v.ndim != 2 or v.shape != views[0].shape for v in views):
            raise ValueError(f"SFRIKMultiCropLoss expects (n, q) views of one shape, got {[tuple(v.shape) for v in views]}")
        z = [F.normalize(v, p=2, dim=1, eps=1e-12) for v in views]
        inv = torch.stack(
            [torch.stack([F.mse_loss(z[a], z[i]) for i in range(n_views) if i != a]).mean() for a in range(n_anchors)]
        ).mean()
        mmd_per_view = [sfrik_mmd(self._gathered(v), self.weights) for v in (z if self.reg_small else z[:n_anchors])]
        mmd = torch.stack(mmd_per_view).mean()
        out = {"inv": inv, "mmd": mmd, "mmd_anchor": torch.stack(mmd_per_view[:n_anchors]).mean()}
        if self.reg_small:
            out["mmd_small"] = torch.stack(mmd_per_view[n_anchors:]).mean()
        out["loss"] = self.sim_coeff * inv + self.mmd_coeff * mmd
        return out

    def forward(self, *views: Tensor) -> Tensor:
        """The total loss for V (n, q) batches of projector outputs (un-normalised), anchors first."""
        return self.terms(views)["loss"]

    def extra_repr(self) -> str:
        return (
            f"sim_coeff={self.sim_coeff}, mmd_coeff={self.mmd_coeff}, weights={self.weights}, "
            f"n_anchors={self.n_anchors}, reg_small={self.reg_small}"
        )
