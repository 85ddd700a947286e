"""Linear probe: a softmax classifier trained by SGD on cached frozen-backbone features.

Default protocol = the OR paper's, except the feature normalisation below (He, Du, Ma, NeurIPS 2024, App. A.6, verified in the paper's text): "we use 100
epochs, weight decay to 0.0005, learning rate 0.1 (we divide the learning rate by a factor of 10 on Epoch 60 and 100),
batchsize 256, and SGD with Nesterov momentum as optimizer" — the drop at epoch 100 of a 100-epoch probe is a no-op,
kept as written (a milestone equal to ``epochs`` is accepted for that reason). Momentum 0.9 is the value every anchor uses (Lightly ``LinearClassifier``, solo-learn, SFRIK). Everything
is a parameter so other papers' protocols fit too, e.g. SFRIK (``sfrik_iclr23.md`` §7: lr 0.4, wd 1e-6, cosine per
epoch, 100 epochs, no feature normalisation) or Lightly/SimCLR (lr 0.1, wd 0, cosine). One protocol for all methods
can under-rate some of them (``frameworks.md`` §5 pitfall 5): override per experiment where a paper does.

Suite protocol choice (feature normalisation): by default the features are standardised per dimension with the
TRAIN split's mean and variance (``normalize: standardize``, a ``BatchNorm1d`` without affine parameters in eval
mode, as VISSL's BatchNorm before the linear head, ``suites/_protocols/vissl_linear_probe.yaml``). Without it the
probe's fixed lr and epochs favour features of a convenient scale: the features of a randomly initialised ConvNet
are small, and SGD at lr 0.1 leaves them near chance (issue 13: 10.9 % linear vs 90.9 % kNN on digits) while a
trained encoder's are not, so an SSL-vs-random-init comparison under ``none`` measures the feature scale rather
than the representation (``tests/probes/test_random_init_fairness.py``). ``none`` and ``l2`` stay available; suites whose
paper states its own protocol say so explicitly (``suites/_protocols/*.yaml``).

Suite protocol choice: the classifier is trained on CACHED features of un-augmented images (no RandomResizedCrop /
flip per epoch), as SFRIK's ``logistic_regression.py`` does; frozen-backbone probes on cached features are standard
for cost. It is an *offline* probe: numbers reported from an online probe (solo-learn's CIFAR README, pitfall 8)
are not the same protocol.

Implementation: no ``DataLoader`` and no autograd. One seeded permutation per epoch; the softmax cross-entropy
gradient in closed form (``(softmax - onehot) / B``); the update rule of ``torch.optim.SGD`` (dampening 0, weight
decay added to the gradient of weight and bias, as for an ``nn.Linear`` head) written out in a few in-place ops,
which avoids ``optimizer.step()``'s per-call overhead; tests check parity with ``torch.optim.SGD`` +
``MultiStepLR``/``CosineAnnealingLR``. The learning rate changes once per epoch. Test accuracy is measured after every
epoch; papers report the max over epochs (Lightly ``BenchmarkModule``/``linear_eval.py``, SFRIK ``best_acc1``), which
selects on the test set, so both the max and the last-epoch numbers are returned and ``report`` chooses which one is
``top1``/``top5``.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Iterator
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor
from tqdm.auto import tqdm

from benchmark.errors import RunFailure
from benchmark.probes.base import (
    PROBES,
    FeatureSet,
    Normalization,
    ProbeParams,
    coerce_params,
    normalize_features,
    topk_correct,
)

#: Weights ~ N(0, 0.01²), bias 0: the head initialisation of SFRIK's / Barlow Twins' ``evaluate.py``
#: (``sfrik_iclr23.md`` §7 "weights N(0, 0.01), bias 0"). The problem is convex, so the init barely matters.
INIT_STD = 0.01

#: Test-set chunk (rows) for the per-epoch evaluation matmul; bounds memory at ~chunk × C floats.
EVAL_CHUNK = 8192

#: Below this many multiply-adds per step (batch × D × C; CIFAR: 256 × 512 × 10 ≈ 1.3 M) the CPU loop runs on one
#: intra-op thread: the per-step tensors are too small to gain from threads, and on a shared/oversubscribed machine
#: OpenMP spin-waits made 2 threads 5-15× slower than 1 (measured: 20 epochs on 50,000 × 512 took 20-75 s with 2
#: threads vs 4.4 s with 1 under a load of 3.5 on 2 cores). The previous thread count is restored afterwards.
SINGLE_THREAD_MACS = 1 << 24


@contextlib.contextmanager
def _cpu_threads(n: int | None) -> Iterator[None]:
    """Temporarily ``torch.set_num_threads(n)`` (no-op for ``None``)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LinearProbeParams(ProbeParams):
    """Linear-probe hyperparameters (defaults: OR paper protocol, features standardised)."""

    epochs: int = Field(default=100, ge=1, description="training epochs over the cached train features")
    lr: float = Field(default=0.1, gt=0, description="initial learning rate (not scaled by batch size)")
    momentum: float = Field(default=0.9, ge=0, lt=1)
    nesterov: bool = True
    weight_decay: float = Field(default=5e-4, ge=0, description="L2 penalty on weight and bias (SGD weight_decay)")
    batch_size: int = Field(default=256, ge=1)
    schedule: Literal["step", "cosine"] = Field(
        default="step", description="step: lr × gamma at each milestone epoch; cosine: annealed to 0 over epochs"
    )
    milestones: list[int] = Field(
        default_factory=lambda: [60, 100],
        description="0-based epochs where lr × gamma; a milestone equal to epochs is allowed and is a no-op "
        "(the OR paper writes 'divide the learning rate by a factor of 10 on Epoch 60 and 100' for a 100-epoch probe)",
    )
    gamma: float = Field(default=0.1, gt=0, le=1)
    normalize: Normalization = Field(
        default="standardize",
        description="feature normalisation, train statistics only; default standardize (protocol choice, see the "
        "module docstring): fair to a random-init control and to trained encoders alike",
    )
    report: Literal["max", "last"] = Field(default="max", description="which epoch's accuracy is top1/top5")

    @model_validator(mode="after")
    def _check(self) -> LinearProbeParams:
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0 (set nesterov: false for plain SGD)")
        if self.schedule == "step":
            ms = self.milestones
            if any(b <= a for a, b in zip(ms, ms[1:], strict=False)):
                raise ValueError(f"milestones must be strictly increasing, got {ms}")
            bad = [m for m in ms if not 1 <= m <= self.epochs]
            if bad:
                raise ValueError(
                    f"milestones {bad} are outside [1, epochs={self.epochs}]: the lr would never drop there; "
                    "scale the milestones with epochs (e.g. epochs 10 → milestones [6, 8])"
                )
        else:
            given = {"milestones", "gamma"} & self.model_fields_set
            if given:
                raise ValueError(f"{sorted(given)} only apply to schedule 'step', not '{self.schedule}'")
        return self


