"""Extract frozen-backbone features once, for every probe.

The backbone runs in ``eval()`` mode under ``torch.no_grad()``: BatchNorm uses its running statistics and is not
updated. Probing with BN in train mode silently changed Lightly's numbers (lightly-ai/lightly#1440, fixed in PR
#1444); SFRIK's ``evaluate.py --weights freeze`` (valeoai/sfrik) likewise keeps the frozen backbone in
``eval()``. Every submodule's train/eval flag and the backbone's device are restored
afterwards, so a pretraining loop can call this mid-training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from benchmark.errors import DataError

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn


class _Transformed:
    """``(image, label)`` items of ``dataset`` with ``transform`` applied to the image (a map-style dataset)."""

    def __init__(self, dataset: Any, transform: Callable[[Any], Tensor]) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        item = self.dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise DataError(
                f"dataset item {index} is a {type(item).__name__}, expected (image, label)",
                hint="feature extraction needs a dataset yielding (PIL image, int label) pairs",
            )
        image, label = item[0], item[1]
        return self.transform(image), int(label)


def _device_of(module: nn.Module) -> torch.device | None:
    for tensor in [*module.parameters(), *module.buffers()]:
        return tensor.device
    return None


def extract_features(
    backbone: nn.Module,
    dataset: Any,
    *,
    transform: Callable[[Any], Tensor],
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Features and labels of every item of ``dataset``, in dataset order.

    Args:
        backbone: Maps a (B, 3, H, W) batch to (B, D) or (B, D, 1, 1, ...) features. Put in ``eval()`` for the
            extraction; the previous mode of each submodule is restored afterwards (also on error).
        dataset: Indexable; items are ``(PIL image, label)``.
        transform: Deterministic probe transform, PIL image → (3, H, W) tensor (no augmentation).
        batch_size: Images per forward pass.
        device: Where the forward passes run; the backbone is moved there and back.
        num_workers: DataLoader workers for decoding/transforming.
        progress: Show a tqdm bar.

    Returns:
        ``(features, labels)``: (N, D) float32 and (N,) int64, both on the CPU.

    Raises:
        DataError: empty dataset or malformed items.
    """
    import torch

    with torch.no_grad():
        return _extract(backbone, dataset, transform, batch_size, device, num_workers, progress)


def _extract(
    backbone: nn.Module,
    dataset: Any,
    transform: Callable[[Any], Tensor],
    batch_size: int,
    device: str | torch.device,
    num_workers: int,
    progress: bool,
) -> tuple[Tensor, Tensor]:
    import torch
    from torch import Tensor
    from torch.utils.data import DataLoader

    if len(dataset) == 0:
        raise DataError("cannot extract features from an empty dataset", hint="check the dataset split")
    device = torch.device(device)
    modes = {module: module.training for module in backbone.modules()}
    original_device = _device_of(backbone)
    loader = DataLoader(
        _Transformed(dataset, transform), batch_size=batch_size, shuffle=False, num_workers=num_workers, drop_last=False
    )
    feats: list[Tensor] = []
    labels: list[Tensor] = []
    try:
        if original_device is not None and original_device != device:
            backbone.to(device)
        backbone.eval()
        for images, targets in tqdm(loader, desc="features", disable=not progress, leave=False):
            out = backbone(images.to(device, non_blocking=True))
            if not isinstance(out, Tensor):
                raise TypeError(f"the backbone must return a tensor of features, got {type(out).__name__}")
            feats.append(out.flatten(1).float().cpu())
            labels.append(torch.as_tensor(targets, dtype=torch.long))
    finally:
        if original_device is not None and original_device != device:
            backbone.to(original_device)
        for module, was_training in modes.items():
            module.train(was_training)
    return torch.cat(feats), torch.cat(labels)
