"""The decision layer: from NOVELTY scores (higher = more novel) to known/novel verdicts.

:class:`BaseDetector` is the base of every detector (:class:`~openshape_ood.NoveltyDetector`
for one shape encoder, :class:`~openshape_ood.EnsembleDetector` for several). A detector
defines :meth:`~BaseDetector.novelty` and :meth:`~BaseDetector.classify`; this module owns
everything that turns novelty into a decision, once for all of them:

* the threshold on the novelty (``threshold=``, or :meth:`~BaseDetector.calibrate` with a
  true-positive rate ``tpr`` or a false-alarm rate ``alpha``) and scikit-learn's
  ``score_samples`` (normality, higher = more normal), ``decision_function`` and ``predict``;
* split-conformal p-values and Benjamini-Hochberg selection at a false discovery rate
  (the rank arithmetic is in :mod:`openshape_ood.detectors.conformal`);
* the verdict of a batch, :meth:`~BaseDetector.decide`, as a :class:`Decisions` object
  whose :meth:`~Decisions.to_dict` is what the command line prints as JSON.
"""

from __future__ import annotations

import abc
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from .conformal import (
    benjamini_hochberg,
    check_alpha,
    check_fdr,
    check_tpr,
    conformal_p_values,
    conformal_threshold,
    tpr_threshold,
)

__all__ = ["BaseDetector", "Decisions", "check_progress", "check_rule", "check_threshold"]

#: The tpr of :meth:`BaseDetector.calibrate` when neither ``tpr`` nor ``alpha`` is given.
DEFAULT_TPR = 0.95


@dataclass(frozen=True)
class Decisions:
    """The decisions of a detector on a batch: what :meth:`BaseDetector.decide` returns.

    Attributes:
        novelty: ``(N,)`` novelty scores, higher = more novel.
        p_values: ``(N,)`` split-conformal p-values (small = novel) after
            :meth:`~BaseDetector.calibrate`, else ``None``.
        novel: ``(N,)`` bool verdicts, or ``None`` when there is no rule (no threshold and no ``fdr``).
        threshold: the threshold on the novelty (novel above it), or ``None``.
        rule: how the verdict was reached: ``"threshold"`` (given), ``"tpr"`` or ``"alpha"``
            (calibrated threshold), ``"fdr"`` (Benjamini-Hochberg selection), or ``None``.
        tpr, alpha, fdr: the level of the rule that was used, ``None`` for the others.
    """

    novelty: np.ndarray
    p_values: np.ndarray | None
    novel: np.ndarray | None
    threshold: float | None
    rule: str | None
    tpr: float | None = None
    alpha: float | None = None
    fdr: float | None = None

    def verdicts(self) -> list[str | None]:
        """``"novel"`` or ``"known"`` per sample, ``None`` each when there is no rule."""
        if self.novel is None:
            return [None] * len(self.novelty)
        return ["novel" if novel else "known" for novel in self.novel]

    def to_dict(self) -> dict:
        """The rule as plain JSON-ready values: ``threshold``, ``tpr``, ``alpha``, ``fdr`` (per-sample values apart)."""
        return {"threshold": self.threshold, "tpr": self.tpr, "alpha": self.alpha, "fdr": self.fdr}

    def sample(self, i: int) -> dict:
        """Sample ``i``'s ``novelty``, ``p_value`` and ``verdict`` as plain values."""
        return {
            "novelty": float(self.novelty[i]),
            "p_value": None if self.p_values is None else float(self.p_values[i]),
            "verdict": None if self.novel is None else ("novel" if self.novel[i] else "known"),
        }


