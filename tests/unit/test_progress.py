"""Suite-level ETA of `bench run` (issue 13): predictions from finished siblings, measured step times, nominal."""

from __future__ import annotations

import datetime as dt
import textwrap

from benchmark.progress import SuiteProgress
from benchmark.suite.loader import load_suite
from benchmark.suite.plan import estimate, make_plan

SUITE = textwrap.dedent(
    """\
    suite: eta
    defaults:
      data: {dataset: digits}
      backbone: {name: tiny}
      pretrain: {epochs: 1, batch_size_per_device: 64}
      seeds: [0, 1]
    experiments:
      - id: a
        method: {name: simclr}
        grid: {pretrain.epochs: [1, 2]}
      - id: b
        method: {name: byol}
    """
)


def _record(steps: int, pretrain_s: float, total_s: float) -> dict:
    return {"status": "ok", "pretrain": {"steps": steps}, "timings": {"pretrain": pretrain_s, "total": total_s}}


def test_predictions_use_siblings_then_step_times_then_nominal(write_suite):
    runs = {r.path: r for r in make_plan(load_suite(write_suite(SUITE))).runs}
    progress = SuiteProgress("cpu")
    nominal_b = estimate(runs["b/seed0"], "cpu")["hours"] * 3600
    assert progress.predict(runs["b/seed0"]) == nominal_b, "nothing observed yet: the nominal estimate"
    progress.observe(runs["a/1/seed0"], _record(steps=21, pretrain_s=42.0, total_s=50.0))
    assert progress.predict(runs["a/1/seed1"]) == 50.0, "another seed of a finished run takes as long"
    # same training shape (simclr, tiny, batch 64), twice the steps: 2 s/step x 42 steps + the 8 s outside pretraining
    assert progress.predict(runs["a/2/seed0"]) == 42 * 2.0 + 8.0
    ratio = 42.0 / (estimate(runs["a/1/seed0"], "cpu")["hours"] * 3600)
    assert abs(progress.predict(runs["b/seed0"]) - (nominal_b * ratio + 8.0)) < 1e-9, "nominal, corrected"
    progress.observe(runs["b/seed0"], {"status": "failed", "failure": {"kind": "diverged"}})  # teaches nothing
    assert abs(progress.predict(runs["b/seed1"]) - (nominal_b * ratio + 8.0)) < 1e-9


def test_the_line_gives_runs_done_time_left_and_eta(write_suite):
    runs = make_plan(load_suite(write_suite(SUITE))).runs
    progress = SuiteProgress("cpu")
    progress.observe(runs[0], _record(steps=21, pretrain_s=42.0, total_s=50.0))
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    line = progress.line(1, len(runs), [runs[1]], now=now)
    assert line == "suite: 1/6 runs done, about 50 s left (ETA 2026-01-01 12:00 UTC)"
    assert progress.line(6, 6, []) == "suite: 6/6 runs done"


def test_datasets_of_unknown_size_are_sized_from_finished_records(write_suite):
    text = SUITE.replace("data: {dataset: digits}", "data: {dataset: npz, params: {path: x.npz}}")
    runs = {r.path: r for r in make_plan(load_suite(write_suite(text))).runs}
    progress = SuiteProgress("cpu")
    assert progress.predict(runs["b/seed0"]) is None, "npz: no size known before a run reports it"
    rec = _record(steps=20, pretrain_s=40.0, total_s=50.0)
    rec["data"] = {"n_train": 1300}
    progress.observe(runs["a/1/seed0"], rec)
    assert estimate(runs["b/seed0"], "cpu", 1300)["steps"] == 20
    assert progress.predict(runs["b/seed0"]) is not None


def test_a_per_class_subset_is_sized_from_the_declared_class_count(write_suite):
    """ImageNet with 260 images per class (SFRIK's IN20 % protocol): 260 000 images, not 1.28 M and not unknown;
    a source that declares no class count gives no size (the run's record tells it later)."""
    text = SUITE.replace("data: {dataset: digits}",
                         "data: {dataset: imagenet, params: {path: in1k}, train_subset: {per_class: 260}}")
    run = make_plan(load_suite(write_suite(text))).runs[-1]
    assert estimate(run, "cpu")["steps"] == 260 * 1000 // 64
    npz = SUITE.replace("data: {dataset: digits}",
                        "data: {dataset: npz, params: {path: x.npz}, train_subset: {per_class: 5}}")
    assert estimate(make_plan(load_suite(write_suite(npz))).runs[-1], "cpu")["steps"] is None
