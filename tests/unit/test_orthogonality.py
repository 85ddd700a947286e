"""SO / SRIP penalties and the layer selection of OrthogonalityRegularizer.

OR: He, Du, Ma, NeurIPS 2024 (no official code); SO / SRIP as defined by Bansal et al., NeurIPS 2018
(VITA-Group/Orthogonality-in-CNNs ``Wide-Resnet/train_n.py``, ``l2_reg_ortho``).
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torchvision
from pydantic import ValidationError
from torch import nn

from benchmark.regularizers import OrthogonalityRegularizer, gram_minus_identity, so_penalty, srip_penalty


def _orthonormal(rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    """(rows, cols) with orthonormal columns (tall/square) or orthonormal rows (wide)."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=gen, dtype=torch.float64))
    return q if rows >= cols else q.T


def _singular_values(w: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(w.reshape(w.shape[0], -1))


@pytest.mark.parametrize(
    "w",
    [
        pytest.param(_orthonormal(6, 6), id="square"),
        pytest.param(_orthonormal(9, 4), id="tall"),
        pytest.param(_orthonormal(4, 9), id="wide"),
        pytest.param(_orthonormal(8, 18).reshape(8, 2, 3, 3), id="conv_wide"),
        pytest.param(_orthonormal(32, 18).reshape(32, 2, 3, 3), id="conv_tall"),
    ],
)
def test_orthogonal_weights_have_zero_penalty(w: torch.Tensor) -> None:
    w = w.clone().requires_grad_(True)
    for value in (
        so_penalty(w),
        so_penalty(w, squared=False),
        srip_penalty(w),
        srip_penalty(w, squared=True),
        srip_penalty(w, estimator="power"),
        srip_penalty(w, estimator="exact"),
    ):
        assert value.item() == pytest.approx(0.0, abs=1e-12)
        (grad,) = torch.autograd.grad(value, w)
        assert torch.isfinite(grad).all()


@pytest.mark.parametrize("shape", [(7, 7), (12, 5), (5, 12), (16, 3, 3, 3), (64, 8, 1, 1)])
def test_so_and_srip_are_singular_value_functions(shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(1)
    w = 0.3 * torch.randn(*shape, generator=gen, dtype=torch.float64)
    s2 = _singular_values(w) ** 2  # min(out, in·k·k) values: the smaller-side Gram's eigenvalues
    torch.testing.assert_close(so_penalty(w), ((s2 - 1) ** 2).sum(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(so_penalty(w, squared=False), ((s2 - 1) ** 2).sum().sqrt(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(srip_penalty(w, estimator="exact"), (s2 - 1).abs().max(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        srip_penalty(w, estimator="exact", squared=True), (s2 - 1).abs().max() ** 2, rtol=1e-12, atol=1e-12
    )
    many = srip_penalty(w, estimator="power", power_iters=500, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(many, (s2 - 1).abs().max(), rtol=1e-6, atol=1e-9)


def test_gram_side_conventions() -> None:
    wide = _orthonormal(4, 9)  # rows orthonormal: WWᵀ = I (smaller side), WᵀW rank 4 of 9
    assert gram_minus_identity(wide).shape == (4, 4)
    assert gram_minus_identity(wide, gram_side="fan_in").shape == (9, 9)
    # Rank-deficient larger Gram: σ(WᵀW − I) = 1 from the zero eigenvalues, SO grows by |c − r|.
    assert srip_penalty(wide, estimator="exact", gram_side="fan_in").item() == pytest.approx(1.0, abs=1e-12)
    assert so_penalty(wide, gram_side="fan_in").item() == pytest.approx(5.0, abs=1e-10)
    square = torch.randn(5, 5, dtype=torch.float64)
    torch.testing.assert_close(gram_minus_identity(square), square @ square.T - torch.eye(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="gram_side"):
        so_penalty(square, gram_side="largest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 2 dims"):
        so_penalty(torch.ones(3))


def test_srip_power_iteration_gradient_and_randomness() -> None:
    w = (0.4 * torch.randn(6, 10, dtype=torch.float64)).requires_grad_(True)
    # Deterministic given the generator: gradcheck verifies gradients flow through the iteration (nothing detached).
    assert torch.autograd.gradcheck(
        lambda x: srip_penalty(x, estimator="power", power_iters=2, generator=torch.Generator().manual_seed(3)), (w,)
    )
    assert torch.autograd.gradcheck(lambda x: srip_penalty(x, generator=torch.Generator().manual_seed(3)), (w,))
    gen = torch.Generator().manual_seed(0)
    first, second = srip_penalty(w, generator=gen), srip_penalty(w, generator=gen)
    assert first.item() != second.item()  # fresh Gaussian start each call
    exact = srip_penalty(w, estimator="exact").item()
    assert first.item() <= exact + 1e-12 and second.item() <= exact + 1e-12
    with pytest.raises(ValueError, match="power_iters"):
        srip_penalty(w, estimator="power", power_iters=0)


def test_half_precision_weights_are_promoted() -> None:
    w = torch.randn(8, 20) * 0.2
    value = so_penalty(w.half())
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(so_penalty(w.half().double()).item(), rel=1e-5)


class _Net(nn.Module):
    """Backbone (conv with bias + BN + linear with bias) plus a projector that must not be regularised."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, bias=True),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 16),
            nn.LayerNorm(16),
        )
        self.projector = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.Linear(32, 4))


@pytest.mark.parametrize("kind", ["so", "srip"])
def test_bn_bias_and_projector_are_not_regularized(kind: str) -> None:
    net = _Net()
    reg = OrthogonalityRegularizer(kind=kind, gamma=0.5, estimator="exact")
    assert [n for n, _ in reg.weights(net.backbone)] == ["0.weight", "5.weight"]
    total, logs = reg.penalty(net.backbone)
    total.backward()
    for name, param in net.named_parameters():
        if name in ("backbone.0.weight", "backbone.5.weight"):
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name  # biases, BN/LN affine, projector
    assert set(logs) == {"0.weight", "5.weight", "total_raw"}
    assert logs["total_raw"] == pytest.approx(logs["0.weight"] + logs["5.weight"], rel=1e-6)
    assert total.item() == pytest.approx(0.5 * logs["total_raw"], rel=1e-6)
    # Changing biases / BN parameters does not change the penalty.
    with torch.no_grad():
        net.backbone[0].bias.add_(3.0)
        net.backbone[1].weight.mul_(5.0)
    assert reg.penalty(net.backbone)[1]["total_raw"] == pytest.approx(logs["total_raw"], rel=1e-6)
    # Passing the whole model would include the projector: the caller must pass the backbone.
    assert len(reg.weights(net)) == 4


def test_torchvision_resnets_and_first_conv_exclusion() -> None:
    r18 = torchvision.models.resnet18()
    reg = OrthogonalityRegularizer(kind="so", gamma=1e-6)
    names = [n for n, _ in reg.weights(r18)]
    assert len(names) == 21 and names[0] == "conv1.weight" and names[-1] == "fc.weight"  # 20 convs + fc
    assert "layer2.0.downsample.0.weight" in names and "bn1.weight" not in names
    skipped = OrthogonalityRegularizer(kind="so", gamma=1e-6, exclude_first_conv=True)
    assert [n for n, _ in skipped.weights(r18)] == names[1:]
    r18.fc = nn.Identity()  # the usual backbone: 20 matrices (counted here)
    with torch.no_grad():
        total, logs = reg.penalty(r18)
    assert len(logs) == 21 and torch.isfinite(total)
    assert logs["layer4.1.conv2.weight"] == pytest.approx(so_penalty(r18.layer4[1].conv2.weight).item(), rel=1e-6)
    assert len(reg.weights(torchvision.models.resnet50())) == 54  # 53 convs + fc


def test_cifar_resnet_and_wide_resnet_like() -> None:
    from lightly.models import ResNetGenerator

    cifar = ResNetGenerator("resnet-18")
    convs = [m for m in cifar.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    reg = OrthogonalityRegularizer(kind="srip", gamma=1e-3)
    assert len(reg.weights(cifar)) == len(convs) > 0
    wide_block = nn.Sequential(  # WRN-style: 3×3 convs of width 64 and a 1×1 shortcut
        nn.Conv2d(16, 64, 3, padding=1, bias=False),
        nn.BatchNorm2d(64),
        nn.Conv2d(64, 64, 3, padding=1, bias=False),
        nn.Conv2d(16, 64, 1, bias=False),
    )
    total, logs = reg.penalty(wide_block)
    total.backward()
    assert len(logs) == 4 and all(
        p.grad is not None for n, p in wide_block.named_parameters() if n.endswith("weight") and p.ndim > 1
    )


def test_vision_transformer_layers() -> None:
    vit = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10
    )
    vit.heads = nn.Identity()
    reg = OrthogonalityRegularizer(kind="so", gamma=1e-5)
    names = [n for n, _ in reg.weights(vit)]
    per_block = ["self_attention.in_proj_weight", "self_attention.out_proj.weight", "mlp.0.weight", "mlp.3.weight"]
    assert names == ["conv_proj.weight"] + [
        f"encoder.layers.encoder_layer_{i}.{n}" for i in range(2) for n in per_block
    ]
    # qkv is one (3D, D) matrix: smaller-side Gram D × D.
    qkv = vit.encoder.layers[0].self_attention.in_proj_weight
    assert qkv.shape == (48, 16) and gram_minus_identity(qkv).shape == (16, 16)
    total, _ = reg.penalty(vit)
    total.backward()
    assert vit.class_token.grad is None and vit.encoder.pos_embedding.grad is None
    assert vit.encoder.layers[0].ln_1.weight.grad is None
    assert [
        n for n, _ in OrthogonalityRegularizer(kind="so", gamma=1.0, exclude_first_conv=True).weights(vit)
    ] == names[1:]


def test_separate_qkv_projections_and_shared_weights() -> None:
    mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, kdim=6, vdim=4)
    names = [n for n, _ in OrthogonalityRegularizer(kind="so", gamma=1.0).weights(mha)]
    assert names == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]
    shared = nn.Linear(5, 5)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(OrthogonalityRegularizer(kind="so", gamma=1.0).weights(model)) == 1


def test_invalid_configuration_raises() -> None:
    with pytest.raises(ValueError, match="kind"):
        OrthogonalityRegularizer(kind="frobenius", gamma=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gamma"):
        OrthogonalityRegularizer(kind="so", gamma=-1.0)
    with pytest.raises(ValueError, match="gram_side"):
        OrthogonalityRegularizer(kind="so", gamma=1.0, gram_side="rows")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="power_iters"):
        OrthogonalityRegularizer(kind="srip", gamma=1.0, estimator="power", power_iters=0)
    with pytest.raises(ValueError, match="only applies to estimator='power'"):
        OrthogonalityRegularizer(kind="srip", gamma=1.0, power_iters=3)  # default estimator: paper
    with pytest.raises(ValueError, match="estimator"):
        OrthogonalityRegularizer(kind="srip", gamma=1.0, estimator="lanczos")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no Conv/Linear"):
        OrthogonalityRegularizer(kind="so", gamma=1.0).penalty(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))


# ------------------------------------------------------------------------------------------ SRIP estimators (paper §3.2)
def test_paper_estimator_by_hand_on_2x2() -> None:
    """W = [[1, 1], [0, 1]]: square, so G = WWᵀ = [[2, 1], [1, 1]] and A = G − I = [[1, 1], [1, 0]].

    From v = (1, 0): u = A v = (1, 1), v' = A u = (2, 1), σ ≈ ‖v'‖/‖u‖ = √5/√2 = √2.5; exact σ(A) = (1 + √5)/2.
    """
    w = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    v = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert srip_penalty(w, start=v).item() == pytest.approx(math.sqrt(2.5), rel=1e-15)
    assert srip_penalty(w, start=v, squared=True).item() == pytest.approx(2.5, rel=1e-15)
    assert srip_penalty(w, start=3.0 * v).item() == pytest.approx(math.sqrt(2.5), rel=1e-15)  # scale-free
    assert srip_penalty(w, estimator="exact").item() == pytest.approx((1 + math.sqrt(5)) / 2, rel=1e-15)
    # From v = (0, 1): u = (1, 0), v' = (1, 1), σ ≈ √2.
    assert srip_penalty(w, start=torch.tensor([0.0, 1.0])).item() == pytest.approx(math.sqrt(2.0), rel=1e-15)
    # Without ``start`` v is one standard-normal draw of the generator: the same numbers by hand.
    v_rand = torch.randn(2, 1, generator=torch.Generator().manual_seed(7), dtype=torch.float64)[:, 0]
    a = torch.tensor([[1.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    u = [a[i, 0] * v_rand[0] + a[i, 1] * v_rand[1] for i in range(2)]
    v2 = [a[i, 0] * u[0] + a[i, 1] * u[1] for i in range(2)]
    by_hand = math.sqrt(v2[0] ** 2 + v2[1] ** 2) / math.sqrt(u[0] ** 2 + u[1] ** 2)
    assert srip_penalty(w, generator=torch.Generator().manual_seed(7)).item() == pytest.approx(by_hand, rel=1e-14)
    with pytest.raises(ValueError, match="start vector has 3 entries"):
        srip_penalty(w, start=torch.ones(3))


def test_paper_estimator_is_the_default_everywhere() -> None:
    from benchmark.regularizers import REGULARIZERS, build_regularizer

    assert inspect.signature(srip_penalty).parameters["estimator"].default == "paper"
    assert OrthogonalityRegularizer(kind="srip", gamma=1.0).estimator == "paper"
    reg = build_regularizer("srip", {"gamma": 1e-3})
    assert (reg.estimator, reg.power_iters) == ("paper", None)
    assert build_regularizer("srip", {"gamma": 1e-3, "estimator": "power", "power_iters": 5}).power_iters == 5
    w = 0.3 * torch.randn(6, 10, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    # Mathematically one power round is the paper's estimator (‖A û‖ with û ∝ A v).
    torch.testing.assert_close(
        srip_penalty(w, generator=torch.Generator().manual_seed(0)),
        srip_penalty(w, estimator="power", power_iters=1, generator=gen),
    )
    srip_params, so_params = REGULARIZERS.get("srip").Params, REGULARIZERS.get("so").Params
    with pytest.raises(ValidationError, match="only applies to estimator: power"):
        srip_params(gamma=1e-3, power_iters=2)
    with pytest.raises(ValidationError, match="estimator"):
        so_params(gamma=1e-6, estimator="paper")  # SRIP keys are unknown keys for SO
    with pytest.raises(ValidationError, match="so_squared"):
        srip_params(gamma=1e-3, so_squared=False)
    with pytest.raises(ValidationError, match="exact"):
        srip_params(gamma=1e-3, exact=True)  # the old flag: estimator: exact now


def test_so_uses_the_papers_case_split() -> None:
    """OR §3.2: "‖WᵀW − I‖²_F if input > output, ‖WWᵀ − I‖²_F otherwise", W = the input × output matrix (y = xW),
    i.e. the transpose of torch's (out, in) weight: the Gram is always the smaller one."""
    gen = torch.Generator().manual_seed(2)
    for fan_in, fan_out in ((9, 4), (4, 9), (5, 5)):
        weight = nn.Linear(fan_in, fan_out).weight.detach().double()
        weight = weight + 0.1 * torch.randn(weight.shape, generator=gen, dtype=torch.float64)
        w_paper = weight.T  # (input, output)
        gram = w_paper.T @ w_paper if fan_in > fan_out else w_paper @ w_paper.T
        assert gram.shape == (min(fan_in, fan_out),) * 2
        expected = ((gram - torch.eye(gram.shape[0], dtype=torch.float64)) ** 2).sum()
        torch.testing.assert_close(so_penalty(weight), expected, rtol=1e-14, atol=1e-14)
        exact = torch.linalg.eigvalsh(gram - torch.eye(gram.shape[0], dtype=torch.float64)).abs().max()
        torch.testing.assert_close(srip_penalty(weight, estimator="exact"), exact, rtol=1e-12, atol=1e-12)


def test_estimator_bias_on_resnet18_at_init() -> None:
    """The biases documented in benchmark.regularizers.orthogonality, re-measured with 10 starts per layer (float32):
    mean estimate / exact over the 20 weights of the CIFAR ResNet-18 at init, 0.825 (paper) and 0.886 (power, 2
    rounds) with 200 starts; every single estimate is below the exact σ."""
    from benchmark.models import create_backbone

    torch.manual_seed(0)
    net, _ = create_backbone("resnet18", stem="cifar", width=64)
    named = OrthogonalityRegularizer(kind="srip", gamma=1.0).weights(net)
    assert len(named) == 20
    gen = torch.Generator().manual_seed(1)
    ratios: dict[str, list[float]] = {"paper": [], "power": []}
    with torch.no_grad():
        for _, w in named:
            exact = srip_penalty(w, estimator="exact").item()
            for estimator, kw in (("paper", {}), ("power", {"power_iters": 2})):
                draws = [srip_penalty(w, estimator=estimator, generator=gen, **kw).item() for _ in range(10)]
                assert max(draws) <= exact * (1 + 1e-5)
                ratios[estimator].append(sum(draws) / len(draws) / exact)
    paper, power = (sum(r) / len(r) for r in (ratios["paper"], ratios["power"]))
    assert paper == pytest.approx(0.825, abs=0.015)
    assert power == pytest.approx(0.886, abs=0.015)
    assert min(ratios["paper"]) == pytest.approx(0.781, abs=0.04)  # the stem, 64 × 27
