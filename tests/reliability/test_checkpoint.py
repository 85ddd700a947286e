"""Checkpoints: loaded with weights_only=True (pickled objects refused), corrupt ones detected, RNG state resumed."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.suite.hashing import computation_hash
from benchmark.train.checkpoint import (
    BENCH_KEY,
    CheckpointRejected,
    atomic_torch_save,
    find_resume,
    get_rng_state,
    load_checkpoint,
    set_rng_state,
)

from .conftest import comparable, record, run_in_process


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: stands for any code an attacker could put in a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _malicious_checkpoint(path: Path, marker: Path, config_hash: str) -> None:
    torch.save({"global_step": 4, "state_dict": {}, "loops": {}, "payload": _Payload(marker),
                BENCH_KEY: {"config_hash": config_hash}}, path)


def _reference_ckpt(reference, run: str) -> Path:
    return reference[1] / "runs" / run / "checkpoints" / "last.ckpt"


def test_checkpoint_with_a_pickled_object_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    ckpt = tmp_path / "last.ckpt"
    _malicious_checkpoint(ckpt, marker, "abc")
    with pytest.raises(CheckpointRejected, match="weights_only"):
        load_checkpoint(ckpt, config_hash="abc")
    assert not marker.exists(), "nothing in the file was executed"
    # Control: the payload is live -- a plain torch.load would have run it.
    torch.load(ckpt, weights_only=False)
    assert marker.exists()


def test_real_checkpoint_loads_with_weights_only_and_checks_the_config(reference, tmp_path):
    src = _reference_ckpt(reference, "byol/seed0")
    want = computation_hash(record(reference[1], "byol/seed0")["config"])  # checkpoints carry the computation hash
    ckpt = load_checkpoint(src, config_hash=want)  # torch.load(weights_only=True) inside
    assert ckpt["global_step"] == 7 and ckpt[BENCH_KEY]["config_hash"] == want
    assert set(ckpt[BENCH_KEY]["rng"]) >= {"torch", "numpy", "python"}
    with pytest.raises(CheckpointRejected, match="written for config"):
        load_checkpoint(src, config_hash="0" * 16)
    # find_resume moves a foreign checkpoint aside instead of resuming (or crashing)
    d = tmp_path / "checkpoints"
    d.mkdir()
    shutil.copy(src, d / "last.ckpt")
    out = find_resume(d, "0" * 16)
    assert out.path is None and "written for config" in out.rejected
    assert not (d / "last.ckpt").exists() and (d / "last.ckpt.rejected").exists()
    assert (d / "config_hash").read_text() == "0" * 16


def test_corrupt_or_unsafe_last_ckpt_restarts_the_run_from_scratch(reference, tmp_path, monkeypatch):
    suite, ref = reference
    res = tmp_path / "results"
    marker = tmp_path / "payload-ran"
    # simclr: a truncated copy of a real checkpoint (what a non-atomic writer leaves after a kill)
    simclr = res / "runs/simclr/seed0/checkpoints"
    simclr.mkdir(parents=True)
    data = _reference_ckpt(reference, "simclr/seed0").read_bytes()
    (simclr / "last.ckpt").write_bytes(data[: len(data) // 2])
    (simclr / "config_hash").write_text(computation_hash(record(ref, "simclr/seed0")["config"]))
    # byol: a checkpoint with the right config hash that smuggles a pickled object
    byol = res / "runs/byol/seed0/checkpoints"
    byol.mkdir(parents=True)
    _malicious_checkpoint(byol / "last.ckpt", marker, computation_hash(record(ref, "byol/seed0")["config"]))
    (byol / "config_hash").write_text(record(ref, "byol/seed0")["config_hash"])

    assert run_in_process(suite, res, monkeypatch) == 0
    assert not marker.exists()
    for run, why in (("simclr/seed0", "unreadable or truncated"), ("byol/seed0", "weights_only")):
        rec = record(res, run)
        assert rec["status"] == "ok"
        assert rec["pretrain"]["resumed_from_step"] is None and why in rec["pretrain"]["checkpoint_rejected"]
        assert (res / "runs" / run / "checkpoints/last.ckpt.rejected").exists()
        assert comparable(rec) == comparable(record(ref, run)), "a restart from scratch gives the same numbers"


def test_atomic_save_never_leaves_a_partial_file(tmp_path):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"global_step": 1, "w": torch.ones(3)}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("disk full")  # any failure in the middle of writing

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_torch_save({"global_step": 2, "w": torch.zeros(1000), "x": Unpicklable()}, path)
    assert torch.load(path, weights_only=True)["global_step"] == 1, "the previous checkpoint is intact"
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"], "no temp file left behind"


def _draws() -> tuple:
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)])


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    _draws()
    atomic_torch_save({"rng": get_rng_state()}, tmp_path / "c.ckpt")
    expected = _draws()
    _draws()  # the stream moves on (what a killed process did after its checkpoint)
    assert _draws() != expected
    set_rng_state(torch.load(tmp_path / "c.ckpt", weights_only=True)["rng"])
    assert _draws() == expected


def test_pretrain_module_restores_rng_at_train_start(tmp_path):
    """The module stores the RNG in its checkpoint and applies it at on_train_start, right before the first step."""
    from benchmark.methods.base import MethodContext, MethodParams, SSLMethod
    from benchmark.suite.schema import PretrainConfig
    from benchmark.train.module import PretrainModule

    def module() -> PretrainModule:
        method = SSLMethod(backbone=nn.Linear(2, 2), feature_dim=2, params=MethodParams(),
                           ctx=MethodContext(max_steps=1, global_batch_size=2))
        return PretrainModule(method, None, PretrainConfig(), steps_per_epoch=1, max_steps=1, config_hash="h")

    saved: dict = {"global_step": 3}
    module().on_save_checkpoint(saved)
    atomic_torch_save(saved, tmp_path / "c.ckpt")
    expected = _draws()
    resumed = module()
    resumed.on_load_checkpoint(torch.load(tmp_path / "c.ckpt", weights_only=True))
    _draws()  # model building, loader setup etc. in the new process
    resumed.on_train_start()
    assert _draws() == expected
    assert resumed.resumes == [3] and resumed.config_hash == "h"
