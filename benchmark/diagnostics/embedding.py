"""2-D UMAP embedding of representations (the OR paper's Fig. 6).

He, Du, Ma, NeurIPS 2024, App. A.3: "After pretraining, we perform dimension reduction and visualization of learned
representations using UMAP (McInnes et al. 2018)". McInnes, Healy, Melville, *UMAP: Uniform Manifold Approximation
and Projection for Dimension Reduction*, arXiv 1802.03426; package ``umap-learn``. The paper states no UMAP
parameter; ``eval.umap`` defaults to the package's own (``n_neighbors=15``, ``min_dist=0.1``, euclidean) with a
fixed ``random_state`` (which makes umap-learn single-threaded and its output reproducible).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from torch import Tensor

from benchmark.errors import BenchError

__all__ = ["UMAP_PACKAGE", "require_umap", "umap_embedding"]

#: The PyPI distribution that provides ``import umap``.
UMAP_PACKAGE = "umap-learn"


def require_umap() -> Any:
    """The ``umap`` module, or a BenchError naming the package to install."""
    try:
        import umap
    except ImportError as exc:
        raise BenchError(
            f"eval.umap needs the '{UMAP_PACKAGE}' package, which cannot be imported ({exc})",
            hint=f"pip install {UMAP_PACKAGE} (it is a dependency in pyproject.toml), or remove eval.umap",
        ) from None
    return umap


def umap_embedding(features: Tensor | np.ndarray, *, n_neighbors: int = 15, min_dist: float = 0.1,
                   metric: str = "euclidean", seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """``(coordinates (n, 2) float32, settings used)`` of a UMAP fit on ``features`` (n, d).

    ``n_neighbors`` is capped at n − 1 (umap-learn needs fewer neighbours than points); the settings say so.

    Raises:
        BenchError: If ``umap-learn`` is not installed.
        ValueError: On fewer than 3 samples.
    """
    umap = require_umap()
    x = np.asarray(features.detach().cpu() if isinstance(features, Tensor) else features, dtype=np.float32)
    x = x.reshape(x.shape[0], -1)
    if x.shape[0] < 3:
        raise ValueError(f"UMAP needs at least 3 samples, got {x.shape[0]}")
    k = min(int(n_neighbors), x.shape[0] - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=float(min_dist), metric=metric, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*n_jobs value .* overridden.*")
        coords = np.asarray(reducer.fit_transform(x), dtype=np.float32)
    settings = {"package": f"{UMAP_PACKAGE} {getattr(umap, '__version__', '?')}", "n": int(x.shape[0]),
                "dim": int(x.shape[1]), "n_neighbors": k, "min_dist": float(min_dist), "metric": metric, "seed": seed}
    if k != n_neighbors:
        settings["note"] = f"n_neighbors {n_neighbors} capped at n - 1 = {k}"
    return coords, settings
