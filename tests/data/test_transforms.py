"""Augmentation presets: sizes follow the suite's input size and ``normalize: none`` works for every preset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.data.transforms import PRESETS, ImageSettings, build_train_transform
from benchmark.suite.schema import DataConfig


def _image(size: int = 40) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("preset", PRESETS.names())
def test_every_preset_runs_without_normalisation(preset: str) -> None:
    data = DataConfig(input_size=32, normalize="none")
    views = build_train_transform(preset, data, {})(_image())
    assert len(views) >= (1 if preset == "mae" else 2)  # MAE trains on one masked view; the others on 2+ views
    for v in views:
        assert isinstance(v, torch.Tensor) and v.shape[0] == 3
        assert 0.0 <= float(v.min()) and float(v.max()) <= 1.0  # pixels left in [0, 1]: nothing normalised them


@pytest.mark.parametrize(("input_size", "local"), [(32, 13), (64, 27), (224, 96)])
def test_dino_local_crops_keep_the_96_over_224_ratio(input_size: int, local: int) -> None:
    data = DataConfig(input_size=input_size, normalize="cifar10")
    views = build_train_transform("dino", data, {})(_image(input_size + 8))
    sizes = sorted({tuple(v.shape[-2:]) for v in views})
    assert sizes == [(local, local), (input_size, input_size)]


def test_the_suite_data_block_satisfies_the_settings_the_transforms_read():
    """The data layer types its input with a protocol (no suite import); the suite's DataConfig must provide it."""
    cfg = DataConfig(input_size=64, eval_resize=72, normalize="none")
    assert isinstance(cfg, ImageSettings)
    assert (cfg.input_size, cfg.eval_resize, cfg.normalize_stats()) == (64, 72, None)
