"""Every registered SSL method trains on real images; method-specific wiring (queues, freezing, masking, collapse).

The training tests are generated from the registry: a method added to ``benchmark.methods`` is trained here without
editing this file (``TRAIN_PARAMS`` only shrinks heads and makes the short runs well-conditioned). Each run is a
plain torch loop (``training_step`` → ``backward`` → SGD step → ``on_step_end``) over 8 steps on one batch of 32
images augmented once by the method's default preset and reused every step, so the loss curve measures optimisation
of the method's objective, not batch-to-batch noise. Gradients are clipped to norm 1, as the DINO head's first step
otherwise blows up its bottleneck (the official recipes use warm-up and clipping for the same reason).
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lightly.models import utils as lightly_utils
from PIL import Image
from pydantic import ValidationError

from benchmark.data.transforms import build_train_transform
from benchmark.errors import SuiteError
from benchmark.methods import METHODS, MethodContext, SSLMethod, build_method
from benchmark.methods.base import embedding_std
from benchmark.models import create_backbone
from benchmark.suite.schema import DataConfig

BATCH = 32
STEPS = 8
LR = 0.1
CLIP = 1.0

#: Small heads for speed, plus the few settings that make an 8-step curve meaningful (reasons inline).
TRAIN_PARAMS: dict[str, dict[str, Any]] = {
    "simclr": {"proj_hidden_dim": 64, "proj_output_dim": 32},
    "byol": {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64},
    "vicreg": {"proj_hidden_dim": 64, "proj_output_dim": 64},
    "barlow_twins": {"proj_hidden_dim": 64, "proj_output_dim": 64},
    # A queue filled with keys of the same 32 images would make them their own negatives on a repeated batch; the
    # queue is tested separately (test_moco_keeps_one_queue_per_view). T = 0.07 (MoCo v1) sharpens the 8-step signal.
    "moco": {"proj_hidden_dim": 64, "proj_output_dim": 32, "memory_bank_size": 0, "temperature": 0.07},
    "simsiam": {"proj_hidden_dim": 64, "proj_output_dim": 64, "pred_hidden_dim": 16},
    "nnclr": {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64, "memory_bank_size": BATCH},
    "nnbyol": {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64, "memory_bank_size": BATCH},
    "dcl": {"proj_hidden_dim": 64, "proj_output_dim": 32},
    "dclw": {"proj_hidden_dim": 64, "proj_output_dim": 32},
    # Centre held at 0 (momentum 1): the centre's own warm-up from 0 raises the teacher entropy for ~1/(1 - 0.9) steps,
    # which dominates an 8-step curve; with a fixed centre the loss changes only through the student. Centring is
    # tested in test_dino_last_layer_frozen_then_trained_and_centre_moves.
    "dino": {"proj_hidden_dim": 64, "bottleneck_dim": 32, "output_dim": 256, "center_momentum": 1.0},
    "swav": {"proj_hidden_dim": 64, "proj_output_dim": 32, "n_prototypes": 32},
    "msn": {"proj_hidden_dim": 64, "proj_output_dim": 32, "n_prototypes": 64},
    "pmsn": {"proj_hidden_dim": 64, "proj_output_dim": 32, "n_prototypes": 64},
    "sfrik": {"mlp": [64, 64, 32]},
    "auh": {"mlp": [64, 64, 32]},
    "mae": {"decoder_dim": 64, "decoder_depth": 1, "decoder_heads": 4},
    "mocov3": {"proj_hidden_dim": 64, "proj_output_dim": 32, "pred_hidden_dim": 64},
    # Two whitening slices of 16 in the batch of 32 (Lightly needs slice >= 2 x the embedding size).
    "wmse": {"proj_hidden_dim": 64, "proj_output_dim": 8, "whitening_size": 16},
}
#: Methods that cannot use the tiny ConvNet: backbone name and arguments (MAE masks ViT tokens; 4 x 4 patches of 8 px).
BACKBONE_FOR: dict[str, tuple[str, dict[str, Any]]] = {
    "mae": ("vit_tiny", {"image_size": 32, "patch_size": 8}),
}
#: Preset arguments keeping multi-crop small at 32 px (DINO's local crops default to 96 px, MSN has 10 focal views).
AUGMENT_PARAMS: dict[str, dict[str, Any]] = {
    "dino": {"n_local_views": 2, "local_crop_size": 16},
    "msn": {"focal_views": 2},
}


# ---------------------------------------------------------------------------------------------- data
def _to_pil(images: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(a).convert("RGB") for a in images]


@pytest.fixture(scope="module")
def digits_images() -> list[Image.Image]:
    """sklearn's 8×8 handwritten digits (0..16), rescaled to 0..255 and upsampled to 32 px RGB."""
    from sklearn.datasets import load_digits

    raw = load_digits().images[:BATCH]
    arr = np.round(raw / 16.0 * 255.0).astype(np.uint8)
    return [im.resize((32, 32), Image.BILINEAR) for im in _to_pil(arr)]


