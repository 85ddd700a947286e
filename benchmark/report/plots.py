"""Report figures from run records: spectra with/without OR, accuracy vs γ, balanced vs imbalanced batches, cost vs q.

Each figure is a PNG rendered with matplotlib's Agg canvas (no display, no pyplot global state) and embedded in the
HTML report as a ``data:image/png;base64`` URI; the Markdown report links the same PNGs written to ``figures/``.
Figures are drawn only from what the records hold; a figure whose data is absent (e.g. no ``pretrain.measure``
because the runner did not measure, or no ``diagnostics`` because ``eval.spectra`` was off) is skipped, never faked.

* :func:`spectra_figures` — normalised eigenvalues λ_k/λ_1 of the whole test split's representation covariance
  (``diagnostics.feature_spectrum``) and σ_i(W)² of the deepest regularised weight (``diagnostics.weight_spectra``),
  per regularizer variant of an experiment, mean over seeds (He et al., NeurIPS 2024, Fig. 3: OR slows the decay).
* :func:`paper_spectra_figures` — the OR paper's Fig. 3 (BYOL: without OR / feature whitening / OR) and Fig. 4
  (VICReg / without projector / + SO) from ``diagnostics.first_batch``: normalised eigenvalues on log-log axes, one
  row per kind (weights of each stage's last conv, hidden features per stage, input and representation), one line
  per layer, the compared runs side by side (same y range per row), mean over seeds.
* :func:`weight_correlation_figures` — Fig. 5: |corr| among the filters of ``eval.weight_correlation``'s last conv,
  as stored and after spectral biclustering, side by side (from ``figures_data.npz``, one seed).
* :func:`umap_figures` — Fig. 6: UMAP of the test representations coloured by class (``figures_data.npz``).
* :func:`gamma_figures` — accuracy vs γ for the SO/SRIP grids (γ_SRIP ∈ {1e-3, 1e-4, 1e-5}, γ_SO ∈ {1e-5, 1e-6,
  1e-7}), with the no-OR mean ± std as a band.
* :func:`sampler_figures` — linear accuracy for random (class-balanced) vs K-classes-per-batch sampling
  (Assran et al., ICLR 2023, Table 1), mean ± std over seeds.
* :func:`measure_figures` — step time and peak memory vs embedding dimension q (SFRIK vs VICReg, Zheng et al.,
  ICLR 2023, the time/memory comparison on 8 MI50s), from ``pretrain.measure``; out-of-memory points are marked.

The paper figures compare runs that share suite, profile, method, backbone, dataset and evaluated split (so
``byol_c10``'s OR grid and ``byol_c10_whitening`` land in one figure); the no-OR runs come first. At most
:data:`MAX_COLUMNS` runs are drawn side by side; a larger comparison is split over several figures, each starting
with the reference (the first no-OR run).
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.report.diff import probe_metrics
from benchmark.report.figures import Figure, figure_kinds, register_figure
from benchmark.results.record import (
    FirstBatch,
    RecordLike,
    RunRecord,
    SpectrumEntry,
    as_record,
    as_records,
    ok_records,
    value_or,
)

PREFERRED_METRICS = ("linear.top1", "knn.top1", "svm.top1")
#: Normalised eigenvalues below this are numerical zeros (rank-deficient covariance) and are not drawn.
SPECTRUM_FLOOR = 1e-10
#: Runs drawn side by side in one paper figure (Figs. 3-6); more are split over several figures.
MAX_COLUMNS = 4


def _new_figure(ncols: int = 1, width: float = 6.0, height: float = 4.0) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width * ncols, height), dpi=100, layout="constrained")
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "__".join(p for p in parts if p)).strip("_")[:120] or "figure"


def _context(rec: RunRecord, drop: str) -> str:
    """The run's grid assignments except the axis ``drop`` (e.g. the backbone when comparing regularizers)."""
    assigned = {k: v for k, v in (rec.variant_assignments or {}).items() if k.split(".")[0] != drop}
    return json.dumps(assigned, sort_keys=True, default=str) if assigned else ""


