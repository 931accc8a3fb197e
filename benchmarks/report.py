"""The three 3DOS comparisons of one scoring method, and their text block.

Score direction: everything here takes NORMALITY scores (higher = more likely known),
the 3DOS convention; negate the library's novelty scores before calling.

A 3DOS synthetic-to-real run has one known set and two unknown sets (the other SR set
and the common set); each method is reported on known vs set 1, known vs set 2 and
known vs both, in the format the 3DOS reference code prints so results can be compared
line by line with published logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from openshape_ood.metrics import ood_metrics
from openshape_ood.io.contract import DEFAULT_RGB

from .published import PROVENANCE, rows_for

__all__ = ["COMPARISONS", "compare_unknown_sets", "format_report", "format_summary"]

# Result keys, in report order, with the 3DOS label of each line.
COMPARISONS: dict[str, str] = {
    "known_vs_unknown_1": "SRC->TAR1:      ",
    "known_vs_unknown_2": "SRC->TAR2:      ",
    "known_vs_unknown_1_and_2": "SRC->TAR1+TAR2: ",
}
_METRICS = ("auroc", "fpr95", "aupr_in", "aupr_out")


def compare_unknown_sets(
    known_scores: ArrayLike, unknown_1_scores: ArrayLike, unknown_2_scores: ArrayLike
) -> dict[str, dict[str, float]]:
    """:func:`~openshape_ood.metrics.ood_metrics` for the three 3DOS comparisons.

    Args:
        known_scores: NORMALITY scores (higher = more normal) of the known real samples.
        unknown_1_scores: NORMALITY scores of unknown set 1 (the other SR set's classes).
        unknown_2_scores: NORMALITY scores of unknown set 2 (the common set).

    Returns:
        ``{"known_vs_unknown_1": m1, "known_vs_unknown_2": m2, "known_vs_unknown_1_and_2": m3}``
        where each ``m`` has ``auroc``, ``fpr95``, ``aupr_in`` and ``aupr_out``; the third
        pools both unknown sets (set 1 first), the figure papers report.
    """
    pooled = np.concatenate([np.asarray(unknown_1_scores), np.asarray(unknown_2_scores)])
    return {
        "known_vs_unknown_1": ood_metrics(known_scores, unknown_1_scores),
        "known_vs_unknown_2": ood_metrics(known_scores, unknown_2_scores),
        "known_vs_unknown_1_and_2": ood_metrics(known_scores, pooled),
    }


def format_report(
    method: str,
    comparisons: Mapping[str, Mapping[str, float]],
    closed_set: Mapping[str, float] | None = None,
) -> str:
    """The 3DOS reference output block for one scoring method.

    Args:
        method: name printed in the header line, e.g. ``"MSP"``.
        comparisons: output of :func:`compare_unknown_sets` (metrics of NORMALITY scores).
        closed_set: output of :func:`~openshape_ood.metrics.closed_set_metrics` on the
            known samples, or ``None`` for methods without class predictions; the
            ``Src Test`` line is left out then, as in the reference.

    Returns:
        The lines below, joined by newlines (no trailing newline). Per-comparison metrics
        have four decimals; the accuracy line and the ``to spreadsheet`` line print the
        full ``repr`` of each float, as the reference's f-strings do::

            Computing OOD metrics with <method> normality score...
            AUROC - Src label: 1, Tar label: 0
            Src Test - Clf Acc: <acc>, Clf Bal Acc: <bal_acc>
            SRC->TAR1:      AUROC: 0.xxxx, FPR95: 0.xxxx, AUPR_IN: 0.xxxx, AUPR_OUT: 0.xxxx
            SRC->TAR2:      AUROC: ...
            SRC->TAR1+TAR2: AUROC: ...
            to spreadsheet: auroc1,fpr1,auprin1,auprout1,...,auroc3,fpr3,auprin3,auprout3

    Raises:
        ValueError: when a comparison or metric is missing.
    """
    missing = [
        f"{key}.{metric}"
        for key in COMPARISONS
        for metric in _METRICS
        if metric not in comparisons.get(key, {})
    ]
    if missing:
        raise ValueError(
            f"comparisons lacks {', '.join(missing)}; pass the output of compare_unknown_sets"
        )
    lines = [
        f"Computing OOD metrics with {method} normality score...",
        "AUROC - Src label: 1, Tar label: 0",
    ]
    if closed_set is not None:
        lines.append(
            f"Src Test - Clf Acc: {float(closed_set['accuracy'])}, "
            f"Clf Bal Acc: {float(closed_set['balanced_accuracy'])}"
        )
    for key, label in COMPARISONS.items():
        m = comparisons[key]
        lines.append(
            f"{label}AUROC: {m['auroc']:.4f}, FPR95: {m['fpr95']:.4f}, "
            f"AUPR_IN: {m['aupr_in']:.4f}, AUPR_OUT: {m['aupr_out']:.4f}"
        )
    spreadsheet = ",".join(
        str(float(comparisons[key][metric])) for key in COMPARISONS for metric in _METRICS
    )
    lines.append(f"to spreadsheet: {spreadsheet}")
    return "\n".join(lines)


def format_summary(
    source: str,
    measured: Mapping[str, Mapping[str, Mapping[str, float]]],
    *,
    model: str,
    templates: str | list[str],
    seed: int,
    checkpoint_sha256: str | None = None,
    notes_above: Sequence[str] = (),
) -> str:
    """Every method's AUROC / FPR95 of known vs both unknown sets, in percent, beside the published rows.

    Args:
        source: ``"SR1"`` or ``"SR2"``.
        measured: method name -> its :func:`compare_unknown_sets` output, in table order.
        model, templates, seed: what the measured rows were run with, for the footnote.
        checkpoint_sha256: the weights' SHA-256, shortened in the footnote.
        notes_above: lines printed above the table (a test registry, counts unlike the release).
    """
    key = "known_vs_unknown_1_and_2"
    rows = [
        (method, f"{100 * m[key]['auroc']:.1f}", f"{100 * m[key]['fpr95']:.1f}", "measured")
        for method, m in measured.items()
    ]
    published = rows_for(source)
    references = list(dict.fromkeys(row.provenance for row in published))
    for row in published:
        auroc, fpr95 = row.results[source]
        rows.append((row.label, f"{auroc:.1f}", f"{fpr95:.1f}", f"[{references.index(row.provenance) + 1}]"))
    width = max(len(row[0]) for row in rows)
    other = "SR2" if source == "SR1" else "SR1"
    lines = [
        *notes_above,
        (
            f"{source} summary: AUROC / FPR95 in percent, known ({source}) vs unknown sets 1+2 "
            f"({other} + common), SRC->TAR1+TAR2"
        ),
        f"{'method':<{width}}  AUROC3  FPR95-3  source",
        *(f"{name:<{width}}  {auroc:>6}  {fpr95:>7}  {where}" for name, auroc, fpr95, where in rows),
        (
            f"measured: this run, {model}"
            + (f" (weights sha256 {checkpoint_sha256[:12]}...)" if checkpoint_sha256 else "")
            + f" without fine-tuning, templates {templates}, "
            f"seed {seed}, RGB {DEFAULT_RGB}, gravity axis moved onto the model's"
        ),
    ]
    for number, provenance in enumerate(references, 1):
        lines.append(f"[{number}] {PROVENANCE[provenance].kind}: {PROVENANCE[provenance].description}")
    return "\n".join(lines)
