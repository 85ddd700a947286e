"""SFRIK vs VICReg loss cost over the embedding dimension q at a fixed batch (n = 256).

SFRIK (Zheng et al., ICLR 2023) builds n × n Gram/Legendre buffers; VICReg builds q × q covariances, so SFRIK should be
cheaper "once q > batch" with a VICReg/SFRIK ratio growing with q (computed here from the costs, O(n² q) for SFRIK's
Gram and O(n q²) for VICReg's covariance: SFRIK ∝ q, VICReg ∝ q², crossover near q ≈ n), and SFRIK's loss memory should
be a constant multiple of the embeddings while VICReg's grows ~q². Measured: forward + backward to the two (n, q)
embeddings (``torch.autograd.grad``), the two losses interleaved per q; memory = peak tensor bytes allocated during one
call (CPU: torch profiler, GPU: ``max_memory_allocated`` above the start).

CPU: VICReg at q = 16384 is skipped — its q × q covariances and their gradients need about 5 GiB (fitted
coefficient ≈ 5 × q² × 4 bytes at q = 8192) and ~1 min per call on 2 cores; set ``BENCH_LOSS_MEM_LIMIT_GIB`` to raise
the limit. On GPU nothing is skipped (out-of-memory is recorded as the result).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import torch

from benchmark.losses import SFRIKLoss, VICRegLoss
from benchmark.measure.memory import is_out_of_memory, oom_result, profiled_tensor_sample
from benchmark.measure.timing import interleave, summarize_times, timed
from tests.benchmarks.conftest import target

pytestmark = pytest.mark.benchmark

N = 256
QS = [256, 512, 1024, 2048, 4096, 8192, 16384]
VICREG_BYTES_PER_Q2 = 5 * 4  # ≈ 5 q×q fp32 buffers live at the peak (measured 1296 MiB at q = 8192)
RESULTS: dict[int, dict[str, Any]] = {}
HEADER: dict[str, Any] = {}


def _mem_limit(device: str) -> float:
    default = float("inf") if device.startswith("cuda") else 3.0
    return float(os.environ.get("BENCH_LOSS_MEM_LIMIT_GIB", default)) * (1 << 30)


def _loss_call(crit: torch.nn.Module, za: torch.Tensor, zb: torch.Tensor):
    def call() -> None:
        loss = crit(za, zb)
        torch.autograd.grad(loss, [za, zb])

    return call


def measure_q(q: int, device: str) -> dict[str, Any]:
    g = torch.Generator().manual_seed(q)
    za = torch.randn(N, q, generator=g).to(device).requires_grad_()
    zb = torch.randn(N, q, generator=g).to(device).requires_grad_()
    arms = {"sfrik": _loss_call(SFRIKLoss(), za, zb), "vicreg": _loss_call(VICRegLoss(configured_batch_size=N), za, zb)}
    out: dict[str, Any] = {"q": q, "n": N, "embedding_bytes": 2 * N * q * 4, "arms": {}}
    if VICREG_BYTES_PER_Q2 * q * q > _mem_limit(device):
        out["arms"]["vicreg"] = {"status": "skipped", "reason": f"estimated {VICREG_BYTES_PER_Q2 * q * q / 2**30:.1f} "
                                 f"GiB > limit {_mem_limit(device) / 2**30:.1f} GiB (BENCH_LOSS_MEM_LIMIT_GIB)"}
        del arms["vicreg"]
    first: dict[str, float] = {}
    for name in list(arms):  # one warm-up call each, also the time estimate; OOM here is a result
        try:
            _, first[name] = timed(arms[name], device=device)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            out["arms"][name] = oom_result(exc, device)
            del arms[name]
    if not arms:
        return out
    rounds = int(np.clip(20.0 / max(sum(first.values()), 1e-3), 3, 15))
    times = interleave(arms, rounds=rounds, warmup_rounds=0, device=device)
    for name, ts in times.items():
        _, mem = profiled_tensor_sample(arms[name], device)
        stats = summarize_times(ts)
        out["arms"][name] = {"status": "ok", "time_s": stats.to_dict(), "raw_times_s": ts,
                             "tensor_peak_above_start_bytes": mem.tensor_peak_above_start_bytes,
                             "tensor_source": mem.tensor_source}
    if {"sfrik", "vicreg"} <= set(times):
        out["vicreg_over_sfrik_time"] = summarize_times(times["vicreg"]).median / summarize_times(times["sfrik"]).median
    return out


def _ok(res: dict[str, Any], arm: str) -> dict[str, Any] | None:
    a = res["arms"].get(arm)
    return a if a and a.get("status") == "ok" else None


def evaluate_targets(results: dict[int, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Targets and fitted memory models from the per-q results."""
    from scipy.stats import spearmanr

    qs = sorted(results)
    ratios = {q: results[q].get("vicreg_over_sfrik_time") for q in qs}
    above = {q: r for q, r in ratios.items() if r is not None and q > N}
    targets = [target("SFRIK cheaper than VICReg once q > batch", "VICReg/SFRIK time > 1 for every q > n = 256",
                      {str(q): round(r, 2) for q, r in above.items()}, bool(above) and all(r > 1 for r in above.values()))]
    valid = [(q, r) for q, r in ratios.items() if r is not None]
    rho = float(spearmanr([q for q, _ in valid], [r for _, r in valid]).statistic) if len(valid) >= 3 else None
    targets.append(target("VICReg/SFRIK ratio grows with q", "Spearman rank correlation of ratio vs q ≥ 0.9",
                          {"spearman": rho, "ratios": {str(q): round(r, 3) for q, r in valid}},
                          None if rho is None else rho >= 0.9))
    fits: dict[str, Any] = {}
    s_pts = [(q, _ok(results[q], "sfrik")["tensor_peak_above_start_bytes"]) for q in qs if _ok(results[q], "sfrik")]
    if len(s_pts) >= 3:
        emb = {q: 2 * N * q * 4 for q, _ in s_pts}  # embedding bytes of both views (fp32)
        q_max, m_max = s_pts[-1]
        a = m_max / emb[q_max]  # the asymptotic multiple of the embeddings
        excess = {q: m - a * emb[q] for q, m in s_pts}
        budget = 16 * N * N * 4  # a fixed handful (16) of n × n fp32 buffers, whatever q is
        fits["sfrik"] = {"model": "peak = a · embedding_bytes + excess(q); a = peak/embeddings at the largest q",
                         "a": a, "excess_bytes": {str(q): e for q, e in excess.items()}, "n_by_n_bytes": N * N * 4,
                         "per_q_peak_over_embeddings": {str(q): m / emb[q] for q, m in s_pts}}
        targets.append(target("SFRIK loss memory independent of q beyond the embeddings",
                              f"peak − a·embeddings ≤ 16 n×n fp32 buffers ({budget / 2**20:.0f} MiB) at every q",
                              {"a": round(a, 3), "max_excess_MiB": round(max(excess.values()) / 2**20, 3),
                               "excess_at_largest_q_MiB": round(excess[q_max] / 2**20, 3)},
                              bool(max(excess.values()) <= budget)))
    v_pts = [(q, _ok(results[q], "vicreg")["tensor_peak_above_start_bytes"]) for q in qs if _ok(results[q], "vicreg")]
    big = [(q, m) for q, m in v_pts if q >= 1024]
    if len(big) >= 2:
        (q1, m1), (q2, m2) = big[-2], big[-1]
        exponent = float(np.log(m2 / m1) / np.log(q2 / q1))
        fits["vicreg"] = {"model": "peak ∝ q^k between the two largest q", "k": exponent,
                          "per_q_peak_over_q2_fp32": {str(q): m / (q * q * 4) for q, m in v_pts}}
        targets.append(target("VICReg loss memory ~q²", "growth exponent k between the two largest q in [1.8, 2.2]",
                              {"k": round(exponent, 3), "q": [q1, q2]}, 1.8 <= exponent <= 2.2))
    return targets, fits


