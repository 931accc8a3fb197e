"""Known classes in, novelty out: :func:`score_novelty`, and the detectors it builds.

The library's own scores are NOVELTY scores: higher = more novel (:func:`score_novelty`,
:meth:`NoveltyDetector.novelty`). scikit-learn's names keep scikit-learn's meaning:
:meth:`NoveltyDetector.score_samples` is the NORMALITY ``-novelty`` (higher = more
normal), which is also what the 3DOS metrics take.

The detectors are siblings on :class:`~openshape_ood.detectors.base.BaseDetector`, which owns
thresholds, p-values and verdicts: :class:`NoveltyDetector` (one shape encoder, defined in
:mod:`openshape_ood.detectors.single`) and :class:`EnsembleDetector` (several, :mod:`openshape_ood.detectors.ensemble`).
This module imports both, so that :func:`score_novelty` picks one; neither imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .base import BaseDetector, Decisions
from .describe import Descriptions
from .ensemble import EnsembleDetector
from ..methods import NoveltyMethod, make_method, method_label
from .single import KnownNames, NoveltyDetector, Reference, _is_bank
from ..encoders.text import TextEncoder as TextEncoder  # the text tower a detector builds from model=, named here too

__all__ = [
    "Decisions",
    "EnsembleDetector",
    "KnownNames",
    "NoveltyDetector",
    "NoveltyScores",
    "Reference",
    "ScoredShapes",
    "fit_detector",
    "score_novelty",
    "score_shapes",
]

# The detector's own parameters; any other option of score_novelty is a parameter of the method.
_DETECTOR_OPTIONS = ("model", "text_encoder", "templates", "threshold", "progress")


class NoveltyScores(NamedTuple):
    """What :func:`score_novelty` returns.

    Attributes:
        scores: ``(N,)`` novelty scores, higher = more novel.
        predicted: ``(N,)`` index into ``classes`` of each sample's nearest known class.
        classes: the known classes: names, or ``0..C-1`` when given as bare embeddings.
        similarity: ``(N,)`` cosine of each sample to its nearest known class
            (:meth:`NoveltyDetector.similarity`).
    """

    scores: np.ndarray
    predicted: np.ndarray
    classes: np.ndarray
    similarity: np.ndarray


@dataclass(frozen=True)
class ScoredShapes:
    """What :func:`score_shapes` returns: per shape its nearest class, similarity, decision and description.

    Attributes:
        classes: ``(N,)`` the nearest known class of each shape, as text (a class of several names joined by " / ").
        similarity: ``(N,)`` cosine to that class (higher = closer).
        decisions: the :class:`~openshape_ood.detectors.base.Decisions` (novelty higher = more novel, p-values, verdicts).
        descriptions: the nearest vocabulary names, or ``None``.
    """

    classes: list[str]
    similarity: np.ndarray
    decisions: Decisions
    descriptions: Descriptions | None = None

    def rows(self) -> list[dict]:
        """One JSON-ready dict per shape: ``class``, ``similarity``, ``novelty``, ``p_value``, ``verdict`` and,
        with descriptions, ``looks_like`` (``[{"name", "cosine"}]``)."""
        rows = []
        for i, name in enumerate(self.classes):
            row = {"class": name, "similarity": float(self.similarity[i]), **self.decisions.sample(i)}
            if self.descriptions is not None:
                row["looks_like"] = [
                    {"name": str(n), "cosine": float(c)}
                    for n, c in zip(self.descriptions.names[i], self.descriptions.cosines[i])
                ]
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        """The rule (``threshold``, ``tpr``, ``alpha``, ``fdr``) and ``results``: :meth:`rows`."""
        return {**self.decisions.to_dict(), "results": self.rows()}


def score_shapes(
    detector: BaseDetector,
    X,
    *,
    fdr: float | None = None,
    describe: int | None = None,
    vocabulary: Sequence[str] | None = None,
) -> ScoredShapes:
    """Everything a fitted ``detector`` says about the shapes ``X``: nearest class, similarity, decisions
    (:meth:`~openshape_ood.detectors.base.BaseDetector.decide` with ``fdr``) and, with ``describe=k``, the ``k``
    nearest names of ``vocabulary`` (``None``: LVIS)."""
    decisions = detector.decide(X, fdr=fdr)
    classes = [class_text(detector.classes_[i]) for i in detector.classify(X)]
    descriptions = detector.describe(X, k=describe, vocabulary=vocabulary) if describe else None
    return ScoredShapes(classes, detector.similarity(X), decisions, descriptions)


def class_text(cls) -> str:
    """A known class as text: its name, or its several names joined by " / "."""
    return " / ".join(cls) if isinstance(cls, (tuple, list)) else str(cls)


def fit_detector(
    known: KnownNames | np.ndarray | Reference,
    method: NoveltyMethod | str = "max_cosine",
    *,
    reference: Reference | None = None,
    **options,
) -> NoveltyDetector | EnsembleDetector:
    """A detector fitted on the known classes, with :func:`score_novelty`'s arguments (less the embeddings).

    ``model=`` a list of shape encoders gives an :class:`EnsembleDetector`, else a
    :class:`NoveltyDetector`. Decide with it: :meth:`~openshape_ood.detectors.base.BaseDetector.calibrate`,
    then :meth:`~openshape_ood.detectors.base.BaseDetector.decide`.
    """
    detector_options = {name: options.pop(name) for name in _DETECTOR_OPTIONS if name in options}
    method = make_method(method, **options)
    several = isinstance(detector_options.get("model"), (list, tuple))
    detector = (EnsembleDetector if several else NoveltyDetector)(method, **detector_options)
    # An ensemble takes one text-embedding array per member (a list, or a dict by model name),
    # which would read as reference shapes: its own fit sorts out what known holds.
    if not several and _is_reference(known):
        if "reference" not in method.needs:
            raise ValueError(
                f"known holds labelled reference shapes, which method {method_label(method)} does not use; "
                "pass method='knn' or 'prototype', or class names / text embeddings as known"
            )
        if reference is not None:
            raise ValueError("known already holds the reference shapes; pass reference= only with text known classes")
        return detector.fit(reference=known)
    return detector.fit(known=known, reference=reference)


def score_novelty(
    shape_embeddings: np.ndarray,
    known: KnownNames | np.ndarray | Reference,
    method: NoveltyMethod | str = "max_cosine",
    *,
    reference: Reference | None = None,
    **options,
) -> NoveltyScores:
    """Novelty of each shape against known classes: higher = more novel.

    Args:
        shape_embeddings: L2-normalised shape embeddings ``(N, D)`` (``ShapeEncoder.embed``).
        known: class names (embedded with the text tower paired with ``model=``, or with
            ``text_encoder=``; an entry may be a tuple of names of one class, scored by its
            best name), their text embeddings ``(C, D)``, or labelled reference shape
            embeddings (``(embeddings, labels)`` or ``{class name: embeddings}``) for the
            ``"knn"`` and ``"prototype"`` methods.
        method: a method name or object, see :class:`NoveltyDetector`.
            With ``model=`` a list of shape encoders, an :class:`EnsembleDetector` scores, and
            ``shape_embeddings`` is one array per model.
        reference: labelled reference shapes besides text ``known``, for ``method="fused"``.
        options: :class:`NoveltyDetector` arguments (``model``, ``text_encoder``,
            ``templates``, ...) and, with a method name, that method's parameters
            (``temperature=``, ``k=``, ... see :mod:`openshape_ood.methods`).

    Returns:
        :class:`NoveltyScores`: ``scores`` (higher = more novel), ``predicted`` (index of
        the nearest known class), ``classes`` and ``similarity`` (cosine to that class).
    """
    detector = fit_detector(known, method, reference=reference, **options)
    return NoveltyScores(
        detector.novelty(shape_embeddings),
        detector.classify(shape_embeddings),
        detector.classes_,
        detector.similarity(shape_embeddings),
    )


def _is_reference(value) -> bool:
    return _is_bank(value) or isinstance(value, Mapping) or (isinstance(value, tuple) and len(value) == 2 and np.ndim(value[0]) == 2)
