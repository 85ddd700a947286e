"""Collapse diagnostics: weight and feature eigenvalue spectra and the RankMe effective rank.

* Weight spectra: eigenvalues of each regularised layer's smaller-side Gram (``σ_i(W)²``), the quantity OR pushes
  towards 1 (He, Du, Ma, NeurIPS 2024, Fig. 2: eigenvalue spectra of the weight matrices with and without OR).
* Feature spectra: eigenvalues of the feature covariance, of representations or hidden block outputs.
* The paper's protocol (:func:`first_batch_spectra`; He, Du, Ma, NeurIPS 2024, Fig. 3 for BYOL, Fig. 4 for VICReg):
  "ResNet18 contains four basic blocks, each containing four convolutional layers, and we visualize the normalized
  eigenvalues of the last convolutional layer in each block. Hidden features are the outputs of four basic blocks in
  ResNet18. We use the first batch in the test set as input features with batchsize 4,096 and feature dimension
  3072 (32*32*3)." Normalised eigenvalues are the eigenvalues divided by the largest (the paper's Definition 1).
  The blocks are :func:`paper_stages` of the backbone.
* Effective rank: RankMe, Garrido, Balestriero, Najman, LeCun, *RankMe: Assessing the Downstream Performance of
  Pretrained Self-Supervised Representations by Their Rank*, ICML 2023: ``exp(−Σ_k p_k log p_k)`` with
  ``p_k = σ_k / ‖σ‖_1 + ε``, ε = 1e-7, σ the singular values of the (n, d) embedding matrix.

All spectra are computed in float64 on CPU and returned as NumPy arrays sorted in descending order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from benchmark.regularizers.orthogonality import REGULARIZED_MODULES, OrthogonalityRegularizer

__all__ = [
    "Stages",
    "effective_rank",
    "feature_spectrum",
    "first_batch_spectra",
    "hidden_feature_spectra",
    "last_weight_layer",
    "normalised_spectrum",
    "paper_stages",
    "weight_spectra",
]

RANKME_EPS = 1e-7
#: Significant digits kept for stored normalised eigenvalues (the record stays small; plots need no more).
STORED_DIGITS = 6
#: Feature widths above which the covariance spectrum is computed from the n×n Gram (column chunks of this size).
_GRAM_CHUNK = 8192


def weight_spectra(encoder: nn.Module) -> dict[str, np.ndarray]:
    """``{weight name: eigenvalues of its smaller-side Gram, descending}`` for every weight OR regularises.

    Weights are reshaped to (out, in·k·k); the min(out, in·k·k) eigenvalues are ``σ_i(W)²`` (all 1 for an
    orthogonal W). The layer set is ``OrthogonalityRegularizer.weights`` (Conv/Linear/attention projections).
    """
    selector = OrthogonalityRegularizer(kind="so", gamma=0.0)
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for name, w in selector.weights(encoder):
            m = w.detach().reshape(w.shape[0], -1).to(device="cpu", dtype=torch.float64)
            out[name] = (torch.linalg.svdvals(m) ** 2).numpy()
    return out


def _to_2d_float64(features: Tensor | np.ndarray) -> Tensor:
    x = torch.as_tensor(features).detach().to(device="cpu", dtype=torch.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (n, d) features, got shape {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 samples for a covariance spectrum, got {x.shape[0]}")
    return x


def feature_spectrum(features: Tensor | np.ndarray) -> np.ndarray:
    """Eigenvalues (d,) of the feature covariance ``Xcᵀ Xc / (n − 1)``, descending, non-negative.

    Computed from the singular values of the centred (n, d) matrix, padded with zeros to d when n ≤ d. When d > n
    (raw input pixels: 3072 at 32 px, 150528 at 224 px) the n non-trivial eigenvalues come from the centred n×n Gram
    ``Xc Xcᵀ``, accumulated in float64 over column chunks, so no float64 copy of the whole (n, d) matrix is made.
    """
    raw = torch.as_tensor(features).detach()
    if raw.ndim == 2 and raw.shape[1] > raw.shape[0] >= 2:
        n, d = raw.shape
        gram = torch.zeros(n, n, dtype=torch.float64)
        for j in range(0, d, _GRAM_CHUNK):
            c = raw[:, j : j + _GRAM_CHUNK].to(device="cpu", dtype=torch.float64)
            c = c - c.mean(dim=0)
            gram += c @ c.T
        vals = torch.linalg.eigvalsh(gram).flip(0).clamp(min=0.0)
        eig = np.zeros(d, dtype=np.float64)
        eig[:n] = (vals / (n - 1)).numpy()
        return eig
    x = _to_2d_float64(features)
    n, d = x.shape
    s = torch.linalg.svdvals(x - x.mean(dim=0))
    eig = np.zeros(d, dtype=np.float64)
    eig[: s.shape[0]] = (s**2 / (n - 1)).numpy()
    return eig


def effective_rank(features_or_eigs: Tensor | np.ndarray) -> float:
    """RankMe effective rank (Garrido et al., ICML 2023), in [1, min(n, d)] up to ε.

    Args:
        features_or_eigs: Either (n, d) embeddings (RankMe proper: singular values of the **uncentred** matrix), or
            a 1-D array of covariance/Gram eigenvalues such as :func:`feature_spectrum`'s output, whose square
            roots are the singular values (this gives the centred variant).

    Returns:
        ``exp(−Σ p_k log p_k)``, ``p_k = σ_k / Σσ + 1e-7``.
    """
    x = torch.as_tensor(features_or_eigs).detach().to(device="cpu", dtype=torch.float64)
    if x.ndim == 2:
        sigma = torch.linalg.svdvals(x)
    elif x.ndim == 1:
        sigma = x.clamp(min=0.0).sqrt()
    else:
        raise ValueError(f"effective_rank expects (n, d) features or 1-D eigenvalues, got shape {tuple(x.shape)}")
    total = sigma.sum()
    if sigma.numel() == 0 or total <= 0:
        raise ValueError("effective_rank of an all-zero matrix/spectrum is undefined")
    p = sigma / total + RANKME_EPS
    return float(torch.exp(-(p * p.log()).sum()))


def _pool(output: object) -> Tensor | None:
    """(N, C, ...) conv maps → global average pool to (N, C); (N, L, D) tokens → token mean; (N, D) as is."""
    if isinstance(output, (tuple, list)):
        output = output[0] if output else None
    if not isinstance(output, Tensor) or output.ndim < 2:
        return None
    if output.ndim == 2:
        return output
    if output.ndim == 3:
        return output.mean(dim=1)
    return output.flatten(2).mean(dim=2)


def _submodules(backbone: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    modules = {}
    for name in names:
        try:
            modules[name] = backbone.get_submodule(name)
        except AttributeError:
            known = [n for n, _ in backbone.named_modules() if n]
            raise ValueError(f"{type(backbone).__name__} has no submodule {name!r}; known: {known[:20]}") from None
    return modules


def _forward_capture(
    backbone: nn.Module, images: Tensor, names: Sequence[str], batch_size: int | None = None
) -> tuple[dict[str, Tensor], Tensor]:
    """Run ``backbone`` on ``images`` in eval mode, ``batch_size`` at a time; pooled outputs of ``names`` + output.

    Returns CPU tensors: ``{name: (N, C)}`` (modules whose output is not a tensor are omitted) and the (N, D) output.
    Eval mode makes BatchNorm use running statistics, so chunking does not change any value. Train/eval flags are
    restored afterwards and the hooks removed (also on error).
    """
    modules = _submodules(backbone, names)
    captured: dict[str, list[Tensor]] = {name: [] for name in modules}
    handles = []
    for name, module in modules.items():

        def hook(_mod: nn.Module, _inp: object, out: object, _name: str = name) -> None:
            pooled = _pool(out)
            if pooled is not None:
                captured[_name].append(pooled.detach().cpu())

        handles.append(module.register_forward_hook(hook))
    device = next((t.device for t in [*backbone.parameters(), *backbone.buffers()]), torch.device("cpu"))
    step = batch_size or max(1, images.shape[0])
    outputs: list[Tensor] = []
    modes = {m: m.training for m in backbone.modules()}
    try:
        backbone.eval()
        with torch.no_grad():
            for i in range(0, images.shape[0], step):
                out = backbone(images[i : i + step].to(device))
                outputs.append(torch.flatten(out, 1).detach().cpu())
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    pooled = {name: torch.cat(parts) for name, parts in captured.items() if parts}
    return pooled, torch.cat(outputs)


def hidden_feature_spectra(
    backbone: nn.Module, images: Tensor, layers: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Covariance spectra of hidden features, one per layer, via forward hooks.

    Args:
        backbone: The encoder. It runs once on ``images`` under ``torch.no_grad()`` in eval mode (BN running
            statistics); its train/eval flags are restored afterwards.
        images: Input batch (N, C, H, W); N should exceed the largest channel count for a full-rank estimate.
        layers: Dotted submodule names (``"layer1"``, ``"encoder.layers.encoder_layer_0"``); default: every
            top-level child (the stages of a ResNet, the encoder of a ViT).

    Returns:
        ``{layer: feature_spectrum(pooled output)}`` in ``layers`` order. Conv maps (N, C, H, W) are globally
        average-pooled to (N, C) first; token sequences (N, L, D) are averaged over tokens; modules whose output is
        not a tensor (or is 1-D) are omitted.
    """
    names = list(layers) if layers is not None else [name for name, _ in backbone.named_children()]
    captured, _ = _forward_capture(backbone, images, names)
    return {name: feature_spectrum(captured[name]) for name in names if name in captured}


