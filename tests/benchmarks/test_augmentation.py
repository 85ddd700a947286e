"""Two-view augmentation throughput against backbone training throughput (target: augmentation ≥ 1.5× training).

Augmentation = the suite's presets (Lightly ``SimCLRTransform``, ``BYOLTransform``; 32 px, blur off as in Lightly's
CIFAR-10 benchmark, CIFAR-10 normalisation) applied to real CIFAR-10 PIL images in **one** process (one DataLoader
worker's throughput, images/s; each image yields two views). Training = one full SimCLR step of the runner's method
(two views forward, NT-Xent, backward, SGD step) with the paper backbone (CIFAR ResNet-18, width 64) and with the
``cifar10_subset`` smoke backbone (tiny ConvNet, width 32), images/s = batch / step time. Also the batched
per-sample variant (:mod:`benchmark.data.batched_augment`, same recipes on a uint8 (B, 3, 32, 32) tensor on the
device; on CPU with the session's thread count). All arms interleaved.
With ``num_workers = W`` the augmentation throughput scales up to W× (separate processes), training does not.
"""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

from benchmark.data.batched_augment import byol_views, simclr_views
from benchmark.data.transforms import build_train_transform
from benchmark.measure.timing import interleave, summarize_times
from benchmark.methods import MethodContext, build_method
from benchmark.models import BACKBONES
from benchmark.suite.schema import DataConfig
from tests.benchmarks.conftest import target

pytestmark = pytest.mark.benchmark

CHUNK = 128  # images per augmentation call


def _train_arm(device: str, backbone: str, width: int, batch: int):
    torch.manual_seed(0)
    enc, dim = BACKBONES.get(backbone)(stem="cifar", width=width)
    ctx = MethodContext(max_steps=10, global_batch_size=batch, gather_distributed=False, input_size=32)
    method = build_method("simclr", backbone=enc, feature_dim=dim,
                          params={"proj_hidden_dim": 512, "proj_output_dim": 128, "temperature": 0.5}, ctx=ctx).to(device)
    opt = torch.optim.SGD(method.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)
    views = [torch.randn(batch, 3, 32, 32, device=device) for _ in range(2)]

    def step() -> None:
        loss = method.training_step(views, step=0).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def measure_augmentation(images, device: str, rounds: int, train_batches: dict[str, int]) -> dict:
    data = DataConfig(dataset="cifar10", input_size=32, normalize="cifar10")
    pil = [Image.fromarray(a) for a in images[:CHUNK]]
    arms = {}
    for preset, params in {"simclr": {"gaussian_blur": 0.0},
                           "byol": {"view1": {"gaussian_blur": 0.0}, "view2": {"gaussian_blur": 0.0}}}.items():
        tf = build_train_transform(preset, data, params)
        arms[f"augment_{preset}_2views"] = (lambda tf=tf: [tf(im) for im in pil])
    batch = torch.from_numpy(images[:CHUNK]).permute(0, 3, 1, 2).contiguous().to(device)  # uint8 (B, 3, H, W)
    norm = {"mean": list(data.normalize_stats()[0]), "std": list(data.normalize_stats()[1])}
    gen = torch.Generator(device=device).manual_seed(0)
    for preset, aug in {"simclr": simclr_views(32, normalize=norm, gaussian_blur=0.0),
                        "byol": byol_views(32, normalize=norm, view1={"gaussian_blur": 0.0},
                                           view2={"gaussian_blur": 0.0})}.items():
        aug = aug.to(device)
        arms[f"augment_batched_{preset}_2views"] = (lambda aug=aug: aug(batch, gen))
    arms["train_resnet18_w64"] = _train_arm(device, "resnet18", 64, train_batches["resnet18_w64"])
    arms["train_tiny_w32"] = _train_arm(device, "tiny", 32, train_batches["tiny_w32"])
    times = interleave(arms, rounds=rounds, warmup_rounds=1, device=device)
    stats = {k: summarize_times(v).to_dict() for k, v in times.items()}
    items = {k: CHUNK for k in arms if k.startswith("augment")}
    items["train_resnet18_w64"] = train_batches["resnet18_w64"]
    items["train_tiny_w32"] = train_batches["tiny_w32"]
    thr = {k: items[k] / stats[k]["median"] for k in stats}
    ratios = {f"{a}/{t}": thr[a] / thr[t] for a in thr if a.startswith("augment") for t in thr if t.startswith("train")}
    batched = {p: thr[f"augment_batched_{p}_2views"] / thr[f"augment_{p}_2views"] for p in ("simclr", "byol")}
    return {"images_per_call": items, "time_s": stats, "images_per_s": thr, "augment_over_train": ratios,
            "batched_over_per_image": batched,
            "raw_times_s": times, "augment_workers": 1, "torch_threads": torch.get_num_threads()}


def test_two_view_augmentation_vs_training_throughput(cifar_images, bench_device: str, perf, benchmark) -> None:
    header = perf.start()
    gpu = bench_device.startswith("cuda")
    batches = {"resnet18_w64": int(os.environ.get("BENCH_AUG_R18_BATCH", 256 if gpu else 16)),
               "tiny_w32": 256 if gpu else 128}
    res = benchmark.pedantic(measure_augmentation, args=(cifar_images[0], bench_device, 3, batches), rounds=1,
                             iterations=1)
    benchmark.extra_info.update(res["augment_over_train"])
    targets = [target(f"two-view augmentation ≥ 1.5× training throughput ({k})", "ratio ≥ 1.5 with one worker",
                      round(v, 2), v >= 1.5) for k, v in res["augment_over_train"].items()]
    targets += [target(f"batched per-sample augmentation vs per-image Lightly pipeline ({k})",
                       "informative: speed-up of the batched tensor variant on this device", round(v, 2), None)
                for k, v in res["batched_over_per_image"].items()]
    perf.write("augmentation", header, res, targets, notes=[__doc__.strip().splitlines()[0]])
    assert all(v > 0 for v in res["images_per_s"].values())
