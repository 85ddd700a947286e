"""The backbone of a run, built through :func:`benchmark.models.create_backbone` from the keys its suite sets.

Only the backbone keys the suite sets (``stem``, ``width``, ``zero_init_residual`` and the builder's own extras)
reach the builder, so a builder without e.g. a ``width`` parameter works when the suite does not set one; the
builders' defaults equal the schema's (``tests/run/test_backbone_kwargs.py``), so leaving the unset keys out
builds the same network. A builder that accepts ``image_size`` (the ViTs) gets the suite's ``data.input_size``
unless the suite sets ``image_size`` itself.
"""

from __future__ import annotations

from typing import Any

import torch

from benchmark.errors import SuiteError
from benchmark.suite.schema import ExperimentConfig


def backbone_kwargs(cfg: ExperimentConfig) -> dict[str, Any]:
    """The keyword arguments of the experiment's backbone builder: the keys the suite sets, plus ``image_size``."""
    from benchmark.models import BACKBONES
    from benchmark.models.signature import accepted_keywords

    section = cfg.backbone
    declared = {key: getattr(section, key) for key in sorted(section.model_fields_set)
                if key in type(section).model_fields and key != "name"}
    kwargs: dict[str, Any] = {**declared, **section.extras()}
    accepted = accepted_keywords(BACKBONES.get(section.name))
    if accepted is not None and "image_size" in accepted and "image_size" not in kwargs:
        kwargs["image_size"] = cfg.data.input_size
    return kwargs


def build_backbone(cfg: ExperimentConfig, seed: int) -> tuple[torch.nn.Module, int]:
    """The encoder of an experiment, initialised from ``seed``; a builder's TypeError becomes a SuiteError."""
    from benchmark.models import create_backbone

    kwargs = backbone_kwargs(cfg)
    torch.manual_seed(seed)
    try:
        return create_backbone(cfg.backbone.name, **kwargs)
    except TypeError as exc:
        raise SuiteError(f"backbone '{cfg.backbone.name}': {exc}", key="backbone") from None
