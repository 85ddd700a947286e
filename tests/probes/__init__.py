"""Tests of :mod:`benchmark.probes`; shared synthetic feature sets."""

from __future__ import annotations

import torch

from benchmark.probes.base import FeatureSet


def clusters(
    *,
    n_train: int = 1000,
    n_test: int = 500,
    dim: int = 32,
    num_classes: int = 10,
    separation: float = 4.0,
    random_labels: bool = False,
    seed: int = 0,
) -> FeatureSet:
    """Seeded Gaussian clusters around random class centres of norm ``separation`` (unit noise).

    With ``random_labels`` the labels are redrawn independently of the features (train and test), so no probe can
    beat chance on the test split.
    """
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(num_classes, dim, generator=g), dim=1) * separation
    y_tr = torch.randint(0, num_classes, (n_train,), generator=g)
    y_te = torch.randint(0, num_classes, (n_test,), generator=g)
    x_tr = centres[y_tr] + torch.randn(n_train, dim, generator=g)
    x_te = centres[y_te] + torch.randn(n_test, dim, generator=g)
    if random_labels:
        y_tr = torch.randint(0, num_classes, (n_train,), generator=g)
        y_te = torch.randint(0, num_classes, (n_test,), generator=g)
    return FeatureSet(train_x=x_tr, train_y=y_tr, test_x=x_te, test_y=y_te, num_classes=num_classes)