def _context_text(ctx: str) -> str:
    if not ctx:
        return ""
    items = json.loads(ctx)
    return ", ".join(f"{k}={v.get('name', v) if isinstance(v, dict) else v}" for k, v in items.items())


def _metric_of(records: list[RunRecord]) -> str | None:
    """The accuracy a figure plots: the first of :data:`PREFERRED_METRICS` the records have, else the first
    metric the first probe of the records declares (``reported_metrics``), so a new probe is plotted too."""
    for m in PREFERRED_METRICS:
        if any(r.metric_value(m)[0] is not None for r in records):
            return m
    for rec in records:
        for probe, values in (rec.metrics or {}).items():
            declared = [m for m in probe_metrics(probe) if values.get(m) is not None]
            if declared:
                return f"{probe}.{declared[0]}"
    return None


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _groups(records: list[RunRecord], drop: str) -> dict[tuple[str, str, str, str], list[RunRecord]]:
    out: dict[tuple[str, str, str, str], list[RunRecord]] = defaultdict(list)
    for r in ok_records(records):
        out[(str(r.suite), str(r.profile), str(r.experiment), _context(r, drop))].append(r)
    return out


# ------------------------------------------------------------------------------------------------ spectra
def _normalised(values: list[float]) -> list[float]:
    top = max(values) if values else 0.0
    return [v / top for v in values] if top > 0 else []


def _mean_curve(curves: list[list[float]]) -> list[float]:
    n = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(n)]


@register_figure("spectra", order=10)
def spectra_figures(records: list[RecordLike]) -> list[Figure]:
    """Feature and weight spectra per regularizer variant, for experiments run with and without OR."""
    figures: list[Figure] = []
    for (suite, profile, exp, ctx), recs in sorted(_groups(as_records(records), "regularizer").items()):
        recs = [r for r in recs if r.diagnostics is not None and r.diagnostics.feature_spectrum]
        by_var: dict[str, list[RunRecord]] = defaultdict(list)
        for r in recs:
            by_var[str(r.variant or "-")].append(r)
        names = {r.regularizer_name for r in recs}
        if len(by_var) < 2 or "none" not in names or len(names) < 2:
            continue
        fig, (ax_f, ax_w) = _new_figure(2)
        for label, rs in sorted(by_var.items(), key=lambda kv: (kv[1][0].regularizer_name != "none", kv[0])):
            curves = [_normalised(r.diagnostics.feature_spectrum) for r in rs]
            curves = [c for c in curves if c]
            style = "-" if rs[0].regularizer_name == "none" else "--"
            if curves:
                mean = _mean_curve(curves)
                pos = [(i + 1, v) for i, v in enumerate(mean) if v > SPECTRUM_FLOOR]
                ax_f.plot([p[0] for p in pos], [p[1] for p in pos], style, label=f"{label} (n={len(curves)})")
            layers = [r.diagnostics.weight_spectra or {} for r in rs]
            common = [k for k in layers[0] if all(k in lay for lay in layers)] if layers and layers[0] else []
            if common:
                deepest = common[-1]
                w_curves = [sorted(lay[deepest], reverse=True) for lay in layers]
                mean_w = _mean_curve(w_curves)
                ax_w.plot(range(1, len(mean_w) + 1), mean_w, style, label=label)
                ax_w.set_title(f"weight spectrum σ_i(W)² of {deepest}", fontsize=9)
        ax_f.set_yscale("log")
        ax_f.set_xscale("log")
        ax_f.set_xlabel("eigenvalue index k")
        ax_f.set_ylabel("λ_k / λ_1 (representation covariance)")
        ax_f.set_title("feature spectrum (slower decay = less collapse)", fontsize=9)
        ax_f.legend(fontsize=8)
        ax_w.set_yscale("log")
        ax_w.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax_w.set_xlabel("index i")
        ax_w.set_ylabel("σ_i(W)² (1 = orthogonal)")
        if ax_w.lines:
            ax_w.legend(fontsize=8)
        extra = f" ({_context_text(ctx)})" if ctx else ""
        fig.suptitle(f"{suite} / {profile} / {exp}{extra}", fontsize=10)
        figures.append(Figure(_slug(suite, profile, exp, "spectra", ctx),
                              f"Spectra with and without OR: {suite}, profile {profile}, {exp}{extra}", _png(fig)))
    return figures


