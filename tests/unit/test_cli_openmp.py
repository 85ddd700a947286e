"""``bench`` lets idle OpenMP threads sleep by default, and leaves a user's own choice alone."""

from __future__ import annotations

import os

from benchmark.cli import _passive_openmp_waits


def test_passive_waits_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    _passive_openmp_waits()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    _passive_openmp_waits()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