@pytest.fixture(scope="module")
def cifar_images(cifar_subset) -> list[Image.Image]:
    return _to_pil(np.load(cifar_subset)["x_train"][:BATCH])


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _views(preset: str, images: list[Image.Image]) -> list[torch.Tensor]:
    """One batch of views from ``preset`` at 32 px: a list over view index of (B, 3, H, W) tensors."""
    transform = build_train_transform(preset, DataConfig(input_size=32), AUGMENT_PARAMS.get(preset, {}))
    per_image = [transform(im) for im in images]
    return [torch.stack([views[i] for views in per_image]) for i in range(len(per_image[0]))]


def _build(name: str, *, max_steps: int = STEPS, **overrides: Any) -> SSLMethod:
    bb_name, bb_args = BACKBONE_FOR.get(name, ("tiny", {"width": 8}))
    backbone, dim = create_backbone(bb_name, **bb_args)
    params = {**TRAIN_PARAMS.get(name, {}), **overrides}
    ctx = MethodContext(max_steps=max_steps, global_batch_size=BATCH)
    return build_method(name, backbone=backbone, feature_dim=dim, params=params, ctx=ctx)


def _step(method: SSLMethod, opt: torch.optim.Optimizer, views: list[torch.Tensor], step: int):
    out = method.training_step(views, step=step)
    opt.zero_grad()
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(method.parameters(), CLIP)
    opt.step()
    method.on_step_end(step=step)
    return out


def _train(
    name: str, images: list[Image.Image], *, steps: int = STEPS, lr: float = LR, seed: int = 0, **overrides: Any
):
    torch.set_num_threads(1)
    _seed(seed)
    method = _build(name, max_steps=steps, **overrides)
    views = _views(type(method).default_augment, images)
    opt = torch.optim.SGD(method.parameters(), lr=lr, momentum=0.9)
    outs = [_step(method, opt, views, step) for step in range(steps)]
    return method, views, outs


def _check_training(name: str, images: list[Image.Image]) -> None:
    method, views, outs = _train(name, images)
    losses = [float(o.loss.detach()) for o in outs]
    assert all(math.isfinite(v) for v in losses), f"{name}: non-finite loss in {losses}"
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), f"{name}: loss did not decrease: {losses}"
    for o in outs:
        assert o.embeddings is not None and o.embeddings.shape[0] == BATCH and o.embeddings.ndim == 2
        assert not o.embeddings.requires_grad and torch.isfinite(o.embeddings).all()
        assert all(isinstance(v, float) for v in o.logs.values()), o.logs
    # The loss-level measurement path as benchmark.measure runs it: a flat tuple of tensors made under no_grad, the
    # differentiable ones requiring grad, then the loss alone and its gradient with respect to them.
    with torch.no_grad():
        inputs = method.loss_inputs(views)
    assert all(isinstance(t, torch.Tensor) for t in inputs), [type(t) for t in inputs]
    wrt = [t for t in inputs if t.requires_grad]
    assert wrt, f"{name}: no loss input requires grad"
    loss = method.loss_only(*inputs)
    assert loss.ndim == 0 and math.isfinite(float(loss.detach()))
    assert all(torch.isfinite(g).all() for g in torch.autograd.grad(loss, wrt))
    copy.deepcopy(method)  # EMA targets and checkpoint tooling copy methods (DINO's weight-norm layer once could not)


# ---------------------------------------------------------------------------------------------- (a), (b) training
@pytest.mark.parametrize("name", METHODS.names())
def test_method_trains_on_digits(name: str, digits_images) -> None:
    _check_training(name, digits_images)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_trains_on_cifar10_subset(name: str, cifar_images) -> None:
    _check_training(name, cifar_images)


