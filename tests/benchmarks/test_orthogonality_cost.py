"""Cost of the OR penalties (SO, SRIP; He, Du, Ma, NeurIPS 2024) on a CIFAR ResNet-18 (width 64, 11 M parameters).

Measured, interleaved: the penalty γ·Σ_l R(W_l) over every Conv/Linear weight of the encoder, forward + backward
(``OrthogonalityRegularizer.penalty`` then ``.backward()``), against one forward + backward of the same encoder on a
batch of ``B`` 32 × 32 images. The penalty's cost does not depend on the batch; on CPU the backbone step is measured
at a small batch (B = 16) and the overhead at the paper's batch (two views of 256 images) is extrapolated assuming
the step time is proportional to the number of images (stated as such in the JSON).
"""

from __future__ import annotations

import os

import pytest
import torch

from benchmark.measure.timing import interleave, summarize_times
from benchmark.models import BACKBONES
from benchmark.regularizers.orthogonality import OrthogonalityRegularizer
from tests.benchmarks.conftest import target

pytestmark = pytest.mark.benchmark


def measure_or_cost(device: str, batch: int, rounds: int) -> dict:
    torch.manual_seed(0)
    encoder, _ = BACKBONES.get("resnet18")(stem="cifar", width=64)
    encoder = encoder.to(device).train()
    x = torch.randn(batch, 3, 32, 32, device=device)
    regs = {"so": OrthogonalityRegularizer(kind="so", gamma=1e-6), "srip": OrthogonalityRegularizer(kind="srip", gamma=1e-3)}

    def penalty(reg: OrthogonalityRegularizer):
        def call() -> None:
            encoder.zero_grad(set_to_none=True)
            pen, _ = reg.penalty(encoder)
            pen.backward()

        return call

    def step() -> None:
        encoder.zero_grad(set_to_none=True)
        encoder(x).square().mean().backward()

    arms = {"so": penalty(regs["so"]), "srip": penalty(regs["srip"]), f"backbone_fwd_bwd_b{batch}": step}
    times = interleave(arms, rounds=rounds, warmup_rounds=1, device=device)
    stats = {k: summarize_times(v).to_dict() for k, v in times.items()}
    step_med = stats[f"backbone_fwd_bwd_b{batch}"]["median"]
    paper_images = 2 * 256
    out = {
        "backbone": "resnet18 (CIFAR stem, width 64)",
        "n_weights": len(regs["so"].weights(encoder)),
        "n_params": sum(p.numel() for p in encoder.parameters()),
        "batch": batch,
        "time_s": stats,
        "raw_times_s": times,
        "penalty_over_step": {k: stats[k]["median"] / step_med for k in regs},
        "penalty_over_paper_step_extrapolated": {
            k: stats[k]["median"] / (step_med * paper_images / batch) for k in regs},
        "extrapolation": f"paper step (2 views × 256 images) ≈ step(B={batch}) × {paper_images}/{batch}",
    }
    return out


def test_so_and_srip_cost_on_cifar_resnet18(bench_device: str, perf, benchmark) -> None:
    header = perf.start()
    batch = int(os.environ.get("BENCH_OR_BATCH", 256 if bench_device.startswith("cuda") else 16))
    res = benchmark.pedantic(measure_or_cost, args=(bench_device, batch, 3), rounds=1, iterations=1)
    benchmark.extra_info.update(res["penalty_over_step"])
    targets = [target(f"{k.upper()} penalty cost (informative, no target in the issue)",
                      "penalty forward+backward relative to a paper-batch training step",
                      {"penalty_ms": round(res["time_s"][k]["median"] * 1e3, 1),
                       f"over_step_b{batch}": round(res["penalty_over_step"][k], 4),
                       "over_paper_step_extrapolated": round(res["penalty_over_paper_step_extrapolated"][k], 4)},
                      None) for k in ("so", "srip")]
    perf.write("orthogonality_cost", header, res, targets, notes=[__doc__.strip().splitlines()[0]])
    # every Conv2d of the CIFAR ResNet-18 is penalised: stem + 16 block convs + 3 shortcut 1×1 convs
    assert res["n_weights"] == 20
    assert all(s["n"] == 3 for s in res["time_s"].values())
