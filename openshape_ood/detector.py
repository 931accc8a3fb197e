"""Known classes in, novelty out: :func:`score_novelty`, and the detectors it builds.

The library's own scores are NOVELTY scores: higher = more novel (:func:`score_novelty`,
:meth:`NoveltyDetector.novelty`). scikit-learn's names keep scikit-learn's meaning:
:meth:`NoveltyDetector.score_samples` is the NORMALITY ``-novelty`` (higher = more
normal), which is also what the 3DOS metrics take.

The detectors are siblings on :class:`~openshape_ood.decision.BaseDetector`, which owns
thresholds, p-values and verdicts: :class:`NoveltyDetector` (one shape encoder, defined in
:mod:`openshape_ood.single`) and :class:`EnsembleDetector` (several, :mod:`openshape_ood.ensemble`).
This module imports both, so that :func:`score_novelty` picks one; neither imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from .decision import Decisions
from .ensemble import EnsembleDetector
from .methods import NoveltyMethod, make_method, method_label
from .single import KnownNames, NoveltyDetector, Reference
from .text import TextEncoder as TextEncoder  # the text tower a detector builds from model=, named here too

__all__ = [
    "Decisions",
    "EnsembleDetector",
    "KnownNames",
    "NoveltyDetector",
    "NoveltyScores",
    "Reference",
    "score_novelty",
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
    detector_options = {name: options.pop(name) for name in _DETECTOR_OPTIONS if name in options}
    method = make_method(method, **options)
    several = isinstance(detector_options.get("model"), (list, tuple))
    detector = (EnsembleDetector if several else NoveltyDetector)(method, **detector_options)
    if _is_reference(known):
        if "reference" not in method.needs:
            raise ValueError(
                f"known holds labelled reference shapes, which method {method_label(method)} does not use; "
                "pass method='knn' or 'prototype', or class names / text embeddings as known"
            )
        if reference is not None:
            raise ValueError("known already holds the reference shapes; pass reference= only with text known classes")
        detector.fit(reference=known)
    else:
        detector.fit(known=known, reference=reference)
    return NoveltyScores(
        detector.novelty(shape_embeddings),
        detector.classify(shape_embeddings),
        detector.classes_,
        detector.similarity(shape_embeddings),
    )


def _is_reference(value) -> bool:
    return isinstance(value, Mapping) or (isinstance(value, tuple) and len(value) == 2 and np.ndim(value[0]) == 2)