# ------------------------------------------------------------------------------------------------ gamma
@register_figure("gamma", order=50)
def gamma_figures(records: list[RecordLike]) -> list[Figure]:
    """Accuracy vs γ per regularizer kind (log x axis), with the no-OR mean ± std as a band."""
    figures: list[Figure] = []
    for (suite, profile, exp, ctx), recs in sorted(_groups(as_records(records), "regularizer").items()):
        metric = _metric_of(recs)
        if metric is None:
            continue
        points: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        baseline: list[float] = []
        for r in recs:
            value = r.metric_value(metric)[0]
            if value is None:
                continue
            reg = r.regularizer
            if reg.get("name") == "none":
                baseline.append(value)
            elif isinstance(reg.get("gamma"), int | float) and reg["gamma"] > 0:
                points[str(reg["name"])][float(reg["gamma"])].append(value)
        if sum(len(v) for v in points.values()) < 2:
            continue
        fig, (ax,) = _new_figure(1)
        if baseline:
            m, s = _mean_std(baseline)
            ax.axhline(m, color="black", lw=1, label=f"no OR (n={len(baseline)})")
            ax.axhspan(m - s, m + s, color="grey", alpha=0.2)
        for kind, by_gamma in sorted(points.items()):
            gammas = sorted(by_gamma)
            stats = [_mean_std(by_gamma[g]) for g in gammas]
            ax.errorbar(gammas, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", capsize=3,
                        label=f"{kind} (n per γ: {', '.join(str(len(by_gamma[g])) for g in gammas)})")
        ax.set_xscale("log")
        ax.set_xlabel("γ")
        ax.set_ylabel(f"{metric} (%)")
        ax.legend(fontsize=8)
        extra = f" ({_context_text(ctx)})" if ctx else ""
        ax.set_title(f"{suite} / {profile} / {exp}{extra}", fontsize=10)
        figures.append(Figure(_slug(suite, profile, exp, "gamma", ctx),
                              f"{metric} vs γ: {suite}, profile {profile}, {exp}{extra} (mean ± std over seeds)",
                              _png(fig)))
    return figures


# ------------------------------------------------------------------------------------------------ sampler
def _sampler_label(rec: RunRecord) -> str:
    sampler = rec.config_section("data").get("sampler") or {}
    if sampler.get("kind") == "k_classes":
        return f"K={sampler.get('k')}"
    return "random"


