"""The report's performance section and figure from records with measurements."""

from __future__ import annotations

from pathlib import Path

from benchmark.report.performance import measured_records, performance_figure, performance_section

MIB = 1 << 20


def _stats(median: float, p10: float, p90: float) -> dict:
    return {"n": 5, "median": median, "p10": p10, "p90": p90, "q25": p10, "q75": p90, "mean": median,
            "min": p10, "max": p90}


def _record(exp: str, measure: dict | None) -> dict:
    pre = {"steps": 10} if measure is None else {"steps": 10, "measure": measure}
    return {"experiment": exp, "variant": "none", "seed": 0, "status": "ok", "pretrain": pre}


CPU_MEASURE = {
    "device": "cpu", "device_name": "Test CPU", "images_per_step": 256, "steps_measured": 5, "status": "ok",
    "step": {"time_s": _stats(0.5, 0.4, 0.8), "throughput_images_per_s": 512.0,
             "memory": {"tensor_source": "torch.profiler[profile_memory]", "tensor_peak_above_start_bytes": 96 * MIB,
                        "rss_peak_bytes": 1536 * MIB}},
    "iteration": {"time_s": _stats(0.6, 0.5, 0.9), "throughput_images_per_s": 426.7},
    "loss_only": {"status": "ok", "time_s": _stats(0.012, 0.010, 0.020), "inputs_bytes": 2 * MIB,
                  "memory": {"tensor_peak_above_start_bytes": 3 * MIB}},
}
GPU_MEASURE = {
    "device": "cuda:0", "device_name": "Test GPU", "images_per_step": 256, "steps_measured": 5, "status": "ok",
    "step": {"time_s": _stats(0.05, 0.04, 0.06), "throughput_images_per_s": 5120.0,
             "memory": {"tensor_source": "cuda.max_memory_allocated", "tensor_peak_bytes": 4096 * MIB}},
    "loss_only": {"status": "out_of_memory", "error": "OutOfMemoryError: CUDA out of memory"},
    "notes": ["only 5 of 10 timed steps ran (max_steps reached)"],
}


def test_section_lists_measured_runs_with_medians_percentiles_and_memory():
    records = [_record("simclr", CPU_MEASURE), _record("byol", None), _record("vicreg", GPU_MEASURE)]
    assert [r.experiment for r in measured_records(records)] == ["simclr", "vicreg"]
    md = performance_section(records)
    lines = md.splitlines()
    assert lines[0] == "## Performance"
    simclr = next(line for line in lines if line.startswith("| simclr"))
    assert "500.0 [400.0–800.0]" in simclr and "| 512.0 |" in simclr and "600.0 [500.0–900.0]" in simclr
    assert "+96.0 tensors; RSS 1536.0" in simclr
    assert "12.0 [10.0–20.0]" in simclr and "+3.0 (inputs 2.0)" in simclr
    vicreg = next(line for line in lines if line.startswith("| vicreg"))
    assert "4096.0 tensors" in vicreg and "out_of_memory" in vicreg
    assert "- `vicreg` none (seed 0): only 5 of 10 timed steps ran (max_steps reached)" in lines
    assert not any(line.startswith("| byol") for line in lines)


def test_a_note_repeated_over_seeds_is_listed_once_with_its_seeds():
    records = [{**_record("vicreg", GPU_MEASURE), "seed": s} for s in (0, 1, 2)]
    notes = [line for line in performance_section(records).splitlines() if line.startswith("- `vicreg`")]
    assert notes == ["- `vicreg` none (seeds 0, 1, 2): only 5 of 10 timed steps ran (max_steps reached)"]


def test_no_measurements_gives_no_section_and_no_figure(tmp_path: Path):
    assert performance_section([_record("byol", None)]) == ""
    assert performance_figure([_record("byol", None)], tmp_path / "perf.png") is None


def test_figure_is_written(tmp_path: Path):
    out = performance_figure([_record("simclr", CPU_MEASURE)], tmp_path / "fig" / "perf.png")
    assert out is not None and out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_or_alone_column_shows_the_mean_over_the_timed_calls():
    timed = {**CPU_MEASURE, "regularizer_only": {"status": "ok", "time_s": {**_stats(0.004, 0.003, 0.006),
                                                                            "mean": 0.0045, "n": 10}}}
    untimed = {**CPU_MEASURE, "regularizer_only": {"status": "not_applicable", "reason": "regularizer 'none'"}}
    lines = performance_section([_record("so", timed), _record("none", untimed),
                                 _record("old", CPU_MEASURE)]).splitlines()
    header = next(line for line in lines if line.startswith("| experiment"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    col = cells.index("OR alone ms")
    row = {name: [c.strip() for c in next(line for line in lines if line.startswith(f"| {name} |")).strip("|")
                  .split("|")] for name in ("so", "none", "old")}
    assert row["so"][col] == "4.50 (mean of 10)"
    assert row["none"][col] == "not_applicable" and row["old"][col] == "—"
    assert len(row["so"]) == len(cells)
