"""Collapse diagnostics: weight/feature spectra and effective rank (RankMe)."""

from benchmark.diagnostics.spectra import effective_rank, feature_spectrum, hidden_feature_spectra, weight_spectra

__all__ = ["effective_rank", "feature_spectrum", "hidden_feature_spectra", "weight_spectra"]
