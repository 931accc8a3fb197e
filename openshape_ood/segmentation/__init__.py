"""Segmentation of a scan into objects: :func:`segment_scene` (and :class:`SceneSegmenter`, its
estimator form) and the settings it chooses.

:mod:`.pipeline` runs the steps, one module each: :mod:`.settings` measures the scan and chooses the settings,
:mod:`.geometry` voxelises it and estimates normals, :mod:`.planes` and :mod:`.ground` remove
the support (table tops, floors, walls; the ground of a street), :mod:`.clustering` groups the
rest and keeps what can be an object, :mod:`.convexity` splits touching objects at concave edges,
:mod:`.visibility` drops what a street sensor did not see whole.
"""

from __future__ import annotations

from .pipeline import segment_scene
from .settings import ScanMeasures, SegmentationSettings

__all__ = ["ScanMeasures", "SceneSegmenter", "SegmentationSettings", "segment_scene"]


def __getattr__(name: str):
    # SceneSegmenter imports scikit-learn: only when it is asked for.
    if name == "SceneSegmenter":
        from .estimator import SceneSegmenter

        return SceneSegmenter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