@register_figure("sampler", order=60)
def sampler_figures(records: list[RecordLike]) -> list[Figure]:
    """Grouped bars: accuracy per sampler (random vs K classes per batch), one group per experiment."""
    figures: list[Figure] = []
    per_profile: dict[tuple[str, str], list[tuple[str, dict[str, list[float]], str]]] = defaultdict(list)
    for (suite, profile, exp, ctx), recs in sorted(_groups(as_records(records), "data").items()):
        labels = {_sampler_label(r) for r in recs}
        if len(labels) < 2:
            continue
        metric = _metric_of(recs)
        if metric is None:
            continue
        by_label: dict[str, list[float]] = defaultdict(list)
        for r in recs:
            value = r.metric_value(metric)[0]
            if value is not None:
                by_label[_sampler_label(r)].append(value)
        name = exp + (f" ({_context_text(ctx)})" if ctx else "")
        per_profile[(suite, profile)].append((name, dict(by_label), metric))
    for (suite, profile), groups in sorted(per_profile.items()):

        def order(label: str) -> tuple[int, int]:
            return (0, 0) if label == "random" else (1, -int(label.split("=")[1]) if label[2:].isdigit() else 0)

        labels = sorted({lab for _, by, _ in groups for lab in by}, key=order)
        fig, (ax,) = _new_figure(1, width=max(6.0, 1.6 * len(groups) + 2))
        width = 0.8 / len(labels)
        for j, lab in enumerate(labels):
            xs, ms, ss = [], [], []
            for i, (_, by, _) in enumerate(groups):
                if by.get(lab):
                    m, s = _mean_std(by[lab])
                    xs.append(i + (j - (len(labels) - 1) / 2) * width)
                    ms.append(m)
                    ss.append(s)
            ax.bar(xs, ms, width=width, yerr=ss, capsize=3, label=lab)
        ax.set_xticks(range(len(groups)), [g[0] for g in groups], rotation=15, fontsize=8)
        metrics = sorted({g[2] for g in groups})
        ax.set_ylabel(", ".join(metrics) + " (%)")
        ax.set_title(f"{suite} / {profile}: class-balanced (random) vs K classes per batch", fontsize=10)
        ax.legend(fontsize=8)
        figures.append(Figure(_slug(suite, profile, "sampler"),
                              f"Balanced vs imbalanced batches: {suite}, profile {profile} (mean ± std over seeds)",
                              _png(fig)))
    return figures


# ------------------------------------------------------------------------------------------------ measure
def embedding_dim(rec: RecordLike) -> int | None:
    """q: the projector's output size (SFRIK ``mlp[-1]``, else ``proj_output_dim`` / ``output_dim``)."""
    method = as_record(rec).config_section("method")
    if isinstance(method.get("mlp"), list) and method["mlp"]:
        return int(method["mlp"][-1])
    for key in ("proj_output_dim", "output_dim"):
        if isinstance(method.get(key), int):
            return int(method[key])
    return None