@pytest.mark.parametrize("q", QS)
def test_loss_forward_backward_over_q(q: int, bench_device: str, perf, benchmark) -> None:
    if not HEADER:
        HEADER.update(perf.start())
    res = benchmark.pedantic(measure_q, args=(q, bench_device), rounds=1, iterations=1)
    RESULTS[q] = res
    benchmark.extra_info.update({"q": q, "vicreg_over_sfrik_time": res.get("vicreg_over_sfrik_time"),
                                 **{f"{k}_status": v.get("status") for k, v in res["arms"].items()}})
    targets, fits = evaluate_targets(RESULTS)
    perf.write("loss_scaling", HEADER, {"per_q": {str(k): v for k, v in sorted(RESULTS.items())}, "memory_fits": fits},
               targets, notes=[__doc__.split("\n\n")[-1].strip()])
    assert res["arms"]["sfrik"]["status"] == "ok"


def test_loss_scaling_trends() -> None:
    """Trends only (timings are machine-dependent): VICReg's cost and memory grow faster with q than SFRIK's."""
    need = [512, 8192]
    if not all(q in RESULTS and RESULTS[q].get("vicreg_over_sfrik_time") for q in need):
        pytest.skip("needs the q = 512 and q = 8192 measurements of this session")
    assert RESULTS[8192]["vicreg_over_sfrik_time"] > RESULTS[512]["vicreg_over_sfrik_time"]
    assert RESULTS[8192]["vicreg_over_sfrik_time"] > 1.0
    s = {q: RESULTS[q]["arms"]["sfrik"]["tensor_peak_above_start_bytes"] for q in need}
    v = {q: RESULTS[q]["arms"]["vicreg"]["tensor_peak_above_start_bytes"] for q in need}
    assert v[8192] / v[512] > 4 * s[8192] / s[512]  # q² vs q growth over a 16× range
