"""Backbones receive only the backbone keys a suite sets (``benchmark.run.backbone``).

Leaving unset keys out changes no run only if every builder's defaults equal the schema's; checked here for every
registered backbone, and by building the same weights either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from benchmark.errors import SuiteError
from benchmark.models import BACKBONES
from benchmark.models.signature import accepted_keywords, keyword_defaults
from benchmark.run.backbone import backbone_kwargs, build_backbone
from benchmark.suite.schema import BackboneConfig, ExperimentConfig

#: The declared backbone fields a builder may take (``name`` selects the builder).
DECLARED = [key for key in BackboneConfig.model_fields if key != "name"]


def _cfg(backbone: dict[str, Any], input_size: int = 16) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"id": "e", "method": {"name": "simclr"}, "backbone": backbone,
                                            "data": {"input_size": input_size}})


def test_the_declared_fields_are_the_three_shared_options() -> None:
    assert set(DECLARED) == {"stem", "width", "zero_init_residual"}


@pytest.mark.parametrize("name", BACKBONES.names())
def test_builder_defaults_equal_the_schema_defaults(name: str) -> None:
    """Every declared field a builder takes has the schema's default, so dropping it when unset changes nothing."""
    defaults = keyword_defaults(BACKBONES.get(name))
    assert defaults is not None, f"{name}: signature not inspectable"
    for key in DECLARED:
        if key in (accepted_keywords(BACKBONES.get(name)) or set()):
            assert key in defaults, f"{name}: '{key}' has no default, so a suite that leaves it out cannot build it"
            assert defaults[key] == BackboneConfig.model_fields[key].default, f"{name}.{key}"


def test_only_the_keys_the_suite_sets_are_passed() -> None:
    assert backbone_kwargs(_cfg({"name": "tiny", "width": 8})) == {"width": 8}
    assert backbone_kwargs(_cfg({"name": "resnet18"})) == {}
    assert backbone_kwargs(_cfg({"name": "resnet18", "stem": "cifar", "zero_init_residual": True})) == {
        "stem": "cifar", "zero_init_residual": True}


def test_a_vit_gets_the_input_size_unless_the_suite_sets_image_size() -> None:
    assert backbone_kwargs(_cfg({"name": "vit_tiny", "patch_size": 4}, input_size=16)) == {
        "patch_size": 4, "image_size": 16}
    assert backbone_kwargs(_cfg({"name": "vit_tiny", "patch_size": 4, "image_size": 32}, input_size=16)) == {
        "patch_size": 4, "image_size": 32}


@pytest.mark.parametrize("backbone", [{"name": "tiny"}, {"name": "resnet18", "width": 8},
                                      {"name": "wide_resnet28_2"}, {"name": "vit_tiny", "patch_size": 8}])
def test_unset_keys_build_the_same_weights_as_the_schema_defaults(backbone: dict[str, Any]) -> None:
    cfg = _cfg(backbone, input_size=16)
    explicit = _cfg({**backbone, **{key: getattr(cfg.backbone, key) for key in DECLARED}}, input_size=16)
    assert backbone_kwargs(cfg) != backbone_kwargs(explicit)
    implicit_model, implicit_dim = build_backbone(cfg, seed=3)
    explicit_model, explicit_dim = build_backbone(explicit, seed=3)
    assert implicit_dim == explicit_dim
    a, b = implicit_model.state_dict(), explicit_model.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def _widthless(*, depth: int = 2) -> tuple[nn.Module, int]:
    """A builder with neither ``width`` nor ``stem`` nor ``**extra``."""
    return nn.Sequential(*[nn.Linear(4, 4) for _ in range(depth)]), 4


@pytest.fixture
def widthless(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(BACKBONES._items, "widthless_test", _widthless)
    return "widthless_test"


def test_a_builder_without_width_builds_when_the_suite_does_not_set_width(widthless: str) -> None:
    model, dim = build_backbone(_cfg({"name": widthless, "depth": 3}), seed=0)
    assert dim == 4 and len(model) == 3


def test_a_user_set_key_the_builder_lacks_is_a_suite_error(widthless: str) -> None:
    with pytest.raises(SuiteError) as info:
        build_backbone(_cfg({"name": widthless, "width": 32}), seed=0)
    assert f"backbone '{widthless}'" in info.value.message and "width" in info.value.message
    with pytest.raises(SuiteError, match="unknown backbone parameter"):
        build_backbone(_cfg({"name": "tiny", "widht": 32}), seed=0)


def _suite(tmp_path: Path, backbone: str) -> Any:
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import make_plan

    path = tmp_path / "s.yaml"
    path.write_text(f"suite: widthless\nexperiments:\n  - id: e\n    method: {{name: simclr}}\n    backbone: {backbone}\n")
    return make_plan(load_suite(path), None).runs[0].resolved


def test_bench_validate_passes_the_builder_the_same_keys_as_the_run(widthless: str, tmp_path: Path) -> None:
    """`bench validate` builds the backbone as the run does: no width unless the suite sets one."""
    from benchmark.validation import validate_experiment

    validate_experiment(_suite(tmp_path, f"{{name: {widthless}, depth: 3}}"))
    with pytest.raises(SuiteError, match="rejects its parameters"):
        validate_experiment(_suite(tmp_path, f"{{name: {widthless}, width: 32}}"))
