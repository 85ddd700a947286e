"""LIBLINEAR SVM probe: C selected on a train-carved validation split, normalisation, decision values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from liblinear.liblinearutil import predict, train
from pydantic import ValidationError

from benchmark.errors import DataError
from benchmark.probes.base import FeatureSet
from benchmark.probes.svm import (
    LiblinearSVMProbe,
    SVMProbeParams,
    _Problem,
    c_key,
    decision_scores,
    fit_liblinear,
    stratified_split,
)

from . import clusters

GRID = [0.001, 0.01, 1.0, 100.0]


def overlapping() -> FeatureSet:
    """Overlapping clusters: accuracy well below 100 %, so the cost C matters."""
    return clusters(n_train=600, n_test=300, dim=16, num_classes=5, separation=1.5, seed=2)


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("bias", [1.0, -1.0, 2.5])
def test_decision_values_match_liblinear_predict(num_classes: int, bias: float) -> None:
    feats = clusters(n_train=200, n_test=60, dim=8, num_classes=num_classes, separation=1.0, seed=4)
    x, y = feats.train_x.double().numpy(), feats.train_y.numpy()
    xt = feats.test_x.double().numpy()
    params = SVMProbeParams(bias=bias)
    labels, w = fit_liblinear(_Problem(x, y), c=0.5, params=params, seed=0)
    ours = decision_scores(xt, labels, w, num_classes).numpy()
    model = train(y.astype(np.float64), x, f"-s 2 -c 0.5 -B {bias} -q")
    pred, _, values = predict(feats.test_y.numpy().astype(np.float64), xt, model, "-q")
    values = np.asarray(values)
    if num_classes == 2:  # LIBLINEAR returns one value, for its first label
        np.testing.assert_allclose(ours[:, labels[0]], values[:, 0], atol=1e-10)
        np.testing.assert_allclose(ours[:, labels[1]], -values[:, 0], atol=1e-10)
    else:
        np.testing.assert_allclose(ours[:, labels], values, atol=1e-10)
    np.testing.assert_array_equal(ours.argmax(1), np.asarray(pred, dtype=np.int64))


def test_c_selected_on_validation_not_test() -> None:
    feats = overlapping()
    probe = LiblinearSVMProbe({"c_grid": GRID})
    base = probe.evaluate(feats, seed=0)
    perm = torch.randperm(feats.test_y.shape[0], generator=torch.Generator().manual_seed(0))
    shuffled = FeatureSet(feats.train_x, feats.train_y, feats.test_x, feats.test_y[perm], feats.num_classes)
    other = probe.evaluate(shuffled, seed=0)
    vals = {k: v for k, v in base.items() if k.startswith("val_top1@")}
    assert set(vals) == {c_key(c) for c in GRID}
    assert {k: other[k] for k in vals} == vals
    assert other["best_c"] == base["best_c"]
    assert other["top1"] < base["top1"] - 20  # the test labels did change, the selection did not


def test_best_c_is_the_smallest_argmax_of_validation() -> None:
    result = LiblinearSVMProbe({"c_grid": GRID}).evaluate(overlapping(), seed=0)
    vals = [result[c_key(c)] for c in GRID]
    assert len(set(vals)) > 1, "the grid should matter on overlapping clusters"
    assert result["best_c"] == GRID[vals.index(max(vals))]
    assert result["top5"] >= result["top1"]


def test_single_c_skips_selection() -> None:
    result = LiblinearSVMProbe({"c_grid": [0.5]}).evaluate(overlapping(), seed=0)
    assert result["best_c"] == 0.5
    assert not any(k.startswith("val_top1@") for k in result)


def test_l2_normalisation_is_applied() -> None:
    # Rescaling every sample by its own positive factor changes nothing after L2 normalisation (but would without).
    feats = overlapping()
    g = torch.Generator().manual_seed(1)
    s_tr = torch.rand(feats.train_x.shape[0], 1, generator=g) * 20 + 0.05
    s_te = torch.rand(feats.test_x.shape[0], 1, generator=g) * 20 + 0.05
    scaled = FeatureSet(feats.train_x * s_tr, feats.train_y, feats.test_x * s_te, feats.test_y, feats.num_classes)
    probe = LiblinearSVMProbe({"c_grid": GRID})
    base, rescaled = probe.evaluate(feats, seed=0), probe.evaluate(scaled, seed=0)
    assert rescaled == pytest.approx(base, abs=1e-9)
    raw = LiblinearSVMProbe({"c_grid": GRID, "normalize": "none"})
    assert raw.evaluate(scaled, seed=0) != raw.evaluate(feats, seed=0)


def test_stratified_split() -> None:
    y = np.array([0] * 50 + [1] * 30 + [2] * 10 + [3])
    fit, val = stratified_split(y, 0.2, seed=0)
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == len(y)
    assert np.bincount(y[val], minlength=4).tolist() == [10, 6, 2, 0]  # the singleton class stays in fit
    assert np.array_equal(stratified_split(y, 0.2, seed=0)[1], val)
    assert not np.array_equal(stratified_split(y, 0.2, seed=1)[1], val)


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_deterministic_given_seed(solver: str) -> None:
    feats = overlapping()
    probe = LiblinearSVMProbe({"c_grid": [0.01, 1.0], "solver": solver})
    a = probe.evaluate(feats, seed=3)
    train([0.0, 1.0], [[1.0], [-1.0]], "-s 1 -q")  # disturb the C library's rand() state in between
    assert probe.evaluate(feats, seed=3) == a
    assert a["top1"] > 50.0


def test_threads_give_the_same_result() -> None:
    feats = overlapping()
    one = LiblinearSVMProbe({"c_grid": GRID}).evaluate(feats, seed=0)
    two = LiblinearSVMProbe({"c_grid": GRID, "n_jobs": 2}).evaluate(feats, seed=0)
    assert one == two


def test_class_missing_from_train_is_never_predicted() -> None:
    feats = clusters(n_train=300, n_test=100, dim=8, num_classes=4, seed=5)
    keep = feats.train_y != 3
    partial = FeatureSet(feats.train_x[keep], feats.train_y[keep], feats.test_x, feats.test_y, 4)
    result = LiblinearSVMProbe({"c_grid": [1.0]}).evaluate(partial, seed=0)
    share_3 = 100.0 * float((feats.test_y == 3).float().mean())
    assert result["top1"] <= 100.0 - share_3 + 1e-9
    assert result["top5"] == 100.0  # k capped at 4 classes


def test_single_class_train_split_is_a_data_error() -> None:
    x = torch.randn(10, 4)
    feats = FeatureSet(x, torch.zeros(10, dtype=torch.long), x, torch.ones(10, dtype=torch.long), 2)
    with pytest.raises(DataError, match="two classes"):
        LiblinearSVMProbe().evaluate(feats, seed=0)


def test_grid_is_sorted_and_defaults() -> None:
    p = SVMProbeParams(c_grid=[10, 0.1, 1])
    assert p.c_grid == [0.1, 1.0, 10.0]
    d = SVMProbeParams()
    assert (d.solver, d.normalize, d.val_fraction, d.bias) == ("primal", "l2", 0.2, 1.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"c_grid": []}, "at least one"),
        ({"c_grid": [1.0, -1.0]}, "> 0"),
        ({"c_grid": [1.0, 1.0]}, "duplicate"),
        ({"val_fraction": 1.0}, "less than 1"),
        ({"solver": "dual", "n_jobs": 2}, "primal"),
        ({"solver": "newton"}, "solver"),
        ({"max_iter": 100}, "max_iter"),
    ],
)
def test_invalid_params(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SVMProbeParams(**params)
