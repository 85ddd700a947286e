"""MAE (He et al., *Masked Autoencoders Are Scalable Vision Learners*, CVPR 2022, arXiv 2111.06377) on Lightly parts.

A ViT encoder sees a random ``1 − mask_ratio`` share of the patches (``lightly.models.utils.random_token_mask``;
the class token is always kept); Lightly's ``MAEDecoder`` (torchvision transformer blocks) gets the encoded tokens
plus a learnable mask token at every masked position, and predicts the pixels of the masked patches; the loss is
the mean squared error on the masked patches only (paper §3). ``norm_pix_loss: true`` normalises each target patch
by its own mean and variance, the paper's better-performing variant (Table 1d; official ``--norm_pix_loss``).

MAE is the uniform-prior paper's control without a volume-maximisation term (Assran et al., ICLR 2023, Table 1),
so it needs no class-balanced batches. It is a ViT method: a CNN backbone is a suite error.

Defaults are the official ViT-B pretraining values scaled for small inputs where the paper gives none: mask ratio
0.75, decoder 8 blocks × 512-d × 16 heads (official ``mae_vit_base_patch16``), ``norm_pix_loss: true``.
Augmentation: Lightly's ``MAETransform`` (random resized crop, scale 0.2–1, flip; one view). ``embeddings`` are the
encoder's class tokens of the visible patches (for collapse checks); the probe uses the class token of the full
image, as the ViT backbone returns it.
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.models import utils
from lightly.models.modules import MAEDecoder
from pydantic import Field
from torch import Tensor, nn

from benchmark.errors import SuiteError
from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput


class MAEParams(MethodParams):
    mask_ratio: float = Field(default=0.75, gt=0.0, lt=1.0)
    decoder_dim: int = Field(default=512, ge=1)
    decoder_depth: int = Field(default=8, ge=1)
    decoder_heads: int = Field(default=16, ge=1)
    norm_pix_loss: bool = True


@METHODS.register("mae")
class MAE(SSLMethod):
    Params = MAEParams
    default_augment = "mae"
    paper = "He et al., Masked Autoencoders Are Scalable Vision Learners, CVPR 2022"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: MAEParams = self.params  # type: ignore[assignment]
        from benchmark.models.vit import ViTBackbone

        if not isinstance(self.backbone, ViTBackbone):
            raise SuiteError(
                f"method 'mae' needs a ViT backbone, got {type(self.backbone).__name__}",
                hint="use backbone: {name: vit_tiny|vit_small|vit_base, image_size: ..., patch_size: ...}",
            )
        if int(self.backbone.image_size) != int(self.ctx.input_size):
            raise SuiteError(
                f"mae: backbone.image_size {self.backbone.image_size} differs from data.input_size "
                f"{self.ctx.input_size}; MAE reconstructs the backbone's fixed patch grid",
                hint=f"set backbone.image_size: {self.ctx.input_size}",
            )
        if p.decoder_dim % p.decoder_heads:
            raise SuiteError(f"mae: decoder_dim {p.decoder_dim} is not divisible by decoder_heads {p.decoder_heads}")
        self.patch_size = int(self.backbone.patch_size)
        self.sequence_length = int(self.backbone.sequence_length)
        self.decoder = MAEDecoder(
            seq_length=self.sequence_length,
            num_layers=p.decoder_depth,
            num_heads=p.decoder_heads,
            embed_input_dim=self.feature_dim,
            hidden_dim=p.decoder_dim,
            mlp_dim=4 * p.decoder_dim,
            out_dim=self.patch_size**2 * 3,
        )
        self.mask_token = nn.Parameter(torch.zeros(1, 1, p.decoder_dim))
        nn.init.normal_(self.mask_token, std=0.02)

    def _predict(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(predicted pixels of the masked patches, their targets, class tokens of the visible patches)."""
        p: MAEParams = self.params  # type: ignore[assignment]
        batch = images.shape[0]
        if self.backbone.num_tokens(images.shape[-2], images.shape[-1]) != self.sequence_length:
            raise SuiteError(
                f"mae: images of {tuple(images.shape[-2:])} px do not give the backbone's {self.sequence_length} tokens",
                hint="set backbone.image_size to data.input_size",
            )
        idx_keep, idx_mask = utils.random_token_mask(
            size=(batch, self.sequence_length), mask_ratio=p.mask_ratio, device=images.device
        )
        encoded = self.backbone.encode(images=images, idx_keep=idx_keep)  # (B, 1 + kept, D), class token first
        tokens = utils.repeat_token(self.mask_token, (batch, self.sequence_length))
        tokens = utils.set_at_index(tokens, idx_keep, self.decoder.embed(encoded).type_as(tokens))
        decoded = self.decoder.decode(tokens)
        pred = self.decoder.predict(utils.get_at_index(decoded, idx_mask))
        target = utils.get_at_index(utils.patchify(images, self.patch_size), idx_mask - 1)  # patches lack the cls
        return pred, target, encoded[:, 0]

    def _loss(self, pred: Tensor, target: Tensor) -> Tensor:
        p: MAEParams = self.params  # type: ignore[assignment]
        if p.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        return nn.functional.mse_loss(pred, target)

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        pred, target, cls = self._predict(views[0])
        return StepOutput(loss=self._loss(pred, target), logs={}, embeddings=cls.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        pred, target, _ = self._predict(views[0])
        return pred.detach().requires_grad_(), target.detach()

    def loss_only(self, *inputs: Any) -> Tensor:
        return self._loss(inputs[0], inputs[1])

    def excluded_from_weight_decay(self) -> list[nn.Parameter]:
        return [self.mask_token]
