"""Vision Transformers (ViT-Tiny/Small/Base) as SSL encoders: torchvision's ``VisionTransformer`` + Lightly's masking.

Dosovitskiy et al., *An Image is Worth 16x16 Words*, ICLR 2021 (arXiv 2010.11929); sizes of DeiT (Touvron et al.,
ICML 2021, arXiv 2012.12877) as used by DINO and MSN: Tiny 192-d / 3 heads, Small 384-d / 6 heads, Base 768-d /
12 heads, all 12 layers with MLP ratio 4. The feature is the **class token after the final LayerNorm**, shape
(B, hidden_dim), the representation DINO and MSN pretrain and probe.

The module is Lightly's ``MaskedVisionTransformerTorchvision`` around the torchvision model, so

* ``module(x)`` gives the class-token feature for any square input whose side is a multiple of ``patch_size``: the
  positional embedding is interpolated (bicubic) when the grid differs from ``image_size`` (MSN focal views,
  DINO local crops); plain torchvision asserts ``H == image_size``;
* ``module(x, idx_keep=...)`` drops tokens (MSN's random patch dropping; see :mod:`benchmark.methods.msn`).

Initialisation is Lightly's (MAE-style): Xavier-uniform linear layers and patch embedding, class token N(0, 0.02),
learnable positional embedding (timm init). The classification ``heads`` of torchvision are removed and the
MAE-style mask token is a fixed zero buffer (no method here replaces tokens by it), so every parameter receives a
gradient each step (DDP without ``find_unused_parameters``). CIFAR-size suites use ``patch_size: 4`` at 32 px
(8 × 8 = 64 patches), the usual choice for ViTs on 32 px images; 224 px inputs use 16 (the ``/16`` models).
"""

from __future__ import annotations

from typing import Any

import torch
from lightly.models.modules import MaskedVisionTransformerTorchvision
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer

from benchmark.errors import SuiteError
from benchmark.models.backbones import BACKBONES

__all__ = ["VIT_SIZES", "ViTBackbone", "vit"]

#: name → (hidden_dim, num_layers, num_heads); MLP dim = 4 · hidden_dim (DeiT Table 1).
VIT_SIZES: dict[str, tuple[int, int, int]] = {
    "vit_tiny": (192, 12, 3),
    "vit_small": (384, 12, 6),
    "vit_base": (768, 12, 12),
}


class ViTBackbone(MaskedVisionTransformerTorchvision):
    """A torchvision ``VisionTransformer`` returning the class token; accepts ``idx_keep`` for token dropping.

    Args:
        image_size: Side of the images the positional embedding is built for (the suite's ``input_size``).
        patch_size: Side of the square patches (stride of the patch-embedding convolution).
        hidden_dim: Token dimension (= feature dimension).
        num_layers: Transformer blocks.
        num_heads: Attention heads per block.
        mlp_ratio: MLP hidden size as a multiple of ``hidden_dim`` (4 in ViT/DeiT).
        dropout: Dropout after the MLP and the embedding (0 in DINO/MSN pretraining).
        attention_dropout: Dropout on the attention weights.
    """

    def __init__(
        self,
        *,
        image_size: int,
        patch_size: int,
        hidden_dim: int,
        num_layers: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
    ) -> None:
        vit = VisionTransformer(
            image_size=image_size,
            patch_size=patch_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            mlp_dim=int(round(mlp_ratio * hidden_dim)),
            dropout=dropout,
            attention_dropout=attention_dropout,
        )
        vit.heads = nn.Identity()  # classifier not part of the encoder (and not regularised by OR)
        super().__init__(vit=vit, pos_embed_initialization="learn")
        del self.mask_token  # MAE/iBOT-style token replacement is unused: keep it out of the parameters
        self.register_buffer("mask_token", torch.zeros(1, 1, hidden_dim), persistent=False)
        self.feature_dim = hidden_dim
        self.patch_size = patch_size
        self.image_size = image_size

    def num_tokens(self, height: int, width: int) -> int:
        """Sequence length (patches + class token) for an input of ``height × width`` pixels."""
        return (height // self.patch_size) * (width // self.patch_size) + 1


def vit(
    name: str,
    *,
    stem: str = "cifar",
    width: int = 64,
    zero_init_residual: bool = False,
    image_size: int = 224,
    patch_size: int = 16,
    dropout: float = 0.0,
    attention_dropout: float = 0.0,
    **extra: Any,
) -> tuple[nn.Module, int]:
    """Build ``vit_tiny`` / ``vit_small`` / ``vit_base``; returns ``(module, hidden_dim)``.

    ``stem`` is accepted for a uniform backbone interface and has no effect (the patch embedding is the stem; its
    size is ``patch_size``). ``width`` must stay at its default: a ViT's size is fixed by its name.

    Raises:
        SuiteError: On unknown parameters, a non-default ``width``, ``zero_init_residual`` (no residual BN), or an
            ``image_size`` that is not a positive multiple of ``patch_size``.
    """
    if extra:
        raise SuiteError(
            f"unknown backbone parameter(s) {sorted(extra)} for {name}",
            hint="ViT parameters: image_size, patch_size, dropout, attention_dropout",
        )
    if width != 64:
        raise SuiteError(
            f"{name} has no 'width' parameter (got width={width}); its size is fixed by its name",
            hint=f"choose another size among {', '.join(VIT_SIZES)} instead",
        )
    if zero_init_residual:
        raise SuiteError(f"zero_init_residual is a ResNet option; {name} has no residual BatchNorm to zero")
    if patch_size < 1 or image_size < patch_size or image_size % patch_size != 0:
        raise SuiteError(
            f"{name}: image_size {image_size} must be a positive multiple of patch_size {patch_size}",
            hint="e.g. patch_size: 4 for 32 px inputs, 16 for 224 px inputs",
        )
    hidden_dim, num_layers, num_heads = VIT_SIZES[name]
    model = ViTBackbone(
        image_size=image_size,
        patch_size=patch_size,
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        dropout=dropout,
        attention_dropout=attention_dropout,
    )
    return model, hidden_dim


for _name in VIT_SIZES:
    BACKBONES.add(_name, lambda _n=_name, **kw: vit(_n, **kw))