# ---------------------------------------------------------------------------------------------- (c) SFRIK collapse
def test_sfrik_without_mmd_collapses_and_default_does_not(digits_images) -> None:
    """Invariance alone (mmd_coeff = 0) collapses the embeddings; the MMD-to-uniform term prevents it.

    Thresholds: L2-normalised embeddings spread isotropically over S^{q−1} have per-dimension std 1/√q
    (``embedding_std``), identical embeddings 0. "Collapsed" = below 0.1/√q (ten times less spread than isotropic),
    "healthy" = above 0.8/√q. Independently, the MMD² term equals Σb = 81 exactly for identical embeddings and
    about Σb/n for uniform ones (computed here: only the n diagonal pairs keep E[P_l] ≠ 0). The per-sample
    invariance weight is sim_coeff/q, so the q = 32 test head uses sim_coeff = 4000 · 32/8192 to keep the official
    q = 8192 balance (4000 at q = 32 would outweigh the MMD 256-fold and collapse both runs).
    """
    q = 32
    sim = 4000.0 * q / 8192
    common = {"mlp": [64, 64, q], "sim_coeff": sim}
    _, _, healthy = _train("sfrik", digits_images, steps=30, lr=0.3, **common)
    _, _, collapsed = _train("sfrik", digits_images, steps=30, lr=0.3, mmd_coeff=0.0, **common)
    std_ok, std_bad = embedding_std(healthy[-1].embeddings), embedding_std(collapsed[-1].embeddings)
    assert std_ok > 0.8 / math.sqrt(q), std_ok
    assert std_bad < 0.1 / math.sqrt(q), std_bad
    assert healthy[-1].logs["mmd"] < 0.1 * 81.0
    assert collapsed[-1].logs["mmd"] > 0.9 * 81.0


# ---------------------------------------------------------------------------------------------- (d) Params
@pytest.mark.parametrize("name", METHODS.names())
def test_params_defaults_build_and_unknown_keys_are_rejected(name: str) -> None:
    params_cls = METHODS.get(name).Params
    params_cls()  # every hyperparameter has a default
    with pytest.raises(ValidationError, match="definitely_not_a_param"):
        params_cls(definitely_not_a_param=1)


def test_sfrik_params_validate_q_and_weights() -> None:
    params_cls = METHODS.get("sfrik").Params
    with pytest.raises(ValidationError, match=r"q = mlp\[-1\] must be >= 3"):
        params_cls(mlp=[64, 2])
    with pytest.raises(ValidationError, match="at least one layer"):
        params_cls(mlp=[])
    with pytest.raises(ValidationError, match=">= 0"):
        params_cls(weights=[1.0, -40.0])
    assert params_cls(mlp=[3]).mlp == [3]


# ---------------------------------------------------------------------------------------------- wiring
def _random_views(n_views: int = 2, size: int = 32, batch: int = 8, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 3, size, size, generator=gen) for _ in range(n_views)]


def test_vicreg_divides_covariance_by_the_configured_global_batch() -> None:
    method = _build("vicreg")
    assert method.criterion.configured_batch_size == BATCH
    assert _build("vicreg", use_configured_batch_size=False).criterion.configured_batch_size is None


def test_moco_keeps_one_queue_per_view() -> None:
    """Query 0 is scored against queued keys of view 1 and vice versa; this batch's keys are enqueued after use."""
    torch.manual_seed(0)
    method = _build("moco", memory_bank_size=64)
    views = _random_views(batch=8)
    method.training_step(views, step=0)
    with torch.no_grad():  # same weights and batch statistics as inside the step
        k0, k1 = (F.normalize(method._key(v), dim=1) for v in views)
    bank_0 = method.criterion_0.memory_bank.bank  # (size, dim)
    bank_1 = method.criterion_1.memory_bank.bank
    torch.testing.assert_close(bank_0[:8], k1)
    torch.testing.assert_close(bank_1[:8], k0)
    assert int(method.criterion_0.memory_bank.bank_ptr) == 8


def test_simclr_memory_bank_holds_projector_outputs() -> None:
    """A SimCLR memory bank is sized (entries, projector output dim) and fills with this batch's embeddings."""
    torch.manual_seed(0)
    method = _build("simclr", memory_bank_size=64)
    views = _random_views(batch=8)
    loss = method.training_step(views, step=0).loss
    assert torch.isfinite(loss)
    bank = method.criterion.memory_bank
    assert tuple(bank.bank.shape) == (64, TRAIN_PARAMS["simclr"]["proj_output_dim"])
    assert int(bank.bank_ptr) == 8


