"""Provenance: the hardware block names the CPU model (platform.processor() is empty on most Linux systems)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.results.provenance import hardware


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc/cpuinfo to know the expected model")
def test_hardware_records_the_cpu_model_name() -> None:
    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.lower().startswith("model name")]
    info = hardware("cpu")
    assert names, "this /proc/cpuinfo has no model name line"
    assert info["cpu_model"] == names[0]
    assert info["device"] == "cpu" and info["cpu_count"] >= 1


def test_records_name_the_checkout_of_process_start_not_of_each_run(monkeypatch) -> None:
    """A long ``bench run`` executes the code it loaded at start; later commits must not be attributed to it."""
    from benchmark.results import provenance

    states = iter([{"commit": "aaa", "dirty": False}, {"commit": "bbb", "dirty": True}])
    monkeypatch.setattr(provenance, "_PROCESS_GIT", None)
    monkeypatch.setattr(provenance, "git_state", lambda start=None: next(states))
    first = provenance.process_git_state()
    later = provenance.process_git_state()  # HEAD moved in between: still the state at start
    assert first == later == {"commit": "aaa", "dirty": False}
    later["commit"] = "mutated"
    assert provenance.process_git_state()["commit"] == "aaa"  # callers get copies
