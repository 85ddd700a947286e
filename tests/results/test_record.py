"""The typed run record: committed records round-trip, invalid ones are refused with the field and the file named."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmark.errors import ResultsError
from benchmark.results.record import RunRecord, as_records
from benchmark.results.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted((REPO / "results").rglob("result.json"))


def _minimal(**extra: object) -> dict:
    return {"suite": "s", "profile": "cpu", "experiment": "e", "variant": "none", "seed": 0, "status": "ok", **extra}


def test_there_are_committed_records():
    assert len(COMMITTED) >= 50  # the suites' committed cpu results; a glob that finds nothing must not pass


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(REPO / "results")))
def test_committed_record_round_trips(path: Path, tmp_path: Path):
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    rec = RunRecord.model_validate(data)
    assert rec.model_dump(mode="json", exclude_unset=True) == data
    # written back through the store, the file is the same bytes (same keys, same order, same layout)
    store = ResultsStore(tmp_path)
    store.write("x/seed0", rec)
    assert store.record_path("x/seed0").read_text(encoding="utf-8") == text
    assert store.load("x/seed0") == rec


def test_committed_records_are_read_through_the_typed_fields():
    recs = [RunRecord.model_validate_json(p.read_text()) for p in COMMITTED]
    ok = [r for r in recs if r.ok]
    assert ok and all(r.suite and r.experiment and r.seed is not None and r.provenance is not None for r in recs)
    assert all(r.metric_value("linear.top1")[0] == r.metrics["linear"]["top1"] for r in ok if "linear" in r.metrics)
    measured = [r for r in ok if r.pretrain.measure is not None and r.pretrain.measure.step is not None]
    assert measured
    for r in measured:
        value, _ = r.metric_value("measure.step_time")
        assert value == r.pretrain.measure.step.time_s.median


@pytest.mark.parametrize(("change", "field"), [({"status": 5}, "status"), ({"metrics": [1, 2]}, "metrics"),
                                               ({"metrics": {"linear": {"top1": "high"}}}, "metrics.linear.top1"),
                                               ({"seed": "zero"}, "seed"), ({"pretrain": {"steps": [3]}}, "pretrain.steps"),
                                               ({"no_such_section": 1}, "no_such_section")])
def test_a_wrong_type_is_a_validation_error_naming_the_field(change: dict, field: str):
    with pytest.raises(ValidationError) as err:
        RunRecord.model_validate(_minimal(**change))
    assert field in str(err.value)


def test_an_invalid_record_file_is_a_results_error_naming_the_file_and_the_field(tmp_path: Path):
    store = ResultsStore(tmp_path)
    path = store.record_path("e/none/seed0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 1, **_minimal(status=5)}))
    with pytest.raises(ResultsError) as err:
        store.load("e/none/seed0")
    assert err.value.path == str(path) and "status" in str(err.value) and "5" in str(err.value)
    path.write_text(json.dumps({"format": 1, **_minimal(metrics="99.1")}))
    with pytest.raises(ResultsError, match="metrics"):
        list(store.records())


def test_missing_optional_sections_load_as_none():
    rec = RunRecord.model_validate(_minimal())
    assert (rec.pretrain, rec.metrics, rec.diagnostics, rec.controls, rec.transfer, rec.failure, rec.provenance,
            rec.data, rec.figures_data, rec.timings) == (None,) * 10
    assert rec.experiment_config == {} and rec.regularizer == {"name": "none"} and rec.probe_names == []
    assert rec.metric_value("linear.top1") == (None, "record has no metric linear.top1")
    assert rec.metric_value("diagnostics.effective_rank") == (None, "record has no diagnostics.effective_rank")
    assert rec.metric_value("measure.step_time")[0] is None
    assert rec.to_json() == _minimal()  # absent sections stay absent when dumped


def test_a_failed_run_has_no_value_and_says_why():
    rec = RunRecord.model_validate(_minimal(status="failed", failure={"kind": "diverged", "reason": "loss is nan",
                                                                       "step": 17}))
    assert not rec.ok and rec.failure.step == 17
    assert rec.metric_value("linear.top1") == (None, "run failed (diverged: loss is nan)")
    assert rec.failure_text() == "diverged at step 17: loss is nan"


def test_values_by_dotted_name_alias_and_oom():
    rec = RunRecord.model_validate(_minimal(
        metrics={"linear": {"top1": 61.5}, "food101/linear": {"top5": 80.0}},
        pretrain={"final_loss": 1.25, "measure": {"status": "ok", "step": {"time_s": {"mean": 0.3}}}},
        controls={"random_init": {"metrics": {"linear": {"top1": 10.0}}}},
        config={"experiment": {"seeds": [0, 1], "tolerance": 2.0, "regularizer": {"name": "so", "gamma": 1e-6}}}))
    assert rec.metric_value("linear.top1") == (61.5, None) and rec.metric_value("metrics.linear.top1") == (61.5, None)
    assert rec.metric_value("food101/linear.top5") == (80.0, None)
    assert rec.metric_value("pretrain.final_loss") == (1.25, None)
    assert rec.metric_value("controls.random_init.metrics.linear.top1") == (10.0, None)
    assert rec.metric_value("measure.step_time") == (0.3, None)  # no median: the mean
    assert rec.probe_metric("linear") == 61.5 and rec.probe_metric("knn") is None
    assert (rec.planned_seeds, rec.tolerance, rec.regularizer_name) == ([0, 1], 2.0, "so")
    oom = RunRecord.model_validate(_minimal(pretrain={"measure": {"status": "out_of_memory"}}))
    assert oom.metric_value("measure.step_time") == (math.inf, "out of memory")
    assert oom.metric_value("measure.throughput") == (None, "out of memory")


def test_open_payloads_keep_keys_the_model_does_not_name():
    data = _minimal(pretrain={"steps": 3, "measure": {"status": "ok", "new_probe_stat": {"x": [1, 2]}}},
                    diagnostics={"effective_rank": 3.5, "future_diagnostic": "kept"})
    rec = RunRecord.model_validate(data)
    assert rec.pretrain.measure.model_extra == {"new_probe_stat": {"x": [1, 2]}}
    assert rec.to_json() == data


def test_as_records_validates_mappings_and_passes_records_through():
    typed = RunRecord.model_validate(_minimal())
    out = as_records([typed, _minimal(seed=1)])
    assert out[0] is typed and isinstance(out[1], RunRecord) and out[1].seed == 1
    with pytest.raises(ValidationError, match="status"):
        as_records([_minimal(status="done")])


def test_store_write_refuses_an_invalid_record_and_keeps_the_old_file(tmp_path: Path):
    store = ResultsStore(tmp_path)
    store.write("e/none/seed0", _minimal(metrics={"linear": {"top1": 60.0}}))
    path = store.record_path("e/none/seed0")
    before = path.read_text()
    with pytest.raises(ResultsError) as err:
        store.write("e/none/seed0", _minimal(metrics={"linear": "sixty"}))
    assert "metrics.linear" in str(err.value) and err.value.path == str(path)
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temp file left behind
    assert store.load("e/none/seed0").metrics == {"linear": {"top1": 60.0}}


def test_store_write_of_a_dict_adds_the_format_first(tmp_path: Path):
    store = ResultsStore(tmp_path)
    store.write("e/none/seed0", _minimal())
    written = json.loads(store.record_path("e/none/seed0").read_text())
    assert list(written) == ["format", *_minimal()] and written["format"] == 1
