"""Novelty-detection and closed-set metrics, computed exactly as the 3DOS benchmark does.

Score direction: the functions here take NORMALITY scores (higher = more likely a known
sample), the 3DOS convention. The library's own scorers produce NOVELTY scores
(higher = more novel): pass ``-novelty`` (or any decreasing transform of it).

Known samples are the positive class (label 1). The definitions follow the 3DOS
reference code (``utils/ood_metrics.py``), which in turn follows the ``ood-metrics``
package: sklearn's ROC and precision-recall curves, trapezoidal areas, FPR read off
the ROC curve by linear interpolation at TPR 0.95.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    accuracy_score,
    auc,
    balanced_accuracy_score,
    precision_recall_curve,
    roc_curve,
)

__all__ = ["closed_set_metrics", "ood_metrics"]


def _as_1d(values: ArrayLike, name: str, item: str, fix: str) -> np.ndarray:
    """``values`` as a non-empty 1-D array (one ``item`` per sample), or a ValueError naming ``name``."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one {item} per sample), got shape {array.shape}; {fix}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; pass at least one sample")
    return array


def _as_scores(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite scores, or a ValueError naming ``name``."""
    array = _as_1d(values, name, "score", "reduce each sample to a single score first")
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must hold real numbers, got dtype {array.dtype}; pass a numeric array of scores"
        )
    array = array.astype(np.float64)  # exact for float32 and small ints: ranks are unchanged
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} holds {bad} non-finite value(s) (nan or inf); fix the scorer")
    return array


def ood_metrics(known_scores: ArrayLike, unknown_scores: ArrayLike) -> dict[str, float]:
    """AUROC, FPR95, AUPR-IN and AUPR-OUT of known versus unknown samples.

    Args:
        known_scores: ``[n_known]`` NORMALITY scores (higher = more normal) of known samples,
            the positive class.
        unknown_scores: ``[n_unknown]`` NORMALITY scores of unknown (novel) samples.

    Returns:
        A dict of Python floats:

        - ``auroc``: area under ``sklearn.metrics.roc_curve`` (``auc(fpr, tpr)``).
        - ``fpr95``: ``np.interp(0.95, tpr, fpr)`` on that curve, the share of unknown
            samples accepted when 95% of known ones are. (The reference returns 0 when no
            threshold reaches TPR 0.95; that cannot happen here because sklearn's curve always
            ends at TPR 1 when there is at least one known sample, which is enforced.)
        - ``aupr_in``: trapezoidal area under ``precision_recall_curve`` with the known
            samples positive (not average precision).
        - ``aupr_out``: the same with negated scores and the unknown samples positive.

    Raises:
        ValueError: when either input is not 1-D, empty, non-numeric or not finite.
    """
    known = _as_scores(known_scores, "known_scores")
    unknown = _as_scores(unknown_scores, "unknown_scores")
    scores = np.concatenate([known, unknown])
    labels = np.concatenate([np.ones(known.size, np.int64), np.zeros(unknown.size, np.int64)])

    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1)
    precision_in, recall_in, _ = precision_recall_curve(labels, scores, pos_label=1)
    precision_out, recall_out, _ = precision_recall_curve(1 - labels, -scores, pos_label=1)
    return {
        "auroc": float(auc(fpr, tpr)),
        "fpr95": float(np.interp(0.95, tpr, fpr)),
        "aupr_in": float(auc(recall_in, precision_in)),
        "aupr_out": float(auc(recall_out, precision_out)),
    }


def closed_set_metrics(labels: ArrayLike, predictions: ArrayLike) -> dict[str, float]:
    """Closed-set accuracy and balanced accuracy of class predictions on known samples.

    Args:
        labels: ``[n]`` true class labels of the known samples.
        predictions: ``[n]`` predicted class labels (no scores involved).

    Returns:
        ``{"accuracy": ..., "balanced_accuracy": ...}`` as Python floats, from sklearn's
        ``accuracy_score`` and ``balanced_accuracy_score`` (mean per-class recall).

    Raises:
        ValueError: when the inputs are not 1-D, are empty, or differ in length.
    """
    labels = _as_1d(labels, "labels", "class", "take the argmax over classes first")
    predictions = _as_1d(predictions, "predictions", "class", "take the argmax over classes first")
    if labels.shape != predictions.shape:
        raise ValueError(
            f"labels and predictions differ in length ({labels.size} vs {predictions.size}); "
            "pass one prediction per labelled sample"
        )
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)),
    }
