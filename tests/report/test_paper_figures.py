"""The OR paper's Figs. 3-6 in the report, drawn from synthetic records and their ``figures_data.npz`` artifacts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmark.report.plots import (
    MAX_COLUMNS,
    make_figures,
    paper_spectra_figures,
    umap_figures,
    weight_correlation_figures,
)
from benchmark.results.artifacts import FIGURES_DATA, read_figures_data, write_figures_data
from benchmark.results.store import ResultsStore

STAGES = ["layer1", "layer2", "layer3", "layer4"]


def _entry(decay: float, d: int) -> dict[str, Any]:
    return {"dim": d, "lambda_max": 2.0, "normalised": [decay**i for i in range(d)]}


def _record(experiment: str, variant: str, reg: str, seed: int, decay: float) -> dict[str, Any]:
    weights = {s: {"layer": f"{s}.1.conv2.weight", **_entry(decay, 8 * 2**i)} for i, s in enumerate(STAGES)}
    features = {"input": _entry(decay, 48), **{s: _entry(decay, 8 * 2**i) for i, s in enumerate(STAGES)},
                "representation": _entry(decay, 64)}
    return {
        "suite": "synth", "profile": "cpu", "experiment": experiment, "variant": variant, "seed": seed,
        "status": "ok", "path": f"{experiment}/{variant}/seed{seed}",
        "config": {"experiment": {"method": {"name": "byol"}, "regularizer": {"name": reg},
                                  "backbone": {"name": "resnet18", "width": 16}, "data": {"dataset": "cifar10"},
                                  "eval": {}}},
        "diagnostics": {"first_batch": {"n": 100, "requested": 4096, "split": "test", "stages": STAGES,
                                        "weights": weights, "features": features}},
    }


def _runs() -> list[dict[str, Any]]:
    runs = [("byol_c10", "none", "none", 0.7), ("byol_c10_whitening", "-", "none", 0.8),
            ("byol_c10", "so-gamma1e-06", "so", 0.9)]
    return [_record(e, v, reg, seed, d) for e, v, reg, d in runs for seed in (0, 1)]


def _png_ok(png: bytes) -> None:
    from PIL import Image

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert arr.std() > 5, "figure is a blank canvas"


def test_paper_spectra_put_whitening_and_or_beside_the_no_or_reference():
    figs = paper_spectra_figures(_runs())
    assert len(figs) == 1
    fig = figs[0]
    assert fig.slug == "synth__cpu__byol__resnet18-w16__cifar10__test__paper_spectra"
    runs = fig.caption.split("runs: ")[1]
    assert runs == "byol_c10 [none], byol_c10_whitening, byol_c10 [so-gamma1e-06]"  # no-OR first, then OR
    _png_ok(fig.png)


def test_paper_spectra_are_split_into_figures_that_each_start_with_the_reference():
    recs = _runs() + [_record("byol_c10", f"so-gamma1e-0{k}", "so", 0, 0.9) for k in (5, 7)] + [
        _record("byol_c10", "srip-gamma0.001", "srip", 0, 0.95)]
    figs = paper_spectra_figures(recs)
    assert len(figs) == 2 and all("(part " in f.caption for f in figs)
    for f in figs:
        cols = f.caption.split("runs: ")[1].split(", ")
        assert cols[0] == "byol_c10 [none]" and len(cols) <= MAX_COLUMNS
    assert paper_spectra_figures([r for r in _runs() if r["variant"] == "none"]) == []  # nothing to compare
    other_backbone = _record("byol_c10", "so-gamma1e-06", "so", 0, 0.9)
    other_backbone["config"]["experiment"]["backbone"] = {"name": "resnet50"}
    assert paper_spectra_figures([_runs()[0], other_backbone]) == []  # different backbones are not compared


def _store_artifacts(root: Path, recs: list[dict[str, Any]]) -> Path:
    store = ResultsStore(root)
    rng = np.random.default_rng(0)
    for i, r in enumerate(recs):
        corr = np.abs(np.corrcoef(rng.normal(size=(16, 9)))).astype(np.float16)
        order = rng.permutation(16).astype(np.int32)
        arrays = {"weight_correlation.abs_corr": corr, "weight_correlation.row_order": order,
                  "weight_correlation.column_order": order,
                  "umap.coords": rng.normal(size=(60, 2)).astype(np.float32) + i,
                  "umap.labels": np.arange(60, dtype=np.int32) % 10}
        r["figures_data"] = write_figures_data(store.run_dir(r["path"]), arrays)
        r["diagnostics"]["weight_correlation"] = {"layer": "layer4.1.conv2.weight", "mean_abs_offdiag": 0.2,
                                                  "bicluster": {"n_clusters": 4}}
        r["diagnostics"]["umap"] = {"n": 60}
        store.write(r["path"], r)
    return root


def test_artifact_round_trip_and_mismatch(tmp_path: Path):
    arrays = {"a.x": np.arange(5, dtype=np.float16)}
    block = write_figures_data(tmp_path, arrays)
    assert block["file"] == FIGURES_DATA and block["keys"] == ["a.x"]
    assert np.array_equal(read_figures_data(tmp_path, block)["a.x"], arrays["a.x"])
    assert read_figures_data(tmp_path, {**block, "sha256": "0" * 64}) is None  # not the file the record names
    assert read_figures_data(tmp_path / "elsewhere", block) is None
    assert read_figures_data(tmp_path, None) is None


def test_correlation_and_umap_figures_read_the_artifacts(tmp_path: Path):
    recs = _runs()
    root = _store_artifacts(tmp_path / "results", recs)
    corr = weight_correlation_figures(recs, root)
    umap = umap_figures(recs, root)
    assert [f.slug for f in corr] == ["synth__cpu__byol__resnet18-w16__cifar10__test__weight_correlation"]
    assert [f.slug for f in umap] == ["synth__cpu__byol__resnet18-w16__cifar10__test__umap"]
    for f in corr + umap:
        _png_ok(f.png)
        assert f.caption.endswith("runs: byol_c10 [none], byol_c10_whitening, byol_c10 [so-gamma1e-06]")
    assert weight_correlation_figures(recs, None) == []  # no results directory: nothing to read
    for r in recs[:2]:  # both seeds of byol_c10 [none]: the artifacts no longer match their records
        (Path(root) / "runs" / r["path"] / FIGURES_DATA).write_bytes(b"changed")
    (fig,) = weight_correlation_figures(recs, root)
    assert fig.caption.endswith("runs: byol_c10_whitening, byol_c10 [so-gamma1e-06]")
    slugs = [f.slug for f in make_figures(recs, root)]
    assert sum(s.endswith(("paper_spectra", "weight_correlation", "umap")) for s in slugs) == 3


@pytest.mark.parametrize("missing", ["weight_correlation", "umap"])
def test_figures_without_their_arrays_are_skipped(tmp_path: Path, missing: str):
    recs = _runs()
    root = _store_artifacts(tmp_path / "results", recs)
    for r in recs:
        r["figures_data"]["keys"] = [k for k in r["figures_data"]["keys"] if not k.startswith(missing + ".")]
    draw = weight_correlation_figures if missing == "weight_correlation" else umap_figures
    assert draw(recs, root) == []
