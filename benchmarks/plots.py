"""Figures of a synthetic-to-real run: ROC curves, novelty-score histograms, an overview of all methods.

Score direction: the functions take NOVELTY scores (higher = more novel), per set; ROC
curves are drawn for the NORMALITY ``-novelty`` with known samples positive, exactly the
curves whose areas the 3DOS metrics report.

Every figure is written twice, for papers: a 300 dpi PNG and a vector PDF. Sets are
named by their classes (``SR1``, ``SR2``, ``common``), legends sit outside the axes, and
a second title line carries the run's provenance. Figures are drawn on matplotlib's Agg
canvas without pyplot, so that nothing changes the backend of the caller (a notebook
keeps its inline backend), and written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from openshape_ood.atomic import write_bytes

from .report import COMPARISONS

__all__ = [
    "DPI",
    "FORMATS",
    "UNKNOWN_SETS",
    "plot_histograms",
    "plot_overview",
    "plot_roc",
    "set_names",
]

DPI = 300
FORMATS = ("png", "pdf")
# Unknown sets pooled in each 3DOS comparison (set 1 first, as compare_unknown_sets pools them).
UNKNOWN_SETS: dict[str, tuple[str, ...]] = {
    "known_vs_unknown_1": ("unknown_1",),
    "known_vs_unknown_2": ("unknown_2",),
    "known_vs_unknown_1_and_2": ("unknown_1", "unknown_2"),
}


def set_names(source: str) -> dict[str, str]:
    """``known``/``unknown_1``/``unknown_2`` -> the class-set name of a run with ``source``: SR1, SR2, common."""
    return {"known": source, "unknown_1": "SR2" if source == "SR1" else "SR1", "unknown_2": "common"}


def _comparison_label(comparison: str, names: Mapping[str, str]) -> str:
    """``SR1 vs SR2 + common``: the known set against the pooled unknown sets."""
    return f"{names['known']} vs {' + '.join(names[name] for name in UNKNOWN_SETS[comparison])}"


def _roc(novelty: Mapping[str, np.ndarray], comparison: str) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR of the normality ``-novelty``, known samples positive."""
    unknown = np.concatenate([novelty[name] for name in UNKNOWN_SETS[comparison]])
    normality = -np.concatenate([novelty["known"], unknown])
    labels = np.concatenate([np.ones(len(novelty["known"])), np.zeros(len(unknown))])
    fpr, tpr, _ = roc_curve(labels, normality, pos_label=1)
    return fpr, tpr


def _roc_axes(axes, names: Mapping[str, str]) -> None:
    axes.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1, label="chance")
    axes.axhline(0.95, color="0.5", linestyle="--", linewidth=0.8, label="95% of known accepted (FPR95)")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal", xlabel="false positive rate (unknown accepted)",
             ylabel=f"true positive rate (known {names['known']} accepted)")  # fmt: skip


def _titled(figure: Figure, title: str, provenance: str | None) -> None:
    figure.suptitle(title + (f"\n{provenance}" if provenance else ""), fontsize="medium")


def _legend_below(figure: Figure, columns: int = 1) -> None:
    """One legend for the whole figure, below the axes: never over a curve or a bar."""
    figure.legend(loc="outside lower center", ncols=columns, fontsize="small", frameon=False)


def _save(figure: Figure, stem: str | os.PathLike) -> list[Path]:
    """Write ``stem.png`` (300 dpi) and ``stem.pdf``; return both paths."""
    FigureCanvasAgg(figure)
    paths = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=DPI, bbox_inches="tight")
        paths.append(write_bytes(Path(f"{stem}.{fmt}"), buffer.getvalue()))
    return paths


def plot_roc(
    novelty: Mapping[str, np.ndarray],
    comparisons: Mapping[str, Mapping[str, float]],
    stem: str | os.PathLike,
    title: str,
    names: Mapping[str, str],
    provenance: str | None = None,
) -> list[Path]:
    """ROC curves of the three 3DOS comparisons of one method, in one figure.

    Args:
        novelty: ``"known"``, ``"unknown_1"``, ``"unknown_2"`` -> NOVELTY scores (higher = more novel).
        comparisons: the method's metrics (:func:`~benchmarks.report.compare_unknown_sets`
            of the normality), quoted in the legend.
        stem: file path without suffix; ``stem.png`` and ``stem.pdf`` are written.
        title: first title line.
        names: set -> class-set name (:func:`set_names`).
        provenance: second title line (weights, registry, date), or ``None``.

    Returns:
        The PNG and PDF paths.
    """
    figure = Figure(figsize=(5, 6), layout="constrained")
    axes = figure.subplots()
    _roc_axes(axes, names)
    for comparison in COMPARISONS:
        fpr, tpr = _roc(novelty, comparison)
        metrics = comparisons[comparison]
        axes.plot(fpr, tpr, linewidth=1.5,
                  label=f"{_comparison_label(comparison, names)}: AUROC {100 * metrics['auroc']:.1f}, "
                  f"FPR95 {100 * metrics['fpr95']:.1f}")  # fmt: skip
    _legend_below(figure)
    _titled(figure, title, provenance)
    return _save(figure, stem)