# ---------------------------------------------------------------------------------------------- paper protocol
@dataclass(frozen=True)
class Stages:
    """The blocks whose outputs are the paper's "hidden features" and whose last weight is plotted."""

    names: tuple[str, ...]
    rule: str


def _has_weight(module: nn.Module) -> bool:
    return any(isinstance(m, REGULARIZED_MODULES) for m in module.modules())


def paper_stages(backbone: nn.Module) -> Stages:
    """The paper's "four basic blocks" of a backbone, or the documented equivalent.

    * ResNets (CIFAR and ImageNet stems): ``layer1`` … ``layer4`` (the paper's blocks of ResNet18);
    * Wide-ResNets: ``block1`` … ``block3`` (its three groups);
    * ViTs: the transformer blocks split into four equal groups, the last block of each group (``encoder_layer_2,
      5, 8, 11`` of a 12-block ViT);
    * anything else: every top-level child that holds a Conv/Linear weight (the ``tiny`` ConvNet: ``features``).
    """
    children = dict(backbone.named_children())
    resnet = [f"layer{i}" for i in range(1, 5)]
    if all(name in children for name in resnet):
        return Stages(tuple(resnet), "ResNet stages layer1..layer4 (the paper's four basic blocks of ResNet18)")
    wrn = [f"block{i}" for i in range(1, 4)]
    if all(name in children for name in wrn):
        return Stages(tuple(wrn), "Wide-ResNet groups block1..block3")
    for prefix in ("vit.encoder.layers", "encoder.layers"):
        try:
            blocks = backbone.get_submodule(prefix)
        except AttributeError:
            continue
        names = [name for name, _ in blocks.named_children()]
        if names:
            last = sorted({math.ceil((g + 1) * len(names) / 4) - 1 for g in range(4)})
            return Stages(tuple(f"{prefix}.{names[i]}" for i in last),
                          f"ViT: the last of each quarter of the {len(names)} transformer blocks")
    names = tuple(name for name, child in children.items() if _has_weight(child))
    return Stages(names, "top-level children holding a Conv/Linear weight (no ResNet/ViT stages found)")


