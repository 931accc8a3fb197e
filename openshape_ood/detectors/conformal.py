"""Split-conformal decisions on novelty scores: p-values, a threshold for a false-alarm rate, FDR selection.

Every function takes NOVELTY scores (higher = more novel) of any detection method; the
guarantees come from ranks alone, so they hold whatever the method, model or score scale.

The assumption behind every guarantee: the calibration samples are known-class samples
*exchangeable* with the known-class samples tested later (drawn the same way, e.g. a random
held-out split of the same data), and they were not used to fit the detector (a reference
shape scored against a bank that holds itself looks more normal than a fresh one). Then, for
a known test sample, ``P(p <= alpha) <= alpha``, where the probability is over the
calibration draw and the test sample together (a *marginal* guarantee; for one fixed
calibration set the realised false-alarm rate scatters around ``alpha`` by about
``sqrt(alpha (1 - alpha) / n)``).

Reference: S. Bates, E. Candès, L. Lei, Y. Romano, M. Sesia, "Testing for outliers with
conformal p-values", Annals of Statistics 51(1), 2023.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from ..methods.scores import real_array

__all__ = [
    "benjamini_hochberg",
    "check_alpha",
    "check_fdr",
    "check_tpr",
    "is_share",
    "conformal_p_values",
    "conformal_threshold",
    "tpr_threshold",
]


def conformal_p_values(calibration_novelty: ArrayLike, novelty: ArrayLike) -> np.ndarray:
    """Split-conformal p-values ``(1 + #{calibration novelty >= s}) / (n + 1)`` of novelty scores ``s``.

    Args:
        calibration_novelty: ``(n,)`` novelty scores (higher = more novel) of held-out
            known-class samples.
        novelty: ``(m,)`` novelty scores of the samples to test, from the same detector.

    Returns:
        ``(m,)`` p-values in ``[1 / (n + 1), 1]``: small = more novel than the known samples.
        For a known sample exchangeable with the calibration set, ``P(p <= alpha) <= alpha``
        for every ``alpha`` (ties count against novelty, so they only make p larger).
    """
    calibration = np.sort(_scores(calibration_novelty, "calibration_novelty"))
    scores = _scores(novelty, "novelty", allow_empty=True)
    at_least = len(calibration) - np.searchsorted(calibration, scores, side="left")
    return (1.0 + at_least) / (len(calibration) + 1.0)


def conformal_threshold(calibration_novelty: ArrayLike, alpha: float) -> float:
    """The novelty threshold whose false-alarm rate on known samples is at most ``alpha``.

    Calling a sample novel when its novelty score is *above* the returned value is the same
    decision as ``conformal_p_values(...) <= alpha``, so ``P(false alarm) <= alpha`` for any
    number ``n`` of calibration samples. The value is the ``k``-th largest calibration score,
    ``k = floor(alpha (n + 1))``: the ``ceil((1 - alpha)(n + 1))``-th smallest, at most one
    rank above the empirical ``1 - alpha`` quantile (the ``ceil((1 - alpha) n)``-th smallest)
    that a true-positive-rate target would pick.

    Raises:
        ValueError: when ``n < 1 / alpha - 1``: then no score can reach ``p <= alpha``.
    """
    check_alpha(alpha)
    calibration = np.sort(_scores(calibration_novelty, "calibration_novelty"))[::-1]
    n = len(calibration)
    # Counted with the p-value's own arithmetic so that both rules agree at the boundary.
    k = int(np.count_nonzero(np.arange(1, n + 1) / (n + 1.0) <= alpha))
    if k == 0:
        raise ValueError(
            f"{n} calibration samples cannot give a false-alarm rate of alpha={alpha}: the smallest "
            f"p-value is 1/(n+1) = {1 / (n + 1):.3g}; use at least {int(np.ceil(1 / alpha)) - 1} "
            "known samples or a larger alpha"
        )
    return float(calibration[k - 1])


def check_tpr(tpr: float, name: str = "tpr") -> float:
    """``tpr`` itself; a ``ValueError`` naming it (as ``name``) unless it is a number in (0, 1]."""
    if not is_share(tpr, one_allowed=True):
        raise ValueError(f"{name} must be a number in (0, 1]; got {tpr!r}")
    return tpr


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """``alpha`` itself; a ``ValueError`` naming it (as ``name``) unless it is a number in (0, 1)."""
    if not is_share(alpha, one_allowed=False):
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}")
    return alpha


def check_fdr(fdr: float, name: str = "fdr") -> float:
    """``fdr`` itself; a ``ValueError`` naming it (as ``name``) unless it is a number in (0, 1]."""
    if not is_share(fdr, one_allowed=True):
        raise ValueError(f"{name} must be in (0, 1], got {fdr!r}")
    return fdr


def is_share(value, *, one_allowed: bool) -> bool:
    """Whether ``value`` is a real number (not a bool) in (0, 1), or (0, 1] with ``one_allowed``: the one range check
    of ``tpr``, ``alpha`` and ``fdr`` (library and command line)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return 0.0 < value < 1.0 or (one_allowed and value == 1.0)


def tpr_threshold(calibration_novelty: ArrayLike, tpr: float) -> float:
    """The smallest calibration novelty with at least a ``tpr`` share of the samples at or below it.

    Calling a sample novel when its novelty is *above* this accepts a ``tpr`` share of
    these calibration samples as known. It describes these samples only; for a guarantee
    on new ones use :func:`conformal_threshold`.
    """
    check_tpr(tpr)
    return float(np.quantile(_scores(calibration_novelty, "calibration_novelty"), tpr, method="inverted_cdf"))


def benjamini_hochberg(p_values: ArrayLike, fdr: float) -> np.ndarray:
    """The Benjamini-Hochberg selection at false discovery rate ``fdr``: a boolean mask ``(m,)``.

    Selects the ``k`` smallest p-values, ``k`` the largest rank with ``p_(k) <= k fdr / m``.
    On split-conformal p-values of one batch (dependent, as they share a calibration set,
    but positively so: PRDS, Bates et al. 2023) this keeps the false discovery rate, the
    expected share of known samples among the selected ones, at most ``fdr * m0 / m <= fdr``
    (``m0`` of the ``m`` samples known). Known test samples must be exchangeable with the
    calibration set; the novel ones may be anything.
    """
    check_fdr(fdr)
    p = _scores(p_values, "p_values", allow_empty=True)
    if len(p) == 0:
        return np.zeros(0, dtype=bool)
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"p_values must lie in [0, 1]; got values in [{p.min():g}, {p.max():g}]")
    from scipy.stats import false_discovery_control  # here: scipy.stats takes seconds to import, --help none

    return false_discovery_control(p, method="bh") <= fdr


def _scores(values: ArrayLike, name: str, allow_empty: bool = False) -> np.ndarray:
    array = real_array(values, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one score per sample, shape (n,); got shape {array.shape}")
    if not allow_empty and len(array) == 0:
        raise ValueError(f"{name} is empty; pass the novelty scores of some known samples")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values; score only finite embeddings")
    return array
