"""Report figures from run records: spectra with/without OR, accuracy vs γ, balanced vs imbalanced batches, cost vs q.

Each figure is a PNG rendered with matplotlib's Agg canvas (no display, no pyplot global state) and embedded in the
HTML report as a ``data:image/png;base64`` URI; the Markdown report links the same PNGs written to ``figures/``.
Figures are drawn only from what the records hold; a figure whose data is absent (e.g. no ``pretrain.measure``
because the runner did not measure, or no ``diagnostics`` because ``eval.spectra`` was off) is skipped, never faked.

* :func:`spectra_figures` — the OR paper's Figs. 2/3 ("eigenvalue spectra of weight matrices and of ... features ...
  no OR / OR; OR decays slower", or_neurips24.md §4): normalised eigenvalues λ_k/λ_1 of the representation
  covariance (``diagnostics.feature_spectrum``) and σ_i(W)² of the deepest regularised weight
  (``diagnostics.weight_spectra``), per regularizer variant, mean over seeds.
* :func:`gamma_figures` — accuracy vs γ for the SO/SRIP grids (γ_SRIP ∈ {1e-3, 1e-4, 1e-5}, γ_SO ∈ {1e-5, 1e-6,
  1e-7}), with the no-OR mean ± std as a band.
* :func:`sampler_figures` — linear accuracy for random (class-balanced) vs K-classes-per-batch sampling
  (uniform_prior_iclr23.md §2), mean ± std over seeds.
* :func:`measure_figures` — step time and peak memory vs embedding dimension q (SFRIK vs VICReg, sfrik_iclr23.md
  §5), from ``pretrain.measure``; out-of-memory points are marked.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmark.report.claims import metric_value

PREFERRED_METRICS = ("linear.top1", "knn.top1", "svm.top1")
#: Normalised eigenvalues below this are numerical zeros (rank-deficient covariance) and are not drawn.
SPECTRUM_FLOOR = 1e-10


@dataclass
class Figure:
    """A rendered figure: a file-safe ``slug``, a caption and the PNG bytes."""

    slug: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


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


def _ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == "ok"]


def _exp_cfg(rec: dict[str, Any]) -> dict[str, Any]:
    return (rec.get("config") or {}).get("experiment") or {}


def _context(rec: dict[str, Any], drop: str) -> str:
    """The run's grid assignments except the axis ``drop`` (e.g. the backbone when comparing regularizers)."""
    assigned = {k: v for k, v in (rec.get("variant_assignments") or {}).items() if k.split(".")[0] != drop}
    return json.dumps(assigned, sort_keys=True, default=str) if assigned else ""


def _context_text(ctx: str) -> str:
    if not ctx:
        return ""
    items = json.loads(ctx)
    return ", ".join(f"{k}={v.get('name', v) if isinstance(v, dict) else v}" for k, v in items.items())


def _metric_of(records: list[dict[str, Any]]) -> str | None:
    for m in PREFERRED_METRICS:
        if any(metric_value(r, m)[0] is not None for r in records):
            return m
    return None


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def _groups(records: list[dict[str, Any]], drop: str) -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _ok(records):
        out[(str(r.get("suite")), str(r.get("profile")), str(r.get("experiment")), _context(r, drop))].append(r)
    return out


def _regularizer(rec: dict[str, Any]) -> dict[str, Any]:
    return _exp_cfg(rec).get("regularizer") or {"name": "none"}


# ------------------------------------------------------------------------------------------------ spectra
def _normalised(values: list[float]) -> list[float]:
    top = max(values) if values else 0.0
    return [v / top for v in values] if top > 0 else []


def _mean_curve(curves: list[list[float]]) -> list[float]:
    n = min(len(c) for c in curves)
    return [sum(c[i] for c in curves) / len(curves) for i in range(n)]