def test_swav_prototypes_normalised_frozen_then_trained() -> None:
    torch.manual_seed(0)
    method = _build("swav", freeze_prototypes_steps=1)
    assert any(p is method.prototypes.weight for p in method.excluded_from_weight_decay())
    views = _random_views(batch=16)
    out = method.training_step(views, step=0)
    torch.testing.assert_close(method.prototypes.weight.norm(dim=1), torch.ones(32))
    out.loss.backward()
    assert out.logs["prototypes_frozen"] == 1.0
    assert method.prototypes.weight.grad is not None and method.prototypes.weight.grad.abs().max() == 0.0
    assert method.projection_head.layers[0].weight.grad.abs().max() > 0  # the rest of the model still learns
    method.zero_grad()
    method.training_step(views, step=1).loss.backward()
    assert method.prototypes.weight.grad.abs().max() > 0


def test_swav_queue_joins_the_codes_once_filled() -> None:
    torch.manual_seed(0)
    method = _build("swav", queue_length=16, queue_start_step=0)
    views = _random_views(batch=16)
    assert method.training_step(views, step=0).logs["queue_used"] == 0.0  # queue still holds its random init
    assert method.training_step(views, step=1).logs["queue_used"] == 1.0


def test_dino_last_layer_frozen_then_trained_and_centre_moves() -> None:
    torch.manual_seed(0)
    method = _build("dino", freeze_last_layer_steps=1, center_momentum=0.9)
    views = _random_views(n_views=4)
    v = method.projection_head.last_layer.parametrizations.weight.original1
    out = method.training_step(views, step=0)
    out.loss.backward()
    assert out.logs["last_layer_frozen"] == 1.0
    assert v.grad is not None and v.grad.abs().max() == 0.0
    assert method.projection_head.layers[0].weight.grad.abs().max() > 0
    assert method.criterion.center.abs().max() > 0  # centre updated from the teacher outputs
    method.zero_grad()
    method.training_step(views, step=1).loss.backward()
    assert v.grad.abs().max() > 0
    with torch.no_grad():
        inputs = method.loss_inputs(views)
    assert [t.requires_grad for t in inputs] == [False, False, True, True, True, True]  # teacher: 2 global views


def test_dino_teacher_temperature_warms_up_linearly() -> None:
    method = _build("dino", warmup_teacher_temp_steps=4, warmup_teacher_temp=0.04, teacher_temp=0.08)
    assert [round(method._teacher_temp(s), 6) for s in (0, 2, 4, 10)] == [0.04, 0.06, 0.08, 0.08]


def test_msn_prototypes_learn_and_skip_weight_decay() -> None:
    torch.manual_seed(0)
    method = _build("msn")
    views = _random_views(n_views=2) + _random_views(n_views=2, size=16, seed=1)
    method.training_step(views, step=0).loss.backward()
    grad = method.prototypes.weight.grad
    assert grad is not None and grad.abs().max() > 0  # passed as the Parameter, not .data
    assert any(p is method.prototypes.weight for p in method.excluded_from_weight_decay())
    assert not method.masks_tokens  # CNN backbone: anchors unmasked


def test_msn_drops_vit_tokens_with_class_token_counted(monkeypatch) -> None:
    from benchmark.methods import msn as msn_module
    from benchmark.models.vit import ViTBackbone

    calls: list[tuple[int, int]] = []
    real = msn_module.random_token_mask

    def spy(size, mask_ratio, **kw):
        calls.append(tuple(size))
        return real(size=size, mask_ratio=mask_ratio, **kw)

    monkeypatch.setattr(msn_module, "random_token_mask", spy)
    torch.manual_seed(0)
    vit = ViTBackbone(image_size=32, patch_size=8, hidden_dim=32, num_layers=1, num_heads=2)
    params = {**TRAIN_PARAMS["msn"], "mask_ratio": 0.5}
    method = build_method(
        "msn", backbone=vit, feature_dim=32, params=params, ctx=MethodContext(max_steps=4, global_batch_size=8)
    )
    assert method.masks_tokens
    views = _random_views(n_views=2, batch=8) + _random_views(n_views=2, size=16, batch=8, seed=1)
    out = method.training_step(views, step=0)
    out.loss.backward()
    # 32 px: 4×4 patches + class token; the two 16 px focal views share one pass: 2×2 patches + class token.
    assert calls == [(8, 17), (16, 5)]
    assert out.embeddings.shape == (8, 32)
    assert all(p.grad is not None for p in vit.parameters())


