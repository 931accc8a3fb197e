"""Scenes: find the objects in a scan of a room or a table top and score each one for novelty.

:func:`segment_scene` gives every point of a scan an object id (-1 for background: floor,
walls, table tops, clutter too small or too large to be an object). :func:`score_scene`
cuts each object out, embeds it exactly as a single shape file would be embedded, and
scores it against the known classes with :func:`~openshape_ood.score_novelty`.
:func:`load_scene` reads a scan and the per-point instance labels it may carry;
:func:`write_scene_ply` and :func:`plot_scene` show the result.

Coordinates are in METRES: every size of the automatic segmentation is.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..io import PointCloud, read_cloud, write_ply
from ..config import UP_AXES
from ..extras import require
from ..detectors.base import BaseDetector, Decisions, check_rule
from ..segmentation import SegmentationSettings, segment_scene
from ..segmentation.geometry import given_labels as _given_labels
from ..segmentation.geometry import scene_xyz as _scene_xyz

__all__ = [
    "BACKGROUND_GREY",
    "COLOUR_MAP",
    "LABEL_PROPERTIES",
    "SceneObject",
    "SceneScores",
    "SegmentationSettings",
    "load_scene",
    "novelty_colours",
    "plot_scene",
    "score_scene",
    "segment_scene",
    "write_scene_ply",
]

#: Per-point properties read as instance labels by :func:`load_scene`, in order of preference
#: (names compared without case).
LABEL_PROPERTIES = ("instance", "instance_id", "objectId", "object_id", "segment", "segment_id", "label")

# Colours of the output: background grey, objects on a perceptually uniform colour map.
BACKGROUND_GREY = 0.6
COLOUR_MAP = "viridis"


# ------------------------------------------------------------------------- reading labels


def load_scene(
    path: str | os.PathLike, *, labels: str | None = "auto", return_origin: bool = False
) -> tuple[np.ndarray, np.ndarray | None] | tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """A scan from a file (:func:`~openshape_ood.io.read_cloud`) and its per-point instance labels, if any.

    Args:
        path: any file :func:`~openshape_ood.load_points` reads, through the same reader.
            Labels are per-point fields of point-cloud files: ``.ply`` vertex properties,
            ``.pcd`` fields, LAS/LAZ ``classification`` (ASPRS classes, by name only),
            SemanticKITTI ``instance`` labels from a ``.label`` file beside a ``.bin``.
        labels: ``"auto"`` reads the first field of :data:`LABEL_PROPERTIES` the file
            has (``instance``, ``objectId``, ``segment``, ``label``, ...), a field name
            reads that one (an error when it is missing), ``None`` reads none.
        return_origin: also return the cloud's local origin ``(3,)`` float64: the file's
            coordinates are ``points[:, :3] + origin`` (non-zero for survey coordinates;
            :func:`write_scene_ply` writes it back).

    Returns:
        ``(points, labels)`` or ``(points, labels, origin)``: the points as
        :func:`~openshape_ood.load_points` returns them (without the points whose
        coordinates are not finite) and their labels ``(N,)`` int64, negative ones -1
        (background); ``labels`` is ``None`` when the file has no label field.
    """
    path = Path(path)
    cloud = read_cloud(path)
    found = None if labels is None else _label_field(path, cloud, None if labels == "auto" else labels)
    values = None if found is None else _given_labels(found, len(cloud.points))
    return (cloud.points, values, cloud.origin) if return_origin else (cloud.points, values)


def _label_field(path: Path, cloud: PointCloud, name: str | None) -> np.ndarray | None:
    """The label field of a point cloud (``name``, or the first of :data:`LABEL_PROPERTIES`), or ``None``."""
    if cloud.sampled:
        if name is not None:
            raise ValueError(f"{path} is a mesh (it has faces); per-point labels are read from point clouds only")
        return None
    by_lower = {field.lower(): field for field in cloud.fields}
    if name is None:
        field = next((by_lower[n.lower()] for n in LABEL_PROPERTIES if n.lower() in by_lower), None)
        return None if field is None else cloud.fields[field]
    if name.lower() in by_lower:
        return cloud.fields[by_lower[name.lower()]]
    if not cloud.fields:
        raise ValueError(
            f"{path} has no per-point properties; labels are read from .ply and .pcd properties, LAS/LAZ fields "
            "and SemanticKITTI .label files beside a .bin"
        )
    raise ValueError(f"{path} has no property {name!r}; its properties are {', '.join(cloud.fields)}")


# ---------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class SceneObject:
    """One object of a scored scene.

    Attributes:
        id: its label in the scene's per-point labels.
        points: how many points it has.
        bbox_min, bbox_max: corners of its axis-aligned bounding box (metres).
        centroid: mean of its points.
        nearest_class: the known class it is nearest to.
        similarity: cosine similarity of its embedding to that class (the text embedding
            of the class's best name, or its nearest reference shape).
        novelty: its novelty score: higher = more novel.
        verdict: ``"novel"`` (novelty above the threshold), ``"known"``, or ``None`` without a threshold.
        p_value: with calibration shapes, the split-conformal p-value of the object's novelty
            (:func:`~openshape_ood.detectors.conformal.conformal_p_values`: small = novel); else ``None``.
        looks_like: with ``describe=k``, its ``k`` nearest vocabulary names and their cosines,
            ``(("name", cosine), ...)``; else ``None`` (and left out of :meth:`as_dict`).
    """

    id: int
    points: int
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]
    centroid: tuple[float, float, float]
    nearest_class: str
    similarity: float
    novelty: float
    verdict: str | None
    p_value: float | None = None
    looks_like: tuple[tuple[str, float], ...] | None = None

    def as_dict(self) -> dict:
        """The fields as plain JSON-ready values (``looks_like`` as ``[{"name", "cosine"}]``, only when set)."""
        fields = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
        looks_like = fields.pop("looks_like")
        if looks_like is not None:
            fields["looks_like"] = [{"name": name, "cosine": cosine} for name, cosine in looks_like]
        return fields


class SceneScores(NamedTuple):
    """What :func:`score_scene` returns.

    Attributes:
        objects: one :class:`SceneObject` per object, in label order.
        labels: ``(N,)`` the object id of each point, -1 for background.
        novelty: ``(N,)`` the novelty of each point's object (higher = more novel), NaN for background.
        threshold: the decision threshold on novelty, or ``None``.
        decisions: the detector's :class:`~openshape_ood.detectors.base.Decisions` on the objects
            (its ``to_dict()`` names the rule), or ``None`` when the scene has no objects.
    """

    objects: list[SceneObject]
    labels: np.ndarray
    novelty: np.ndarray
    threshold: float | None
    decisions: Decisions | None = None


def score_scene(
    points: np.ndarray,
    known,
    *,
    model,
    method: str = "max_cosine",
    labels: np.ndarray | None = None,
    up_axis: str = "y",
    threshold: float | None = None,
    calibration: np.ndarray | None = None,
    tpr: float | None = None,
    alpha: float | None = None,
    fdr: float | None = None,
    describe: int | None = None,
    vocabulary: Sequence[str] | None = None,
    seed: int | None = 0,
    batch_size: int = 16,
    progress: bool | None = None,
    **options,
) -> SceneScores:
    """Find the objects of a scan and score each one for novelty against the known classes.

    Each object is cut out of the scan with its colours and embedded by ``model`` exactly
    as a single shape file would be (centred, scaled into the unit ball, resampled with
    ``seed``, its ``up_axis`` turned onto the model's), then scored and decided by a
    detector fitted with :func:`~openshape_ood.detectors.functional.fit_detector`: higher = more novel.

    Args:
        points: the scan ``(N, 3)`` or ``(N, 6)`` (xyz in metres, rgb), e.g. from :func:`load_scene`.
        known: the known classes as for :func:`~openshape_ood.score_novelty`: class names,
            their text embeddings ``(C, D)``, or labelled reference shape embeddings; or a
            detector fitted (and calibrated) already, whose decisions are used as they are
            (then no ``method``, ``threshold``, ``calibration`` or ``options``).
        model: the shape encoder (a :class:`~openshape_ood.ShapeEncoder`, or anything with
            its ``embed``) or its registry name. Class names are embedded with its paired text
            tower unless ``text_encoder=`` is given.
        method: the novelty score (see :class:`~openshape_ood.NoveltyDetector`).
        labels: per-point object labels ``(N,)`` (negative: background) from the file or a
            segmentation model; ``None`` segments the scan with :func:`segment_scene` and its
            defaults (call it yourself to change them). An object of one point, or of points
            all at one place, has no shape to encode: it becomes background, with a warning.
        up_axis: the scan's gravity axis, for the segmentation and the encoder.
        threshold: call an object novel when its novelty is above this.
        calibration: embeddings ``(n, D)`` of shapes of the known classes, for
            :meth:`~openshape_ood.detectors.base.BaseDetector.calibrate`: the threshold accepts a
            ``tpr`` share of them (default 0.95), or bounds the false-alarm rate at ``alpha``;
            or ``fdr`` selects the novel objects by Benjamini-Hochberg. Not together with ``threshold``.
        tpr: the share of ``calibration`` accepted; one rule of ``tpr``, ``alpha``, ``fdr`` at most
            (as ``openshape-ood score``).
        alpha: the false-alarm rate bound with ``calibration``.
        fdr: the false discovery rate of the Benjamini-Hochberg selection; it also applies to a given
            detector that was calibrated.
        describe: each object's ``describe`` nearest names of ``vocabulary``,
            see :meth:`~openshape_ood.NoveltyDetector.describe`.
        vocabulary: the names for ``describe`` (``None``: LVIS).
        seed: as for :meth:`~openshape_ood.ShapeEncoder.embed`.
        batch_size: as for :meth:`~openshape_ood.ShapeEncoder.embed`.
        progress: as for :meth:`~openshape_ood.ShapeEncoder.embed`.
        options: further arguments of :func:`~openshape_ood.score_novelty` (``reference=``,
            ``text_encoder=``, ``templates=``, the method's options).

    Returns:
        :class:`SceneScores`: the object table, per-point labels and novelty, the threshold,
        and the :class:`~openshape_ood.detectors.base.Decisions` (``None`` without objects).
    """
    if threshold is not None and calibration is not None:
        raise ValueError("pass threshold= or calibration=, not both")
    check_rule(tpr, alpha, fdr)  # before any segmentation or encoding
    fitted = isinstance(known, BaseDetector)
    if fitted and (method != "max_cosine" or threshold is not None or calibration is not None or options):
        raise ValueError("known= is a fitted detector: set its method, threshold and calibration on it, not here")
    if (tpr, alpha) != (None, None) and calibration is None or fdr is not None and not (calibration is not None or fitted):
        raise ValueError("tpr=, alpha= and fdr= decide from calibration= shapes; pass calibration= too")
    xyz = _scene_xyz(points)
    labels = segment_scene(points, up_axis) if labels is None else _drop_flat_objects(_given_labels(labels, len(xyz)), xyz)
    ids = np.unique(labels[labels >= 0])
    novelty = np.full(len(xyz), np.nan)
    if len(ids) == 0:
        return SceneScores([], labels, novelty, threshold)
    from ..detectors.functional import fit_detector, score_shapes  # torch and open_clip: only when scoring, not to segment

    encoder = _shape_encoder(model)
    options.setdefault("progress", bool(progress))  # embedding class names with the paired text tower
    detector = known if fitted else fit_detector(known, method, model=encoder, threshold=threshold, **options)
    if calibration is not None:
        detector.calibrate(np.asarray(calibration, np.float64), tpr=tpr, alpha=alpha)
    channels = np.asarray(points)[:, :6] if np.asarray(points).shape[1] >= 6 else xyz
    members = [np.flatnonzero(labels == i) for i in ids]
    clouds = [channels[member] for member in members]
    embeddings = np.asarray(
        encoder.embed(clouds, up_axis=up_axis, seed=seed, batch_size=batch_size, progress=progress), dtype=np.float64
    )
    scored = score_shapes(detector, embeddings, fdr=fdr, describe=describe, vocabulary=vocabulary)
    decisions = scored.decisions
    verdicts = decisions.verdicts()
    objects = []
    for row, (object_id, member) in enumerate(zip(ids, members)):
        cut = xyz[member]
        novelty[member] = decisions.novelty[row]
        objects.append(
            SceneObject(
                id=int(object_id),
                points=len(member),
                bbox_min=tuple(float(v) for v in cut.min(axis=0)),
                bbox_max=tuple(float(v) for v in cut.max(axis=0)),
                centroid=tuple(float(v) for v in cut.mean(axis=0)),
                nearest_class=scored.classes[row],
                similarity=float(scored.similarity[row]),
                novelty=float(decisions.novelty[row]),
                verdict=verdicts[row],
                p_value=None if decisions.p_values is None else float(decisions.p_values[row]),
                looks_like=None
                if scored.descriptions is None
                else tuple(
                    (str(name), float(cosine))
                    for name, cosine in zip(scored.descriptions.names[row], scored.descriptions.cosines[row])
                ),
            )
        )
    return SceneScores(objects, labels, novelty, decisions.threshold, decisions)


def _drop_flat_objects(labels: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """``labels`` with the objects that have no extent (one point, or all at one place) made background,
    with one warning naming them: given labels (SemanticKITTI's) hold such objects, and one of them
    must not stop the scoring of the others."""
    kept = labels >= 0
    ids, members = np.unique(labels[kept], return_inverse=True)
    low = np.full((len(ids), 3), np.inf)
    high = np.full((len(ids), 3), -np.inf)
    np.minimum.at(low, members, xyz[kept])
    np.maximum.at(high, members, xyz[kept])
    flat = ids[(high - low).max(axis=1) == 0]
    if len(flat) == 0:
        return labels
    warnings.warn(
        f"{len(flat)} object(s) have no extent (one point, or all points at one place) and are left out as "
        f"background: label(s) {', '.join(str(i) for i in flat[:10])}{' ...' if len(flat) > 10 else ''}",
        stacklevel=3,
    )
    return np.where(np.isin(labels, flat), -1, labels)


def _shape_encoder(model):
    if isinstance(model, str):
        from ..encoders.shape import ShapeEncoder  # torch model code only when a name asks for it

        return ShapeEncoder.from_pretrained(model)
    if not callable(getattr(model, "embed", None)):
        kind = type(model).__name__
        raise ValueError(f"model must be a ShapeEncoder or a registry name such as 'vitl14'; got a {kind}")
    return model


# ---------------------------------------------------------------------------------- output


def novelty_colours(novelty: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """RGB in [0, 1] ``(N, 3)``: NaN (background) grey, novelty on the perceptual colour map :data:`COLOUR_MAP`.

    ``value_range`` ``(low, high)`` maps to the two ends of the map (default: the range of
    the finite values; higher = more novel = the bright yellow end).
    """
    novelty = np.asarray(novelty, dtype=np.float64)
    colours = np.full((len(novelty), 3), BACKGROUND_GREY)
    scored = np.isfinite(novelty)
    if scored.any():
        low, high = value_range if value_range is not None else (novelty[scored].min(), novelty[scored].max())
        unit = np.full(int(scored.sum()), 0.5) if high <= low else np.clip((novelty[scored] - low) / (high - low), 0, 1)
        table = _colour_table()
        # matplotlib's lookup in a 256-row map: row floor(unit * 256), the top end on the last row.
        colours[scored] = table[np.minimum((unit * len(table)).astype(int), len(table) - 1)]
    return colours


@functools.cache
def _colour_table() -> np.ndarray:
    """:data:`COLOUR_MAP` as matplotlib holds it, ``(256, 3)``, from the package's copy: the PLY needs no matplotlib."""
    text = resources.files("openshape_ood").joinpath(f"data/{COLOUR_MAP}.txt").read_text(encoding="utf-8")
    return np.loadtxt(text.splitlines())


def write_scene_ply(
    path: str | os.PathLike, points: np.ndarray, scores: SceneScores, origin: np.ndarray | None = None
) -> Path:
    """Write a scored scene as a binary PLY point cloud, for MeshLab, CloudCompare or Open3D.

    Vertex properties: ``x y z`` (float; double when ``origin`` is given and not zero, holding
    ``points + origin`` so that the output overlays the source scan in its own coordinates),
    ``red green blue`` (uchar: background grey, objects coloured by novelty with
    :func:`novelty_colours`), ``instance`` (int: the object id, -1 for background) and
    ``novelty`` (float: the object's novelty, higher = more novel; NaN for background).
    A non-zero origin is also named in a header comment. Written atomically with the
    package's one PLY writer (:func:`~openshape_ood.io.write_ply`).
    """
    xyz = _scene_xyz(points)
    if scores.labels.shape != (len(xyz),):
        raise ValueError(f"the scores are for {len(scores.labels)} points, the scene has {len(xyz)}")
    origin = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
    if origin.shape != (3,) or not np.isfinite(origin).all():
        raise ValueError(f"origin must be three finite coordinates, got {origin!r}")
    coordinate = "<f8" if origin.any() else "<f4"
    vertex = np.empty(
        len(xyz),
        dtype=[("x", coordinate), ("y", coordinate), ("z", coordinate), ("red", "u1"), ("green", "u1"),
               ("blue", "u1"), ("instance", "<i4"), ("novelty", "<f4")],
    )
    for k, axis in enumerate("xyz"):
        vertex[axis] = xyz[:, k].astype(np.float64) + origin[k]  # float64 before the sum: no precision lost
    rgb = np.round(novelty_colours(scores.novelty) * 255).astype(np.uint8)
    for k, channel in enumerate(("red", "green", "blue")):
        vertex[channel] = rgb[:, k]
    vertex["instance"] = scores.labels
    vertex["novelty"] = scores.novelty
    comments = ["openshape-ood scene: instance = object id (-1 background), novelty = higher is more novel"]
    if origin.any():
        comments.append("origin {:.17g} {:.17g} {:.17g} (x y z are in the scan's own coordinates)".format(*origin))
    return write_ply(path, vertex, comments)


def plot_scene(
    points: np.ndarray,
    scores: SceneScores,
    *,
    view: tuple[str, str] = ("x", "y"),
    ax=None,
    max_points: int = 200000,
    title: str | None = None,
):
    """Draw a scored scene seen along one axis, with each object's box and label; returns the figure.

    Args:
        points: the scan.
        scores: what :func:`score_scene` returned for it.
        view: the axes drawn to the right and upwards, each ``"x"``, ``"y"`` or ``"z"`` with an
            optional ``"-"`` (``("x", "-y")`` for a camera frame, whose y points down).
        ax: a matplotlib axes to draw into (default: a new figure).
        max_points: at most this many points are drawn (an even subsample).
        title: the figure title.
    """
    require("matplotlib", "plot_scene (the picture of a scene, --png)")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    xyz = _scene_xyz(points)
    axes, signs = [], []
    for name in view:
        if name.lstrip("-") not in UP_AXES or name.count("-") > 1:
            raise ValueError(f"view axes are 'x', 'y', 'z', each optionally with '-'; got {view!r}")
        axes.append(UP_AXES.index(name.lstrip("-")))
        signs.append(-1.0 if name.startswith("-") else 1.0)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 7))
    colours = novelty_colours(scores.novelty)
    step = max(1, len(xyz) // max_points)
    shown = np.arange(0, len(xyz), step)
    shown = shown[np.argsort(np.isfinite(scores.novelty[shown]), kind="stable")]  # objects drawn over the background
    ax.scatter(signs[0] * xyz[shown, axes[0]], signs[1] * xyz[shown, axes[1]], c=colours[shown], s=0.3, linewidths=0)
    finite = scores.novelty[np.isfinite(scores.novelty)]
    low, high = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
    for obj in scores.objects:
        corners = np.array([obj.bbox_min, obj.bbox_max])
        u = np.sort(signs[0] * corners[:, axes[0]])
        v = np.sort(signs[1] * corners[:, axes[1]])
        colour = novelty_colours(np.array([obj.novelty]), (low, high))[0]
        ax.add_patch(Rectangle((u[0], v[0]), u[1] - u[0], v[1] - v[0], fill=False, edgecolor=colour, linewidth=1.5))
        verdict = f" {obj.verdict}" if obj.verdict else ""
        ax.annotate(
            f"{obj.id}: {obj.nearest_class} {obj.novelty:.3f}{verdict}",
            (u[0], v[1]),
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=8,
            color="black",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": colour, "alpha": 0.8},
        )
    ax.set_aspect("equal")
    ax.set_xlabel(f"{view[0]} (m)")
    ax.set_ylabel(f"{view[1]} (m)")
    if len(finite):
        mappable = plt.cm.ScalarMappable(cmap=COLOUR_MAP, norm=plt.Normalize(low, high))
        ax.figure.colorbar(mappable, ax=ax, shrink=0.7, label="novelty (higher = more novel)")
    if title:
        ax.set_title(title)
    return ax.figure
