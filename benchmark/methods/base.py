"""The method interface: an SSL method is heads + loss (+ momentum encoder) around a backbone.

A method is one module with one ``@METHODS.register(name)`` class. The runner builds it with the suite's
settings and trains it through :class:`benchmark.train.module.PretrainModule` (PyTorch Lightning); the method only
says how views become a loss. Hyperparameters are a pydantic ``Params`` model (unknown keys are suite errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from benchmark.registry import Registry


class MethodParams(BaseModel):
    """Base for a method's hyperparameters: keyword-only, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class MethodContext:
    """What a method needs to know about the run beyond its own hyperparameters."""

    max_steps: int
    global_batch_size: int
    gather_distributed: bool = True
    input_size: int = 32


@dataclass
class StepOutput:
    """The result of one training step's forward pass."""

    loss: Tensor
    logs: dict[str, float]
    embeddings: Tensor | None = None  # (B, q) projector outputs of view 0, for collapse checks and measurements


class SSLMethod(nn.Module):
    """Base class for methods.

    Subclasses set ``Params`` and ``default_augment`` (an augmentation preset of
    :mod:`benchmark.data.transforms`), build their heads in ``__init__`` and implement :meth:`training_step`.
    ``self.backbone`` is the online encoder: the only module the orthogonality regulariser touches.
    """

    Params: ClassVar[type[MethodParams]] = MethodParams
    default_augment: ClassVar[str] = "simclr"
    paper: ClassVar[str] = ""

    def __init__(self, *, backbone: nn.Module, feature_dim: int, params: MethodParams, ctx: MethodContext) -> None:
        super().__init__()
        self.backbone = backbone
        self.feature_dim = feature_dim
        self.params = params
        self.ctx = ctx

    @property
    def encoder(self) -> nn.Module:
        """The online encoder (regularised by OR, probed after pretraining)."""
        return self.backbone

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        """Loss for one batch of views (list of (B, 3, H, W) tensors)."""
        raise NotImplementedError

    @classmethod
    def check_views(cls, params: MethodParams, view_shapes: list[tuple[int, int]]) -> None:
        """Reject a view layout the method cannot use, before any run (called by ``bench validate``).

        ``view_shapes`` is the (H, W) of every view the augmentation preset yields, in order. Raise
        :class:`benchmark.errors.SuiteError` with a message and a hint; the default accepts any layout.
        """

    def on_step_end(self, *, step: int) -> None:
        """Called after each optimizer step (momentum updates, schedules)."""

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        """Detached inputs of the loss for the loss-only timing (default: not supported)."""
        raise NotImplementedError

    def loss_only(self, *inputs: Any) -> Tensor:
        """The loss on precomputed embeddings (for loss-level time/memory measurement)."""
        raise NotImplementedError

    def excluded_from_weight_decay(self) -> list[nn.Parameter]:
        """Extra parameters that get no weight decay (e.g. prototypes); 1-D params are handled by the trainer."""
        return []


class MomentumTargetMethod(SSLMethod):
    """A method with an EMA (momentum) target: ``backbone_momentum`` and ``projection_head_momentum`` follow the online
    ``backbone`` and ``projection_head`` after every optimizer step.

    Subclasses build ``projection_head``, then call :meth:`init_momentum_targets`; ``Params`` carry
    ``momentum_start``/``momentum_end`` (cosine schedule, Lightly's ``cosine_schedule``; override :meth:`_momentum`
    for another schedule).
    """

    def init_momentum_targets(self) -> None:
        self.backbone_momentum = momentum_copy(self.backbone)
        self.projection_head_momentum = momentum_copy(self.projection_head)

    def _momentum(self, step: int) -> float:
        p = self.params
        return cosine_momentum(step, self.ctx.max_steps, p.momentum_start, p.momentum_end)  # type: ignore[attr-defined]

    @torch.no_grad()
    def on_step_end(self, *, step: int) -> None:
        from lightly.models.utils import update_momentum

        m = self._momentum(step)
        update_momentum(self.backbone, self.backbone_momentum, m)
        update_momentum(self.projection_head, self.projection_head_momentum, m)


METHODS: Registry[type[SSLMethod]] = Registry("method")


def build_method(name: str, *, backbone: nn.Module, feature_dim: int, params: dict[str, Any], ctx: MethodContext) -> SSLMethod:
    """Instantiate a registered method with validated hyperparameters."""
    cls = METHODS.get(name)
    return cls(backbone=backbone, feature_dim=feature_dim, params=cls.Params(**params), ctx=ctx)


def momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy for momentum (EMA) targets: no gradients, updated by ``update_momentum``."""
    import copy

    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def cosine_momentum(step: int, max_steps: int, start: float, end: float = 1.0) -> float:
    """BYOL/MoCo/DINO momentum schedule from ``start`` to ``end`` (Lightly's ``cosine_schedule``)."""
    from lightly.utils.scheduler import cosine_schedule

    return float(cosine_schedule(step, max(max_steps, 1), start, end))


@torch.no_grad()
def embedding_std(z: Tensor) -> float:
    """Mean per-dimension std of L2-normalised embeddings (≈ 1/sqrt(q) healthy, → 0 when collapsed)."""
    zn = nn.functional.normalize(z.float(), dim=1)
    return float(zn.std(dim=0).mean())
