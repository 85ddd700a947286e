"""Performance section of the report: runs that set ``measure: {enabled: true}`` → a Markdown table and a figure.

Reads ``pretrain.measure`` of the records (written by :class:`benchmark.measure.MeasureCallback`, definitions in
:mod:`benchmark.measure.callback` and :mod:`benchmark.measure.memory`). Times are medians over the timed steps
with [p10–p90]; memory is in MiB (2^20 bytes). On CUDA "tensors" is ``max_memory_allocated`` (absolute, as in the
SFRIK code); on CPU it is the profiler's peak of bytes allocated during the step ("+", above the step's start) and
"RSS" the process high-water mark during the step. *OR alone* is the orthogonality penalty's forward + backward
(``measure.regularizer_only``; the OR paper's Table 10 "Time cost of OR", averaged over the timed calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.results.record import (
    MeasuredPart,
    MeasureSummary,
    MemoryPeak,
    RecordLike,
    RunRecord,
    TimeStats,
    as_records,
    given,
)

__all__ = ["measured_records", "performance_rows", "performance_section", "performance_figure"]

MIB = float(1 << 20)


def measured_records(records: list[RecordLike]) -> list[RunRecord]:
    """Records whose pretraining summary holds a ``measure`` block."""
    return [r for r in as_records(records) if r.pretrain is not None and r.pretrain.measure is not None]


def _ms(stats: TimeStats | None) -> str:
    if not given(stats):
        return "—"
    return f"{stats.median * 1e3:.1f} [{stats.p10 * 1e3:.1f}–{stats.p90 * 1e3:.1f}]"


def _mib(x: Any) -> str:
    return "—" if x is None else f"{x / MIB:.1f}"


def _memory_cell(mem: MemoryPeak | None) -> str:
    if not given(mem):
        return "—"
    parts = []
    if mem.tensor_source == "cuda.max_memory_allocated":
        parts.append(f"{_mib(mem.tensor_peak_bytes)} tensors")
    elif mem.tensor_peak_above_start_bytes is not None:
        parts.append(f"+{_mib(mem.tensor_peak_above_start_bytes)} tensors")
    if mem.rss_peak_bytes is not None:
        parts.append(f"RSS {_mib(mem.rss_peak_bytes)}")
    return "; ".join(parts) or "—"


def _status(part: MeasuredPart | MeasureSummary, default: str) -> str:
    """A part's recorded status, ``default`` when it records none."""
    return str(part.status) if "status" in part.model_fields_set else default


def _regularizer_cell(reg: MeasuredPart | None) -> str:
    """Mean ms over the timed calls (the paper averages over 10), with the call count; the status otherwise."""
    if not given(reg):
        return "—"
    stats = reg.time_s if reg.status == "ok" else None
    if not given(stats):
        return _status(reg, "—")
    return f"{stats.mean * 1e3:.2f} (mean of {stats.n})"


def _loss_cells(loss: MeasuredPart | None) -> tuple[str, str]:
    """(time, memory) cells of the loss alone: ms and MiB above its inputs, or its status."""
    if not given(loss):
        return "—", "—"
    if loss.status != "ok":
        return str(loss.status), "—"
    mem_cell = "—"
    if given(loss.memory):
        above = loss.memory.tensor_peak_above_start_bytes
        mem_cell = f"+{_mib(above)}" if above is not None else "—"
        if loss.inputs_bytes is not None:
            mem_cell += f" (inputs {_mib(loss.inputs_bytes)})"
    return _ms(loss.time_s), mem_cell