def plot_histograms(
    novelty: Mapping[str, np.ndarray],
    stem: str | os.PathLike,
    title: str,
    names: Mapping[str, str],
    provenance: str | None = None,
) -> list[Path]:
    """Histograms (densities on shared bins) of the NOVELTY scores of the known set and each unknown set.

    The bin width follows the sample size and spread (numpy's ``"auto"`` rule, the
    smaller of the Sturges and Freedman-Diaconis widths), so small sets do not look
    ragged and large ones are not oversmoothed.

    Args:
        novelty: ``"known"``, ``"unknown_1"``, ``"unknown_2"`` -> NOVELTY scores (higher = more novel).
        stem: file path without suffix; ``stem.png`` and ``stem.pdf`` are written.
        title: first title line.
        names: set -> class-set name (:func:`set_names`).
        provenance: second title line, or ``None``.

    Returns:
        The PNG and PDF paths.
    """
    figure = Figure(figsize=(6.5, 4.4), layout="constrained")
    axes = figure.subplots()
    edges = np.histogram_bin_edges(np.concatenate([novelty[name] for name in names]), bins="auto")
    for (name, kind), colour in zip(zip(names, ("known", "unknown", "unknown")), ("C0", "C1", "C2")):
        # A light fill shows where sets overlap; the outline keeps each set readable there.
        axes.hist(novelty[name], bins=edges, density=True, histtype="stepfilled", color=colour, alpha=0.15)
        axes.hist(novelty[name], bins=edges, density=True, histtype="step", color=colour, linewidth=1.5,
                  label=f"{kind}: {names[name]} (n = {len(novelty[name])})")  # fmt: skip
    axes.set(xlabel="novelty score (higher = more novel)", ylabel="density")
    _legend_below(figure, columns=3)
    _titled(figure, title, provenance)
    return _save(figure, stem)


def plot_overview(
    results: Mapping[str, tuple[Mapping[str, np.ndarray], Mapping[str, Mapping[str, float]]]],
    stem: str | os.PathLike,
    title: str,
    names: Mapping[str, str],
    published: Sequence[tuple[str, float, float]] = (),
    provenance: str | None = None,
    comparison: str = "known_vs_unknown_1_and_2",
) -> list[Path]:
    """All methods on one comparison (by default the reported one): ROC curves, and AUROC / FPR95 bars.

    Args:
        results: method -> (NOVELTY scores per set as in :func:`plot_roc`, its comparisons).
        stem: file path without suffix; ``stem.png`` and ``stem.pdf`` are written.
        title: first title line.
        names: set -> class-set name (:func:`set_names`).
        published: ``(label, AUROC %, FPR95 %)`` rows of other sources, drawn pale below the measured ones.
        provenance: second title line, or ``None``.
        comparison: a key of :data:`~benchmarks.report.COMPARISONS`.

    Returns:
        The PNG and PDF paths.
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {list(COMPARISONS)}, got {comparison!r}")
    figure = Figure(figsize=(10, 5.6), layout="constrained")
    roc_axes, bar_axes = figure.subplots(1, 2, width_ratios=(1, 1.2))
    _roc_axes(roc_axes, names)
    roc_axes.set_title(_comparison_label(comparison, names), fontsize="medium")
    for method, (novelty, _) in results.items():
        fpr, tpr = _roc(novelty, comparison)
        roc_axes.plot(fpr, tpr, linewidth=1.5, label=method)

    rows = [(method, 100 * c[comparison]["auroc"], 100 * c[comparison]["fpr95"], True)
            for method, (_, c) in results.items()]  # fmt: skip
    rows += [(label, auroc, fpr95, False) for label, auroc, fpr95 in published]
    y = np.arange(len(rows))[::-1]
    height = 0.38
    for offset, column, metric, colour in ((height / 2, 1, "AUROC (higher is better)", "C0"),
                                           (-height / 2, 2, "FPR95 (lower is better)", "C3")):  # fmt: skip
        values = [row[column] for row in rows]
        bars = bar_axes.barh(y + offset, values, height, color=colour, label=metric)
        for bar, row in zip(bars, rows):
            bar.set_alpha(1.0 if row[3] else 0.35)
        bar_axes.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=2)
    bar_axes.set_yticks(y, [row[0] for row in rows], fontsize="small")
    bar_axes.set(xlim=(0, 112), xlabel="percent")
    bar_axes.set_title("this run (solid), other sources (pale)", fontsize="medium")
    _legend_below(figure, columns=5)
    _titled(figure, title, provenance)
    return _save(figure, stem)
