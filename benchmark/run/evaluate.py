"""The evaluation stage of a run: probes on frozen features (:func:`benchmark.probes.build_probe`), transfer
datasets, spectra and effective rank, and the data of the weight-correlation and UMAP figures."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from benchmark.run.data import IndexSubset, load_splits, subset_indices
from benchmark.run.options import RunOptions
from benchmark.suite.plan import Run
from benchmark.suite.schema import ExperimentConfig, ProbeConfig


def _feature_device(opts: RunOptions) -> str:
    return "cuda" if opts.device.startswith("cuda") else "cpu"


def build_run_probe(probe_cfg: ProbeConfig, report: str) -> Any:
    """The probe of one ``eval.probes`` entry; a probe with a ``report`` parameter the entry leaves out gets the
    experiment's ``report``."""
    from benchmark.probes import PROBES, build_probe

    params = probe_cfg.extras()
    if "report" in PROBES.get(probe_cfg.name).Params.model_fields and "report" not in params:
        params = {**params, "report": report}
    return build_probe(probe_cfg.name, params)


def run_probes(run: Run, encoder: torch.nn.Module, splits: Any, train_idx: np.ndarray, test_idx: np.ndarray,
               opts: RunOptions, cfg: ExperimentConfig | None = None
               ) -> tuple[dict[str, Any], dict[str, float], Any, dict[str, dict[str, Any]]]:
    """Extract frozen features once, then run every probe; returns (metrics, timings, FeatureSet, protocol).

    ``protocol`` maps each probe to the parameters it ran with, defaults included (e.g. the linear probe's
    ``normalize``), so a record shows that its encoder and its random-init control were probed alike.
    ``cfg`` (default: the run's) supplies the data settings and probes: transfer passes the target dataset's.
    """
    from benchmark.data.transforms import build_eval_transform
    from benchmark.probes.base import FeatureSet
    from benchmark.probes.features import extract_features

    cfg = cfg or run.config
    if not cfg.eval.probes and not cfg.eval.spectra:  # a measurement-only run: no features needed
        return {}, {}, None, {}
    transform = build_eval_transform(cfg.data)
    device = _feature_device(opts)
    encoder = encoder.to(device)
    t0 = time.perf_counter()
    kw = {"transform": transform, "batch_size": cfg.eval.feature_batch_size, "device": device, "progress": opts.progress}
    tr_x, tr_y = extract_features(encoder, IndexSubset(splits.train, train_idx), **kw)
    te_x, te_y = extract_features(encoder, IndexSubset(splits.test, test_idx), **kw)
    timings = {"features": time.perf_counter() - t0}
    feats = FeatureSet(train_x=tr_x, train_y=tr_y, test_x=te_x, test_y=te_y, num_classes=splits.num_classes)
    metrics: dict[str, Any] = {}
    protocol: dict[str, dict[str, Any]] = {}
    for probe_cfg in cfg.eval.probes:
        probe = build_run_probe(probe_cfg, cfg.report)
        t1 = time.perf_counter()
        metrics[probe_cfg.name] = probe.evaluate(feats, seed=run.seed, progress=opts.progress)
        timings[probe_cfg.name] = time.perf_counter() - t1
        protocol[probe_cfg.name] = probe.params.model_dump(mode="json")
    return metrics, timings, feats, protocol


def run_transfer(run: Run, encoder: torch.nn.Module, opts: RunOptions
                 ) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """Probe the frozen encoder on each ``eval.transfer`` dataset.

    Returns metrics keyed ``'<name>/<probe>'`` (so report rows read e.g. ``food101/linear.top1``), timings keyed
    ``'transfer/<name>/<part>'`` and, per name, what was probed (dataset, split sizes).
    """
    cfg = run.config
    metrics: dict[str, Any] = {}
    timings: dict[str, float] = {}
    info: dict[str, Any] = {}
    for target in cfg.eval.transfer:
        probes = target.probes if target.probes is not None else cfg.eval.probes
        t_cfg = cfg.model_copy(update={"data": target.data,
                                       "eval": cfg.eval.model_copy(update={"probes": probes, "spectra": False})})
        splits = load_splits(t_cfg, opts)
        train_idx = subset_indices(np.asarray(splits.train_labels), target.data.train_subset)
        test_idx = subset_indices(np.asarray(splits.test_labels), target.data.test_subset)
        t_metrics, t_timings, _, t_protocol = run_probes(run, encoder, splits, train_idx, test_idx, opts, cfg=t_cfg)
        metrics.update({f"{target.name}/{probe}": values for probe, values in t_metrics.items()})
        timings.update({f"transfer/{target.name}/{part}": sec for part, sec in t_timings.items()})
        info[target.name] = {"dataset": target.data.dataset, "source": splits.source, "n_train": int(len(train_idx)),
                             "n_test": int(len(test_idx)), "num_classes": int(splits.num_classes),
                             "probe_protocol": t_protocol}
    return metrics, timings, info


