"""MSN (Assran et al., ECCV 2022, arXiv 2204.07141) with Lightly's head, token masking and the suite's MSNLoss.

Masked Siamese Networks: an EMA target encoder sees the target view (view 0 of the ``msn`` preset); the online
(anchor) encoder sees the anchor views (view 1, the other random views and the focal views, in view-major order),
**with random patch dropping** (``mask_ratio``, "patch_drop 0.15" for ViT-S) when the backbone is a Lightly
masked ViT (:class:`benchmark.models.vit.ViTBackbone`). Both outputs are scored against learnable prototypes; the
loss is the cross-entropy to the sharpened (T = 0.25) Sinkhorn-balanced target distribution plus λ · me-max.

**CNN backbones** have no tokens to drop: MSN then uses the anchor views unmasked (the focal crops remain as the
only "masking"). MSN is a ViT method (paper and official code use ViT-S/B/L); CNN runs are the suite's extension.

The prototypes are the weight of a bias-free ``nn.Linear(proj_output_dim, n_prototypes)`` (as Lightly's example)
and are passed **as the Parameter** to the loss (Lightly's examples pass ``.data``, which silently freezes them;
official MSN learns them, ``freeze_proto: false``) and excluded from weight decay (official ``WD_exclude``).

**Prototype gradients under DDP are summed over processes**, as in the official code: its prototypes are a bare
``nn.Parameter`` outside the ``DistributedDataParallel`` encoder, and after ``loss.backward()`` ``msn_train.py`` runs
``prototypes.grad.data = AllReduceSum.apply(prototypes.grad.data)`` (``src/utils.py``: a plain ``all_reduce``, no
division), while DDP averages the encoder's gradients. Here the prototypes are a parameter of the DDP-wrapped module,
which DDP averages, so their gradient is multiplied by the world size W in the backward pass (the forward value is
untouched; nothing changes with one process): after DDP's averaging it is the official sum, W times the gradient of
the global-batch mean loss. With the official AdamW the scale is nearly invisible (Adam normalises it; it only meets
``eps``); with SGD or LARS it is W times the prototypes' step.

Defaults are the official ``configs/pretrain/msn_vits16.yaml`` values (commit 4388dc1): projector 2048 → 256 with BN
(Lightly's ``MSNProjectionHead``), 1024 prototypes, temperature 0.1, target sharpening 0.25, 3 Sinkhorn iterations,
me-max weight 1, patch drop 0.15, EMA 0.996 → 1.0 increasing linearly over 1.25 × the run (``ipe_scale 1.25``).
Augmentations: Lightly's ``MSNTransform`` (preset ``msn``: 2 random + 10 focal views). There is no CIFAR recipe.
``embeddings`` are the online projections of the first anchor view (view 1), since view 0 is seen by the EMA
target only.
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.models.modules import MaskedVisionTransformerTorchvision
from lightly.models.modules.heads import MSNProjectionHead
from lightly.models.utils import random_token_mask
from lightly.utils import dist
from pydantic import Field
from torch import Tensor, nn

from benchmark.losses import MSNLoss
from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput


class MSNParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    proj_output_dim: int = Field(256, ge=1)
    n_prototypes: int = Field(1024, ge=2)
    temperature: float = Field(0.1, gt=0)
    target_sharpen_temperature: float = Field(0.25, gt=0)
    sinkhorn_iterations: int = Field(3, ge=0)
    regularization_weight: float = Field(1.0, ge=0)
    mask_ratio: float = Field(0.15, ge=0, lt=1)
    momentum_start: float = Field(0.996, ge=0, le=1)
    momentum_end: float = Field(1.0, ge=0, le=1)
    momentum_schedule_scale: float = Field(1.25, gt=0)


def gradient_times(t: Tensor, factor: float) -> Tensor:
    """``t`` in the forward pass (exactly), ``factor ·`` its gradient in the backward pass."""
    if factor == 1:
        return t
    detached = t.detach()
    return detached + (t - detached) * factor


@METHODS.register("msn")
class MSN(MomentumTargetMethod):
    Params = MSNParams
    default_augment = "msn"
    paper = "Assran et al., Masked Siamese Networks for Label-Efficient Learning, ECCV 2022"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: MSNParams = self.params  # type: ignore[assignment]
        self.projection_head = MSNProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim)
        self.prototypes = nn.Linear(p.proj_output_dim, p.n_prototypes, bias=False)
        self.init_momentum_targets()
        self.criterion = self._build_criterion(p)

    def _build_criterion(self, p: MSNParams) -> MSNLoss:
        return MSNLoss(
            temperature=p.temperature,
            sinkhorn_iterations=p.sinkhorn_iterations,
            regularization_weight=p.regularization_weight,
            gather_distributed=self.ctx.gather_distributed,
        )

    @property
    def masks_tokens(self) -> bool:
        """True when anchor views get random patch dropping (a torchvision ViT behind Lightly's masking wrapper)."""
        p: MSNParams = self.params  # type: ignore[assignment]
        return isinstance(self.backbone, MaskedVisionTransformerTorchvision) and p.mask_ratio > 0

    def _momentum(self, step: int) -> float:
        """Official MSN: linear from start to end over ``momentum_schedule_scale × max_steps`` steps."""
        p: MSNParams = self.params  # type: ignore[assignment]
        frac = min(1.0, step / (p.momentum_schedule_scale * max(self.ctx.max_steps, 1)))
        return p.momentum_start + (p.momentum_end - p.momentum_start) * frac

    def _encode_anchor_group(self, x: Tensor) -> Tensor:
        if not self.masks_tokens:
            return self.backbone(x)
        p: MSNParams = self.params  # type: ignore[assignment]
        vit = self.backbone.vit
        seq_len = (x.shape[-2] // vit.patch_size) * (x.shape[-1] // vit.patch_size) + 1  # patches + class token
        idx_keep, _ = random_token_mask(size=(x.shape[0], seq_len), mask_ratio=p.mask_ratio, device=x.device)
        return self.backbone(x, idx_keep=idx_keep)

    def _anchors(self, anchor_views: list[Tensor]) -> Tensor:
        """Projections (V·n, d) of the anchor views, view-major; views of one size share a backbone pass."""
        feats: list[Tensor] = []
        start = 0
        while start < len(anchor_views):
            end = start + 1
            while end < len(anchor_views) and anchor_views[end].shape == anchor_views[start].shape:
                end += 1
            feats.append(self._encode_anchor_group(torch.cat(anchor_views[start:end], dim=0)))
            start = end
        return self.projection_head(torch.cat(feats, dim=0))

    def prototype_weight(self) -> Tensor:
        """The (K, d) prototypes for the loss; their gradient is scaled by the world size (module docstring)."""
        return gradient_times(self.prototypes.weight, dist.world_size())

    @torch.no_grad()
    def _target(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        if len(views) < 2:
            raise ValueError(f"MSN needs a target view and at least one anchor view, got {len(views)} view(s)")
        p: MSNParams = self.params  # type: ignore[assignment]
        targets = self._target(views[0])
        anchors = self._anchors(views[1:])
        terms = self.criterion.terms(anchors, targets, self.prototype_weight(), p.target_sharpen_temperature)
        logs = {
            "ce": float(terms["ce"].detach()),
            "reg": float(terms["reg"].detach()),
            "momentum": self._momentum(step),
        }
        return StepOutput(loss=terms["loss"], logs=logs, embeddings=anchors[: targets.shape[0]].detach())

    def excluded_from_weight_decay(self) -> list[nn.Parameter]:
        return [self.prototypes.weight]

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return self._anchors(views[1:]).detach().requires_grad_(), self._target(views[0])

    def loss_only(self, anchors: Tensor, targets: Tensor) -> Tensor:
        p: MSNParams = self.params  # type: ignore[assignment]
        return self.criterion(anchors, targets, self.prototype_weight(), p.target_sharpen_temperature)
