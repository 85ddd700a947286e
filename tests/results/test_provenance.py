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
