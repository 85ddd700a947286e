"""Real DDP on CPU (2 processes, gloo): gathered losses equal the single-process loss on the same global batch.

What DDP optimises is the mean of the per-rank losses, and what it applies is the mean of the per-rank gradients.
For every loss that needs global statistics -- SFRIK's MMD, VICReg's variance/covariance, MSN/PMSN's mean prediction
p̄ (and Sinkhorn), SimCLR's NT-Xent negatives -- one harness checks, in float64:

* ``mean_r loss_r == loss(global batch)``;
* ``grad_r(x_r) / W == d loss(global batch) / d x_r`` for each rank's local inputs (the autograd-aware gather sums
  the gradients of every rank's loss into the rank that owns the rows; DDP then divides by W);
* ``Σ_r grad_r(P) / W == d loss(global batch) / d P`` for shared parameters (MSN prototypes).

And through ``DistributedDataParallel`` itself, the MSN method's prototypes get the **sum** of the per-rank
gradients (official ``AllReduceSum``) while every other parameter gets their mean.

Plus: the runner's K-class loader gives each rank a disjoint slice of one global K-class batch, and a 2-process
Lightning DDP ``bench run`` completes (ranks forked by the runner, gloo, no distributed sampler).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from lightly.loss import NTXentLoss
from torch import Tensor, nn

from benchmark.losses import MoCoV3Loss, MSNLoss, PMSNLoss, SFRIKLoss, VICRegLoss

from .conftest import SUITE, bench

WORLD = 2
N = 8  # global batch; 4 rows per rank


def _rows(x: Tensor, rank: int, views: int = 1) -> Tensor:
    """Rank ``rank``'s rows of a view-major (views·N, d) tensor."""
    n, half = x.shape[0] // views, x.shape[0] // views // WORLD
    return torch.cat([x[v * n + rank * half : v * n + (rank + 1) * half] for v in range(views)])


def _inputs() -> dict[str, np.ndarray]:
    g = np.random.default_rng(7)
    return {
        "za": g.normal(size=(N, 6)), "zb": g.normal(size=(N, 6)),        # SFRIK, VICReg, NT-Xent
        "anchors": g.normal(size=(2 * N, 5)), "targets": g.normal(size=(N, 5)), "protos": g.normal(size=(7, 5)),
        "queries": g.normal(size=(N, 5)),                                  # MoCo v3 (keys = targets)
    }


# name -> (loss(gather, tensors) -> scalar, inputs sharded by rank as (name, views), shared parameters)
CASES: dict[str, tuple[Callable[[bool, dict[str, Tensor]], Tensor], list[tuple[str, int]], list[str]]] = {
    "sfrik": (lambda g, t: SFRIKLoss(sim_coeff=7.0, gather_distributed=g)(t["za"], t["zb"]), [("za", 1), ("zb", 1)], []),
    "vicreg": (lambda g, t: VICRegLoss(gather_distributed=g)(t["za"], t["zb"]), [("za", 1), ("zb", 1)], []),
    "ntxent": (lambda g, t: NTXentLoss(temperature=0.3, gather_distributed=g)(t["za"], t["zb"]), [("za", 1), ("zb", 1)], []),
    "msn": (lambda g, t: MSNLoss(gather_distributed=g)(t["anchors"], t["targets"], t["protos"]),
            [("anchors", 2), ("targets", 1)], ["protos"]),
    "pmsn": (lambda g, t: PMSNLoss(gather_distributed=g)(t["anchors"], t["targets"], t["protos"]),
             [("anchors", 2), ("targets", 1)], ["protos"]),
    # MoCo v3: queries of this rank against the keys of all ranks (keys: momentum branch, no gradient)
    "mocov3": (lambda g, t: MoCoV3Loss(temperature=0.2, gather_distributed=g)(t["queries"], t["targets"]),
               [("queries", 1), ("targets", 1)], []),
}


NO_GRAD = {"targets"}  # MSN targets come from the (momentum) target branch: no gradient, as in the method


def _evaluate(name: str, inputs: dict[str, np.ndarray], rank: int | None) -> dict[str, np.ndarray]:
    """Loss and gradients of case ``name``: on rank ``rank``'s shard (gathering), or on the global batch (None)."""
    fn, sharded, shared = CASES[name]
    tensors: dict[str, Tensor] = {}
    for key, views in sharded:
        x = torch.from_numpy(inputs[key])
        tensors[key] = (x if rank is None else _rows(x, rank, views)).clone().requires_grad_(key not in NO_GRAD)
    for key in shared:
        tensors[key] = nn.Parameter(torch.from_numpy(inputs[key]).clone())
    loss = fn(rank is not None, tensors)
    loss.backward()
    out = {"loss": loss.detach().numpy()}
    out.update({f"grad_{k}": tensors[k].grad.numpy() for k, _ in sharded if k not in NO_GRAD})
    out.update({f"grad_{k}": tensors[k].grad.numpy() for k in shared})
    return out