def spectra_figures(records: list[dict[str, Any]]) -> list[Figure]:
    """Feature and weight spectra per regularizer variant, for experiments run with and without OR."""
    figures: list[Figure] = []
    for (suite, profile, exp, ctx), recs in sorted(_groups(records, "regularizer").items()):
        recs = [r for r in recs if (r.get("diagnostics") or {}).get("feature_spectrum")]
        by_var: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in recs:
            by_var[str(r.get("variant") or "-")].append(r)
        names = {_regularizer(r).get("name") for r in recs}
        if len(by_var) < 2 or "none" not in names or len(names) < 2:
            continue
        fig, (ax_f, ax_w) = _new_figure(2)
        for label, rs in sorted(by_var.items(), key=lambda kv: (_regularizer(kv[1][0]).get("name") != "none", kv[0])):
            curves = [_normalised(r["diagnostics"]["feature_spectrum"]) for r in rs]
            curves = [c for c in curves if c]
            style = "-" if _regularizer(rs[0]).get("name") == "none" else "--"
            if curves:
                mean = _mean_curve(curves)
                pos = [(i + 1, v) for i, v in enumerate(mean) if v > SPECTRUM_FLOOR]
                ax_f.plot([p[0] for p in pos], [p[1] for p in pos], style, label=f"{label} (n={len(curves)})")
            layers = [r["diagnostics"].get("weight_spectra") or {} for r in rs]
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
def gamma_figures(records: list[dict[str, Any]]) -> list[Figure]:
    """Accuracy vs γ per regularizer kind (log x axis), with the no-OR mean ± std as a band."""
    figures: list[Figure] = []
    for (suite, profile, exp, ctx), recs in sorted(_groups(records, "regularizer").items()):
        metric = _metric_of(recs)
        if metric is None:
            continue
        points: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        baseline: list[float] = []
        for r in recs:
            value = metric_value(r, metric)[0]
            if value is None:
                continue
            reg = _regularizer(r)
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
def _sampler_label(rec: dict[str, Any]) -> str:
    sampler = (_exp_cfg(rec).get("data") or {}).get("sampler") or {}
    if sampler.get("kind") == "k_classes":
        return f"K={sampler.get('k')}"
    return "random"


def sampler_figures(records: list[dict[str, Any]]) -> list[Figure]:
    """Grouped bars: accuracy per sampler (random vs K classes per batch), one group per experiment."""
    figures: list[Figure] = []
    per_profile: dict[tuple[str, str], list[tuple[str, dict[str, list[float]], str]]] = defaultdict(list)
    for (suite, profile, exp, ctx), recs in sorted(_groups(records, "data").items()):
        labels = {_sampler_label(r) for r in recs}
        if len(labels) < 2:
            continue
        metric = _metric_of(recs)
        if metric is None:
            continue
        by_label: dict[str, list[float]] = defaultdict(list)
        for r in recs:
            value = metric_value(r, metric)[0]
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
def embedding_dim(rec: dict[str, Any]) -> int | None:
    """q: the projector's output size (SFRIK ``mlp[-1]``, else ``proj_output_dim`` / ``output_dim``)."""
    method = _exp_cfg(rec).get("method") or {}
    if isinstance(method.get("mlp"), list) and method["mlp"]:
        return int(method["mlp"][-1])
    for key in ("proj_output_dim", "output_dim"):
        if isinstance(method.get(key), int):
            return int(method[key])
    return None


def measure_figures(records: list[dict[str, Any]]) -> list[Figure]:
    """Step time and peak memory vs q, one line per experiment (method); skipped when nothing was measured."""
    figures: list[Figure] = []
    series: dict[tuple[str, str], dict[str, dict[str, dict[int, list[float]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    oom: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in _ok(records):
        q = embedding_dim(r)
        if q is None:
            continue
        key = (str(r.get("suite")), str(r.get("profile")))
        label = f"{r.get('experiment')} ({(_exp_cfg(r).get('method') or {}).get('name')})"
        for alias in ("step_time", "peak_memory"):
            value, why = metric_value(r, f"measure.{alias}")
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


def make_figures(records: list[dict[str, Any]]) -> list[Figure]:
    """Every figure the records support, in a stable order."""
    return [*spectra_figures(records), *gamma_figures(records), *sampler_figures(records), *measure_figures(records)]
