"""Runner overhead: bench's training step against a minimal hand-written Lightly loop, same model, batch and device.

*bench* = ``benchmark.run.pretrain`` itself (``PretrainModule`` under the ``pl.Trainer`` it builds, its loader,
checkpoint and measurement callbacks) on a one-experiment suite with ``measure: {enabled: true}``; the per-step times
come from :class:`benchmark.measure.MeasureCallback`. *hand* = the loop of Lightly's examples, written out: a
shuffled ``DataLoader`` over the same augmented dataset, ``projection_head(backbone(x))`` for the two views,
``NTXentLoss``, ``loss.backward()``, ``optimizer.step()``, ``optimizer.zero_grad()``, with the *same* backbone,
projection head and criterion modules built by the runner's builders from the same config and seed, and SGD with
the same learning rate, momentum and weight decay. The runner defaults to ``pretrain.deterministic: true``
(Lightning ``deterministic="warn"`` → ``torch.use_deterministic_algorithms``), which a plain loop does not set, so both
are run with and without it: four arms per round. Timed identically: *step* = forward → optimizer step with the
batch already on the device; *iteration* = one step start to the next (adds the data wait); each in wall time and
in process CPU time (``time.process_time``; with one intra-op thread it does not count time spent waiting for a
core, so it is the load-robust comparison on a shared machine). The arms run
interleaved in ONE process, five rounds with the order rotated each round; the reported ratio is the median over
rounds of the per-round ratio of the two arms' median step times (the arms of a round run minutes apart at most,
so slow drifts of the machine cancel), with the per-round ratios and the ratio of the overall medians beside it.

Configurations: ``smoke`` (tiny ConvNet width 32, batch 128, the ``cifar10_subset`` smoke profile) and ``small_step``
(tiny width 8, batch 32: a short step that exposes any fixed per-step overhead); on CUDA also ``r18`` (CIFAR
ResNet-18, batch 512; SimCLR R18 CIFAR-10 epoch time = 50,000 / images per second, next to Lightly's recipe).
Data: the full CIFAR-10 when ``BENCH_CIFAR10_ROOT`` names its folder, else the CIFAR-10 subset in ``../shared``, else
scikit-learn's digits; ``BENCH_NUM_WORKERS`` loader workers for both arms (default 0 on CPU, 8 on CUDA).
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmark.measure.timing import summarize_times, synchronize
from tests.benchmarks.conftest import SHARED, target

pytestmark = pytest.mark.benchmark

CONFIGS = {
    "smoke": {"backbone": "tiny", "width": 32, "batch": 128, "warmup": 2, "steps": 8, "cuda_only": False,
              "attribution": False},
    "small_step": {"backbone": "tiny", "width": 8, "batch": 32, "warmup": 3, "steps": 15, "cuda_only": False,
                   "attribution": True},
    "r18": {"backbone": "resnet18", "width": 64, "batch": 512, "warmup": 10, "steps": 40, "cuda_only": True,
            "attribution": True},
}
#: Lightly's CIFAR-10 benchmark, SimCLR, RTX A6000: 87.1 min for 200 epochs at batch 512
#: (https://docs.lightly.ai/self-supervised-learning/getting_started/benchmarks.html).
LIGHTLY_SIMCLR_S_PER_EPOCH_BS512 = 87.1 * 60 / 200
#: bench = the runner (``pretrain.deterministic`` true: its default, or false); hand = Lightly's loop without or with
#: ``torch.use_deterministic_algorithms(True)``. Every round runs the four arms, in an order rotated per round.
ARMS = ["bench_det", "hand", "bench", "hand_det"]
ROUNDS = 5
#: Attribution arms (configurations with ``attribution``): a minimal LightningModule (forward + loss only) under the
#: same Trainer settings as the runner, and the runner with ``PretrainModule.log`` replaced by a no-op.
ATTRIBUTION_ARMS = ["lightning_minimal", "bench_nolog"]
ATTRIBUTION = {
    "Lightning alone: minimal LightningModule vs hand loop": ("lightning_minimal", "hand"),
    "PretrainModule.log: runner vs runner without self.log": ("bench", "bench_nolog"),
}
COMPARISONS = {
    "runner machinery (same settings, non-deterministic)": ("bench", "hand"),
    "runner machinery (same settings, deterministic)": ("bench_det", "hand_det"),
    "runner default (deterministic) vs plain Lightly loop": ("bench_det", "hand"),
    "cost of deterministic mode in the hand loop": ("hand_det", "hand"),
}


def _suite(cfg: dict[str, Any], data: str, deterministic: bool) -> str:
    return textwrap.dedent(f"""\
        suite: overhead
        defaults:
          data: {data}
          backbone: {{name: {cfg['backbone']}, stem: cifar, width: {cfg['width']}}}
          augment: {{params: {{gaussian_blur: 0.0}}}}
          pretrain:
            epochs: 1000
            max_steps: {cfg['warmup'] + 1 + cfg['steps'] + 1}
            batch_size_per_device: {cfg['batch']}
            precision: "32"
            deterministic: {str(deterministic).lower()}
            optimizer: {{name: sgd, lr: 0.06, lr_scaling: linear, base_batch_size: 128, weight_decay: 5.0e-4, momentum: 0.9}}
            schedule: {{name: cosine}}
            checkpoint_every_n_steps: 100000
          eval: {{probes: [{{name: knn, k: 5}}]}}
          measure: {{enabled: true, warmup_steps: {cfg['warmup']}, steps: {cfg['steps']}, loss_only: false}}
        experiments:
          - id: simclr
            method: {{name: simclr, proj_hidden_dim: 512, proj_output_dim: 128, temperature: 0.5}}
        """)


def _runs_and_splits(tmp: Path, cfg: dict[str, Any], device: str) -> tuple[dict[bool, Any], Any, np.ndarray, Any]:
    """The one-experiment run with ``pretrain.deterministic`` true (the default) and false, and its data."""
    from benchmark.run import RunOptions, load_splits, subset_indices
    from benchmark.suite.loader import load_suite
    from benchmark.suite.plan import make_plan

    workers = int(os.environ.get("BENCH_NUM_WORKERS", 8 if device.startswith("cuda") else 0))
    npz = SHARED / "datasets" / "cifar10_subset.npz"
    if os.environ.get("BENCH_CIFAR10_ROOT"):  # the full CIFAR-10 (torchvision layout) under this folder
        data = f"{{dataset: cifar10, input_size: 32, normalize: cifar10, num_workers: {workers}}}"
        root = Path(os.environ["BENCH_CIFAR10_ROOT"])
    elif npz.exists():
        data = (f"{{dataset: npz, params: {{path: cifar10_subset.npz}}, input_size: 32, normalize: cifar10, "
                f"num_workers: {workers}}}")
        root = npz.parent
    else:  # scikit-learn's bundled digits, upsampled to 32 px (no download)
        data = f"{{dataset: digits, params: {{size: 32}}, input_size: 32, normalize: none, num_workers: {workers}}}"
        root = tmp
    runs = {}
    for det in (True, False):
        path = tmp / f"overhead_det{int(det)}.yaml"
        path.write_text(_suite(cfg, data, det))
        runs[det] = make_plan(load_suite(path), None).runs[0]
    opts = RunOptions(data_root=root, results_dir=tmp, device=device, progress=False)
    splits = load_splits(runs[True].config, opts)
    train_idx = subset_indices(np.asarray(splits.train_labels), runs[True].config.data.train_subset)
    return runs, splits, train_idx, opts


def bench_arm(run: Any, splits: Any, train_idx: np.ndarray, opts: Any, run_dir: Path,
              log: bool = True) -> dict[str, Any]:
    """``benchmark.run.pretrain`` as is (``log=False``: with ``PretrainModule.log`` a no-op, for attribution)."""
    from benchmark.run import pretrain
    from benchmark.train.module import PretrainModule

    if log:
        _, summary = pretrain(run, splits, train_idx, run_dir, opts)
    else:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(PretrainModule, "log", lambda self, *a, **k: None)
            _, summary = pretrain(run, splits, train_idx, run_dir, opts)
    m = summary["measure"]
    assert m["status"] == "ok", m
    return {"step": m["step"]["time_s"], "iteration": m["iteration"]["time_s"], "step_cpu": m["step"]["cpu_time_s"],
            "iteration_cpu": m["iteration"]["cpu_time_s"], "images": m["images_per_step"]}


def hand_arm(run: Any, splits: Any, train_idx: np.ndarray, device: str, warmup: int, steps: int,
             deterministic: bool = False) -> dict[str, Any]:
    """Lightly's example loop around the runner-built modules; returns raw step and iteration times.

    ``deterministic`` sets ``torch.use_deterministic_algorithms`` as Lightning's ``Trainer(deterministic="warn")``
    does for the runner (PyTorch then also fills uninitialised memory and picks deterministic kernels).
    """
    from benchmark.train.optim import scaled_lr

    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    method, cfg = _modules(run, device)
    pcfg = cfg.pretrain
    model = torch.nn.Sequential(method.backbone, method.projection_head).to(device).train()
    criterion = method.criterion
    loader = _plain_loader(run, splits, train_idx, device)
    opt = pcfg.optimizer
    optimizer = torch.optim.SGD(model.parameters(), lr=scaled_lr(opt, pcfg.global_batch_size), momentum=opt.momentum,
                                weight_decay=opt.weight_decay)
    first, last = warmup + 1, warmup + 1 + steps  # same warm-up as bench (+1 = its memory-profiled step on CPU)
    starts: list[float] = []
    cpu_starts: list[float] = []
    step_times: list[float] = []
    step_cpu: list[float] = []
    batches = (b for _ in range(1000) for b in loader)  # as many epochs as the steps need
    for i, (views, _) in enumerate(batches):
        synchronize(device)
        if first <= i <= last:
            starts.append(time.perf_counter())
            cpu_starts.append(time.process_time())
        if i == last:
            break
        x0, x1 = views[0].to(device, non_blocking=True), views[1].to(device, non_blocking=True)
        synchronize(device)
        c0 = time.process_time()
        t0 = time.perf_counter()
        z0, z1 = model(x0), model(x1)
        loss = criterion(z0, z1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        synchronize(device)
        if first <= i < last:
            step_times.append(time.perf_counter() - t0)
            step_cpu.append(time.process_time() - c0)
    return {"step_raw": step_times, "iteration_raw": list(np.diff(starts)), "step_cpu_raw": step_cpu,
            "iteration_cpu_raw": list(np.diff(cpu_starts))}


def _modules(run: Any, device: str) -> tuple[Any, Any]:
    """The runner-built SimCLR modules for ``run`` (same builders and seed as ``pretrain``) and the plain loader."""
    import pytorch_lightning as pl

    from benchmark.methods import MethodContext, build_method
    from benchmark.run import build_backbone

    cfg = run.config
    pcfg = cfg.pretrain
    pl.seed_everything(run.seed, workers=True, verbose=False)
    backbone, dim = build_backbone(cfg, run.seed)
    ctx = MethodContext(max_steps=pcfg.max_steps, global_batch_size=pcfg.global_batch_size, gather_distributed=False,
                        input_size=cfg.data.input_size)
    return build_method(cfg.method.name, backbone=backbone, feature_dim=dim, params=cfg.method.extras(), ctx=ctx), cfg


def _plain_loader(run: Any, splits: Any, train_idx: np.ndarray, device: str) -> Any:
    from benchmark.data.transforms import build_train_transform
    from benchmark.run.data import TransformedViews
    from benchmark.run.pretrain import augment_preset

    cfg = run.config
    transform = build_train_transform(augment_preset(cfg), cfg.data, cfg.augment.params)
    return torch.utils.data.DataLoader(
        TransformedViews(splits.train, train_idx, transform), batch_size=cfg.pretrain.batch_size_per_device, shuffle=True,
        drop_last=True, num_workers=cfg.data.num_workers, persistent_workers=cfg.data.num_workers > 0,
        pin_memory=device.startswith("cuda"), generator=torch.Generator().manual_seed(run.seed))


def lightning_minimal_arm(run: Any, splits: Any, train_idx: np.ndarray, device: str, warmup: int,
                          steps: int) -> dict[str, Any]:
    """A LightningModule with only forward + loss + SGD under the runner's Trainer settings (non-deterministic)."""
    import pytorch_lightning as pl

    from benchmark.measure import MeasureCallback
    from benchmark.train.optim import scaled_lr

    method, cfg = _modules(run, device)
    opt = cfg.pretrain.optimizer
    lr = scaled_lr(opt, cfg.pretrain.global_batch_size)

    class Minimal(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = torch.nn.Sequential(method.backbone, method.projection_head)
            self.criterion = method.criterion

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            views = batch[0]
            return self.criterion(self.model(views[0]), self.model(views[1]))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=lr, momentum=opt.momentum, weight_decay=opt.weight_decay)

    cb = MeasureCallback(warmup_steps=warmup, steps=steps, loss_only=False)
    trainer = pl.Trainer(accelerator="gpu" if device.startswith("cuda") else "cpu", devices=1,
                         max_steps=warmup + 1 + steps + 1, max_epochs=1000, precision=cfg.pretrain.precision,
                         deterministic=False, callbacks=[cb], logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0)
    trainer.fit(Minimal(), train_dataloaders=_plain_loader(run, splits, train_idx, device))
    m = cb.summary()
    return {"step": m["step"]["time_s"], "iteration": m["iteration"]["time_s"], "step_cpu": m["step"]["cpu_time_s"],
            "iteration_cpu": m["iteration"]["cpu_time_s"]}