def _worker(rank: int, port: int, inputs: dict[str, np.ndarray], queue) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        # numpy, not tensors: torch's queue reducers share storage via fds that die with this process
        queue.put((rank, {name: _evaluate(name, inputs, rank) for name in CASES}))
        dist.destroy_process_group()
    except Exception as exc:  # noqa: BLE001 - surface it in the parent
        queue.put((rank, repr(exc)))


@pytest.fixture(scope="module")
def ddp_results():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inputs = _inputs()
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, port, inputs, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in range(WORLD))
    for p in procs:
        p.join(timeout=30)
    for r in range(WORLD):
        assert isinstance(results[r], dict), results[r]
    return inputs, results


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
@pytest.mark.parametrize("name", list(CASES))
def test_gathered_loss_and_gradients_equal_single_process(ddp_results, name):
    inputs, results = ddp_results
    ref = _evaluate(name, inputs, None)
    per_rank = [results[r][name] for r in range(WORLD)]
    np.testing.assert_allclose(np.mean([out["loss"] for out in per_rank]), ref["loss"], rtol=1e-12, atol=1e-14)
    _, sharded, shared = CASES[name]
    for key, views in sharded:
        if key in NO_GRAD:
            continue
        for r in range(WORLD):
            want = _rows(torch.from_numpy(ref[f"grad_{key}"]), r, views).numpy()
            np.testing.assert_allclose(per_rank[r][f"grad_{key}"] / WORLD, want, rtol=1e-9, atol=1e-13,
                                       err_msg=f"{name}: d loss / d {key}, rank {r}")
    for key in shared:
        np.testing.assert_allclose(sum(out[f"grad_{key}"] for out in per_rank) / WORLD, ref[f"grad_{key}"],
                                   rtol=1e-9, atol=1e-13, err_msg=f"{name}: d loss / d {key}")


def test_without_gathering_the_losses_differ(ddp_results):
    """The harness can fail: the local (ungathered) losses do not average to the global one."""
    inputs, _ = ddp_results
    for name in ("sfrik", "vicreg", "ntxent", "mocov3"):
        fn, sharded, _ = CASES[name]
        local = []
        for r in range(WORLD):
            t = {k: _rows(torch.from_numpy(inputs[k]), r, v) for k, v in sharded}
            local.append(float(fn(False, t)))
        glob = float(fn(False, {k: torch.from_numpy(inputs[k]) for k, _ in sharded}))
        assert abs(np.mean(local) - glob) > 1e-6, name


# ------------------------------------------------------------------------------------------- MSN under real DDP
def _msn_method():
    from benchmark.methods import MethodContext, build_method
    from benchmark.models import create_backbone

    torch.manual_seed(0)
    backbone, dim = create_backbone("tiny", width=4)
    ctx = MethodContext(max_steps=2, global_batch_size=N, gather_distributed=False)  # ranks independent but for DDP
    params = {"proj_hidden_dim": 16, "proj_output_dim": 8, "n_prototypes": 6}
    return build_method("msn", backbone=backbone, feature_dim=dim, params=params, ctx=ctx).double()


class _Step(nn.Module):
    """DDP wraps ``forward``: one MSN training step on the given views."""

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, *views: Tensor) -> Tensor:
        return self.method.training_step(list(views), step=0).loss


def _msn_views() -> list[Tensor]:
    g = torch.Generator().manual_seed(3)
    return [torch.randn(N, 3, 16, 16, generator=g, dtype=torch.float64) for _ in range(2)]