def softmax_xent_grad(logits: Tensor, y: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Summed cross-entropy of ``logits = x Wᵀ + b`` and the gradients of its batch MEAN w.r.t. ``W`` and ``b``.

    Returns:
        ``(loss_sum, grad_w (C, D), grad_b (C,))``.
    """
    log_p = logits.log_softmax(dim=1)
    loss_sum = -log_p.gather(1, y.view(-1, 1)).sum()
    delta = log_p.exp_()
    delta[torch.arange(y.shape[0], device=y.device), y] -= 1.0
    delta.div_(y.shape[0])
    return loss_sum, delta.t() @ x, delta.sum(dim=0)


def lr_at_epoch(params: LinearProbeParams, epoch: int) -> float:
    """Learning rate during 0-based ``epoch``: ``MultiStepLR`` (lr · gamma^#milestones ≤ epoch) or
    ``CosineAnnealingLR(T_max=epochs, eta_min=0)`` (lr · (1 + cos(π · epoch / epochs)) / 2), stepped per epoch."""
    if params.schedule == "step":
        return params.lr * params.gamma ** bisect.bisect_right(params.milestones, epoch)
    return params.lr * (1.0 + math.cos(math.pi * epoch / params.epochs)) / 2.0


def sgd_update_(
    param: Tensor, grad: Tensor, buf: Tensor, *, lr: float, momentum: float, nesterov: bool, weight_decay: float
) -> None:
    """One ``torch.optim.SGD`` step (dampening 0) on ``param`` in place; ``buf`` is the momentum buffer (start at 0).

    ``g = grad + wd·param;  buf = momentum·buf + g;  param -= lr·(g + momentum·buf if nesterov else buf)``.
    ``grad`` is overwritten.
    """
    if weight_decay:
        grad.add_(param, alpha=weight_decay)
    if momentum:
        buf.mul_(momentum).add_(grad)
        if nesterov:
            grad.add_(buf, alpha=momentum)
        else:
            grad = buf
    param.add_(grad, alpha=-lr)


@torch.no_grad()
def _test_accuracy(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor) -> tuple[float, float]:
    correct = {1: 0, 5: 0}
    for start in range(0, x.shape[0], EVAL_CHUNK):
        c = topk_correct(torch.addmm(bias, x[start : start + EVAL_CHUNK], weight.t()), y[start : start + EVAL_CHUNK])
        correct[1] += c[1]
        correct[5] += c[5]
    n = x.shape[0]
    return 100.0 * correct[1] / n, 100.0 * correct[5] / n


@PROBES.register("linear")
class LinearProbe:
    """Linear(D, C) classifier trained by SGD on cached features; top-1/top-5 on the test split after every epoch.

    After :meth:`evaluate`, ``history_`` holds one dict per epoch (``epoch`` 1-based, ``lr`` used during it,
    ``train_loss`` mean cross-entropy, ``top1``, ``top5``) and ``weight_``/``bias_`` the final classifier.

    Examples:
        >>> probe = LinearProbe({"epochs": 90, "lr": 0.1, "weight_decay": 0.0, "schedule": "cosine"})
        >>> probe.evaluate(features, seed=0)["top1"]
    """

    Params = LinearProbeParams

    def __init__(self, params: LinearProbeParams | dict[str, Any] | None = None) -> None:
        self.params: LinearProbeParams = coerce_params(LinearProbeParams, params)  # type: ignore[assignment]
        self.history_: list[dict[str, float]] = []
        self.weight_: Tensor | None = None
        self.bias_: Tensor | None = None

    @torch.no_grad()
    def evaluate(self, features: FeatureSet, *, seed: int, progress: bool = False) -> dict[str, float]:
        """Train on ``features.train_*``, test on ``features.test_*``.

        Returns:
            ``top1``/``top5`` (the ``report`` choice), ``top1_max``/``top5_max`` (each maximised over epochs
            independently, as SFRIK/Barlow Twins ``evaluate.py`` do), ``top1_last``/``top5_last``, ``best_epoch``
            (1-based epoch of ``top1_max``, first on ties) and ``epochs``. Accuracies in percent.

        Raises:
            RunFailure: the training loss became non-finite (divergence; lower ``lr``).
        """
        p = self.params
        train_x, test_x = normalize_features(features.train_x, features.test_x, p.normalize)
        train_y, test_y = features.train_y.to(train_x.device), features.test_y.to(test_x.device)
        dim = train_x.shape[1]
        gen = torch.Generator().manual_seed(int(seed))
        weight = (torch.randn(features.num_classes, dim, generator=gen) * INIT_STD).to(train_x.device)
        bias = torch.zeros(features.num_classes, device=train_x.device)
        small = train_x.device.type == "cpu" and p.batch_size * dim * features.num_classes < SINGLE_THREAD_MACS
        with _cpu_threads(1 if small else None):
            self.history_ = self._train(train_x, train_y, test_x, test_y, weight, bias, gen, progress)
        self.weight_, self.bias_ = weight.cpu(), bias.cpu()

        top1s = [h["top1"] for h in self.history_]
        best = max(range(len(top1s)), key=lambda i: (top1s[i], -i))
        out = {
            "top1_max": top1s[best],
            "top5_max": max(h["top5"] for h in self.history_),
            "top1_last": self.history_[-1]["top1"],
            "top5_last": self.history_[-1]["top5"],
            "best_epoch": float(best + 1),
            "epochs": float(p.epochs),
        }
        out["top1"] = out[f"top1_{p.report}"]
        out["top5"] = out[f"top5_{p.report}"]
        return out

    def _train(
        self,
        train_x: Tensor,
        train_y: Tensor,
        test_x: Tensor,
        test_y: Tensor,
        weight: Tensor,
        bias: Tensor,
        gen: torch.Generator,
        progress: bool,
    ) -> list[dict[str, float]]:
        """SGD epochs updating ``weight``/``bias`` in place; the per-epoch history."""
        p = self.params
        n, device = train_x.shape[0], train_x.device
        buf_w, buf_b = torch.zeros_like(weight), torch.zeros_like(bias)
        sgd = {"momentum": p.momentum, "nesterov": p.nesterov, "weight_decay": p.weight_decay}
        history: list[dict[str, float]] = []
        for epoch in tqdm(range(p.epochs), desc="linear probe", disable=not progress, leave=False):
            lr = lr_at_epoch(p, epoch)
            perm = torch.randperm(n, generator=gen).to(device)
            loss_sum = torch.zeros((), device=device)
            for start in range(0, n, p.batch_size):
                idx = perm[start : start + p.batch_size]
                xb = train_x.index_select(0, idx)
                yb = train_y.index_select(0, idx)
                loss, grad_w, grad_b = softmax_xent_grad(torch.addmm(bias, xb, weight.t()), yb, xb)
                loss_sum += loss
                sgd_update_(weight, grad_w, buf_w, lr=lr, **sgd)
                sgd_update_(bias, grad_b, buf_b, lr=lr, **sgd)
            train_loss = float(loss_sum) / n
            if not math.isfinite(train_loss):
                raise RunFailure(
                    f"linear probe training loss is {train_loss} (lr {lr}); lower the probe lr or normalise features",
                    kind="diverged",
                    step=epoch + 1,
                )
            top1, top5 = _test_accuracy(test_x, test_y, weight, bias)
            history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "top1": top1, "top5": top5})
        return history