def _stats(rounds: list[dict[str, Any]], what: str) -> list[float]:
    """Per-round medians: bench rounds carry MeasureCallback statistics, hand rounds raw times."""
    return [r[what]["median"] if what in r else summarize_times(r[f"{what}_raw"]).median for r in rounds]


def measure_overhead(name: str, device: str, tmp: Path) -> dict[str, Any]:
    cfg = CONFIGS[name]
    runs, splits, train_idx, opts = _runs_and_splits(tmp, cfg, device)
    all_arms = ARMS + (ATTRIBUTION_ARMS if cfg["attribution"] else [])
    rounds: dict[str, list[dict[str, Any]]] = {arm: [] for arm in all_arms}
    order: list[str] = []
    for r in range(ROUNDS):
        arms = all_arms[r % len(all_arms):] + all_arms[: r % len(all_arms)]  # rotate the order every round
        for arm in arms:
            det = arm.endswith("_det")
            if arm == "lightning_minimal":
                res = lightning_minimal_arm(runs[False], splits, train_idx, device, cfg["warmup"], cfg["steps"])
            elif arm == "bench_nolog":
                res = bench_arm(runs[False], splits, train_idx, opts, tmp / f"{arm}{r}", log=False)
            elif arm.startswith("bench"):
                res = bench_arm(runs[det], splits, train_idx, opts, tmp / f"{arm}{r}")
            else:
                res = hand_arm(runs[det], splits, train_idx, device, cfg["warmup"], cfg["steps"], deterministic=det)
            torch.use_deterministic_algorithms(False)  # Lightning leaves it set after fit
            rounds[arm].append(res)
            order.append(arm)
    out: dict[str, Any] = {"config": cfg, "device": device, "images_per_step": cfg["batch"], "order": order,
                           "rounds": rounds, "comparisons": {}}
    for what in ("step", "iteration", "step_cpu", "iteration_cpu"):
        med = {arm: float(np.median(_stats(rs, what))) for arm, rs in rounds.items()}
        out[what] = {"median_s": med, "per_round_medians_s": {arm: _stats(rs, what) for arm, rs in rounds.items()}}
        per_round = {arm: _stats(rs, what) for arm, rs in rounds.items()}
        for label, (a, b) in {**COMPARISONS, **(ATTRIBUTION if cfg["attribution"] else {})}.items():
            paired = [x / y for x, y in zip(per_round[a], per_round[b], strict=True)]
            out["comparisons"].setdefault(label, {})[what] = float(np.median(paired))
            out["comparisons"][label][f"{what}_ratio_of_medians"] = med[a] / med[b]
            out["comparisons"][label][f"{what}_per_round"] = paired
    if name == "r18":
        it = out["iteration"]["median_s"]
        out["cifar10_epoch_s"] = {arm: 50_000 / cfg["batch"] * t for arm, t in it.items()}
        out["cifar10_epoch_s"]["lightly_recipe_a6000_bs512"] = LIGHTLY_SIMCLR_S_PER_EPOCH_BS512
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_runner_overhead_vs_hand_written_lightly_loop(name: str, bench_device: str, perf, benchmark, tmp_path) -> None:
    if CONFIGS[name]["cuda_only"] and not bench_device.startswith("cuda"):
        pytest.skip(f"configuration '{name}' (CIFAR ResNet-18, batch {CONFIGS[name]['batch']}) runs on CUDA only")
    header = perf.start()
    res = benchmark.pedantic(measure_overhead, args=(name, bench_device, tmp_path), rounds=1, iterations=1)
    comp = res["comparisons"]
    benchmark.extra_info.update({f"{k} [{w}]": v for k, d in comp.items() for w, v in d.items()
                                 if isinstance(v, float)})
    targets = [target(f"runner overhead ≤ 1.03× — {label} ({what}, {name})", "median per-round ratio ≤ 1.03",
                      {"ratio": round(comp[label][what], 3),
                       "per_round": [round(x, 3) for x in comp[label][f"{what}_per_round"]]},
                      comp[label][what] <= 1.03,
                      "process CPU time (load-robust)" if what.endswith("cpu") else "wall time")
               for label in list(COMPARISONS)[:3] for what in ("step", "step_cpu", "iteration", "iteration_cpu")]
    targets.append(target(f"cost of deterministic mode (informative, {name})", "hand_det / hand, CPU time",
                          round(comp["cost of deterministic mode in the hand loop"]["step_cpu"], 3), None))
    targets += [target(f"attribution (informative, {name}): {label}", "step CPU-time ratio",
                       round(comp[label]["step_cpu"], 3), None) for label in ATTRIBUTION if label in comp]
    perf.write(f"runner_overhead_{name}", header, res, targets, notes=[__doc__.strip().splitlines()[0]])
    assert all(len(rs) == ROUNDS for rs in res["rounds"].values())