class BaseDetector(BaseEstimator, abc.ABC):
    """Base of the detectors: subclasses define :meth:`novelty` and :meth:`classify`; the decisions live here.

    Subclasses take a ``threshold`` parameter (on the NOVELTY, novel above it, or ``None``)
    and call :meth:`_reset_decisions` at the end of ``fit``.

    Fitted attributes: ``threshold_`` (on the novelty) and ``offset_ = -threshold_`` (on
    :meth:`score_samples`), ``None`` until set; ``calibration_novelty_`` (sorted novelty of
    the :meth:`calibrate` samples, or ``None``); ``calibration_rule_`` (``("tpr", value)``
    or ``("alpha", value)``, or ``None``).
    """

    threshold: float | None

    @abc.abstractmethod
    def novelty(self, X) -> np.ndarray:
        """NOVELTY scores ``(N,)`` of the samples ``X``: higher = more novel."""

    @abc.abstractmethod
    def classify(self, X) -> np.ndarray:
        """Index into ``classes_`` of each sample's nearest known class ``(N,)``, never -1."""

    @abc.abstractmethod
    def _check_fitted(self) -> None:
        """Raise ``NotFittedError`` unless fitted."""

    def score_samples(self, X) -> np.ndarray:
        """Normality ``(N,)`` as in scikit-learn: higher = more normal (more like the known classes).

        Equal to ``-novelty(X)``.
        """
        return -self.novelty(X)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_`` ``(N,)``: negative = novel, positive = known (scikit-learn's convention)."""
        return self.score_samples(X) - self._offset()

    def predict(self, X) -> np.ndarray:
        """The known class index (into ``classes_``) per sample ``(N,)``, or -1 where :meth:`decision_function` < 0.

        Unlike scikit-learn's outlier detectors (+1 inlier / -1 outlier) this is open-set
        classification: a known sample gets its class, and -1 marks the unknowns, as in
        pytorch-ood's labels. ``predict(X) == -1`` is exactly ``decision_function(X) < 0``.
        """
        decision = self.decision_function(X)
        predicted = self.classify(X)
        predicted[decision < 0] = -1
        return predicted

    def calibrate(self, known_embeddings, tpr: float | None = None, *, alpha: float | None = None):
        """Set the threshold from held-out known samples, and keep their novelty for :meth:`p_values`.

        Give one of:

        * ``alpha``: the false-alarm rate. The threshold is the split-conformal one
          (:func:`~openshape_ood.detectors.conformal.conformal_threshold`): a known sample exchangeable
          with these is called novel with probability at most ``alpha``, for any number of
          samples. It is at most one rank above the ``tpr = 1 - alpha`` threshold.
        * ``tpr`` (default 0.95 when neither is given): the share of *these* samples accepted
          as known; the smallest novelty score with at least ``tpr`` of them at or below it.

        ``threshold_`` is set and ``offset_ = -threshold_``; a sample is novel when its
        novelty is above the threshold (its :meth:`decision_function` below 0). The samples
        must not be the reference shapes of ``fit`` (those score as too normal). Returns self.
        """
        if tpr is not None and alpha is not None:
            raise ValueError("pass tpr= or alpha=, not both: alpha=0.05 bounds the false-alarm rate at 5 %")
        novelty = np.sort(self.novelty(known_embeddings))
        if alpha is not None:
            threshold, rule = conformal_threshold(novelty, alpha), ("alpha", alpha)
        else:
            tpr = DEFAULT_TPR if tpr is None else tpr
            threshold, rule = tpr_threshold(novelty, tpr), ("tpr", tpr)
        self._set_threshold(threshold)
        self.calibration_novelty_ = novelty
        self.calibration_rule_ = rule
        return self

    def p_values(self, X) -> np.ndarray:
        """Split-conformal p-values ``(N,)``: small = novel; ``(1 + #{calibration novelty >= novelty(x)}) / (n + 1)``.

        For a known sample exchangeable with the :meth:`calibrate` samples, ``P(p <= alpha) <= alpha``.
        """
        self._check_fitted()
        if self.calibration_novelty_ is None:
            raise ValueError("p-values need known samples: call calibrate(known_embeddings) first")
        return conformal_p_values(self.calibration_novelty_, self.novelty(X))

    def select_novel(self, X, fdr: float = 0.1) -> np.ndarray:
        """Which samples of the batch ``X`` to call novel ``(N,)`` bool, at false discovery rate ``fdr``.

        Benjamini-Hochberg on :meth:`p_values`: the expected share of known samples among the
        selected ones is at most ``fdr`` (Bates et al., Ann. Statist. 2023), when the known
        samples of ``X`` are exchangeable with the calibration samples.
        """
        return benjamini_hochberg(self.p_values(X), fdr)

    def decide(self, X, *, fdr: float | None = None) -> Decisions:
        """The verdicts on the batch ``X``: by :meth:`select_novel` at ``fdr`` when given, else by the threshold.

        Without ``fdr`` and without a threshold, :attr:`Decisions.novel` is ``None`` (scores only).
        p-values are included whenever the detector was calibrated.
        """
        self._check_fitted()
        if fdr is not None:
            check_fdr(fdr)
            if self.calibration_novelty_ is None:
                raise ValueError("fdr= selects by p-values, which need known samples: call calibrate() first")
        novelty = self.novelty(X)
        p_values = None
        if self.calibration_novelty_ is not None:
            p_values = conformal_p_values(self.calibration_novelty_, novelty)
        if fdr is not None:
            novel, rule = benjamini_hochberg(p_values, fdr), "fdr"
        elif self.threshold_ is not None:
            novel = novelty > self.threshold_
            rule = "threshold" if self.calibration_rule_ is None else self.calibration_rule_[0]
        else:
            novel, rule = None, None
        levels = {key: value for key, value in self.decision_rule(fdr).items() if key != "threshold"}
        return Decisions(novelty, p_values, novel, self.threshold_, rule, **levels)

    def decision_rule(self, fdr: float | None = None) -> dict:
        """The rule :meth:`decide` applies, as plain values: ``threshold``, and the ``tpr`` or ``alpha`` it was
        calibrated with, and ``fdr`` (``None`` where not used). Equal to ``decide(X, fdr=fdr).to_dict()``."""
        self._check_fitted()
        rule = dict.fromkeys(("threshold", "tpr", "alpha", "fdr"))
        rule["threshold"] = self.threshold_
        if self.calibration_rule_ is not None:
            rule[self.calibration_rule_[0]] = self.calibration_rule_[1]
        rule["fdr"] = fdr
        if fdr is not None and self.calibration_rule_ is not None and self.calibration_rule_[0] == "tpr":
            rule["tpr"] = None  # with fdr the verdict comes from the p-values, not the tpr threshold
        return rule

    def _reset_decisions(self) -> None:
        """At the end of ``fit``: the ``threshold`` parameter as the threshold, no calibration."""
        self._set_threshold(self.threshold)
        self.calibration_novelty_ = None
        self.calibration_rule_ = None

    def _set_threshold(self, threshold: float | None) -> None:
        self.threshold_ = threshold
        self.offset_ = None if threshold is None else -threshold

    def _offset(self) -> float:
        self._check_fitted()
        if self.offset_ is None:
            raise ValueError("no decision threshold: call calibrate(known_embeddings) first or pass threshold=")
        return self.offset_


def check_threshold(threshold, owner: str) -> None:
    """A ``ValueError`` unless ``threshold`` (a parameter of ``owner``) is a finite number or ``None``."""
    if threshold is not None and not (
        isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and np.isfinite(threshold)
    ):
        raise ValueError(f"The 'threshold' parameter of {owner} must be a finite float or None; got {threshold!r}.")


def check_progress(progress, owner: str) -> None:
    """A ``ValueError`` unless ``progress`` (a parameter of ``owner``) is a bool or ``None`` (bars on a terminal)."""
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"The 'progress' parameter of {owner} must be a bool or None; got {progress!r}.")


def check_rule(tpr: float | None, alpha: float | None, fdr: float | None) -> None:
    """Check the calibration rule: at most one of ``tpr``, ``alpha``, ``fdr``, each in range."""
    if sum(value is not None for value in (tpr, alpha, fdr)) > 1:
        raise ValueError("tpr, alpha and fdr are alternative rules: give one")
    if tpr is not None:
        check_tpr(tpr)
    if alpha is not None:
        check_alpha(alpha)
    if fdr is not None:
        check_fdr(fdr)
