"""Backbones (encoders). Importing this package imports each of its modules, which registers every backbone.

A new backbone is one module here with a ``@BACKBONES.register(name)`` builder; no import line is needed
(:func:`benchmark.registry.import_modules`).
"""

from benchmark.models.backbones import BACKBONES, create_backbone
from benchmark.registry import import_modules

import_modules(__name__)

__all__ = ["BACKBONES", "create_backbone"]
