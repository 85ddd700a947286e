"""Cost of the K-class batch sampler (Assran et al., ICLR 2023) against standard shuffling.

One epoch = plan the epoch (``sampler.plan(epoch)``, a fresh epoch every round so the plan cache never hits) and
turn every batch into the list of indices the DataLoader receives. Shapes: ImageNet-1k (1000 classes × 1300 images,
B = 4096, the paper's K = 8 and K = 960) and CIFAR-10 (10 × 5000, B = 256, K = 2). Controls in the same rounds:
the suite's ``RandomBatchSampler`` and torch's ``BatchSampler(RandomSampler)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.data.samplers import KClassBatchSampler, RandomBatchSampler
from benchmark.measure.timing import interleave, summarize_times
from tests.benchmarks.conftest import target

pytestmark = pytest.mark.benchmark

SHAPES = {
    "imagenet1k": {"classes": 1000, "per_class": 1300, "batch": 4096, "ks": [8, 960]},
    "cifar10": {"classes": 10, "per_class": 5000, "batch": 256, "ks": [2]},
}


def _epoch_arm(sampler):
    """One call = a fresh epoch (the plan cache never hits): plan it and list every batch, as the DataLoader does."""
    state = {"epoch": 0}

    def call() -> int:
        state["epoch"] += 1
        sampler.set_epoch(state["epoch"])
        return sum(1 for _ in sampler)

    return call


def measure_samplers(rounds: int) -> dict:
    out: dict = {}
    for shape, s in SHAPES.items():
        labels = np.repeat(np.arange(s["classes"]), s["per_class"])
        np.random.default_rng(0).shuffle(labels)
        samplers = {f"kclass_k{k}_{split}": KClassBatchSampler(labels, batch_size=s["batch"], k=k, seed=0, split=split)
                    for k in s["ks"] for split in ("auto", "even")}
        samplers["random (suite)"] = RandomBatchSampler(len(labels), batch_size=s["batch"], seed=0)
        arms = {name: _epoch_arm(smp) for name, smp in samplers.items()}
        gen = torch.Generator().manual_seed(0)
        torch_sampler = torch.utils.data.BatchSampler(torch.utils.data.RandomSampler(range(len(labels)), generator=gen),
                                                      batch_size=s["batch"], drop_last=True)
        arms["random (torch BatchSampler)"] = lambda ts=torch_sampler: sum(1 for _ in ts)
        times = interleave(arms, rounds=rounds, warmup_rounds=1)
        n_batches = {name: len(smp.plan()) for name, smp in samplers.items()}
        n_batches["random (torch BatchSampler)"] = len(torch_sampler)
        stats = {k: summarize_times(v).to_dict() for k, v in times.items()}
        out[shape] = {
            "n_images": int(labels.size), "batch": s["batch"], "time_s_per_epoch": stats,
            "batches_per_epoch": n_batches,
            "us_per_batch": {k: stats[k]["median"] / max(n_batches[k], 1) * 1e6 for k in stats},
            "over_torch_random": {k: stats[k]["median"] / stats["random (torch BatchSampler)"]["median"] for k in stats},
            "dropped_last_epoch": {name: smp.dropped_last_epoch for name, smp in samplers.items()},
        }
    return out


def test_k_class_sampler_cost(perf, benchmark) -> None:
    header = perf.start()
    res = benchmark.pedantic(measure_samplers, args=(3,), rounds=1, iterations=1)
    worst = max(v for shape in res.values() for k, v in shape["us_per_batch"].items() if k.startswith("kclass"))
    benchmark.extra_info["kclass_worst_us_per_batch"] = worst
    targets = [target("K-class sampler cost (informative; the issue sets no number)",
                      "planning one epoch happens once, at the epoch start; compare with the epoch's training time",
                      {"worst_ms_per_batch": round(worst / 1e3, 3),
                       "worst_s_per_epoch": round(max(v["median"] for shape in res.values()
                                                      for k, v in shape["time_s_per_epoch"].items()
                                                      if k.startswith("kclass")), 3)}, None)]
    perf.write("sampler", header, res, targets, notes=[__doc__.strip().splitlines()[0]])
    assert res["imagenet1k"]["batches_per_epoch"]["kclass_k8_auto"] > 0