def test_pmsn_with_uniform_prior_is_msn_and_direction_reaches_the_loss() -> None:
    views = _random_views(n_views=3, batch=8)
    losses = []
    for name, extra in (("msn", {}), ("pmsn", {"prior": "uniform", "kl_direction": "mean_to_prior"})):
        torch.manual_seed(0)
        method = _build(name, **extra)
        torch.manual_seed(1)
        losses.append(method.training_step(views, step=0).loss)
    torch.testing.assert_close(losses[0], losses[1])
    assert _build("pmsn").criterion.kl_direction == "mean_to_prior"
    lightly_direction = _build("pmsn", kl_direction="prior_to_mean", power_law_exponent=0.5).criterion
    assert lightly_direction.kl_direction == "prior_to_mean" and lightly_direction.power_law_exponent == 0.5


def test_mae_predicts_only_the_masked_patches_and_needs_a_vit() -> None:
    torch.manual_seed(0)
    method = _build("mae", mask_ratio=0.75, norm_pix_loss=False)
    images = torch.rand(4, 3, 32, 32)
    pred, target, cls = method._predict(images)
    assert pred.shape == target.shape == (4, 12, 8 * 8 * 3)  # 16 patches of 8 px, 75 % masked
    assert cls.shape == (4, 192)
    patches = lightly_utils.patchify(images, 8)  # (B, 16, 192): every target row is one of the image's patches
    for b in range(4):
        assert all(any(torch.equal(t, p) for p in patches[b]) for t in target[b])
    assert float(method._loss(target, target)) == 0.0
    normed = _build("mae", norm_pix_loss=True)
    z = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    assert float(normed._loss(z, target)) < 1e-10
    with pytest.raises(SuiteError, match="needs a ViT backbone"):
        backbone, dim = create_backbone("tiny", width=8)
        build_method("mae", backbone=backbone, feature_dim=dim, params={},
                     ctx=MethodContext(max_steps=1, global_batch_size=4))


def test_mocov3_loss_is_2tau_infonce_against_the_other_views_keys() -> None:
    from benchmark.losses import MoCoV3Loss

    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    tau = 0.2
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = qn @ kn.T / tau
    expected = -torch.log_softmax(logits, dim=1).diagonal().mean() * 2 * tau
    assert torch.allclose(MoCoV3Loss(tau)(q, k), expected, atol=1e-6)
    k.requires_grad_(True)
    MoCoV3Loss(tau)(q.requires_grad_(True), k).backward()
    assert k.grad is None or not k.grad.any()  # keys are targets: no gradient reaches the momentum branch


def test_mocov3_heads_follow_the_resnet_recipe_and_momentum_moves_the_key_encoder() -> None:
    m = _build("mocov3")
    proj = [type(x).__name__ for x in m.projection_head.layers]
    pred = [type(x).__name__ for x in m.prediction_head.layers]
    assert proj == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d"]
    assert not m.projection_head.layers[-1].affine and m.projection_head.layers[0].bias is None
    assert pred == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    vit_like = _build("mocov3", proj_layers=3, pred_last_bn=True)
    assert [type(x).__name__ for x in vit_like.projection_head.layers].count("Linear") == 3
    assert type(vit_like.prediction_head.layers[-1]).__name__ == "BatchNorm1d"
    before = [p.clone() for p in m.backbone_momentum.parameters()]
    with torch.no_grad():
        for p in m.backbone.parameters():
            p.add_(1.0)
    m.on_step_end(step=0)
    assert any(not torch.equal(a, b) for a, b in zip(before, m.backbone_momentum.parameters(), strict=True))


def test_wmse_whitens_the_projections_and_checks_its_slice_size() -> None:
    m = _build("wmse")
    z = torch.randn(64, 8)
    out = m.criterion.whitening(z)
    cov = (out - out.mean(0)).T @ (out - out.mean(0)) / (out.shape[0] - 1)
    assert torch.allclose(cov, torch.eye(8), atol=0.1)  # whitened: identity covariance (up to the 1/(n-1) factor)
    with pytest.raises(ValidationError, match="at least 2 x proj_output_dim"):
        METHODS.get("wmse").Params(proj_output_dim=64, whitening_size=64)
    with pytest.raises(SuiteError, match="not a multiple"):
        _build("wmse", whitening_size=24)


