"""DCL and DCLW (Yeh et al., Decoupled Contrastive Learning, ECCV 2022, arXiv 2110.06848) as in Lightly's benchmarks.

SimCLR with the positive pair removed from the InfoNCE denominator (paper Eq. 6, Lightly ``DCLLoss``)::

    L_i = −⟨z_i, z_i'⟩/τ + log Σ_{j≠i, k∈{view 0, view 1}} exp(⟨z_i, z_j^(k)⟩/τ)        (z unit-norm)

averaged over the batch and symmetrised over the two views. DCLW weights the positive term by the paper's negative
von Mises-Fisher weight ``w_i = 2 − exp(⟨z_i, z_i'⟩/σ) / mean_j exp(⟨z_j, z_j'⟩/σ) = 2 − N·softmax_i(⟨z_i, z_i'⟩/σ)``
(Lightly ``negative_mises_fisher_weights``), computed without gradient.

Defaults follow Lightly's CIFAR-10 benchmark (``docs/source/getting_started/benchmarks/cifar10_benchmark.py``:
``SimCLRProjectionHead(512, 512, 128)`` on the ResNet-18's 512 features, ``DCLLoss()`` / ``DCLWLoss()``, i.e.
temperature 0.1 and σ = 0.5, the values the ImageNet scripts ``benchmarks/imagenet/resnet50/dcl{,w}.py`` pass
explicitly with "DCL uses SimCLR head" and "DCL uses SimCLR augmentations"; preset ``simclr``). With
``gather_distributed`` the negatives come from all processes (the ImageNet scripts' ``gather_distributed=True``);
DCLW's weights are a softmax over the local batch either way (Lightly).
"""

from __future__ import annotations

import warnings
from typing import Any

from lightly.loss import DCLLoss, DCLWLoss
from lightly.models.modules.heads import SimCLRProjectionHead
from pydantic import Field
from torch import Tensor, nn

from benchmark.methods.base import METHODS, MethodParams, SSLMethod, StepOutput

# Lightly's negative_mises_fisher_weights wraps an already detached tensor in torch.tensor(), which warns on every
# call; the value is unaffected.
warnings.filterwarnings("ignore", message="To copy construct from a tensor", module=r"lightly\.loss\.dcl_loss")


class DCLParams(MethodParams):
    proj_hidden_dim: int = Field(512, ge=1)
    proj_output_dim: int = Field(128, ge=1)
    proj_num_layers: int = Field(2, ge=2)
    temperature: float = Field(0.1, gt=0)


class DCLWParams(DCLParams):
    sigma: float = Field(0.5, gt=0, description="scale of the negative von Mises-Fisher weight of the positive term")


@METHODS.register("dcl")
class DCL(SSLMethod):
    Params = DCLParams
    default_augment = "simclr"
    paper = "Yeh et al., Decoupled Contrastive Learning, ECCV 2022"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        p: DCLParams = self.params  # type: ignore[assignment]
        self.projection_head = SimCLRProjectionHead(self.feature_dim, p.proj_hidden_dim, p.proj_output_dim, p.proj_num_layers)
        self.criterion = self._criterion()

    def _criterion(self) -> nn.Module:
        return DCLLoss(temperature=self.params.temperature, gather_distributed=self.ctx.gather_distributed)  # type: ignore[attr-defined]

    def training_step(self, views: list[Tensor], *, step: int) -> StepOutput:
        z0 = self.projection_head(self.backbone(views[0]))
        z1 = self.projection_head(self.backbone(views[1]))
        return StepOutput(loss=self.criterion(z0, z1), logs={}, embeddings=z0.detach())

    def loss_inputs(self, views: list[Tensor]) -> tuple[Any, ...]:
        return tuple(self.projection_head(self.backbone(v)).detach().requires_grad_() for v in views[:2])

    def loss_only(self, *inputs: Any) -> Tensor:
        return self.criterion(*inputs)


@METHODS.register("dclw")
class DCLW(DCL):
    Params = DCLWParams
    paper = "Yeh et al., Decoupled Contrastive Learning, ECCV 2022 (weighted, DCLW)"

    def _criterion(self) -> nn.Module:
        p: DCLWParams = self.params  # type: ignore[assignment]
        return DCLWLoss(temperature=p.temperature, sigma=p.sigma, gather_distributed=self.ctx.gather_distributed)