def first_test_images(cfg: ExperimentConfig, test_set: Any, test_idx: np.ndarray, n: int) -> torch.Tensor:
    """The first ``n`` images of the evaluated test split in its order, through the deterministic eval transform."""
    from benchmark.data.transforms import build_eval_transform

    transform = build_eval_transform(cfg.data)
    subset = IndexSubset(test_set, np.asarray(test_idx)[:n])
    return torch.stack([transform(subset[i][0]) for i in range(len(subset))])


def split_name(cfg: ExperimentConfig) -> str:
    """The split the probes evaluate on: ``validation`` (``eval.validation`` set) or ``test``."""
    return "validation" if cfg.eval.validation is not None else "test"


def diagnostics(encoder: torch.nn.Module, feats: Any, cfg: ExperimentConfig, images: torch.Tensor) -> dict[str, Any]:
    """Spectra and effective rank (``eval.spectra``).

    ``feature_spectrum`` / ``effective_rank`` / ``weight_spectra``: the whole evaluated test split's representations
    and every regularised weight. ``first_batch``: the OR paper's Fig. 3/4 protocol
    (:func:`benchmark.diagnostics.spectra.first_batch_spectra`) on ``images``, the first ``eval.spectra_batch``
    images of that split.
    """
    from benchmark.diagnostics.spectra import effective_rank, feature_spectrum, first_batch_spectra, weight_spectra

    spectrum = feature_spectrum(feats.test_x)
    first = first_batch_spectra(encoder, images, batch_size=cfg.eval.feature_batch_size)
    return {
        "feature_spectrum": np.asarray(spectrum).tolist(),
        "effective_rank": float(effective_rank(feats.test_x)),
        "weight_spectra": {k: np.asarray(v).tolist() for k, v in weight_spectra(encoder).items()},
        "first_batch": {
            "protocol": "He et al., NeurIPS 2024, Figs. 3/4: first test batch, eval transform (no augmentation), "
                        "normalised eigenvalues (lambda / lambda_max)",
            "split": split_name(cfg),
            "requested": cfg.eval.spectra_batch,
            **first,
        },
    }


def _umap_inputs(run: Run, encoder: torch.nn.Module, feats: Any, test_set: Any, test_idx: np.ndarray,
                 opts: RunOptions) -> tuple[Any, Any]:
    """(representations, labels) of the first ``eval.umap.samples`` evaluated images."""
    cfg = run.config
    n = cfg.eval.umap.samples
    if feats is not None:
        return feats.test_x[:n], feats.test_y[:n]
    # no probes and no spectra: extract the representations of the first images only
    from benchmark.data.transforms import build_eval_transform
    from benchmark.probes.features import extract_features

    device = _feature_device(opts)
    return extract_features(encoder.to(device), IndexSubset(test_set, np.asarray(test_idx)[:n]),
                            transform=build_eval_transform(cfg.data), batch_size=cfg.eval.feature_batch_size,
                            device=device, progress=opts.progress)


def figure_data(run: Run, encoder: torch.nn.Module, feats: Any, test_set: Any, test_idx: np.ndarray,
                opts: RunOptions) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``eval.weight_correlation`` (Fig. 5) and ``eval.umap`` (Fig. 6): (record summaries, artifact arrays)."""
    cfg = run.config
    summary: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    if cfg.eval.weight_correlation is not None:
        from benchmark.diagnostics.correlation import weight_correlation

        summary["weight_correlation"], corr = weight_correlation(encoder, cfg.eval.weight_correlation, seed=run.seed)
        arrays.update({f"weight_correlation.{k}": v for k, v in corr.items()})
    if cfg.eval.umap is not None:
        from benchmark.diagnostics.embedding import umap_embedding

        u = cfg.eval.umap
        x, y = _umap_inputs(run, encoder, feats, test_set, test_idx, opts)
        coords, settings = umap_embedding(x, n_neighbors=u.n_neighbors, min_dist=u.min_dist, metric=u.metric,
                                          seed=u.seed)
        summary["umap"] = {**settings, "split": split_name(cfg), "requested": u.samples}
        arrays["umap.coords"] = coords
        arrays["umap.labels"] = np.asarray(y, dtype=np.int32)
    return summary, arrays
