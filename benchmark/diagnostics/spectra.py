"""Collapse diagnostics: weight and feature eigenvalue spectra and the RankMe effective rank.

* Weight spectra: eigenvalues of each regularised layer's smaller-side Gram (``σ_i(W)²``), the quantity OR pushes
  towards 1 (He et al., NeurIPS 2024, Fig. 2; or_neurips24.md §7 "spectrum and effective rank of weight matrices").
* Feature spectra: eigenvalues of the feature covariance, of representations or hidden block outputs (the paper's
  Fig. 3, "normalised eigenvalue decay of hidden features per ResNet-18 block").
* Effective rank: RankMe, Garrido, Balestriero, Najman, LeCun, *RankMe: Assessing the Downstream Performance of
  Pretrained Self-Supervised Representations by Their Rank*, ICML 2023: ``exp(−Σ_k p_k log p_k)`` with
  ``p_k = σ_k / ‖σ‖_1 + ε``, ε = 1e-7, σ the singular values of the (n, d) embedding matrix.

All spectra are computed in float64 on CPU and returned as NumPy arrays sorted in descending order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from benchmark.regularizers.orthogonality import OrthogonalityRegularizer

__all__ = ["effective_rank", "feature_spectrum", "hidden_feature_spectra", "weight_spectra"]

RANKME_EPS = 1e-7


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

    Computed from the singular values of the centred (n, d) matrix, padded with zeros to d when n ≤ d.
    """
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
    modules = {}
    for name in names:
        try:
            modules[name] = backbone.get_submodule(name)
        except AttributeError:
            known = [n for n, _ in backbone.named_modules() if n]
            raise ValueError(f"{type(backbone).__name__} has no submodule {name!r}; known: {known[:20]}") from None
    captured: dict[str, Tensor] = {}
    handles = []
    for name, module in modules.items():

        def hook(_mod: nn.Module, _inp: object, out: object, _name: str = name) -> None:
            pooled = _pool(out)
            if pooled is not None:
                captured[_name] = pooled.detach()

        handles.append(module.register_forward_hook(hook))
    modes = {m: m.training for m in backbone.modules()}
    try:
        backbone.eval()
        with torch.no_grad():
            backbone(images)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return {name: feature_spectrum(captured[name]) for name in names if name in captured}
