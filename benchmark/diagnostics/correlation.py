"""Correlation among the filters of one weight and its spectral biclustering (the OR paper's Fig. 5).

He, Du, Ma, NeurIPS 2024, App. A.2: "layer4 of ResNet18 pretrained with BYOL on CIFAR-10 is visualized. To be
specific, we calculate the correlation coefficient matrix of the weight matrix and then plot the HeatMap of the
correlation coefficient matrix and the results of Spectral Biclustering." Caption: "HeatMap is the visualization of
the absolute value of the correlation coefficients among filters of the weight matrix (layer4)".

* The weight is the last Conv/Linear layer of the named module (:func:`~benchmark.diagnostics.spectra.
  last_weight_layer`; ``layer4`` → ``layer4.1.conv2.weight`` for ResNet18), reshaped to (out, in·k·k): one row
  per filter. The matrix is ``|corrcoef|`` of those rows (Pearson correlation between filters).
* Biclustering is scikit-learn's ``SpectralBiclustering`` on that matrix. The paper gives neither the number of
  clusters nor the variant; :data:`BICLUSTER_N_CLUSTERS` = 4 is our choice (the checkerboard example of the
  scikit-learn documentation), seeded with the run's seed. Rows and columns are reordered by their cluster label
  (stable, so filters keep their order within a cluster).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor, nn

__all__ = ["BICLUSTER_N_CLUSTERS", "bicluster", "filter_correlation", "weight_correlation"]

#: Row and column clusters of ``SpectralBiclustering`` (not stated in the paper; capped at the number of filters).
BICLUSTER_N_CLUSTERS = 4


def filter_correlation(weight: Tensor | np.ndarray) -> np.ndarray:
    """``|corrcoef|`` (out, out) among the filters (rows of the (out, in·k·k) reshaped weight), float64.

    A constant filter has no defined correlation: its off-diagonal entries are 0, its diagonal 1.

    Raises:
        ValueError: If the weight has fewer than 2 dimensions or fewer than 2 filters, or a filter has one entry.
    """
    w = np.asarray(weight.detach().cpu().double() if isinstance(weight, Tensor) else weight, dtype=np.float64)
    if w.ndim < 2 or w.shape[0] < 2:
        raise ValueError(f"need a weight with >= 2 filters and >= 2 dims, got shape {tuple(w.shape)}")
    m = w.reshape(w.shape[0], -1)
    if m.shape[1] < 2:
        raise ValueError(f"filters of shape {tuple(w.shape[1:])} have one entry: no correlation is defined")
    centred = m - m.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    unit = centred / safe[:, None]
    corr = np.abs(unit @ unit.T)
    corr[norms == 0, :] = 0.0
    corr[:, norms == 0] = 0.0
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, 0.0, 1.0)


def bicluster(matrix: np.ndarray, *, n_clusters: int = BICLUSTER_N_CLUSTERS, seed: int = 0) -> dict[str, np.ndarray]:
    """Spectral biclustering of a non-negative matrix (scikit-learn ``SpectralBiclustering``, seeded).

    Returns:
        ``{"row_labels", "column_labels", "row_order", "column_order"}``; the orders sort rows/columns by label
        (stable). ``matrix[row_order][:, column_order]`` is the biclustered heatmap.
    """
    from sklearn.cluster import SpectralBiclustering

    a = np.asarray(matrix, dtype=np.float64)
    k = max(1, min(int(n_clusters), min(a.shape)))
    model = SpectralBiclustering(n_clusters=k, n_components=min(6, min(a.shape)), n_best=min(3, min(a.shape)),
                                 random_state=seed)
    model.fit(a + 1e-12)  # bistochastic scaling divides by row/column sums: keep them positive
    rows, cols = np.asarray(model.row_labels_), np.asarray(model.column_labels_)
    return {"row_labels": rows.astype(np.int32), "column_labels": cols.astype(np.int32),
            "row_order": np.argsort(rows, kind="stable").astype(np.int32),
            "column_order": np.argsort(cols, kind="stable").astype(np.int32)}


def weight_correlation(encoder: nn.Module, module: str, *, seed: int = 0,
                       n_clusters: int = BICLUSTER_N_CLUSTERS) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(summary for the record, arrays for the figure artifact)`` of the last weight inside ``module``.

    The summary holds the layer, its shape, the mean/median/max |off-diagonal correlation| and the biclustering
    settings; the arrays are ``abs_corr`` (float16) and the label/order vectors of :func:`bicluster`.
    """
    from benchmark.diagnostics.spectra import last_weight_layer

    name, weight = last_weight_layer(encoder, module)
    corr = filter_correlation(weight)
    clusters = bicluster(corr, n_clusters=n_clusters, seed=seed)
    off = corr[~np.eye(corr.shape[0], dtype=bool)]
    k = max(1, min(int(n_clusters), corr.shape[0]))
    summary = {
        "module": module,
        "layer": name,
        "shape": list(weight.shape),
        "filters": int(corr.shape[0]),
        "mean_abs_offdiag": float(off.mean()),
        "median_abs_offdiag": float(np.median(off)),
        "max_abs_offdiag": float(off.max()),
        "bicluster": {"method": "sklearn.cluster.SpectralBiclustering", "n_clusters": k, "random_state": seed},
    }
    arrays = {"abs_corr": corr.astype(np.float16), **clusters}
    return summary, arrays
