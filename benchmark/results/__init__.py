"""Run records and what is stored with them: the results store, provenance, suite metadata, array artifacts."""
