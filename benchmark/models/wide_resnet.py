"""Wide Residual Network WRN-28-2 for 32 px inputs (pre-activation design).

Zagoruyko & Komodakis, *Wide Residual Networks*, BMVC 2016 (arXiv 1605.07146): a 3×3 convolution with 16 channels,
three groups of ``n = (depth − 4) / 6`` pre-activation basic blocks ("BN-ReLU-conv3×3-BN-ReLU-conv3×3", §2) with
``16k``, ``32k`` and ``64k`` channels (Table 1; k = widen factor), the second and third group starting with stride 2,
then BN-ReLU and global average pooling. WRN-28-2: n = 4, k = 2, so 32/64/128 channels and a **128-d** feature.
Where the block's input and output shapes differ, the shortcut is a 1×1 convolution applied to the block's
pre-activated input, as in the authors' code. Convolutions use He (fan-out) initialisation, BN weight 1 / bias 0.
Dropout between the two convolutions is 0 by default (the paper's 0.3 is a supervised-training regulariser).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.errors import SuiteError
from benchmark.models.backbones import BACKBONES

__all__ = ["WideResNet", "wide_resnet28_2"]


class _PreActBlock(nn.Module):
    """BN-ReLU-conv3×3-BN-ReLU-(dropout)-conv3×3 with an identity or 1×1-conv shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        skip = x if self.shortcut is None else self.shortcut(pre)
        return out + skip


class WideResNet(nn.Module):
    """WRN-``depth``-``widen_factor`` feature extractor: images (B, 3, H, W) → (B, 64·widen_factor).

    Args:
        depth: Total depth; ``(depth − 4)`` must be divisible by 6.
        widen_factor: k, the channel multiplier of the three groups.
        dropout: Dropout probability inside each block.
    """

    def __init__(self, *, depth: int = 28, widen_factor: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"WideResNet depth must be 6n + 4 with n >= 1, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
        groups = []
        cin = widths[0]
        for g, cout in enumerate(widths[1:]):
            blocks = []
            for i in range(n):
                blocks.append(_PreActBlock(cin, cout, stride=(1 if g == 0 or i > 0 else 2), dropout=dropout))
                cin = cout
            groups.append(nn.Sequential(*blocks))
        self.block1, self.block2, self.block3 = groups
        self.bn = nn.BatchNorm2d(cin)
        self.feature_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.relu(self.bn(out))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)


@BACKBONES.register("wide_resnet28_2")
def wide_resnet28_2(
    *, stem: str = "cifar", width: int = 64, zero_init_residual: bool = False, dropout: float = 0.0, **extra: Any
) -> tuple[nn.Module, int]:
    """WRN-28-2 (1.5 M parameters, 128-d feature), the CIFAR backbone of FixMatch-style benchmarks.

    ``width`` must stay at its default (the widen factor is part of the name). ``zero_init_residual`` zero-initialises
    the last convolution of every residual branch (pre-activation blocks end in a convolution, not a BN), so each
    block starts as the identity.

    Raises:
        SuiteError: On unknown parameters, ``stem: imagenet``, a non-default ``width`` or dropout outside [0, 1).
    """
    if extra:
        raise SuiteError(f"unknown backbone parameter(s) {sorted(extra)} for wide_resnet28_2", hint="accepted: dropout")
    if stem != "cifar":
        raise SuiteError(
            f"wide_resnet28_2 is a 32 px design with a 3×3 stem; stem '{stem}' is not available",
            hint="use stem: cifar, or a ResNet for stem: imagenet",
        )
    if width != 64:
        raise SuiteError(
            f"wide_resnet28_2 has no 'width' parameter (got width={width}); its widen factor 2 is part of the name",
            hint="remove 'width' from the backbone section",
        )
    if not 0.0 <= dropout < 1.0:
        raise SuiteError(f"wide_resnet28_2: dropout must be in [0, 1), got {dropout}")
    model = WideResNet(depth=28, widen_factor=2, dropout=dropout)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, _PreActBlock):
                nn.init.zeros_(m.conv2.weight)
    return model, model.feature_dim
