"""What a scored scene is made of: one :class:`SceneObject` row per object, in a :class:`SceneScores`.

A scored object has this one form. Its :meth:`SceneObject.to_dict` is what ``openshape-ood scene
--json`` prints per object, the command's table is read from the same dicts, and the HTML page's
hover text (:mod:`openshape_ood.scenes.html`) from :meth:`SceneObject.scored_fields`. Its nearest
known class is called ``class`` everywhere: ``SceneObject.class_`` in Python (a trailing underscore,
PEP 8's way around the keyword), ``"class"`` in the JSON, the table and the page, as in the rows of
``openshape-ood score`` (:meth:`~openshape_ood.detectors.functional.ScoredShapes.rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from ..detectors.base import Decisions
    from ..segmentation import SegmentationSettings

__all__ = ["SceneObject", "SceneScores"]


@dataclass(frozen=True)
class SceneObject:
    """One object of a scored scene: where it is and what the detector says of it.

    Attributes:
        id: its label in the scene's per-point labels.
        points: how many points it has.
        bbox_min, bbox_max: corners of its axis-aligned bounding box (metres).
        centroid: mean of its points.
        class_: the known class it is nearest to, as text (a class of several names joined by " / ");
            ``"class"`` in :meth:`to_dict`.
        similarity: cosine similarity of its embedding to that class (the text embedding
            of the class's best name, or its nearest reference shape); higher = closer.
        novelty: its novelty score: higher = more novel.
        verdict: ``"novel"`` (novelty above the threshold, or selected at the FDR), ``"known"``,
            or ``None`` without a decision rule.
        p_value: with a calibrated detector, the split-conformal p-value of the object's novelty
            (:func:`~openshape_ood.detectors.conformal.conformal_p_values`: small = novel); else ``None``.
        looks_like: with ``describe=k``, its ``k`` nearest vocabulary names and their cosines,
            ``(("name", cosine), ...)``; else ``None`` (and left out of :meth:`to_dict`).
    """

    id: int
    points: int
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    centroid: tuple[float, float, float]
    class_: str
    similarity: float
    novelty: float
    verdict: str | None
    p_value: float | None = None
    looks_like: tuple[tuple[str, float], ...] | None = None

    def scored_fields(self) -> dict:
        """What the detector says of it, as :meth:`to_dict` names it: ``class``, ``similarity``, ``novelty``,
        ``p_value``, ``verdict`` (in that order)."""
        return {
            "class": self.class_,
            "similarity": self.similarity,
            "novelty": self.novelty,
            "p_value": self.p_value,
            "verdict": self.verdict,
        }

    def to_dict(self) -> dict:
        """Plain JSON-ready values: ``id``, ``points``, ``bbox_min``, ``bbox_max``, ``centroid`` (lists),
        the :meth:`scored_fields`, and ``looks_like`` as ``[{"name", "cosine"}]`` when set."""
        document = {
            "id": self.id,
            "points": self.points,
            "bbox_min": list(self.bbox_min),
            "bbox_max": list(self.bbox_max),
            "centroid": list(self.centroid),
            **self.scored_fields(),
        }
        if self.looks_like is not None:
            document["looks_like"] = [{"name": name, "cosine": cosine} for name, cosine in self.looks_like]
        return document


class SceneScores(NamedTuple):
    """What :func:`~openshape_ood.scenes.scene.score_scene` returns.

    Attributes:
        objects: one :class:`SceneObject` per object, in label order.
        labels: ``(N,)`` the object id of each point, -1 for background.
        novelty: ``(N,)`` the novelty of each point's object (higher = more novel), NaN for background.
        threshold: the decision threshold on novelty, or ``None``.
        decisions: the detector's :class:`~openshape_ood.detectors.base.Decisions` on the objects
            (its ``to_dict()`` names the rule), or ``None`` when the scene has no objects.
        settings: the :class:`~openshape_ood.segmentation.SegmentationSettings` the segmentation used,
            or ``None`` when the labels were given.
        up_axis: the scan's gravity axis the objects were embedded with.
    """

    objects: list[SceneObject]
    labels: np.ndarray
    novelty: np.ndarray
    threshold: float | None
    decisions: Decisions | None = None
    settings: SegmentationSettings | None = None
    up_axis: str | None = None
