"""Augmentation presets: Lightly transforms built from the suite's explicit settings.

Lightly's defaults are ImageNet settings (224 px, ImageNet normalisation, blur 0.5). Suites state ``input_size``
and ``normalize`` in ``data`` and may pass any Lightly constructor argument in ``augment.params`` (e.g.
``gaussian_blur: 0.0`` as in Lightly's CIFAR-10 benchmark). Every training transform returns a list of views.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torchvision.transforms as T

from benchmark.errors import SuiteError
from benchmark.registry import Registry, did_you_mean


@runtime_checkable
class ImageSettings(Protocol):
    """What the transforms read of a suite's ``data:`` block (:class:`benchmark.suite.schema.DataConfig` has it).

    A protocol, so the data layer does not import the suite schema above it.
    """

    input_size: int
    eval_resize: int | None

    def normalize_stats(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(mean, std) or None for no normalisation."""
        ...


ViewTransform = Callable[[Any], list[Any]]
PRESETS: Registry[Callable[..., ViewTransform]] = Registry("augmentation preset")


def _normalize_arg(data: ImageSettings) -> dict[str, list[float]] | None:
    stats = data.normalize_stats()
    return None if stats is None else {"mean": list(stats[0]), "std": list(stats[1])}


def checked_kwargs(cls: type, params: dict[str, Any], preset: str) -> dict[str, Any]:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for key in params:
        if key not in accepted:
            raise SuiteError(
                f"augment.params: unknown argument '{key}' for preset '{preset}' ({cls.__name__})"
                f"{did_you_mean(key, accepted)}",
                hint=f"accepted: {', '.join(sorted(accepted))}",
            )
    return params


def _simple(cls_name: str, size_arg: str = "input_size") -> Callable[..., ViewTransform]:
    def build(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
        import lightly.transforms as LT

        cls = getattr(LT, cls_name)
        kwargs = {size_arg: data.input_size, "normalize": _normalize_arg(data)}
        kwargs.update(checked_kwargs(cls, params, preset))
        return cls(**kwargs)

    return build


for _name, _cls in {
    "simclr": "SimCLRTransform",
    "vicreg": "VICRegTransform",
    "moco_v2": "MoCoV2Transform",
    "simsiam": "SimSiamTransform",
    "fastsiam": "FastSiamTransform",
}.items():
    PRESETS.add(_name, _simple(_cls))


@PRESETS.register("byol")
def _byol(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
    """BYOL's asymmetric views; ``view1``/``view2`` sub-dicts go to BYOLView1/2Transform, other keys to both."""
    import lightly.transforms as LT

    params = dict(params)
    v1 = dict(params.pop("view1", {}) or {})
    v2 = dict(params.pop("view2", {}) or {})
    common = {"input_size": data.input_size, "normalize": _normalize_arg(data)}
    kw1 = {**common, **checked_kwargs(LT.BYOLView1Transform, {**params, **v1}, preset)}
    kw2 = {**common, **checked_kwargs(LT.BYOLView2Transform, {**params, **v2}, preset)}
    return LT.BYOLTransform(view_1_transform=LT.BYOLView1Transform(**kw1), view_2_transform=LT.BYOLView2Transform(**kw2))


@PRESETS.register("msn")
def _msn(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
    """MSN: view 0 = target, 1 = anchor, 2.. = focal views (Lightly order)."""
    import lightly.transforms as LT

    # Lightly's MSN views always normalise: ``normalize: none`` becomes the identity mean 0 / std 1.
    normalize = _normalize_arg(data) or {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    kwargs = {"random_size": data.input_size, "focal_size": max(8, data.input_size // 2), "normalize": normalize}
    kwargs.update(checked_kwargs(LT.MSNTransform, params, preset))
    return LT.MSNTransform(**kwargs)


@PRESETS.register("mae")
def _mae(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
    """MAE: one random-resized-crop + flip view (Lightly's ``MAETransform``)."""
    import lightly.transforms as LT

    normalize = _normalize_arg(data) or {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    kwargs = {"input_size": data.input_size, "normalize": normalize}
    kwargs.update(checked_kwargs(LT.MAETransform, params, preset))
    return LT.MAETransform(**kwargs)


@PRESETS.register("dino")
def _dino(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
    import lightly.transforms as LT

    # Local crops keep DINO's 96/224 ratio to the global crop (Lightly's default 96 px assumes 224-px inputs).
    kwargs = {"global_crop_size": data.input_size, "local_crop_size": max(8, data.input_size * 96 // 224),
              "normalize": _normalize_arg(data)}
    kwargs.update(checked_kwargs(LT.DINOTransform, params, preset))
    return LT.DINOTransform(**kwargs)


@PRESETS.register("swav")
def _swav(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
    import lightly.transforms as LT

    kwargs: dict[str, Any] = {"crop_sizes": (data.input_size,), "crop_counts": (2,), "crop_min_scales": (0.14,),
                              "crop_max_scales": (1.0,), "normalize": _normalize_arg(data)}
    kwargs.update(checked_kwargs(LT.SwaVTransform, params, preset))
    return LT.SwaVTransform(**kwargs)


@PRESETS.register("obow")
def _obow(data: ImageSettings, params: dict[str, Any], preset: str) -> ViewTransform:
    """OBoW views for SFRIK's ``multi_crop: obow`` (:class:`benchmark.data.obow_transform.OBoWTransform`).

    Sizes keep the ImageNet ratios to the 224-px input (crops 160, patches 96 from a 256 pre-resize with jitter 24);
    the original view is the evaluation crop (``eval_resize`` → ``input_size``, 256 → 224 on ImageNet).
    """
    from benchmark.data.obow_transform import OBoWTransform

    size = data.input_size

    def scaled(px: int) -> int:
        return max(1, round(size * px / 224))

    kwargs: dict[str, Any] = {
        "original_resize": data.eval_resize or scaled(256),
        "original_center_crop": size,
        "image_crop_size": scaled(160),
        "img_patch_size": scaled(96),
        "img_patch_preresize": scaled(256),
        "img_patch_jitter": round(size * 24 / 224),
        "normalize": _normalize_arg(data),
    }
    kwargs.update(checked_kwargs(OBoWTransform, params, preset))
    return OBoWTransform(**kwargs)


def build_train_transform(preset: str, data: ImageSettings, params: dict[str, Any]) -> ViewTransform:
    """The multi-view training transform for ``preset`` with the suite's settings."""
    return PRESETS.get(preset)(data, dict(params), preset)


def build_eval_transform(data: ImageSettings) -> Callable[[Any], Any]:
    """Deterministic transform for probes: resize (shorter side) + centre crop to ``input_size``, normalise."""
    steps: list[Any] = [T.Resize(data.eval_resize or data.input_size), T.CenterCrop(data.input_size), T.ToTensor()]
    stats = data.normalize_stats()
    if stats is not None:
        steps.append(T.Normalize(mean=stats[0], std=stats[1]))
    return T.Compose(steps)