def _msn_ddp_worker(rank: int, port: int, queue) -> None:
    try:
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        model = nn.parallel.DistributedDataParallel(_Step(_msn_method()))
        model(*[v[rank * N // WORLD : (rank + 1) * N // WORLD] for v in _msn_views()]).backward()
        grads = {n: p.grad.numpy() for n, p in model.module.method.named_parameters() if p.grad is not None}
        queue.put((rank, grads))
        dist.destroy_process_group()
    except Exception as exc:  # noqa: BLE001 - surface it in the parent
        queue.put((rank, repr(exc)))


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_msn_prototype_gradients_are_summed_over_ranks_under_ddp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_msn_ddp_worker, args=(r, port, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in range(WORLD))
    for p in procs:
        p.join(timeout=30)
    for r in range(WORLD):
        assert isinstance(results[r], dict), results[r]
    local = []  # single-process gradients of each rank's shard
    for r in range(WORLD):
        method = _msn_method()
        _Step(method)(*[v[r * N // WORLD : (r + 1) * N // WORLD] for v in _msn_views()]).backward()
        local.append({n: p.grad.numpy() for n, p in method.named_parameters() if p.grad is not None})
    assert set(results[0]) == set(local[0]) and "prototypes.weight" in local[0]
    for name in local[0]:
        total = sum(g[name] for g in local)
        expected = total if name == "prototypes.weight" else total / WORLD
        for r in range(WORLD):
            np.testing.assert_allclose(results[r][name], expected, rtol=1e-9, atol=1e-12, err_msg=f"{name}, rank {r}")
    assert np.abs(local[0]["prototypes.weight"] - local[1]["prototypes.weight"]).max() > 1e-6  # the shards differ


# ------------------------------------------------------------------------------------------- the runner under DDP
K_CLASS_DDP = SUITE.replace("batch_size_per_device: 32", "batch_size_per_device: 16\n    devices: 2").replace(
    "train_subset: {limit: 96}", "train_subset: {limit: 96}, sampler: {kind: k_classes, k: 4}")


def test_k_class_loader_gives_each_rank_a_disjoint_slice_of_one_global_batch(tmp_path):
    from benchmark.run import RunOptions, load_splits, subset_indices, train_loader
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import make_plan

    (tmp_path / "s.yaml").write_text(K_CLASS_DDP)
    run = make_plan(load_suite(tmp_path / "s.yaml"), None, "simclr").runs[0]
    opts = RunOptions(progress=False)
    splits = load_splits(run.config, opts)
    labels = np.asarray(splits.train_labels)
    train_idx = subset_indices(labels, run.config.data.train_subset)
    dataset = list(range(len(train_idx)))  # the sampler only needs the length; items are never read here
    loaders = [train_loader(run, dataset, splits, train_idx, opts) for _ in range(WORLD)]
    for rank, loader in enumerate(loaders):
        loader.batch_sampler.rank = rank  # under DDP it is read from torch.distributed
        loader.batch_sampler.sampler.set_epoch(1)  # what Lightning calls (see lightning_fabric _set_sampler_epoch)
    per_rank = [list(loader.batch_sampler) for loader in loaders]
    global_plan = loaders[0].batch_sampler.parent.plan(1)
    assert len(per_rank[0]) == len(per_rank[1]) == len(global_plan) > 0
    for step, (b0, b1) in enumerate(zip(*per_rank, strict=True)):
        i0, i1 = [i for i, _ in b0], [i for i, _ in b1]
        assert len(i0) == len(i1) == 16 and not set(i0) & set(i1)
        assert i0 + i1 == global_plan[step].tolist()
        assert len(np.unique(labels[train_idx][i0 + i1])) == 4, "exactly K classes per global batch"
        seeds = [s for _, s in b0] + [s for _, s in b1]
        assert len(set(seeds)) == 32, "every sample of the global batch has its own augmentation seed"


def test_lightning_ddp_run_on_cpu(tmp_path):
    """`bench run` with pretrain.devices: 2 on CPU: two forked gloo ranks, K-class sharded batches, one record."""
    (tmp_path / "s.yaml").write_text(K_CLASS_DDP)
    res = tmp_path / "results"
    p = bench("run", str(tmp_path / "s.yaml"), "--results-dir", str(res), "--no-progress", "--only", "simclr",
              timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    rec = json.loads((res / "runs/simclr/seed0/result.json").read_text())
    assert rec["status"] == "ok", rec.get("failure")
    pre = rec["pretrain"]
    assert pre["distributed"] == {"world_size": 2, "launch": "fork", "sync_batchnorm": False}
    # K-class epochs hold fewer batches than len // batch (remainders): max_steps = len(epoch-0 plan) x epochs
    assert pre["steps"] == pre["max_steps"] == 3 * pre["steps_per_epoch"]
    assert len(pre["loss_history"]) == pre["steps"], "the ranks' bench state came back through the final checkpoint"
    assert Path(res / "runs/simclr/seed0/checkpoints/last.ckpt").exists()


def _diverge_in_child(rank: int) -> None:
    from benchmark.errors import RunFailure

    raise RunFailure("training loss is nan", kind="diverged", step=3)


def test_failure_in_a_forked_rank_is_recorded_with_its_kind_and_step():
    """A RunFailure raised inside a DDP rank reaches the parent as text; the runner rebuilds it."""
    from benchmark.run.trainer import spawned_failure

    with pytest.raises(mp.ProcessRaisedException) as info:
        mp.start_processes(_diverge_in_child, nprocs=1, start_method="fork")
    failure = spawned_failure(info.value)
    assert failure is not None and (failure.kind, failure.step, failure.reason) == ("diverged", 3, "training loss is nan")
    assert spawned_failure(RuntimeError("something else")) is None
