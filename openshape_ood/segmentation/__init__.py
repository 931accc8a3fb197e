"""Segmentation of a scan into objects: :func:`segment_scene` (and :class:`SceneSegmenter`, its
estimator form) and the settings it chooses.

:mod:`.pipeline` runs the steps, one module each: :mod:`.settings` measures the scan and chooses the settings,
:mod:`.geometry` voxelises it and estimates normals, :mod:`.planes` and :mod:`.ground` remove
the support (table tops, floors, walls; the ground of a street), :mod:`.clustering` groups the
rest and keeps what can be an object, :mod:`.convexity` splits touching objects at concave edges,
:mod:`.visibility` drops what a street sensor did not see whole, and :mod:`.finer` cuts the objects on a table
seen with the room round it at their own spacing.
"""

from .._lazy import lazy_exports

# A lazy face: scene --help reads the settings table (.settings) without the pipeline's scipy and,
# for SceneSegmenter, scikit-learn.
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ScanMeasures": "settings",
        "SegmentationSettings": "settings",
        "SceneSegmenter": "estimator",
        "segment_scene": "pipeline",
    },
)
