"""Synthetic run records shaped like the runner's (``benchmark/run/execute.py``), for report, plot and browser tests.

Values are arbitrary but deterministic; nothing here comes from the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.results.store import ResultsStore

SUITE = "synth"
SEEDS = (0, 1, 2)


def _record(experiment: str, variant: str, seed: int, *, method: dict[str, Any], regularizer: dict[str, Any] | None = None,
            sampler: dict[str, Any] | None = None, top1: float | None = None, assignments: dict[str, Any] | None = None,
            profile: str = "cpu", **extra: Any) -> dict[str, Any]:
    exp_cfg = {"method": method, "regularizer": regularizer or {"name": "none"},
               "data": {"dataset": "npz", "sampler": sampler or {"kind": "random", "k": None}},
               "backbone": {"name": "resnet18", "width": 16}, "tolerance": 1.0,
               "eval": {"probes": [{"name": "linear"}, {"name": "knn"}]}}
    rec: dict[str, Any] = {
        "suite": SUITE, "profile": profile, "experiment": experiment, "variant": variant, "seed": seed,
        "status": "ok", "config_hash": f"{abs(hash((experiment, variant, seed))) % 10**16:016d}",
        "variant_assignments": assignments or {}, "config": {"experiment": exp_cfg},
        "reproduces": {"table": "Table 1", "row": experiment},
        "data": {"dataset": "npz", "n_train": 8336, "n_test": 1017, "num_classes": 10},
        "pretrain": {"epochs": 8, "steps": 256},
    }
    if top1 is not None:
        rec["metrics"] = {"linear": {"top1": top1, "top5": min(100.0, top1 + 30)},
                          "knn": {"top1": top1 - 2, "top5": min(100.0, top1 + 25)}}
    rec.update(extra)
    return rec


def _times(median: float) -> dict[str, float]:
    return {"n": 10, "median": median, "p10": 0.9 * median, "p90": 1.1 * median, "q25": 0.95 * median,
            "q75": 1.05 * median, "mean": median, "min": 0.85 * median, "max": 1.2 * median}


def _spectrum(decay: float, d: int = 64) -> list[float]:
    return [float(decay ** i) for i in range(d)]


def records() -> list[dict[str, Any]]:
    """OR grid with spectra, a sampler comparison, SFRIK/VICReg measurements vs q (one VICReg OOM), one failure."""
    out: list[dict[str, Any]] = []
    method = {"name": "byol"}
    regs = [("none", {"name": "none"}, 0.0, 0.80), ("so-gamma1e-06", {"name": "so", "gamma": 1e-6}, 0.6, 0.85),
            ("so-gamma1e-05", {"name": "so", "gamma": 1e-5}, 0.9, 0.87),
            ("srip-gamma0.001", {"name": "srip", "gamma": 1e-3}, 0.4, 0.84)]
    for seed in SEEDS:
        for i, (label, reg, gain, decay) in enumerate(regs):
            diag = {"feature_spectrum": _spectrum(decay), "effective_rank": 10 + 20 * gain + 0.1 * seed,
                    "weight_spectra": {"layer1.weight": [1.5 - 0.01 * i for i in range(16)],
                                       "layer4.weight": [2.0 * decay ** i for i in range(32)]}}
            out.append(_record("byol_c10", label, seed, method=method, regularizer=reg, top1=60 + gain + 0.3 * seed + 0.1 * ((seed * i) % 3),
                               assignments={"regularizer": reg}, diagnostics=diag))
        for label, sampler, drop in (("kindrandom", {"kind": "random"}, 0.0), ("kindk_classes-k2", {"kind": "k_classes", "k": 2}, 7.0)):
            out.append(_record("simclr_in1k", label, seed, method={"name": "simclr"}, sampler=sampler,
                               top1=55 - drop + 0.5 * seed, assignments={"data.sampler": sampler}))
        for q, t_sfrik, t_vicreg in ((256, 0.30, 0.28), (1024, 0.31, 0.40), (4096, 0.33, None)):
            for exp, name, seconds, key in (("sfrik_efficiency", "sfrik", t_sfrik, f"1024_1024_{q}"),
                                            ("vicreg_efficiency", "vicreg", t_vicreg, str(q))):
                m = ({"status": "out_of_memory"} if seconds is None else
                     {"status": "ok", "step": {"time_s": _times(seconds + 0.01 * seed),
                                               "memory": {"tensor_peak_bytes": int(seconds * 1e9)}}})
                meth = {"name": name, "mlp": [1024, 1024, q]} if name == "sfrik" else {"name": name, "proj_output_dim": q}
                out.append(_record(exp, key, seed, method=meth, pretrain={"epochs": 1, "steps": 12, "measure": m}))
    failed = _record("simclr_c10", "none", 0, method={"name": "simclr"})
    failed.update(status="failed", failure={"kind": "diverged", "reason": "loss is nan", "step": 17})
    out.append(failed)
    return out


BASELINES = """\
paper: synth
citation: "Synthetic test paper"
entries:
  - {experiment: byol_c10, variant: none, metric: linear.top1, value: 61.5, status: transcribed,
     source: {paper: "arXiv 0000.00000", table: "Table 1", row: "BYOL", column: "Top-1"}}
claims:
  - id: so_helps_byol
    statement: "SO improves BYOL's linear top-1"
    source: {paper: "arXiv 0000.00000", section: "Abstract"}
    metric: linear.top1
    treatment: {experiment: byol_c10, variant: so-gamma1e-06}
    control: {experiment: byol_c10, variant: none}
    expect: greater
  - id: k2_hurts_simclr
    statement: "Two classes per batch lower SimCLR's linear top-1"
    source: {paper: "arXiv 0000.00000", table: "Table 1"}
    metric: linear.top1
    treatment: {experiment: simclr_in1k, variant: kindk_classes-k2}
    control: {experiment: simclr_in1k, variant: kindrandom}
    expect: less
  - id: sfrik_faster_q4096
    statement: "SFRIK steps are faster than VICReg's at q = 4096"
    source: {paper: "arXiv 0000.00000", section: "time and memory"}
    metric: measure.step_time
    treatment: {experiment: sfrik_efficiency, variant: "1024_1024_4096"}
    control: {experiment: vicreg_efficiency, variant: "4096"}
    expect: less
  - id: never_run
    statement: "A claim about an experiment without runs"
    source: {paper: "arXiv 0000.00000"}
    metric: linear.top1
    treatment: {experiment: byol_c100, variant: so}
    control: {experiment: byol_c100, variant: none}
    expect: greater
"""


def write_results(root: Path) -> tuple[Path, Path]:
    """A results directory with the synthetic records and a baselines dir holding ``synth.yaml``."""
    results = root / "results"
    store = ResultsStore(results)
    for r in records():
        store.write(f"{r['experiment']}/{r['variant']}/seed{r['seed']}", r)
    baselines = root / "baselines"
    baselines.mkdir(parents=True, exist_ok=True)
    (baselines / f"{SUITE}.yaml").write_text(BASELINES)
    return results, baselines
