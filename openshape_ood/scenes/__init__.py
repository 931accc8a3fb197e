"""Scenes: find the objects of a scanned room, table top or street and score each one for novelty.

:func:`segment_scene` labels every point with an object (or background) through
:mod:`openshape_ood.segmentation`; :func:`score_scene` embeds and scores each object;
:func:`write_scene_html` draws the result as an interactive page (needs plotly).
"""

from .._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "SceneObject": "scene",
        "SceneScores": "scene",
        "load_scene": "scene",
        "plot_scene": "scene",
        "score_scene": "scene",
        "segment_scene": "scene",
        "write_scene_ply": "scene",
        "write_scene_html": "html",
    },
)
