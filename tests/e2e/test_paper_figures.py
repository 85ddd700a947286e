"""`bench run` end to end for the OR paper's figures and Table 10: record fields, the artifact, report figures.

Digits at 16 px through a width-4 ResNet-18 (it has the paper's layer1..layer4), 4 steps: BYOL without and with SO
(spectra, weight correlation of layer4, UMAP, OR timing) and a measurement-only SRIP run (``eval.probes: []``).
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap

import numpy as np
import pytest

from benchmark.cli import main

SUITE = textwrap.dedent(
    """\
    suite: figs_e2e
    defaults:
      data: {dataset: digits, params: {size: 16}, input_size: 16, normalize: none}
      backbone: {name: resnet18, width: 4}
      augment: {params: {gaussian_blur: 0.0}}
      pretrain:
        epochs: 1
        max_steps: 4
        batch_size_per_device: 64
        optimizer: {name: sgd, lr: 0.05, base_batch_size: 64}
        schedule: {name: cosine}
      eval:
        probes: [{name: knn, k: 5}]
        spectra: true
        spectra_batch: 100
        weight_correlation: layer4
        umap: {samples: 200, n_neighbors: 10}
      measure: {enabled: true, warmup_steps: 1, steps: 2, loss_only: false, regularizer_only: true}
    experiments:
      - id: byol
        method: {name: byol, proj_hidden_dim: 32, proj_output_dim: 16, pred_hidden_dim: 32}
        grid:
          regularizer: [{name: none}, {name: so, gamma: 1.0e-3}]
      - id: byol_measure_only
        method: {name: byol, proj_hidden_dim: 32, proj_output_dim: 16, pred_hidden_dim: 32}
        regularizer: {name: srip, gamma: 1.0e-3}
        eval: {probes: [], spectra: false, weight_correlation: null, umap: null}
    """
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("figs")
    (root / "s.yaml").write_text(SUITE)
    results = root / "results"
    code = main(["run", str(root / "s.yaml"), "--results-dir", str(results), "--no-progress"])
    records = {p.parent.relative_to(results / "runs").as_posix(): (p.parent, json.loads(p.read_text()))
               for p in results.glob("runs/**/result.json")}
    return code, results, records


def test_spectra_follow_the_first_batch_protocol(finished):
    code, _, records = finished
    assert code == 0
    _, rec = records["byol/so-gamma0.001/seed0"]
    assert rec["status"] == "ok" and rec["data"]["n_test"] == 450
    fb = rec["diagnostics"]["first_batch"]
    assert fb["n"] == 100 and fb["requested"] == 100 and fb["split"] == "test"
    assert fb["stages"] == ["layer1", "layer2", "layer3", "layer4"]
    assert [fb["weights"][s]["layer"] for s in fb["stages"]] == [f"layer{i}.1.conv2.weight" for i in range(1, 5)]
    assert [fb["weights"][s]["dim"] for s in fb["stages"]] == [4, 8, 16, 32]  # width 4: 4, 8, 16, 32 filters
    assert list(fb["features"]) == ["input", "layer1", "layer2", "layer3", "layer4", "representation"]
    assert fb["features"]["input"]["dim"] == 16 * 16 * 3 and len(fb["features"]["input"]["normalised"]) == 99
    for entry in [*fb["weights"].values(), *fb["features"].values()]:
        values = entry["normalised"]
        assert values[0] == 1.0 and all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert rec["diagnostics"]["effective_rank"] > 1  # RankMe stays where the claims read it


def test_weight_correlation_and_umap_are_stored_in_the_artifact(finished):
    from benchmark.data import load_dataset

    _, _, records = finished
    run_dir, rec = records["byol/none/seed0"]
    block = rec["figures_data"]
    payload = (run_dir / block["file"]).read_bytes()
    assert hashlib.sha256(payload).hexdigest() == block["sha256"]
    with np.load(run_dir / block["file"]) as data:
        corr = data["weight_correlation.abs_corr"]
        coords, labels = data["umap.coords"], data["umap.labels"]
        order = data["weight_correlation.row_order"]
    assert corr.dtype == np.float16 and corr.shape == (32, 32) and np.allclose(np.diag(corr), 1.0)
    assert sorted(order.tolist()) == list(range(32))
    summary = rec["diagnostics"]["weight_correlation"]
    assert summary["layer"] == "layer4.1.conv2.weight" and 0 < summary["mean_abs_offdiag"] < 1
    off = corr.astype(float)[~np.eye(32, dtype=bool)]
    assert summary["mean_abs_offdiag"] == pytest.approx(off.mean(), abs=1e-3)
    splits = load_dataset("digits", {"size": 16}, data_root=run_dir, download=False)
    assert coords.shape == (200, 2) and np.isfinite(coords).all()
    assert labels.tolist() == np.asarray(splits.test_labels)[:200].tolist()  # the first 200 test images
    assert rec["diagnostics"]["umap"]["n"] == 200 and rec["diagnostics"]["umap"]["package"].startswith("umap-learn")


def test_regularizer_time_is_recorded_also_without_probes(finished):
    from benchmark.report.claims import metric_value

    _, _, records = finished
    _, so = records["byol/so-gamma0.001/seed0"]
    reg = so["pretrain"]["measure"]["regularizer_only"]
    assert reg["status"] == "ok" and reg["kind"] == "so" and reg["time_s"]["n"] == 2 and reg["time_s"]["mean"] > 0
    assert reg["layers"] == 20  # the 20 Conv2d of ResNet-18 (OR covers the first conv by default)
    value, why = metric_value(so, "measure.regularizer_time")
    assert why is None and value == reg["time_s"]["mean"]
    _, none = records["byol/none/seed0"]
    assert none["pretrain"]["measure"]["regularizer_only"]["status"] == "not_applicable"
    _, only = records["byol_measure_only/seed0"]
    assert only["status"] == "ok" and only["metrics"] == {} and "diagnostics" not in only
    assert only["pretrain"]["measure"]["regularizer_only"]["kind"] == "srip"
    assert only["pretrain"]["measure"]["regularizer_only"]["time_s"]["mean"] > 0


def test_report_embeds_the_paper_figures_and_the_or_column(finished):
    _, results, _ = finished
    md = (results / "report.md").read_text()
    page = (results / "report.html").read_text()
    for kind in ("paper_spectra", "weight_correlation", "umap"):
        slug = f"figs_e2e__paper__byol__resnet18-w4__digits__test__{kind}"
        assert f"(figures/{slug}.png)" in md
        assert (results / "figures" / f"{slug}.png").read_bytes().startswith(b"\x89PNG")
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert any("Figs. 3/4" in c for c in captions) and any("Fig. 5" in c for c in captions)
    assert any("Fig. 6" in c for c in captions)
    assert page.count("src='data:image/png;base64,") == len(captions)
    assert "OR alone ms" in md and "<th>OR alone ms</th>" in page
    row = next(line for line in md.splitlines() if line.startswith("| byol | so-gamma0.001 | 0 |"))  # performance
    assert "(mean of 2)" in row
