"""Backbone registry (timm-style ``register_backbone`` / ``create_backbone``).

Every builder returns ``(module, feature_dim)``: ``module(x)`` maps images (B, 3, H, W) to pooled features
(B, feature_dim). Stems are explicit (Lightly pitfall #1: the ImageNet 7×7 + max-pool stem caps CIFAR accuracy):

* ``stem: cifar``: Lightly's ``ResNetGenerator`` (3×3 conv, stride 1, padding 1, no max-pool), any ``width``
  (64 = standard; the ``cpu`` profiles use 16).
* ``stem: imagenet``: torchvision's ResNet (7×7 conv, stride 2, max-pool), ``width`` must be 64.

A run passes a builder only the backbone keys its suite sets, so every builder's defaults for ``stem``, ``width``
and ``zero_init_residual`` equal those of the suite schema's ``BackboneConfig`` (``cifar``, 64, False).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.errors import SuiteError
from benchmark.registry import Registry

BackboneBuilder = Callable[..., tuple[nn.Module, int]]
BACKBONES: Registry[BackboneBuilder] = Registry("backbone")


class CifarResNet(nn.Module):
    """Lightly's CIFAR ResNet as a feature extractor: stem → 4 stages → global average pool.

    Lightly's own benchmarks wrap ``list(resnet.children())[:-1]`` in a Sequential, which silently drops the
    functional ReLU after the stem; this wrapper keeps it and pools adaptively (any input size).
    """

    def __init__(self, depth: int, width: int) -> None:
        super().__init__()
        from lightly.models import ResNetGenerator

        net = ResNetGenerator(f"resnet-{depth}", width=width / 64)
        self.conv1, self.bn1 = net.conv1, net.bn1
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.feature_dim = int(net.linear.in_features)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)


def _resnet(
    depth: int, *, stem: str = "cifar", width: int = 64, zero_init_residual: bool = False, **extra: Any
) -> tuple[nn.Module, int]:
    if extra:
        raise SuiteError(f"unknown backbone parameter(s) {sorted(extra)} for resnet{depth}")
    if stem == "cifar":
        model = CifarResNet(depth, width)
        if zero_init_residual:
            for m in model.modules():
                last_bn = getattr(m, "bn2", None) if depth < 50 else getattr(m, "bn3", None)
                if isinstance(last_bn, nn.BatchNorm2d) and m is not model:
                    nn.init.zeros_(last_bn.weight)
        return model, model.feature_dim
    if width != 64:
        raise SuiteError(
            f"resnet{depth} with stem 'imagenet' supports width 64 only (got {width})",
            hint="use stem: cifar for narrow ResNets",
        )
    import torchvision

    model = getattr(torchvision.models, f"resnet{depth}")(weights=None, zero_init_residual=zero_init_residual)
    dim = model.fc.in_features
    model.fc = nn.Identity()
    return model, dim


for _depth in (18, 34, 50):
    BACKBONES.add(f"resnet{_depth}", lambda _d=_depth, **kw: _resnet(_d, **kw))


class TinyConvNet(nn.Module):
    """A 3-stage ConvNet (width, 2·width, 4·width channels) for smoke runs that finish in seconds on a CPU."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for i in range(3):
            cout = width * 2**i
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.feature_dim = cin

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)


@BACKBONES.register("tiny")
def tiny(*, stem: str = "cifar", width: int = 64, zero_init_residual: bool = False, **extra: Any) -> tuple[nn.Module, int]:
    if extra:
        raise SuiteError(f"unknown backbone parameter(s) {sorted(extra)} for tiny")
    model = TinyConvNet(width=width)
    return model, model.feature_dim


def create_backbone(name: str, **kwargs: Any) -> tuple[nn.Module, int]:
    """Build a registered backbone: ``create_backbone("resnet18", stem="cifar", width=64)``."""
    return BACKBONES.get(name)(**kwargs)
