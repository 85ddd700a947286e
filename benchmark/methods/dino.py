"""DINO (Caron et al., ICCV 2021, arXiv 2104.14294) with Lightly's projection head and loss.

Self-distillation: a student (``backbone`` + head) matches the centred, sharpened softmax of an EMA teacher over
``output_dim`` prototype scores. Multi-crop follows the transform's views: **the first two are global crops**
(seen by teacher and student), the rest local crops (student only); ``DINOLoss`` sums every (teacher view, student
view) pair with different indices. The teacher temperature warms up linearly from ``warmup_teacher_temp`` to
``teacher_temp`` (DINO on ImageNet: 0.04 → 0.07 over the first 30 epochs); the centre uses momentum 0.9. The head's
last (weight-normalised prototype) layer is frozen for the first ``freeze_last_layer_steps`` steps (official
``--freeze_last_layer 1``, one epoch).

Defaults follow solo-learn's CIFAR DINO (``scripts/pretrain/cifar/dino.yaml`` + ``solo/methods/dino.py``):
head 2048 hidden → 256 bottleneck → **4096 prototypes** (``num_prototypes: 4096``; the ImageNet default is 65536),
no BN in the head, normalised last layer, student temperature 0.1, teacher 0.04 → 0.07 over 50 of 1000 epochs,
last layer frozen 1 of 1000 epochs, teacher momentum 0.9995 → 1.0 (cosine). Steps are what a run knows, so the
epoch-based lengths are expressed as fractions of ``max_steps`` unless given in steps: warm-up 5 %, freeze 0.1 %.

Freezing multiplies the last layer's gradient by zero (value unchanged, gradient 0) instead of setting it to None:
every parameter keeps a gradient each step (DDP without ``find_unused_parameters``). With weight normalisation and a
fixed norm (``norm_last_layer``) weight decay on the direction parameter cannot change the layer's output.
``embeddings`` are the student's L2-normalised 256-d bottleneck outputs of view 0 (the input of the prototypes).
``DINOLoss`` has no ``gather_distributed`` option: its centre is averaged over processes whenever
``torch.distributed`` is initialised (as in the official code); the cross-entropy is per sample.

Small heads are fragile: the head's truncated-normal(0.02) initialisation makes a narrow bottleneck's output tiny,
so the gradient through its L2 normalisation is huge and an unclipped SGD step can collapse it at once (the recipes
use AdamW/LARS with warm-up and gradient clipping); keep the hidden width at hundreds of units or clip gradients.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from lightly.loss import DINOLoss
from lightly.models.modules.heads import DINOProjectionHead
from pydantic import Field
from torch import Tensor, nn

from benchmark.methods.base import METHODS, MethodParams, MomentumTargetMethod, StepOutput


def _gradient_scaled(t: Tensor, scale: float) -> Tensor:
    """``t`` in the forward pass, ``scale ·`` its gradient in the backward pass (0 freezes, keeps it in the graph)."""
    return t if scale == 1.0 else t * scale + t.detach() * (1.0 - scale)


class DINOParams(MethodParams):
    proj_hidden_dim: int = Field(2048, ge=1)
    bottleneck_dim: int = Field(256, ge=1)
    output_dim: int = Field(4096, ge=1)
    batch_norm: bool = False
    norm_last_layer: bool = True
    student_temp: float = Field(0.1, gt=0)
    teacher_temp: float = Field(0.07, gt=0)
    warmup_teacher_temp: float = Field(0.04, gt=0)
    warmup_teacher_temp_steps: int | None = Field(None, ge=0, description="None: 5 % of max_steps (50/1000 epochs)")
    center_momentum: float = Field(0.9, ge=0, le=1)
    freeze_last_layer_steps: int | None = Field(None, ge=0, description="None: 0.1 % of max_steps (1/1000 epochs)")
    momentum_start: float = Field(0.9995, ge=0, le=1)
    momentum_end: float = Field(1.0, ge=0, le=1)
    n_global_views: int = Field(2, ge=1)


def _dino_head(input_dim: int, p: DINOParams) -> DINOProjectionHead:
    """Lightly's DINO head with its last layer moved to ``torch.nn.utils.parametrizations.weight_norm``.

    Lightly builds the prototype layer with the deprecated ``nn.utils.weight_norm``, whose computed ``weight`` is a
    non-leaf tensor that ``copy.deepcopy`` rejects (pytorch/pytorch#103001), so the EMA teacher could not be a copy.
    The parametrised layer is the same function (``g · v / ‖v‖`` per output row, g = 1, g frozen with
    ``norm_last_layer``) with parameters ``original0`` (g) and ``original1`` (v).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*weight_norm.*deprecated", category=FutureWarning)
        head = DINOProjectionHead(
            input_dim,
            p.proj_hidden_dim,
            p.bottleneck_dim,
            p.output_dim,
            batch_norm=p.batch_norm,
            norm_last_layer=p.norm_last_layer,
        )
        nn.utils.remove_weight_norm(head.last_layer)  # weight = g·v/‖v‖ with g = 1: unit rows
    nn.utils.parametrizations.weight_norm(head.last_layer)  # g = ‖row‖ = 1, v = weight
    head.last_layer.parametrizations.weight.original0.requires_grad_(not p.norm_last_layer)
    return head


@METHODS.register("dino")
class DINO(MomentumTargetMethod):
    Params = DINOParams
    default_augment = "dino"
    paper = "Caron et al., Emerging Properties in Self-Supervised Vision Transformers, ICCV 2021"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: DINOParams = self.params  # type: ignore[assignment]
        self.projection_head = _dino_head(self.feature_dim, p)
        self.init_momentum_targets()
        self.criterion = DINOLoss(
            output_dim=p.output_dim,
            warmup_teacher_temp=p.warmup_teacher_temp,
            teacher_temp=p.teacher_temp,
            student_temp=p.student_temp,
            center_momentum=p.center_momentum,
        )
        max_steps = max(self.ctx.max_steps, 1)
        self.warmup_steps = (
            round(0.05 * max_steps) if p.warmup_teacher_temp_steps is None else p.warmup_teacher_temp_steps
        )
        self.freeze_steps = round(0.001 * max_steps) if p.freeze_last_layer_steps is None else p.freeze_last_layer_steps

    # ------------------------------------------------------------------ schedules
    def _teacher_temp(self, step: int) -> float:
        p: DINOParams = self.params  # type: ignore[assignment]
        if step >= self.warmup_steps:
            return p.teacher_temp
        return p.warmup_teacher_temp + (p.teacher_temp - p.warmup_teacher_temp) * step / self.warmup_steps

    # ------------------------------------------------------------------ forward passes
    def _student(self, x: Tensor, *, freeze_last_layer: bool) -> tuple[Tensor, Tensor]:
        """(prototype scores, normalised bottleneck) of the student; same maths as ``DINOProjectionHead.forward``."""
        head = self.projection_head
        b = F.normalize(head.layers(self.backbone(x)), dim=-1, p=2)
        pw = head.last_layer.parametrizations.weight
        scale = 0.0 if freeze_last_layer else 1.0
        g = _gradient_scaled(pw.original0, scale)
        v = _gradient_scaled(pw.original1, scale)
        weight = g * v / v.norm(dim=1, keepdim=True)  # weight_norm with dim 0
        return F.linear(b, weight), b

    @torch.no_grad()
    def _teacher(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x))

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        p: DINOParams = self.params  # type: ignore[assignment]
        self._check_views(views)
        frozen = step < self.freeze_steps
        global_views = views[: p.n_global_views]
        teacher_out = [self._teacher(v) for v in global_views]
        student = [self._student(v, freeze_last_layer=frozen) for v in views]
        student_out = [s for s, _ in student]
        temp = self._teacher_temp(step)
        loss = self.criterion(teacher_out, student_out, teacher_temp=temp)
        logs = {"teacher_temp": temp, "momentum": self._momentum(step), "last_layer_frozen": float(frozen)}
        return StepOutput(loss=loss, logs=logs, embeddings=student[0][1].detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        """``(teacher outputs of the global views..., student outputs of all views...)``, flat."""
        p: DINOParams = self.params  # type: ignore[assignment]
        self._check_views(views)
        teacher_out = [self._teacher(v) for v in views[: p.n_global_views]]
        student_out = [self._student(v, freeze_last_layer=False)[0].detach().requires_grad_() for v in views]
        return (*teacher_out, *student_out)

    def loss_only(self, *outputs: Tensor) -> Tensor:
        p: DINOParams = self.params  # type: ignore[assignment]
        teacher_out, student_out = list(outputs[: p.n_global_views]), list(outputs[p.n_global_views :])
        return self.criterion(teacher_out, student_out, teacher_temp=p.teacher_temp)

    def _check_views(self, views: list[Tensor]) -> None:
        p: DINOParams = self.params  # type: ignore[assignment]
        if len(views) < p.n_global_views:
            raise ValueError(
                f"DINO needs at least n_global_views = {p.n_global_views} views (global crops first), got {len(views)}"
            )