@register_figure("measure", order=70)
def measure_figures(records: list[RecordLike]) -> list[Figure]:
    """Step time and peak memory vs q, one line per experiment (method); skipped when nothing was measured."""
    figures: list[Figure] = []
    series: dict[tuple[str, str], dict[str, dict[str, dict[int, list[float]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    oom: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in ok_records(as_records(records)):
        q = embedding_dim(r)
        if q is None:
            continue
        key = (str(r.suite), str(r.profile))
        label = f"{r.experiment} ({r.config_section('method').get('name')})"
        for alias in ("step_time", "peak_memory"):
            value, why = r.metric_value(f"measure.{alias}")
            if value is None:
                continue
            if math.isinf(value):
                if alias == "step_time":
                    oom[key].append(f"{label} q={q}")
                continue
            series[key][alias][label][q].append(value)
    for key, per_alias in sorted(series.items()):
        if not per_alias:
            continue
        suite, profile = key
        fig, axes = _new_figure(2)
        units: dict[str, tuple[str, Callable[[float], float]]] = {
            "step_time": ("step time (ms, median)", lambda v: v * 1e3),
            "peak_memory": ("peak memory (MiB)", lambda v: v / 2**20),
        }
        for ax, alias in zip(axes, ("step_time", "peak_memory"), strict=True):
            ylabel, conv = units[alias]
            for label, by_q in sorted(per_alias.get(alias, {}).items()):
                qs = sorted(by_q)
                stats = [_mean_std([conv(v) for v in by_q[q]]) for q in qs]
                ax.errorbar(qs, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o", capsize=3, label=label)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("embedding dimension q")
            ax.set_ylabel(ylabel)
            if ax.lines or ax.containers:
                ax.legend(fontsize=8)
        note = f"; out of memory: {', '.join(sorted(set(oom[key])))}" if oom.get(key) else ""
        fig.suptitle(f"{suite} / {profile}: training-step cost vs q{note}", fontsize=10)
        figures.append(Figure(_slug(suite, profile, "cost_vs_q"),
                              f"Step time and peak memory vs q: {suite}, profile {profile}{note}", _png(fig)))
    return figures


# ------------------------------------------------------------------------------------------------ paper figures
@dataclass
class _Column:
    """One compared run (experiment × variant) of a paper figure, with its seeds' records."""

    experiment: str
    variant: str
    records: list[RunRecord]

    @property
    def label(self) -> str:
        return self.experiment + (f" [{self.variant}]" if self.variant and self.variant != "-" else "")

    @property
    def is_reference(self) -> bool:
        return self.records[0].regularizer_name == "none"


def _comparison_key(rec: RunRecord) -> tuple[str, ...]:
    split = "validation" if rec.config_section("eval").get("validation") else "test"
    return (str(rec.suite), str(rec.profile), str(rec.config_section("method").get("name", "?")), rec.backbone_label,
            str(rec.config_section("data").get("dataset", "?")), split)


def _comparisons(records: list[RunRecord], has: Callable[[RunRecord], bool]
                 ) -> list[tuple[tuple[str, ...], list[list[_Column]]]]:
    """Runs holding the data (``has``) grouped by :func:`_comparison_key`, as chunks of side-by-side columns."""
    groups: dict[tuple[str, ...], dict[tuple[str, str], list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in ok_records(records):
        if has(r):
            groups[_comparison_key(r)][(str(r.experiment), str(r.variant or "-"))].append(r)
    out = []
    for key, by_run in sorted(groups.items()):
        cols = [_Column(e, v, sorted(rs, key=lambda r: r.seed or 0)) for (e, v), rs in by_run.items()]
        cols.sort(key=lambda c: (not c.is_reference, c.experiment, c.variant))
        if len(cols) < 2:
            continue
        ref, rest = cols[0], cols[1:]
        per = MAX_COLUMNS - 1
        out.append((key, [[ref, *rest[i : i + per]] for i in range(0, len(rest), per)]))
    return out


def _key_text(key: tuple[str, ...]) -> str:
    suite, profile, method, backbone, dataset, split = key
    return f"{suite} / {profile}: {method}, {backbone}, {dataset} ({split} split)"


def _first_batch(rec: RunRecord) -> FirstBatch | None:
    fb = rec.diagnostics.first_batch if rec.diagnostics is not None else None
    return fb if fb is not None and fb.features else None


def _mean_normalised(entries: list[SpectrumEntry | None]) -> list[tuple[int, float]]:
    curves = [e.normalised or [] for e in entries if e is not None]
    curves = [c for c in curves if c]
    if not curves:
        return []
    return [(i + 1, v) for i, v in enumerate(_mean_curve(curves)) if v > SPECTRUM_FLOOR]


@register_figure("paper_spectra", order=20)
def paper_spectra_figures(records: list[RecordLike]) -> list[Figure]:
    """The OR paper's Figs. 3/4 from ``diagnostics.first_batch``: kinds in rows, compared runs in columns."""
    figures: list[Figure] = []
    for key, chunks in _comparisons(as_records(records), lambda r: _first_batch(r) is not None):
        for part, cols in enumerate(chunks, 1):
            from matplotlib.figure import Figure as MplFigure

            fig = MplFigure(figsize=(3.4 * len(cols), 8.4), dpi=100, layout="constrained")
            axes = fig.subplots(3, len(cols), sharey="row", squeeze=False)
            for j, col in enumerate(cols):
                batches = [b for b in (_first_batch(r) for r in col.records) if b is not None]
                stages = batches[0].stages or []
                ns = sorted({int(b.n or 0) for b in batches})
                for name in stages:
                    pts = _mean_normalised([(b.weights or {}).get(name) for b in batches])
                    if pts:
                        layer = value_or((batches[0].weights or {}).get(name), "layer", name)
                        axes[0][j].plot([p[0] for p in pts], [p[1] for p in pts], label=layer)
                    pts = _mean_normalised([(b.features or {}).get(name) for b in batches])
                    if pts:
                        axes[1][j].plot([p[0] for p in pts], [p[1] for p in pts], label=name)
                for name, style in (("input", "--"), ("representation", "-")):
                    pts = _mean_normalised([(b.features or {}).get(name) for b in batches])
                    if pts:
                        axes[2][j].plot([p[0] for p in pts], [p[1] for p in pts], style, label=name)
                axes[0][j].set_title(f"{col.label}\n{len(col.records)} seed(s), first {'/'.join(map(str, ns))} "
                                     "test images", fontsize=8)
                for i, kind in enumerate(("weights (last conv per stage)", "hidden features (stage outputs)",
                                          "input and representation")):
                    ax = axes[i][j]
                    ax.set_xscale("log")
                    ax.set_yscale("log")
                    ax.set_xlabel("eigenvalue index k", fontsize=8)
                    if j == 0:
                        ax.set_ylabel(f"λ_k / λ_1: {kind}", fontsize=8)
                    if ax.lines:
                        ax.legend(fontsize=6)
            more = f" (part {part} of {len(chunks)})" if len(chunks) > 1 else ""
            fig.suptitle(f"Normalised eigenvalues, OR paper Figs. 3/4 protocol\n{_key_text(key)}{more}", fontsize=9)
            figures.append(Figure(_slug(*key, "paper_spectra", str(part) if len(chunks) > 1 else ""),
                                  f"Eigenspectra of weights and features (OR paper Figs. 3/4 protocol): "
                                  f"{_key_text(key)}{more}; runs: {', '.join(c.label for c in cols)}", _png(fig)))
    return figures


def _artifact(rec: RunRecord, results_dir: Path | None) -> dict[str, np.ndarray] | None:
    if results_dir is None or not rec.path:
        return None
    from benchmark.errors import ResultsError
    from benchmark.results.artifacts import read_figures_data
    from benchmark.results.store import ResultsStore

    try:
        return read_figures_data(ResultsStore(Path(results_dir)).run_dir(str(rec.path)), rec.figures_data)
    except (ResultsError, OSError, ValueError):
        return None


def _with_artifact(records: list[RunRecord], results_dir: Path | None, prefix: str
                   ) -> tuple[list[RunRecord], dict[str, dict[str, np.ndarray]]]:
    """Records whose artifact holds ``prefix.*`` arrays, and those arrays by run path."""
    out, arrays_of = [], {}
    for r in ok_records(records):
        keys = r.figures_data.keys if r.figures_data is not None else None
        if not any(str(k).startswith(prefix + ".") for k in keys or []):
            continue
        arrays = _artifact(r, results_dir)
        if arrays is not None and any(k.startswith(prefix + ".") for k in arrays):
            out.append(r)
            arrays_of[str(r.path)] = arrays
    return out, arrays_of


@register_figure("weight_correlation", order=30)
def weight_correlation_figures(records: list[RecordLike], results_dir: Path | None = None) -> list[Figure]:
    """The OR paper's Fig. 5: |corr| heatmap and its spectral biclustering per compared run (lowest seed)."""
    figures: list[Figure] = []
    recs, arrays_of = _with_artifact(as_records(records), results_dir, "weight_correlation")
    for key, chunks in _comparisons(recs, lambda r: True):
        for part, cols in enumerate(chunks, 1):
            from matplotlib.figure import Figure as MplFigure

            fig = MplFigure(figsize=(3.2 * len(cols) + 0.8, 6.4), dpi=100, layout="constrained")
            axes = fig.subplots(2, len(cols), squeeze=False)
            image = None
            for j, col in enumerate(cols):
                rec = col.records[0]
                a = arrays_of[str(rec.path)]
                corr = a["weight_correlation.abs_corr"].astype(float)
                rows, cs = a["weight_correlation.row_order"], a["weight_correlation.column_order"]
                info = rec.diagnostics.weight_correlation if rec.diagnostics is not None else None
                means = [r.diagnostics.weight_correlation.mean_abs_offdiag for r in col.records
                         if r.diagnostics is not None and r.diagnostics.weight_correlation is not None]
                means = [m for m in means if isinstance(m, int | float)]
                mean_text = f"mean |off-diag| {sum(means) / len(means):.3f} over {len(means)} seed(s)" if means else ""
                image = axes[0][j].imshow(corr, vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
                axes[0][j].set_title(f"{col.label}\n{value_or(info, 'layer', '?')}, seed {rec.seed}\n{mean_text}",
                                     fontsize=8)
                axes[1][j].imshow(corr[np.ix_(rows, cs)], vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
                k = (value_or(info, "bicluster", None) or {}).get("n_clusters", "?")
                axes[1][j].set_title(f"spectral biclustering ({k} clusters)", fontsize=8)
                for ax in (axes[0][j], axes[1][j]):
                    ax.set_xticks([])
                    ax.set_yticks([])
            if image is not None:
                fig.colorbar(image, ax=[ax for row in axes for ax in row], shrink=0.6, label="|correlation|")
            more = f" (part {part} of {len(chunks)})" if len(chunks) > 1 else ""
            fig.suptitle(f"Filter correlation heatmap and biclustering, OR paper Fig. 5\n{_key_text(key)}{more}",
                         fontsize=9)
            figures.append(Figure(_slug(*key, "weight_correlation", str(part) if len(chunks) > 1 else ""),
                                  f"Absolute correlation among filters and its spectral biclustering (OR paper "
                                  f"Fig. 5): "
                                  f"{_key_text(key)}{more}; runs: {', '.join(c.label for c in cols)}", _png(fig)))
    return figures


@register_figure("umap", order=40)
def umap_figures(records: list[RecordLike], results_dir: Path | None = None) -> list[Figure]:
    """The OR paper's Fig. 6: UMAP of test representations coloured by class, per compared run (lowest seed)."""
    figures: list[Figure] = []
    recs, arrays_of = _with_artifact(as_records(records), results_dir, "umap")
    for key, chunks in _comparisons(recs, lambda r: True):
        for part, cols in enumerate(chunks, 1):
            fig, axes = _new_figure(len(cols), width=3.6, height=3.8)
            for ax, col in zip(axes, cols, strict=True):
                rec = col.records[0]
                arrays = arrays_of[str(rec.path)]
                xy, labels = arrays["umap.coords"].astype(float), arrays["umap.labels"]
                classes = sorted({int(v) for v in labels.tolist()})
                cmap = "tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "hsv"
                ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap=cmap, s=3, vmin=min(classes), vmax=max(classes),
                           linewidths=0)
                info = rec.diagnostics.umap if rec.diagnostics is not None else None
                ax.set_title(f"{col.label}\nseed {rec.seed}, {value_or(info, 'n', len(labels))} test images",
                             fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
            more = f" (part {part} of {len(chunks)})" if len(chunks) > 1 else ""
            fig.suptitle(f"UMAP of representations, coloured by class, OR paper Fig. 6\n{_key_text(key)}{more}",
                         fontsize=9)
            figures.append(Figure(_slug(*key, "umap", str(part) if len(chunks) > 1 else ""),
                                  f"UMAP of test representations coloured by class (OR paper Fig. 6): "
                                  f"{_key_text(key)}{more}; runs: {', '.join(c.label for c in cols)}", _png(fig)))
    return figures


def make_figures(records: list[RecordLike], results_dir: Path | None = None,
                 names: Sequence[str] | None = None) -> list[Figure]:
    """The figures of the kinds ``names`` (a suite's ``report.figures``; default: every registered kind, in their
    ``order``) that the records (and, under ``results_dir``, their ``figures_data.npz``) support."""
    records = as_records(records)
    return [fig for kind in figure_kinds(names) for fig in kind.render(records, results_dir)]
