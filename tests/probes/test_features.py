"""extract_features: eval-mode BatchNorm, restored train/eval flags, shapes, order, errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.transforms import ToTensor

from benchmark.errors import DataError
from benchmark.probes.features import extract_features


def image_dataset(n: int = 10, size: int = 4, seed: int = 0) -> list[tuple[Image.Image, int]]:
    rng = np.random.default_rng(seed)
    return [(Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)), i % 3) for i in range(n)]


def bn_model(size: int = 4) -> nn.Sequential:
    """Flatten + BatchNorm1d with non-trivial running statistics: train and eval outputs differ."""
    dim = 3 * size * size
    bn = nn.BatchNorm1d(dim)
    g = torch.Generator().manual_seed(0)
    bn.running_mean.copy_(torch.rand(dim, generator=g))
    bn.running_var.copy_(torch.rand(dim, generator=g) + 0.5)
    return nn.Sequential(nn.Flatten(), bn)


def test_eval_mode_batchnorm_and_train_mode_restored() -> None:
    data = image_dataset()
    model = bn_model()
    model.train()
    running_mean = model[1].running_mean.clone()
    feats, labels = extract_features(model, data, transform=ToTensor(), batch_size=4)

    images = torch.stack([ToTensor()(img) for img, _ in data]).flatten(1)
    bn = model[1]
    expected = (images - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)  # eval-mode BN (weight 1, bias 0)
    torch.testing.assert_close(feats, expected)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(model[1].running_mean, running_mean)
    assert labels.tolist() == [lbl for _, lbl in data]
    with torch.no_grad():
        train_mode_out = copy.deepcopy(model)(torch.stack([ToTensor()(img) for img, _ in data][:4]))
    assert not torch.allclose(train_mode_out, expected[:4], atol=1e-3)  # the modes really differ on this model


def test_running_statistics_untouched_and_mixed_modes_restored() -> None:
    model = bn_model()
    model.train()
    model[0].eval()  # a submodule that was already frozen stays in eval afterwards
    stats = (model[1].running_mean.clone(), model[1].running_var.clone(), int(model[1].num_batches_tracked))
    extract_features(model, image_dataset(), transform=ToTensor(), batch_size=3)
    assert torch.equal(model[1].running_mean, stats[0]) and torch.equal(model[1].running_var, stats[1])
    assert int(model[1].num_batches_tracked) == stats[2]
    assert model.training and model[1].training and not model[0].training


def test_eval_model_stays_in_eval_and_no_grad() -> None:
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.AdaptiveAvgPool2d(1))  # (B, 5, 1, 1) output
    model.eval()
    feats, labels = extract_features(model, image_dataset(n=7), transform=ToTensor(), batch_size=2, progress=True)
    assert feats.shape == (7, 5) and feats.dtype == torch.float32 and feats.device.type == "cpu"
    assert labels.dtype == torch.int64 and labels.shape == (7,)
    assert not feats.requires_grad
    assert not model.training


def test_mode_restored_when_the_backbone_fails() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    model = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        extract_features(model, image_dataset(n=2), transform=ToTensor())
    assert model.training


def test_bad_datasets() -> None:
    with pytest.raises(DataError, match="empty"):
        extract_features(nn.Flatten(), [], transform=ToTensor())
    with pytest.raises(DataError, match=r"\(image, label\)"):
        extract_features(nn.Flatten(), [Image.new("RGB", (2, 2))], transform=ToTensor())
