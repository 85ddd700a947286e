"""Linear probe: gradient, schedule, max/last reporting, determinism, normalisation, divergence."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from benchmark.errors import RunFailure
from benchmark.probes.base import FeatureSet
from benchmark.probes.linear import LinearProbe, LinearProbeParams, lr_at_epoch, sgd_update_, softmax_xent_grad

from . import clusters


def small(**kw: object) -> LinearProbe:
    base: dict[str, object] = {"epochs": 6, "milestones": [3, 5], "batch_size": 64}
    base.update(kw)
    return LinearProbe(base)


def test_defaults_are_the_or_paper_protocol() -> None:
    p = LinearProbeParams()
    assert (p.epochs, p.lr, p.momentum, p.nesterov, p.weight_decay, p.batch_size) == (100, 0.1, 0.9, True, 5e-4, 256)
    assert (p.schedule, p.milestones, p.gamma, p.report) == ("step", [60, 100], 0.1, "max")
    assert p.normalize == "standardize", "protocol choice (issue 13): fair to the random-init control"


def test_milestone_at_the_last_epoch_is_accepted_and_changes_nothing() -> None:
    """OR App. A.6: 'divide the learning rate by a factor of 10 on Epoch 60 and 100' for a 100-epoch probe."""
    as_written = LinearProbeParams(epochs=100, milestones=[60, 100])
    one_drop = LinearProbeParams(epochs=100, milestones=[60])
    lrs = [lr_at_epoch(as_written, e) for e in range(100)]
    assert lrs == [lr_at_epoch(one_drop, e) for e in range(100)]
    assert lrs[59] == pytest.approx(0.1) and lrs[60] == pytest.approx(0.01) and lrs[99] == pytest.approx(0.01)
    with pytest.raises(ValidationError, match=r"outside \[1, epochs=100\]"):
        LinearProbeParams(epochs=100, milestones=[60, 101])


def test_closed_form_gradient_matches_autograd() -> None:
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(17, 6, generator=g), torch.randn(4, 6, generator=g), torch.randn(4, generator=g)
    y = torch.randint(0, 4, (17,), generator=g)
    w_, b_ = w.clone().requires_grad_(), b.clone().requires_grad_()
    loss = F.cross_entropy(F.linear(x, w_, b_), y)
    loss.backward()
    loss_sum, gw, gb = softmax_xent_grad(F.linear(x, w, b), y, x)
    assert loss_sum.item() == pytest.approx(loss.item() * 17, rel=1e-5)
    torch.testing.assert_close(gw, w_.grad)
    torch.testing.assert_close(gb, b_.grad)


@pytest.mark.parametrize(
    ("momentum", "nesterov", "weight_decay"),
    [(0.9, True, 5e-4), (0.9, False, 1e-2), (0.0, False, 0.0), (0.5, True, 0.0)],
)
def test_sgd_update_matches_torch_optim_sgd(momentum: float, nesterov: bool, weight_decay: float) -> None:
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(3, 5, generator=g)
    mine, buf = ref.clone(), torch.zeros_like(ref)
    ref.requires_grad_()
    opt = torch.optim.SGD([ref], lr=0.3, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    for step in range(4):
        grad = torch.randn(3, 5, generator=g)
        lr = 0.3 * 0.5**step
        for group in opt.param_groups:
            group["lr"] = lr
        ref.grad = grad.clone()
        opt.step()
        sgd_update_(mine, grad.clone(), buf, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        torch.testing.assert_close(mine, ref.detach())


@pytest.mark.parametrize(
    "params",
    [
        {"epochs": 10, "milestones": [3, 7], "gamma": 0.2, "lr": 0.4},
        {"epochs": 100},
        {"epochs": 9, "schedule": "cosine", "lr": 0.25},
    ],
)
def test_lr_schedule_matches_torch_schedulers(params: dict[str, object]) -> None:
    p = LinearProbeParams(**params)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=p.lr)
    sched = (
        torch.optim.lr_scheduler.MultiStepLR(opt, milestones=p.milestones, gamma=p.gamma)
        if p.schedule == "step"
        else torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=p.epochs)
    )
    for epoch in range(p.epochs):
        assert lr_at_epoch(p, epoch) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()


def test_thread_count_restored() -> None:
    before = torch.get_num_threads()
    small().evaluate(clusters(n_train=100, n_test=20), seed=0)
    assert torch.get_num_threads() == before


def test_step_schedule_lrs() -> None:
    probe = small(lr=0.5, epochs=5, milestones=[2, 4], gamma=0.1)
    probe.evaluate(clusters(n_train=200, n_test=50), seed=0)
    lrs = [h["lr"] for h in probe.history_]
    assert lrs == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005])
    assert [h["epoch"] for h in probe.history_] == [1, 2, 3, 4, 5]


def test_cosine_schedule_lrs() -> None:
    probe = LinearProbe({"epochs": 4, "lr": 0.2, "schedule": "cosine"})
    probe.evaluate(clusters(n_train=200, n_test=50), seed=0)
    expected = [0.2 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert [h["lr"] for h in probe.history_] == pytest.approx(expected)


def test_lr_drop_freezes_the_weights() -> None:
    # A milestone after epoch 1 with gamma ~ 0 must leave the weights where one epoch put them: the schedule is
    # really applied to the updates, not only logged.
    feats = clusters(n_train=300, n_test=50)
    one = small(epochs=1, milestones=[])
    one.evaluate(feats, seed=3)
    dropped = small(epochs=3, milestones=[1], gamma=1e-12)
    dropped.evaluate(feats, seed=3)
    kept = small(epochs=3, milestones=[1], gamma=1.0)
    kept.evaluate(feats, seed=3)
    torch.testing.assert_close(dropped.weight_, one.weight_, atol=1e-6, rtol=0)
    assert (kept.weight_ - one.weight_).abs().max() > 1e-2


def test_epochs_honoured_and_max_last_consistent() -> None:
    probe = small(epochs=7, milestones=[4], lr=2.0)
    result = probe.evaluate(clusters(separation=2.0, n_train=400, n_test=300), seed=0)
    assert len(probe.history_) == 7 and result["epochs"] == 7.0
    top1 = [h["top1"] for h in probe.history_]
    assert result["top1_max"] == max(top1) >= result["top1_last"] == top1[-1]
    assert result["top5_max"] == max(h["top5"] for h in probe.history_) >= result["top5_last"]
    assert result["best_epoch"] == float(top1.index(max(top1)) + 1)
    assert result["top1"] == result["top1_max"] and result["top5"] == result["top5_max"]


def test_report_last_switch() -> None:
    feats = clusters(separation=2.0, n_train=400, n_test=300)
    by_max = small(lr=2.0).evaluate(feats, seed=1)
    by_last = small(lr=2.0, report="last").evaluate(feats, seed=1)
    assert by_last["top1"] == by_last["top1_last"] == by_max["top1_last"]
    assert by_last["top5"] == by_last["top5_last"]
    assert by_last["top1_max"] == by_max["top1_max"] == by_max["top1"]


def test_determinism_given_seed() -> None:
    feats = clusters(n_train=300, n_test=100)
    a, b, c = small(), small(), small()
    ra, rb = a.evaluate(feats, seed=5), b.evaluate(feats, seed=5)
    c.evaluate(feats, seed=6)
    assert ra == rb and a.history_ == b.history_
    assert torch.equal(a.weight_, b.weight_)
    assert not torch.equal(a.weight_, c.weight_)


def test_standardize_rescues_badly_scaled_features_and_none_diverges() -> None:
    feats = clusters(n_train=400, n_test=200)
    scale = torch.ones(feats.dim)
    scale[0] = 1e20  # one wild dimension: float32 logits overflow without normalisation
    bad = FeatureSet(feats.train_x * scale, feats.train_y, feats.test_x * scale, feats.test_y, feats.num_classes)
    with pytest.raises(RunFailure) as info:
        small(lr=1.0, normalize="none").evaluate(bad, seed=0)
    assert info.value.kind == "diverged" and info.value.step == 1
    assert small(lr=1.0, normalize="standardize").evaluate(bad, seed=0)["top1"] > 95.0
    assert small(lr=1.0).evaluate(bad, seed=0)["top1"] > 95.0, "standardize is the default"
    assert small(lr=1.0, normalize="l2").evaluate(feats, seed=0)["top1"] > 95.0


def test_runs_on_the_features_and_leaves_them_untouched() -> None:
    feats = clusters(n_train=200, n_test=50)
    before = feats.train_x.clone()
    small(normalize="standardize").evaluate(feats, seed=0)
    assert torch.equal(before, feats.train_x)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"epochs": 50}, "outside"),  # default milestones [60, 100] never reached
        ({"milestones": [80, 60]}, "strictly increasing"),
        ({"schedule": "cosine", "milestones": [10]}, "only apply to schedule 'step'"),
        ({"momentum": 0.0}, "nesterov"),
        ({"lr": 0.0}, "greater than 0"),
        ({"normalize": "bn"}, "normalize"),
        ({"report": "best"}, "report"),
    ],
)
def test_invalid_params(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LinearProbeParams(**params)


def test_cosine_and_plain_sgd_are_accepted() -> None:
    assert LinearProbeParams(schedule="cosine", epochs=10).schedule == "cosine"
    assert LinearProbeParams(momentum=0.0, nesterov=False).momentum == 0.0
