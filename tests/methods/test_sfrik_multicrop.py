"""SFRIK multi-crop (``multi_crop: swav | obow``) and AUH wiring: views, forward grouping, validation, training.

The loss itself is tested against the official pairing in ``tests/unit/test_sfrik_multicrop.py``; here the method
feeds it: views of one shape go through backbone and projector together (one BatchNorm batch, as the official
loops' ``torch.cat``), ``bench validate`` rejects view layouts the settings cannot use, and a few steps on digits
train with the ``swav`` preset at 16 + 8 px and the ``obow`` preset at 32 px.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from benchmark.errors import SuiteError
from benchmark.methods import METHODS
from benchmark.suite.loader import load_suite
from benchmark.validation import validate_suite
from tests.methods.test_methods_train import _build, _seed, _step, digits_images  # noqa: F401  (fixture)

SWAV_CROPS = {"crop_sizes": [16, 8], "crop_counts": [2, 4], "crop_min_scales": [0.14, 0.05],
              "crop_max_scales": [1.0, 0.14]}
MLP = [64, 64, 32]


def _batched_views(preset: str, images, params: dict) -> list[torch.Tensor]:
    from benchmark.data.transforms import build_train_transform
    from benchmark.suite.schema import DataConfig

    transform = build_train_transform(preset, DataConfig(input_size=32, eval_resize=32), params)
    per_image = [transform(im) for im in images]
    return [torch.stack([views[i] for views in per_image]) for i in range(len(per_image[0]))]


def _random_views(sizes: list[int], batch: int = 8) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(batch, 3, s, s, generator=gen) for s in sizes]


# ---------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize(
    ("preset", "augment", "method"),
    [
        ("swav", SWAV_CROPS, {"multi_crop": "swav", "reg_small": False}),
        ("swav", SWAV_CROPS, {"multi_crop": "swav", "reg_small": True}),
        ("obow", {}, {"multi_crop": "obow", "reg_small": True}),
    ],
    ids=["swav-reg_small_false", "swav-reg_small_true", "obow"],
)
def test_multi_crop_trains_on_digits(preset: str, augment: dict, method: dict, digits_images) -> None:  # noqa: F811
    torch.set_num_threads(1)
    _seed(0)
    views = _batched_views(preset, digits_images, augment)
    expected_views = 2 + 4 if preset == "swav" else 1 + 2 + 5
    assert len(views) == expected_views
    # Per-sample invariance weight sim_coeff / q as in the official q = 8192 runs (see test_methods_train).
    sfrik = _build("sfrik", mlp=MLP, sim_coeff=4000.0 * MLP[-1] / 8192, **method)
    opt = torch.optim.SGD(sfrik.parameters(), lr=0.1, momentum=0.9)
    outs = [_step(sfrik, opt, views, step) for step in range(8)]
    losses = [float(o.loss.detach()) for o in outs]
    assert all(math.isfinite(v) for v in losses), losses
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    assert outs[-1].embeddings.shape == (len(digits_images), MLP[-1])
    assert ("mmd_small" in outs[-1].logs) == method["reg_small"]


# ---------------------------------------------------------------------------------------------- forward grouping
@pytest.mark.parametrize(
    ("multi_crop", "sizes", "groups"),
    [("swav", [16, 16, 8, 8, 8], [[0, 1], [2, 3, 4]]), ("obow", [16, 12, 12, 8, 8, 8], [[0], [1, 2], [3, 4, 5]])],
)
def test_views_of_one_shape_share_one_forward(multi_crop: str, sizes: list[int], groups: list[list[int]]) -> None:
    torch.manual_seed(0)
    sfrik = _build("sfrik", mlp=MLP, multi_crop=multi_crop, reg_small=True)
    views = _random_views(sizes)
    loss = sfrik.training_step(views, step=0).loss

    def project(batch: torch.Tensor) -> torch.Tensor:
        return sfrik.projection_head(sfrik.backbone(batch))

    with torch.no_grad():
        grouped = [None] * len(views)
        for group in groups:
            for i, z in zip(group, project(torch.cat([views[i] for i in group])).chunk(len(group)), strict=True):
                grouped[i] = z
        one_by_one = [project(v) for v in views]
        torch.testing.assert_close(loss.detach(), sfrik.criterion(*grouped))
        # Train-mode BatchNorm: separate forwards give other statistics, hence another loss.
        assert abs(float(sfrik.criterion(*one_by_one)) - float(loss)) > 1e-6
        inputs = sfrik.loss_inputs(views)
    torch.testing.assert_close(sfrik.loss_only(*inputs).detach(), loss.detach())
    assert len(inputs) == len(views) and all(t.requires_grad for t in inputs)


def test_two_view_sfrik_forwards_each_view_alone() -> None:
    torch.manual_seed(0)
    sfrik = _build("sfrik", mlp=MLP)
    views = _random_views([16, 16])
    loss = sfrik.training_step(views, step=0).loss
    with torch.no_grad():
        z = [sfrik.projection_head(sfrik.backbone(v)) for v in views]
    torch.testing.assert_close(loss.detach(), sfrik.criterion(*z))


# ---------------------------------------------------------------------------------------------- parameters
def test_multi_crop_params_are_checked() -> None:
    params = METHODS.get("sfrik").Params
    with pytest.raises(ValidationError, match="reg_small must be given with multi_crop: swav"):
        params(multi_crop="swav")
    with pytest.raises(ValidationError, match="reg_small applies only with multi_crop"):
        params(reg_small=True)
    with pytest.raises(ValidationError, match="n_global_views applies only with multi_crop: swav"):
        params(multi_crop="obow", reg_small=True, n_global_views=2)
    with pytest.raises(ValidationError, match="multi_crop"):
        params(multi_crop="dino", reg_small=True)
    assert params(multi_crop="obow", reg_small=True).n_anchors == 1
    assert params(multi_crop="swav", reg_small=False).n_anchors == 2
    assert params(multi_crop="swav", reg_small=False, n_global_views=3).n_anchors == 3


@pytest.mark.parametrize(
    ("name", "params", "shapes", "message"),
    [
        ("sfrik", {}, [(32, 32)] * 2 + [(8, 8)] * 6, "multi_crop: none trains on 2 views, but the augmentation yields 8"),
        ("sfrik", {"multi_crop": "swav", "reg_small": False}, [(32, 32)] * 2, "needs multi-crop views"),
        ("sfrik", {"multi_crop": "obow", "reg_small": True}, [(32, 32)] * 2, "needs multi-crop views"),
        ("sfrik", {"multi_crop": "swav", "reg_small": False}, [(8, 8)] * 6 + [(32, 32)] * 2, "must be the largest"),
        ("sfrik", {"multi_crop": "swav", "reg_small": False, "n_global_views": 3}, [(32, 32)] * 2 + [(8, 8)] * 4,
         "must be the largest"),
        ("sfrik", {"multi_crop": "swav", "reg_small": False, "n_global_views": 4}, [(32, 32)] * 3,
         "yields only 3 views"),
        ("auh", {}, [(32, 32)] * 2 + [(8, 8)] * 2, "auh trains on 2 views, but the augmentation yields 4"),
    ],
)
def test_check_views_rejects_incoherent_layouts(name: str, params: dict, shapes: list, message: str) -> None:
    cls = METHODS.get(name)
    with pytest.raises(SuiteError, match=message) as err:
        cls.check_views(cls.Params(**params), shapes)
    assert err.value.hint


def test_check_views_accepts_the_readme_layouts() -> None:
    cls = METHODS.get("sfrik")
    cls.check_views(cls.Params(), [(224, 224)] * 2)
    cls.check_views(cls.Params(multi_crop="swav", reg_small=False), [(224, 224)] * 2 + [(96, 96)] * 6)
    cls.check_views(cls.Params(multi_crop="obow", reg_small=True), [(224, 224)] + [(160, 160)] * 2 + [(96, 96)] * 5)
    METHODS.get("auh").check_views(METHODS.get("auh").Params(), [(224, 224)] * 2)


# ---------------------------------------------------------------------------------------------- bench validate
SUITE = textwrap.dedent(
    """\
    suite: t
    defaults:
      data: {{dataset: digits, input_size: 32, normalize: none}}
      backbone: {{name: tiny, width: 8}}
      pretrain: {{epochs: 1, batch_size_per_device: 64}}
    experiments:
      - id: a
        method: {method}
        augment: {augment}
    """
)
SWAV_AUGMENT = ("{preset: swav, params: {crop_sizes: [32, 16], crop_counts: [2, 4], crop_min_scales: [0.14, 0.05], "
                "crop_max_scales: [1.0, 0.14]}}")


@pytest.mark.parametrize(
    ("method", "augment"),
    [
        ("{name: sfrik, multi_crop: swav, reg_small: false}", SWAV_AUGMENT),
        ("{name: sfrik, multi_crop: obow, reg_small: true}", "{preset: obow}"),
        ("{name: sfrik}", "{preset: byol}"),
        ("{name: auh, sim_coeff: 3000.0, unif_coeff: 1.0, scale: 2.5}", "{preset: byol}"),
    ],
)
def test_validate_accepts_coherent_suites(write_suite, method: str, augment: str) -> None:
    assert validate_suite(load_suite(write_suite(SUITE.format(method=method, augment=augment)))) == 1


@pytest.mark.parametrize(
    ("method", "augment", "message", "key"),
    [
        ("{name: sfrik, multi_crop: swav, reg_small: false}", "{preset: byol}", "needs multi-crop views",
         "experiments[a].method.multi_crop"),
        ("{name: sfrik}", SWAV_AUGMENT, "trains on 2 views, but the augmentation yields 6", "experiments[a].augment.preset"),
        ("{name: auh}", "{preset: obow}", "auh trains on 2 views", "experiments[a].augment.preset"),
    ],
)
def test_validate_rejects_incoherent_suites(write_suite, method: str, augment: str, message: str, key: str) -> None:
    with pytest.raises(SuiteError, match=message) as err:
        validate_suite(load_suite(write_suite(SUITE.format(method=method, augment=augment))))
    assert err.value.key == key and err.value.line == (8 if ".method." in key else 9)
    assert err.value.hint