def last_weight_layer(backbone: nn.Module, module: str) -> tuple[str, Tensor]:
    """``(qualified weight name, weight)`` of the last Conv/Linear layer (``named_modules`` order) inside ``module``.

    For a ResNet18 stage ``layer4`` this is ``layer4.1.conv2.weight``, the paper's "last convolutional layer" of the
    block; a Conv/Linear module names itself.

    Raises:
        ValueError: If ``module`` is not a submodule of ``backbone`` or holds no Conv/Linear layer (message lists
            the candidates).
    """
    try:
        root = backbone.get_submodule(module)
    except AttributeError:
        from benchmark.registry import did_you_mean

        candidates = [*paper_stages(backbone).names,
                      *(n for n, c in backbone.named_children() if _has_weight(c))]
        candidates = list(dict.fromkeys(candidates))
        raise ValueError(f"{type(backbone).__name__} has no module {module!r}{did_you_mean(module, candidates)}; "
                         f"modules with Conv/Linear weights: {', '.join(candidates) or 'none'}") from None
    last: tuple[str, nn.Module] | None = None
    for name, sub in root.named_modules():
        if isinstance(sub, REGULARIZED_MODULES):
            last = (name, sub)
    if last is None:
        raise ValueError(f"module {module!r} of {type(backbone).__name__} holds no Conv/Linear layer")
    name, sub = last
    return ".".join(p for p in (module, name, "weight") if p), sub.weight


