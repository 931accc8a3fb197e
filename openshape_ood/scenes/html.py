"""An interactive look at a scored scene: one self-contained HTML page with a 3D view.

:func:`write_scene_html` writes the page, :func:`scene_figure` builds its plotly figure.
The page inlines plotly.js, so it opens without network (it is about 5 MB more than the
points). Background points are grey, each object's points are coloured by its novelty
(a colour bar gives the scale; higher = more novel), each object's number floats above it,
and hovering an object's points shows its number and the fields of its row named as the
table and the JSON name them: class (the nearest known class), similarity, novelty,
p_value (with calibration) and verdict (with a decision rule). A click on an object in the
legend hides or shows it.

plotly is an optional dependency: ``pip install "openshape-ood[html]"``.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path

import numpy as np

from ..atomic import replacing
from ..config import UP_AXES
from ..extras import require
from ..segmentation.geometry import scene_xyz
from .rows import SceneObject, SceneScores
from .scene import BACKGROUND_GREY

__all__ = ["DISPLAY_POINTS", "require_plotly", "scene_figure", "thin_for_display", "write_scene_html"]

#: Points drawn at most by default: WebGL in a browser stays fluid up to a few hundred thousand.
DISPLAY_POINTS = 200_000
# WebGL draws in float32 (7 significant digits): scans farther than this from the origin (UTM,
# map coordinates) are drawn relative to a rounded centre so that millimetres survive.
_FAR = 1000.0
# plotly's copy of the perceptual colour map of the PLY and PNG outputs (scene.COLOUR_MAP).
_COLOUR_SCALE = "Viridis"


def require_plotly():
    """The ``plotly`` module, or a :class:`~openshape_ood.extras.MissingExtraError` that says how to install it."""
    return require("plotly", "the HTML view of a scene")


def thin_for_display(labels: np.ndarray, max_points: int = DISPLAY_POINTS) -> np.ndarray:
    """Indices (sorted) of at most ``max_points`` points to draw, the same every time.

    Every ``s``-th point of the background and of each object, in file order, with the
    smallest stride ``s`` that fits: an even thinning that keeps at least one point of
    every object, however small, and all points when they fit.
    """
    labels = np.asarray(labels)
    if int(max_points) != max_points or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    if len(labels) <= max_points:
        return np.arange(len(labels))
    groups, sizes = np.unique(labels, return_counts=True)
    if len(groups) > max_points:
        objects = int((groups >= 0).sum())
        raise ValueError(f"max_points={max_points} is fewer than the {objects} objects and the background to show")
    stride = math.ceil(len(labels) / max_points)
    while np.sum(-(-sizes // stride)) > max_points:  # ceil(size / stride) points drawn per group
        stride += 1
    order = np.argsort(labels, kind="stable")  # each group's points in file order, group after group
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(labels)) - np.repeat(starts, sizes)  # position of each point within its group
    return np.sort(order[rank % stride == 0])


def scene_figure(
    points: np.ndarray,
    scores: SceneScores,
    *,
    up_axis: str | None = None,
    max_points: int = DISPLAY_POINTS,
    title: str | None = None,
    point_size: float = 1.5,
    origin: np.ndarray | None = None,
):
    """The plotly figure of :func:`write_scene_html` (a ``plotly.graph_objects.Figure``).

    Args:
        points: the scan ``(N, 3)`` or ``(N, C >= 3)``, xyz first, in metres.
        scores: what :func:`~openshape_ood.scenes.scene.score_scene` returned for it.
        up_axis: the scan's gravity axis (``"x"``, ``"y"``, ``"z"``), drawn upwards; ``None``: z up.
        max_points: at most this many points are drawn (:func:`thin_for_display`); the title says how many.
        title: the first line of the figure title (e.g. the scan's file name).
        point_size: marker size in pixels.
        origin: the point ``(3,)`` the scan's coordinates are relative to, in its own coordinates
            (:func:`~openshape_ood.scenes.scene.load_scene` with ``return_origin=True``: survey files
            in map coordinates are read relative to a local origin); the axis titles name it.
    """
    require_plotly()
    import plotly.graph_objects as go

    xyz = scene_xyz(points)
    labels = np.asarray(scores.labels)
    if labels.shape != (len(xyz),):
        raise ValueError(f"the scores are for {len(labels)} points, the scene has {len(xyz)}")
    if up_axis is not None and up_axis not in UP_AXES:
        raise ValueError(f"up_axis {up_axis!r} is not one of {UP_AXES} or None")
    vertical = UP_AXES.index(up_axis) if up_axis is not None else 2
    shown = thin_for_display(labels, max_points)
    origin = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
    if origin.shape != (3,) or not np.isfinite(origin).all():
        raise ValueError(f"origin must be three finite coordinates, got {origin!r}")
    offset = np.zeros(3)
    if np.abs(xyz).max() > _FAR:
        offset = np.round((xyz.min(axis=0) + xyz.max(axis=0)) / 2)
    drawn, drawn_labels = (xyz[shown] - offset).astype(np.float32), labels[shown]

    novelty = np.array([obj.novelty for obj in scores.objects], dtype=np.float64)
    low, high = (novelty.min(), novelty.max()) if len(novelty) else (0.0, 1.0)
    if high <= low:  # one object, or all alike: a range around it so that the colour bar has one
        low, high = low - 0.5, high + 0.5
    grey = round(BACKGROUND_GREY * 255)
    background = drawn[drawn_labels < 0]
    traces = [
        go.Scatter3d(
            x=background[:, 0], y=background[:, 1], z=background[:, 2],
            mode="markers",
            marker={"size": point_size, "color": f"rgb({grey},{grey},{grey})"},
            name="background",
            hoverinfo="skip",
        )
    ]
    for k, obj in enumerate(scores.objects):
        cut = drawn[drawn_labels == obj.id]
        traces.append(
            go.Scatter3d(
                x=cut[:, 0], y=cut[:, 1], z=cut[:, 2],
                mode="markers",
                marker={
                    "size": point_size,
                    "color": np.full(len(cut), obj.novelty),
                    "colorscale": _COLOUR_SCALE,
                    "cmin": low,
                    "cmax": high,
                    "showscale": k == 0,
                    "colorbar": {"title": {"text": "novelty<br>(higher = more novel)"}},
                },
                name=html.escape(f"{obj.id}: {obj.class_}" + (f" ({obj.verdict})" if obj.verdict else "")),
                hovertext=_hover_text(obj),
                hoverinfo="text",
            )
        )
    if scores.objects:  # the numbers, just above each object's box along the up axis
        tops = np.array([obj.centroid for obj in scores.objects]) - offset
        tops[:, vertical] = np.array([obj.bbox_max[vertical] for obj in scores.objects]) - offset[vertical]
        traces.append(
            go.Scatter3d(
                x=tops[:, 0], y=tops[:, 1], z=tops[:, 2],
                mode="text",
                text=[str(obj.id) for obj in scores.objects],
                textposition="top center",
                name="object numbers",
                hoverinfo="skip",
            )
        )
    figure = go.Figure(traces)
    # Each axis names what its numbers are relative to, in the scan's own coordinates: the file's origin
    # (map coordinates) plus the centre drawn around.
    relative_to = origin + offset
    axis_titles = [f"{axis} (m)" if relative_to[k] == 0 else f"{axis} - {relative_to[k]:.15g} (m)"
                   for k, axis in enumerate("xyz")]  # fmt: skip
    lines = [title] if title else []
    lines.append(
        f"{len(scores.objects)} objects; {len(shown):,} of {len(xyz):,} points shown"
        + (" (thinned evenly for display)" if len(shown) < len(xyz) else "")
        + ("" if scores.threshold is None else f"; novel: novelty above {scores.threshold:.4g}")
    )
    # plotly's default direction, from farther back: its default eye (1.25, 1.25, 1.25) crops the scan.
    camera = {"up": dict(zip("xyz", np.eye(3)[vertical].tolist())), "eye": {"x": 1.6, "y": 1.6, "z": 1.6}}
    figure.update_layout(
        title={"text": "<br>".join(html.escape(line) for line in lines)},
        scene={
            "aspectmode": "data",  # metres are metres on every axis
            "xaxis": {"title": {"text": axis_titles[0]}},
            "yaxis": {"title": {"text": axis_titles[1]}},
            "zaxis": {"title": {"text": axis_titles[2]}},
            "camera": camera,
        },
        legend={"x": 0, "y": 1, "itemsizing": "constant"},
        margin={"l": 0, "r": 0, "b": 0, "t": 60},
    )
    return figure


def _hover_text(obj: SceneObject) -> str:
    """What hovering a point of ``obj`` shows: its number and point count, then each field of
    :meth:`~openshape_ood.scenes.rows.SceneObject.scored_fields` that is set, by its name."""
    lines = [f"object {obj.id} ({obj.points:,} points)"]
    for name, value in obj.scored_fields().items():
        if value is not None:
            lines.append(f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}")
    return "<br>".join(html.escape(line) for line in lines)  # plotly renders hover text as HTML


def write_scene_html(
    path: str | os.PathLike,
    points: np.ndarray,
    scores: SceneScores,
    *,
    up_axis: str | None = None,
    max_points: int = DISPLAY_POINTS,
    title: str | None = None,
    origin: np.ndarray | None = None,
) -> Path:
    """Write a scored scene as one self-contained HTML page with an interactive 3D view.

    plotly.js is inlined: the page opens offline, in any browser. Arguments as for
    :func:`scene_figure`. Written atomically; returns ``path`` as a Path.
    """
    figure = scene_figure(points, scores, up_axis=up_axis, max_points=max_points, title=title, origin=origin)
    page = figure.to_html(
        include_plotlyjs=True,  # inlined, not a CDN link
        full_html=True,
        div_id="scene",  # fixed, so that the same scene gives the same page
        config={"displaylogo": False},
    )
    with replacing(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return Path(path)