def test_nnbyol_pair_loss_is_solo_learns_two_minus_two_cosine() -> None:
    """solo-learn's ``byol_loss_func``: 2 − 2 · mean cosine, by hand on vectors with known angles."""
    from benchmark.methods.nnbyol import byol_pair_loss

    p = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    z = torch.tensor([[3.0, 0.0], [-1.0, -1.0], [5.0, 0.0]])  # cosines 1, −1, 0
    assert float(byol_pair_loss(p, z)) == pytest.approx(2.0)
    z45 = torch.tensor([[1.0, 1.0]], requires_grad=True)  # cos 45° = 1/√2
    loss = byol_pair_loss(torch.tensor([[2.0, 0.0]], requires_grad=True), z45)
    assert float(loss.detach()) == pytest.approx(2.0 - math.sqrt(2.0))
    loss.backward()
    assert z45.grad is None  # the target gets no gradient


def _cos_by_hand(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum()) / (float(a.norm()) * float(b.norm()))


def _nnbyol_loss_by_hand(p0, p1, nn0, nn1) -> float:
    """(2 − 2 mean cos(p0, NN(z1'))) + (2 − 2 mean cos(p1, NN(z0'))), as solo-learn sums its two terms."""
    n = len(p0)
    term_0 = 2 - 2 * sum(_cos_by_hand(p0[i], nn1[i]) for i in range(n)) / n
    term_1 = 2 - 2 * sum(_cos_by_hand(p1[i], nn0[i]) for i in range(n)) / n
    return term_0 + term_1


def test_nnbyol_targets_are_the_queue_neighbours_of_the_momentum_projections() -> None:
    torch.manual_seed(0)
    method = _build("nnbyol", memory_bank_size=16)
    bank = method.memory_bank
    views = _random_views(batch=4)
    with torch.no_grad():  # batch-norm in train mode: the same batch gives the same outputs inside the step
        t0, t1 = method._target(views[0]), method._target(views[1])
        p0, p1 = method._online(views[0])[1], method._online(views[1])[1]
    torch.testing.assert_close(t0.norm(dim=1), torch.ones(4))  # the queue holds unit-norm momentum projections

    # A queue holding the batch's own momentum projections: every neighbour is the projection itself (cosine 1),
    # so NNBYOL's loss is BYOL's with the momentum targets.
    others = F.normalize(torch.randn(8, 32), dim=1)
    with torch.no_grad():
        bank.bank.copy_(torch.cat([t0, t1, others]))
        bank.bank_ptr.zero_()
    loss = method.training_step(views, step=0).loss
    assert float(loss) == pytest.approx(_nnbyol_loss_by_hand(p0, p1, t0, t1), abs=1e-5)

    # A queue of other vectors: each target is replaced by its nearest (largest cosine) queue entry, searched by hand
    # in the queue as it was before this batch's view-0 projections are enqueued.
    queue = F.normalize(torch.randn(16, 32), dim=1)
    with torch.no_grad():
        bank.bank.copy_(queue)
        bank.bank_ptr.zero_()

    def nearest(t: torch.Tensor) -> torch.Tensor:
        return torch.stack([queue[max(range(16), key=lambda j: _cos_by_hand(row, queue[j]))] for row in t])

    nn0, nn1 = nearest(t0), nearest(t1)
    assert not torch.allclose(nn0, t0) and not torch.allclose(nn1, t1)
    loss = method.training_step(views, step=0).loss
    expected = _nnbyol_loss_by_hand(p0, p1, nn0, nn1)
    assert float(loss) == pytest.approx(expected, abs=1e-5)
    assert abs(expected - _nnbyol_loss_by_hand(p0, p1, t0, t1)) > 1e-3  # the neighbour, not the projection, is used
    torch.testing.assert_close(bank.bank[:4], t0)  # only view 0's projections are enqueued (solo-learn: z1_momentum)
    torch.testing.assert_close(bank.bank[4:], queue[4:])
    assert int(bank.bank_ptr) == 4


