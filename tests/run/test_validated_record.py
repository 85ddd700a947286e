"""execute_run validates its record into a RunRecord; an undeclared field is an error that keeps the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.errors import ResultsError
from benchmark.results.record import RunRecord
from benchmark.run.execute import INVALID_RECORD, validated_record

RECORD = {"run_id": "exp/none/seed0", "path": "exp/none/seed0", "suite": "s", "experiment": "exp", "variant": "none",
          "seed": 0, "config_hash": "abc", "status": "ok", "metrics": {"linear": {"top1": 50.0}},
          "data": {"dataset": "digits", "n_train": 10, "n_test": 5, "num_classes": 10}}


def test_a_record_of_declared_fields_becomes_a_run_record(tmp_path: Path):
    rec = validated_record(dict(RECORD), tmp_path, "exp/none/seed0")
    assert isinstance(rec, RunRecord)
    assert rec.metrics == {"linear": {"top1": 50.0}} and rec.data.n_train == 10
    assert not (tmp_path / INVALID_RECORD).exists()


def test_an_undeclared_section_field_names_it_and_keeps_the_computed_record(tmp_path: Path):
    bad = {**RECORD, "data": {**RECORD["data"], "n_val": 3}}  # data is a closed section
    with pytest.raises(ResultsError, match=r"data\.n_val") as info:
        validated_record(bad, tmp_path, "exp/none/seed0")
    assert "benchmark/results/record.py" in (info.value.hint or "")
    kept = json.loads((tmp_path / INVALID_RECORD).read_text())
    assert kept["data"]["n_val"] == 3 and kept["metrics"] == RECORD["metrics"]
