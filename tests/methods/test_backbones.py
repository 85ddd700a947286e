"""ViT-Tiny/Small/Base and WRN-28-2: shapes, variable input size, token dropping, errors, OR penalty on each."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from benchmark.errors import SuiteError
from benchmark.models import BACKBONES, create_backbone

#: name → (builder kwargs for 32 px inputs, feature dim) — dims from DeiT Table 1 and Zagoruyko & Komodakis Table 1.
CASES = {
    "vit_tiny": ({"image_size": 32, "patch_size": 4}, 192),
    "vit_small": ({"image_size": 32, "patch_size": 4}, 384),
    "vit_base": ({"image_size": 32, "patch_size": 4}, 768),
    "wide_resnet28_2": ({}, 128),
}
HAS_OR = importlib.util.find_spec("benchmark.regularizers.orthogonality") is not None


@pytest.fixture(scope="module", params=list(CASES))
def built(request):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    kwargs, dim = CASES[request.param]
    model, feature_dim = create_backbone(request.param, **kwargs)
    return request.param, model, feature_dim, dim


def test_registered() -> None:
    assert {"vit_tiny", "vit_small", "vit_base", "wide_resnet28_2"} <= set(BACKBONES.names())


def test_output_is_batch_by_feature_dim(built) -> None:
    name, model, feature_dim, dim = built
    assert feature_dim == dim
    batch = 2 if name == "vit_base" else 4  # vit_base: build + one small forward only
    out = model(torch.randn(batch, 3, 32, 32))
    assert out.shape == (batch, dim) and torch.isfinite(out).all()


@pytest.mark.skipif(not HAS_OR, reason="benchmark.regularizers.orthogonality not present yet")
def test_orthogonality_penalty_runs_on_backbone(built) -> None:
    from benchmark.regularizers.orthogonality import OrthogonalityRegularizer

    name, model, _, _ = built
    reg = OrthogonalityRegularizer(kind="so", gamma=1)
    penalty, per_layer = reg.penalty(model)
    assert penalty.ndim == 0 and math.isfinite(float(penalty.detach())) and penalty.requires_grad
    names = [n for n, _ in reg.weights(model)]
    if name.startswith("vit"):
        assert "vit.conv_proj.weight" in names and any(n.endswith("in_proj_weight") for n in names)
        assert not any("heads" in n for n in names)  # torchvision's classifier head was removed
    else:
        assert "conv1.weight" in names and any("shortcut" in n for n in names)


def test_vit_interpolates_positions_and_drops_tokens() -> None:
    torch.manual_seed(0)
    model, dim = create_backbone("vit_tiny", image_size=32, patch_size=4)
    small = model(torch.randn(2, 3, 16, 16))  # MSN focal views / DINO local crops: 4×4 grid instead of 8×8
    assert small.shape == (2, dim)
    from lightly.models.utils import random_token_mask

    idx_keep, _ = random_token_mask(size=(2, model.num_tokens(32, 32)), mask_ratio=0.5)
    assert model(torch.randn(2, 3, 32, 32), idx_keep=idx_keep).shape == (2, dim)


def test_vit_every_parameter_gets_a_gradient() -> None:
    """No dead parameters (classifier head, MAE mask token): DDP without find_unused_parameters works."""
    model, _ = create_backbone("vit_tiny", image_size=32, patch_size=8)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing


def test_wide_resnet28_2_size_and_zero_init() -> None:
    model, _ = create_backbone("wide_resnet28_2")
    n_params = sum(p.numel() for p in model.parameters())
    assert 1.4e6 < n_params < 1.55e6  # WRN-28-2 is "1.5M parameters" in MixMatch / FixMatch (plus a 1.3k-param fc)
    blocks = [m for m in model.modules() if type(m).__name__ == "_PreActBlock"]
    assert len(blocks) == 12  # (28 − 4) / 6 = 4 blocks × 3 groups
    zeroed, _ = create_backbone("wide_resnet28_2", zero_init_residual=True)
    assert all(
        int(torch.count_nonzero(m.conv2.weight)) == 0 for m in zeroed.modules() if type(m).__name__ == "_PreActBlock"
    )


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("vit_tiny", {"image_size": 30, "patch_size": 4}, "multiple of patch_size"),
        ("vit_tiny", {"width": 32}, "no 'width' parameter"),
        ("vit_small", {"zero_init_residual": True}, "zero_init_residual"),
        ("vit_tiny", {"patch": 4}, "unknown backbone parameter"),
        ("wide_resnet28_2", {"stem": "imagenet"}, "stem 'imagenet'"),
        ("wide_resnet28_2", {"width": 16}, "no 'width' parameter"),
        ("wide_resnet28_2", {"depth": 40}, "unknown backbone parameter"),
    ],
)
def test_user_errors_are_suite_errors(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        create_backbone(name, **kwargs)