def _dcl_by_hand(z0: torch.Tensor, z1: torch.Tensor, tau: float, sigma: float | None = None) -> float:
    """Yeh et al. Eq. 6, loop by loop: −w_i ⟨z_i, z_i'⟩/τ + log Σ_{j≠i, both views} exp(⟨z_i, z_j⟩/τ), mean over i,
    averaged over the two directions; w_i = 2 − exp(⟨z_i, z_i'⟩/σ) / mean_j exp(⟨z_j, z_j'⟩/σ) (DCLW), else 1."""
    a_all, b_all = F.normalize(z0, dim=1), F.normalize(z1, dim=1)
    n = len(z0)
    dot = lambda u, v: float((u * v).sum())  # noqa: E731
    if sigma is None:
        w = [1.0] * n
    else:
        e = [math.exp(dot(a_all[i], b_all[i]) / sigma) for i in range(n)]
        w = [2 - e_i / (sum(e) / n) for e_i in e]

    def one_direction(a: torch.Tensor, b: torch.Tensor) -> float:
        total = 0.0
        for i in range(n):
            negatives = [dot(a[i], a[j]) / tau for j in range(n) if j != i]
            negatives += [dot(a[i], b[j]) / tau for j in range(n) if j != i]
            total += -w[i] * dot(a[i], b[i]) / tau + math.log(sum(math.exp(s) for s in negatives))
        return total / n

    return 0.5 * (one_direction(a_all, b_all) + one_direction(b_all, a_all))


@pytest.mark.parametrize(
    ("name", "params", "tau", "sigma"),
    [("dcl", {}, 0.1, None), ("dcl", {"temperature": 0.3}, 0.3, None),
     ("dclw", {}, 0.1, 0.5), ("dclw", {"temperature": 0.3, "sigma": 0.7}, 0.3, 0.7)],
)
def test_dcl_losses_match_the_decoupled_formula_by_hand(name: str, params: dict, tau: float, sigma) -> None:
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    method = _build(name, **params)
    expected = _dcl_by_hand(z0, z1, tau, sigma)
    assert float(method.loss_only(z0, z1)) == pytest.approx(expected, rel=1e-5)
    if sigma is not None:  # the weighting changes the value: DCLW is not DCL
        assert abs(expected - _dcl_by_hand(z0, z1, tau)) > 1e-3


def test_dcl_defaults_follow_lightlys_cifar10_benchmark() -> None:
    backbone, dim = create_backbone("tiny", width=8)
    ctx = MethodContext(max_steps=1, global_batch_size=4, gather_distributed=False)
    method = build_method("dclw", backbone=backbone, feature_dim=dim, params={}, ctx=ctx)
    linears = [m for m in method.projection_head.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(dim, 512), (512, 128)]
    assert (method.criterion.temperature, method.criterion.gather_distributed) == (0.1, False)
    assert type(method).default_augment == "simclr"


def test_vicreg_without_projector_applies_the_loss_to_the_representations(monkeypatch, digits_images) -> None:
    from benchmark.losses import VICRegLoss

    torch.manual_seed(0)
    with_projector = _build("vicreg")
    backbone, dim = create_backbone("tiny", width=8)
    method = build_method("vicreg", backbone=backbone, feature_dim=dim, params={"use_projector": False},
                          ctx=MethodContext(max_steps=1, global_batch_size=BATCH))
    assert sum(p.numel() for p in method.projection_head.parameters()) == 0
    assert {id(p) for p in method.parameters()} == {id(p) for p in backbone.parameters()}
    assert sum(p.numel() for p in with_projector.projection_head.parameters()) > 0
    views = _random_views(batch=BATCH)
    out = method.training_step(views, step=0)
    with torch.no_grad():
        h0, h1 = backbone(views[0]), backbone(views[1])
    torch.testing.assert_close(out.loss, VICRegLoss(sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0)(h0, h1))
    torch.testing.assert_close(out.embeddings, h0)  # the collapse check sees the representations
    # Trains, and the measurement path (loss_inputs → loss_only) works without a projector.
    monkeypatch.setitem(TRAIN_PARAMS, "vicreg", {"use_projector": False})
    _check_training("vicreg", digits_images)


def test_vicreg_rejects_projector_keys_without_a_projector() -> None:
    params_cls = METHODS.get("vicreg").Params
    with pytest.raises(ValidationError, match=r"'proj_output_dim' set with use_projector: false"):
        params_cls(use_projector=False, proj_output_dim=64)
    assert params_cls(use_projector=False).use_projector is False