def normalised_spectrum(eigenvalues: np.ndarray, *, keep: int | None = None) -> dict[str, Any]:
    """``{"dim", "lambda_max", "normalised"}``: eigenvalues ÷ the largest (the paper's Definition 1), descending.

    ``keep`` truncates the stored list (e.g. to the rank bound n − 1 of a covariance, beyond which every value is
    zero by construction); values are rounded to ``STORED_DIGITS`` significant digits. An all-zero spectrum is
    stored with ``lambda_max = 0`` and an empty list.
    """
    eig = np.sort(np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None))[::-1]
    top = float(eig[0]) if eig.size else 0.0
    values = (eig[:keep] / top).tolist() if top > 0 else []
    return {"dim": int(eig.size), "lambda_max": top,
            "normalised": [float(f"{v:.{STORED_DIGITS}g}") for v in values]}


def first_batch_spectra(
    encoder: nn.Module, images: Tensor, *, stages: Stages | None = None, batch_size: int | None = None
) -> dict[str, Any]:
    """Weight and feature spectra of the paper's Figs. 3/4 on one batch of images (the first test batch).

    Args:
        encoder: The backbone (representations = its output).
        images: The batch (N, C, H, W), already through the deterministic evaluation transform.
        stages: Blocks to use; default :func:`paper_stages`.
        batch_size: Images per forward pass (BN in eval mode, so chunking changes nothing).

    Returns:
        ``{"n", "stages", "stage_rule", "weights": {stage: {"layer", "shape", "dim", "lambda_max", "normalised"}},
        "features": {"input" | stage | "representation": {"dim", "lambda_max", "normalised"}}}``. Weight spectra are
        ``σ_i(W)²`` of the stage's last Conv/Linear weight reshaped to (out, in·k·k); feature spectra are
        covariance eigenvalues of the flattened input pixels, the globally average-pooled stage outputs and the
        representations, each truncated to its rank bound min(N − 1, d). The paper does not say how a block's
        (C, H, W) output is vectorised; pooling keeps d = C (flattening would give 65,536 dims at ResNet18's layer1).
    """
    stages = stages or paper_stages(encoder)
    n = int(images.shape[0])
    weights: dict[str, Any] = {}
    with torch.no_grad():
        for stage in stages.names:
            name, w = last_weight_layer(encoder, stage)
            m = w.detach().reshape(w.shape[0], -1).to(device="cpu", dtype=torch.float64)
            weights[stage] = {"layer": name, "shape": list(w.shape),
                              **normalised_spectrum((torch.linalg.svdvals(m) ** 2).numpy())}
    hidden, representation = _forward_capture(encoder, images, stages.names, batch_size)

    def entry(x: Tensor) -> dict[str, Any]:
        return normalised_spectrum(feature_spectrum(x), keep=min(n - 1, int(x.shape[1])))

    features = {"input": entry(images.reshape(n, -1))}
    features.update({stage: entry(hidden[stage]) for stage in stages.names if stage in hidden})
    features["representation"] = entry(representation)
    return {"n": n, "stages": list(stages.names), "stage_rule": stages.rule, "weights": weights, "features": features}
