"""Collapse diagnostics and the OR paper's figure data.

* :mod:`~benchmark.diagnostics.spectra` — weight/feature spectra, effective rank (RankMe) and the first-batch
  protocol of Figs. 3/4;
* :mod:`~benchmark.diagnostics.correlation` — |corr| among filters and spectral biclustering (Fig. 5);
* :mod:`~benchmark.diagnostics.embedding` — UMAP of representations (Fig. 6).
"""

from benchmark.diagnostics.spectra import (
    effective_rank,
    feature_spectrum,
    first_batch_spectra,
    hidden_feature_spectra,
    paper_stages,
    weight_spectra,
)

__all__ = [
    "effective_rank",
    "feature_spectrum",
    "first_batch_spectra",
    "hidden_feature_spectra",
    "paper_stages",
    "weight_spectra",
]
