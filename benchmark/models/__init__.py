"""Backbones (encoders). Importing this package registers every backbone."""

from benchmark.models import vit, wide_resnet  # noqa: E402,F401  (registration side effects)
from benchmark.models.backbones import BACKBONES, create_backbone

__all__ = ["BACKBONES", "create_backbone"]
