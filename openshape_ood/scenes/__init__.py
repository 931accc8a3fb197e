"""Scenes: find the objects of a scanned room, table top or street and score each one for novelty.

:func:`segment_scene` labels every point with an object (or background) through
:mod:`openshape_ood.segmentation`; :func:`find_objects` takes those or labels that were given;
:func:`score_scene` embeds each object and scores it with a fitted detector, one
:class:`SceneObject` row per object (the table, the JSON and the page all read it);
:func:`write_scene_html` draws the result as an interactive page (needs plotly).
"""

from .._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "SceneLabels": "scene",
        "SceneObject": "rows",
        "SceneScores": "rows",
        "find_objects": "scene",
        "load_scene": "scene",
        "plot_scene": "scene",
        "score_scene": "scene",
        "segment_scene": "scene",
        "write_scene_ply": "scene",
        "write_scene_html": "html",
    },
)
