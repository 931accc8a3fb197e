"""PNG figures of a synthetic-to-real run: ROC curves and novelty-score histograms.

Score direction: the functions take NOVELTY scores (higher = more novel), per set; ROC
curves are drawn for the NORMALITY ``-novelty`` with known samples positive, exactly the
curves whose areas the 3DOS metrics report.

Figures are drawn on matplotlib's Agg canvas without pyplot, so that nothing changes the
backend of the caller (a notebook keeps its inline backend), and written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from openshape_ood.atomic import write_bytes

from .report import COMPARISONS

__all__ = ["SET_LABELS", "UNKNOWN_SETS", "plot_histograms", "plot_roc", "plot_roc_overview"]

# Unknown sets pooled in each 3DOS comparison (set 1 first, as compare_unknown_sets pools them).
UNKNOWN_SETS: dict[str, tuple[str, ...]] = {
    "known_vs_unknown_1": ("unknown_1",),
    "known_vs_unknown_2": ("unknown_2",),
    "known_vs_unknown_1_and_2": ("unknown_1", "unknown_2"),
}
SET_LABELS = {"known": "known", "unknown_1": "unknown set 1", "unknown_2": "unknown set 2"}


def _roc(novelty: Mapping[str, np.ndarray], comparison: str) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR of the normality ``-novelty``, known samples positive."""
    unknown = np.concatenate([novelty[name] for name in UNKNOWN_SETS[comparison]])
    normality = -np.concatenate([novelty["known"], unknown])
    labels = np.concatenate([np.ones(len(novelty["known"])), np.zeros(len(unknown))])
    fpr, tpr, _ = roc_curve(labels, normality, pos_label=1)
    return fpr, tpr


def _roc_axes(figure: Figure, title: str):
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1, label="chance")
    axes.axhline(0.95, color="0.5", linestyle="--", linewidth=0.8, label="TPR 0.95 (FPR95)")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="FPR: unknown samples accepted as known",
             ylabel="TPR: known samples accepted", title=title)  # fmt: skip
    return axes


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())


def plot_roc(
    novelty: Mapping[str, np.ndarray],
    comparisons: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike,
    title: str,
) -> Path:
    """ROC curves of the three 3DOS comparisons of one method, in one figure.

    Args:
        novelty: ``"known"``, ``"unknown_1"``, ``"unknown_2"`` -> NOVELTY scores (higher = more novel).
        comparisons: the method's metrics (:func:`~benchmarks.report.compare_unknown_sets`
            of the normality), quoted in the legend.
        path: PNG file to write.
        title: figure title.
    """
    figure = Figure(figsize=(5.5, 5))
    axes = _roc_axes(figure, title)
    for comparison, label in COMPARISONS.items():
        fpr, tpr = _roc(novelty, comparison)
        metrics = comparisons[comparison]
        axes.plot(fpr, tpr, label=f"{label.strip()} AUROC {metrics['auroc']:.3f}, FPR95 {metrics['fpr95']:.3f}")
    axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def plot_roc_overview(
    results: Mapping[str, tuple[Mapping[str, np.ndarray], Mapping[str, Mapping[str, float]]]],
    path: str | os.PathLike,
    title: str,
    comparison: str = "known_vs_unknown_1_and_2",
) -> Path:
    """ROC curves of every method for one comparison (by default the reported one, known vs both sets).

    Args:
        results: method -> (NOVELTY scores per set as in :func:`plot_roc`, its comparisons).
        path: PNG file to write.
        title: figure title.
        comparison: a key of :data:`~benchmarks.report.COMPARISONS`.
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {list(COMPARISONS)}, got {comparison!r}")
    figure = Figure(figsize=(5.5, 5))
    axes = _roc_axes(figure, title)
    for method, (novelty, comparisons) in results.items():
        fpr, tpr = _roc(novelty, comparison)
        metrics = comparisons[comparison]
        axes.plot(fpr, tpr, label=f"{method}: AUROC {metrics['auroc']:.3f}, FPR95 {metrics['fpr95']:.3f}")
    axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def plot_histograms(novelty: Mapping[str, np.ndarray], path: str | os.PathLike, title: str, bins: int = 40) -> Path:
    """Histograms (densities on shared bins) of the NOVELTY scores of the known set and each unknown set.

    Args:
        novelty: ``"known"``, ``"unknown_1"``, ``"unknown_2"`` -> NOVELTY scores (higher = more novel).
        path: PNG file to write.
        title: figure title.
        bins: number of bins spanning all scores.
    """
    figure = Figure(figsize=(6.5, 4))
    axes = figure.subplots()
    edges = np.histogram_bin_edges(np.concatenate([novelty[name] for name in SET_LABELS]), bins=bins)
    for name, label in SET_LABELS.items():
        axes.hist(novelty[name], bins=edges, density=True, histtype="step", linewidth=1.5,
                  label=f"{label} (n={len(novelty[name])})")  # fmt: skip
    axes.set(xlabel="novelty score (higher = more novel)", ylabel="density", title=title)
    axes.legend(fontsize="small")
    return _save(figure, path)