def performance_rows(records: list[RecordLike]) -> list[dict[str, Any]]:
    """One flat row per measured run (strings for the table, the measurement summary kept under ``raw``)."""
    rows = []
    for r in measured_records(records):
        m = r.pretrain.measure
        step = m.step or MeasuredPart()
        it = m.iteration or MeasuredPart()
        loss_cell, loss_mem_cell = _loss_cells(m.loss_only)
        status = _status(m, "ok")
        if r.status == "failed":
            status = f"run failed: {r.failure.kind if r.failure else None}"
        rows.append({
            "experiment": "?" if r.experiment is None else r.experiment,
            "variant": r.variant or "-",
            "seed": r.seed,
            "device": m.device_name or m.device or "?",
            "images": m.images_per_step,
            "steps": m.steps_measured,
            "step_ms": _ms(step.time_s),
            "throughput": f"{step.throughput_images_per_s:.1f}" if step.throughput_images_per_s else "—",
            "iteration_ms": _ms(it.time_s),
            "step_memory": _memory_cell(step.memory),
            "loss_ms": loss_cell,
            "loss_memory": loss_mem_cell,
            "regularizer_ms": _regularizer_cell(m.regularizer_only),
            "status": status,
            "raw": m,
        })
    return rows


def performance_section(records: list[RecordLike], *, heading: str = "## Performance") -> str:
    """Markdown section with one row per measured run; empty string when no record has measurements."""
    rows = performance_rows(records)
    if not rows:
        return ""
    lines = [
        heading,
        "",
        "Per-step wall time after warm-up: median [p10–p90] in ms. *Step* = forward, loss, backward and optimizer "
        "step; *iteration* = step start to next step start (adds data wait, momentum update, scheduler, logging). "
        "Throughput = images (not views) per second at the median step. Memory in MiB: CUDA `max_memory_allocated` "
        "per step (absolute); on CPU `+` = peak bytes allocated during the step (torch profiler, "
        "`profile_memory=True`) and RSS = process high-water mark during the step. *Loss alone* = the method's loss "
        "forward + backward on the step's embeddings (`loss_inputs` + `loss_only`), memory above its inputs. *OR alone* "
        "= the orthogonality penalty γ·Σ SO/SRIP over the encoder's weights, forward + backward, mean ms over the "
        "timed calls (the OR paper's Table 10, `measure.regularizer_only`).",
        "",
        "| experiment | variant | seed | device | images/step | timed steps | step ms | images/s | iteration ms "
        "| step peak memory | loss alone ms | loss peak memory | OR alone ms | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['experiment']} | {row['variant']} | {row['seed']} | {row['device']} | {row['images'] or '—'} | "
            f"{row['steps']} | {row['step_ms']} | {row['throughput']} | {row['iteration_ms']} | {row['step_memory']} | "
            f"{row['loss_ms']} | {row['loss_memory']} | {row['regularizer_ms']} | {row['status']} |"
        )
    notes: dict[tuple[str, str, str], list[str]] = {}  # the same note on several seeds is listed once
    for row in rows:
        for n in row["raw"].notes or []:
            notes.setdefault((row["experiment"], row["variant"], n), []).append(str(row["seed"]))
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- `{e}` {v} (seed{'s' if len(seeds) > 1 else ''} {', '.join(seeds)}): {n}"
                  for (e, v, n), seeds in notes.items()]
    lines.append("")
    return "\n".join(lines)


def performance_figure(records: list[RecordLike], path: Path) -> Path | None:
    """Bar chart of median step time (p10–p90 whiskers) and loss-alone time per measured run; None if none."""
    rows = [row for row in performance_rows(records) if row["raw"].step is not None and given(row["raw"].step.time_s)]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['experiment']}/{r['variant']}/s{r['seed']}" for r in rows]
    step = [r["raw"].step.time_s for r in rows]
    med = [s.median * 1e3 for s in step]
    err = [[(s.median - s.p10) * 1e3 for s in step], [(s.p90 - s.median) * 1e3 for s in step]]
    loss = [_loss_median(r["raw"]) for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(rows) + 2), 3.5))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], med, width=0.4, yerr=err, capsize=3, label="training step")
    ax.bar([x + 0.2 for x in xs], [(v or 0.0) * 1e3 for v in loss], width=0.4, label="loss alone (fwd+bwd)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("median time per step (ms)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _loss_median(m: MeasureSummary) -> float | None:
    """Median seconds of the loss alone, None when not timed."""
    return m.loss_only.time_s.median if m.loss_only is not None and m.loss_only.time_s is not None else None
