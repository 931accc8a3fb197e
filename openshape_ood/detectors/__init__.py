"""Detectors: from shape embeddings and known class names to novelty scores and verdicts.

:class:`NoveltyDetector` (one shape encoder) and :class:`EnsembleDetector` (several) are
scikit-learn estimators on :class:`BaseDetector`, which turns NOVELTY scores (higher = more
novel) into decisions (:mod:`.conformal` for false-alarm and FDR control). :func:`score_novelty`
and :func:`fit_detector` are the functional API; :mod:`.describe` names what a shape looks like.
"""

from .._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BaseDetector": "base",
        "Decisions": "base",
        "NoveltyDetector": "single",
        "EnsembleDetector": "ensemble",
        "Descriptions": "describe",
        "NoveltyScores": "functional",
        "ScoredShapes": "functional",
        "fit_detector": "functional",
        "score_novelty": "functional",
        "score_shapes": "functional",
    },
)
