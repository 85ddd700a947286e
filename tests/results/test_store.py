"""Results store: atomic records, skip-finished by config hash, lock, path confinement, corrupt files."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from benchmark.errors import ResultsError
from benchmark.results.store import ResultsStore


def test_write_load_and_is_done(tmp_path):
    store = ResultsStore(tmp_path)
    store.write("a/seed0", {"status": "ok", "config_hash": "h1", "metrics": {}})
    assert store.load("a/seed0").format == 1
    assert store.is_done("a/seed0", "h1")
    assert not store.is_done("a/seed0", "h2")  # config changed → redo
    store.write("a/seed0", {"status": "failed", "config_hash": "h1"})
    assert not store.is_done("a/seed0", "h1")  # failed runs are retried


def test_path_escape_refused(tmp_path):
    store = ResultsStore(tmp_path / "res")
    with pytest.raises(ResultsError):
        store.run_dir("../../etc/seed0")
    with pytest.raises(ResultsError):
        store.run_dir("/abs/seed0")


def test_corrupt_record_is_reported_with_path(tmp_path):
    store = ResultsStore(tmp_path)
    p = store.record_path("a/seed0")
    p.parent.mkdir(parents=True)
    p.write_text('{"status": "ok", ')
    with pytest.raises(ResultsError) as err:
        store.load("a/seed0")
    assert str(p) in err.value.path


def test_newer_format_refused(tmp_path):
    store = ResultsStore(tmp_path)
    p = store.record_path("a/seed0")
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps({"format": 99}))
    with pytest.raises(ResultsError, match="newer"):
        store.load("a/seed0")


def _hold_lock(root, ready, release):
    store = ResultsStore(root)
    with store.lock():
        ready.set()
        release.wait(10)


def test_second_process_cannot_take_the_lock(tmp_path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(ResultsError, match="in use"):
            with ResultsStore(tmp_path).lock():
                pass
    finally:
        release.set()
        proc.join(30)
    with ResultsStore(tmp_path).lock():  # free again once the holder exits
        pass
