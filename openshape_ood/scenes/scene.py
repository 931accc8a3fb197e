"""Scenes: find the objects in a scan of a room, a table top or a street and score each one for novelty.

:func:`segment_scene` gives every point of a scan an object id (-1 for background: floor,
walls, table tops, clutter too small or too large to be an object); :func:`find_objects`
takes those or labels that were given. :func:`score_scene` cuts each object out, embeds it
exactly as a single shape file would be embedded, and scores it with a fitted detector, one
:class:`~openshape_ood.scenes.rows.SceneObject` row per object. :func:`load_scene` reads a
scan and the per-point instance labels it may carry; :func:`write_scene_ply` and
:func:`plot_scene` show the result.

Coordinates are in METRES: every size of the automatic segmentation is.
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..io import PointCloud, read_cloud, stack_size, write_ply
from ..config import UP_AXES, check_up_axis
from ..extras import require
from ..detectors.base import BaseDetector, check_rule
from ..detectors.describe import check_k
from ..segmentation import SegmentationSettings, segment_scene
from ..segmentation.geometry import given_labels as _given_labels
from ..segmentation.geometry import scene_xyz as _scene_xyz
from .rows import SceneObject, SceneScores

__all__ = [
    "BACKGROUND_GREY",
    "COLOUR_MAP",
    "LABEL_PROPERTIES",
    "SceneLabels",
    "SceneObject",
    "SceneScores",
    "SegmentationSettings",
    "find_objects",
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

    Raises:
        ValueError: the file cannot be read, names a missing label field, or holds a stack of
            clouds (an HDF5 or ``.npy`` ``[n, N, C]`` array) rather than one scan.
    """
    path = Path(path)
    clouds = stack_size(path)
    if clouds is not None:  # read_cloud would ask for index=, which a scan has no use for
        raise ValueError(
            f"{path} holds a stack of {clouds} clouds, not one scan: score them as shapes (score_novelty, or "
            f"openshape-ood score {path}), or write the cloud to segment to a file of its own"
        )
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


# ----------------------------------------------------------------------------- finding objects


class SceneLabels(NamedTuple):
    """The objects of a scan before they are scored: what :func:`find_objects` returns.

    Attributes:
        labels: ``(N,)`` int64 object id of each point, -1 for background.
        settings: the :class:`SegmentationSettings` the segmentation chose and used, ``None`` for given labels.
        up_axis: the scan's gravity axis (``"x"``, ``"y"`` or ``"z"``), with which the objects are embedded.
    """

    labels: np.ndarray
    settings: SegmentationSettings | None
    up_axis: str


# Arguments of segment_scene that are not settings: find_objects sets them itself.
_NOT_SETTINGS = ("up_axis", "labels", "seed", "return_settings")


def find_objects(
    points: np.ndarray,
    segmentation: Mapping | np.ndarray | SceneLabels | None = None,
    *,
    up_axis: str | None = None,
    seed: int = 0,
) -> SceneLabels:
    """The objects of a scan: per-point labels that were given, or found by :func:`segment_scene`.

    :func:`score_scene` and ``openshape-ood scene`` find the objects with this function (the command
    calls it first and passes the result on, because it turns its reference shapes by the
    ``up_axis`` found).

    Args:
        points: the scan ``(N, 3)`` or ``(N, C >= 3)``, xyz first, in metres.
        segmentation: how the objects are found, one of

            * ``None``: :func:`segment_scene` with the settings it chooses from the scan;
            * a mapping of :func:`segment_scene` settings (``{"min_points": 30, "convexity": False}``):
              those are given, the others chosen;
            * per-point labels ``(N,)`` (from the file, see :func:`load_scene`, or from a segmentation
              model): used as they are, negative ones as background; an object of one point, or of
              points all at one place, has no shape to encode: it becomes background, with a warning;
            * a :class:`SceneLabels` from an earlier call: returned as it is.
        up_axis: the scan's gravity axis, ``"x"``, ``"y"`` or ``"z"``; ``None``: the axis nearest the
            normal of the support plane the segmentation finds (table, floor, ground), or ``"y"`` (the
            encoders' default) for given labels, where nothing is measured, and when it finds none.
        seed: seeds the segmentation's RANSAC sampling.

    Returns:
        :class:`SceneLabels`: the labels, the segmentation's settings (``None`` for given labels)
        and the gravity axis.
    """
    xyz = _scene_xyz(points)
    if up_axis is not None:
        up_axis = check_up_axis(up_axis, "up_axis")
    if isinstance(segmentation, SceneLabels):
        if segmentation.labels.shape != (len(xyz),):
            raise ValueError(
                f"segmentation= holds labels of {len(segmentation.labels)} points; the scan has {len(xyz)}"
            )
        if up_axis is not None and up_axis != segmentation.up_axis:
            raise ValueError(
                f"segmentation= holds objects found with up axis {segmentation.up_axis!r}, not {up_axis!r}; "
                "find them again with that up_axis, or leave up_axis out"
            )
        return segmentation
    if segmentation is None or isinstance(segmentation, Mapping):
        given = dict(segmentation or {})
        misplaced = [name for name in _NOT_SETTINGS if name in given]
        if misplaced:
            raise ValueError(
                f"segmentation= holds {misplaced}, which are not segmentation settings: pass up_axis= and seed= "
                "to this function, and given labels as segmentation= itself"
            )
        labels, settings = segment_scene(points, up_axis, seed=seed, return_settings=True, **given)
        found_up = up_axis if up_axis is not None else settings.up_axis
        return SceneLabels(labels, settings, found_up if found_up is not None else "y")
    if np.ndim(segmentation) == 0:  # a name, an estimator: the labels check would only say "got shape ()"
        raise TypeError(
            f"segmentation= takes None, a mapping of segment_scene settings, per-point labels ({len(xyz)},) or a "
            f"SceneLabels; got a {type(segmentation).__name__}. For a SceneSegmenter pass its labels, "
            "segmentation=segmenter.fit(points).labels_; for a file's labels, load_scene(path, labels=name)"
        )
    labels = _drop_flat_objects(_given_labels(segmentation, len(xyz)), xyz)
    return SceneLabels(labels, None, "y" if up_axis is None else up_axis)


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


# ---------------------------------------------------------------------------------- scoring


def score_scene(
    points: np.ndarray,
    *old_positional,
    detector: BaseDetector | None = None,
    encoder=None,
    segmentation: Mapping | np.ndarray | SceneLabels | None = None,
    up_axis: str | None = None,
    fdr: float | None = None,
    describe: int | None = None,
    vocabulary: Sequence[str] | None = None,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool | None = None,
    **old_keywords,
) -> SceneScores:
    """Find the objects of a scan and score each one for novelty with a fitted detector.

    The objects are found by :func:`find_objects`. Each is cut out of the scan with its colours and
    embedded by ``encoder`` exactly as a single shape file would be (centred, scaled into the unit
    ball, resampled with ``seed``, its ``up_axis`` turned onto the model's), then scored and decided
    by ``detector`` as ``openshape-ood score`` decides files
    (:func:`~openshape_ood.detectors.functional.score_shapes`): higher = more novel.
    ``openshape-ood scene`` runs this same function.

    The form of earlier releases, ``score_scene(points, known, model=..., method=..., threshold=...,
    calibration=..., labels=..., **options)``, which fitted its own detector, is refused with a
    ``TypeError`` that writes the call out in this form (fit the detector with
    :func:`~openshape_ood.detectors.functional.fit_detector`, calibrate it, pass it here).

    Args:
        points: the scan ``(N, 3)`` or ``(N, 6)`` (xyz in metres, rgb), e.g. from :func:`load_scene`.
        detector: a fitted :class:`~openshape_ood.NoveltyDetector` or
            :class:`~openshape_ood.EnsembleDetector`, with its threshold set or calibrated
            (:meth:`~openshape_ood.detectors.base.BaseDetector.calibrate`) for verdicts.
        encoder: the shape encoder whose embeddings ``detector`` scores (a
            :class:`~openshape_ood.ShapeEncoder`, or anything with its ``embed``); for an ensemble,
            one per member: a list in the order of its ``model=``, or a dict keyed by registry name.
        segmentation: how the objects are found (see :func:`find_objects`): ``None`` (segmented
            with settings chosen from the scan), a mapping of :func:`segment_scene` settings, per-point
            labels ``(N,)`` (negative: background), or a :class:`SceneLabels`.
        up_axis: the scan's gravity axis, for the segmentation and the encoder; ``None``: found
            by the segmentation (``"y"`` for given labels), see :func:`find_objects`.
        fdr: call novel the objects Benjamini-Hochberg selects at this false discovery rate (needs
            a calibrated detector); ``None``: the detector's threshold decides.
        describe: each object's ``describe`` nearest names of ``vocabulary``,
            see :meth:`~openshape_ood.NoveltyDetector.describe`.
        vocabulary: the names for ``describe`` (``None``: LVIS).
        seed: seeds the segmentation and the resampling of each object.
        batch_size: as for :meth:`~openshape_ood.ShapeEncoder.embed`.
        progress: as for :meth:`~openshape_ood.ShapeEncoder.embed`.

    Returns:
        :class:`SceneScores`: one :class:`SceneObject` row per object, the per-point labels and
        novelty, the threshold, the :class:`~openshape_ood.detectors.base.Decisions` (``None``
        without objects), the segmentation's settings and the up axis.
    """
    if old_positional or old_keywords or detector is None or encoder is None:
        given = {"up_axis": up_axis, "fdr": fdr, "describe": describe, "vocabulary": vocabulary, "seed": seed,
                 "batch_size": batch_size, "progress": progress}  # fmt: skip
        raise TypeError(_new_form(old_positional, old_keywords, detector, encoder, given))
    _check_detector(detector, fdr)  # before any segmentation or encoding
    if describe is not None:
        check_k(describe)
    embed = _embedder(detector, encoder)
    found = find_objects(points, segmentation, up_axis=up_axis, seed=seed)
    xyz = _scene_xyz(points)
    ids = np.unique(found.labels[found.labels >= 0])
    novelty = np.full(len(xyz), np.nan)
    if len(ids) == 0:
        return SceneScores([], found.labels, novelty, detector.threshold_, None, found.settings, found.up_axis)
    from ..detectors.functional import score_shapes  # torch and open_clip: only when scoring, not to segment

    channels = np.asarray(points)[:, :6] if np.asarray(points).shape[1] >= 6 else xyz
    members = [np.flatnonzero(found.labels == i) for i in ids]
    embeddings = embed(
        [channels[member] for member in members],
        up_axis=found.up_axis,
        seed=seed,
        batch_size=batch_size,
        progress=progress,
    )
    scored = score_shapes(detector, embeddings, fdr=fdr, describe=describe, vocabulary=vocabulary)
    objects = []
    for object_id, member, row in zip(ids, members, scored.rows()):
        novelty[member] = row["novelty"]
        objects.append(_scene_object(int(object_id), xyz[member], row))
    return SceneScores(
        objects, found.labels, novelty, scored.decisions.threshold, scored.decisions, found.settings, found.up_axis
    )


def _scene_object(object_id: int, cut: np.ndarray, row: dict) -> SceneObject:
    """The row of the object ``object_id`` of points ``cut`` ``(n, 3)``, scored as ``row``
    (:meth:`~openshape_ood.detectors.functional.ScoredShapes.rows`)."""
    looks_like = row.get("looks_like")
    return SceneObject(
        id=object_id,
        points=len(cut),
        bbox_min=tuple(float(v) for v in cut.min(axis=0)),
        bbox_max=tuple(float(v) for v in cut.max(axis=0)),
        centroid=tuple(float(v) for v in cut.mean(axis=0)),
        class_=row["class"],
        similarity=row["similarity"],
        novelty=row["novelty"],
        verdict=row["verdict"],
        p_value=row["p_value"],
        looks_like=None if looks_like is None else tuple((n["name"], n["cosine"]) for n in looks_like),
    )


def _check_detector(detector, fdr: float | None) -> None:
    """A fitted detector, calibrated when ``fdr`` asks for p-values."""
    if not isinstance(detector, BaseDetector):
        raise TypeError(
            f"detector= must be a fitted NoveltyDetector or EnsembleDetector; got a {type(detector).__name__} "
            "(fit one with openshape_ood.detectors.fit_detector(known, method, model=encoder))"
        )
    check_is_fitted(detector, msg="detector= is not fitted: call its fit(known=..., reference=...) first")
    check_rule(None, None, fdr)
    if fdr is not None and detector.calibration_novelty_ is None:
        raise ValueError("fdr= selects by p-values, which need a calibrated detector: call detector.calibrate() first")


def _embedder(detector: BaseDetector, encoder):
    """``embed(clouds, **options)``: the embeddings ``detector`` takes of the clouds, by ``encoder``
    (one array, or for an ensemble one per member in the form ``encoder`` has: list or dict)."""
    members = getattr(detector, "members_", None)  # an EnsembleDetector's (its class would import torch here)
    if members is None:
        _check_encoder(encoder, "encoder=")
        return lambda clouds, **options: np.asarray(encoder.embed(clouds, **options), dtype=np.float64)
    if not isinstance(encoder, (list, tuple, Mapping)) or len(encoder) != len(members):
        raise TypeError(
            f"detector= is an ensemble of {len(members)} members: pass one encoder per member, a list in the order "
            "of its model= or a dict keyed by registry name"
        )
    keys = list(encoder) if isinstance(encoder, Mapping) else range(len(encoder))
    for key in keys:
        _check_encoder(encoder[key], f"encoder[{key!r}]")

    def embed(clouds, **options):
        arrays = [np.asarray(encoder[key].embed(clouds, **options), dtype=np.float64) for key in keys]
        return dict(zip(keys, arrays)) if isinstance(encoder, Mapping) else arrays

    return embed


def _check_encoder(encoder, what: str) -> None:
    if not callable(getattr(encoder, "embed", None)):
        hint = f"ShapeEncoder.from_pretrained({encoder!r})" if isinstance(encoder, str) else "a ShapeEncoder"
        raise TypeError(
            f"{what} must be a shape encoder with an embed method, e.g. {hint}; got a {type(encoder).__name__}"
        )


# Arguments of the old form that calibrated the detector it fitted.
_CALIBRATION = ("calibration", "tpr", "alpha")


def _new_form(positional: tuple, keywords: dict, detector, encoder, given: dict) -> str:
    """The error for a call of the old form, or one without ``detector=`` or ``encoder=``: the call written
    in the new form. ``given`` holds the new form's other arguments as the call had them."""
    keywords = dict(keywords)
    known = positional[0] if positional else keywords.pop("known", None)
    model = keywords.pop("model", None)
    labels = keywords.pop("labels", None)
    calibration = {name: keywords.pop(name) for name in _CALIBRATION if name in keywords}
    old = bool(positional or keywords or calibration) or any(v is not None for v in (known, model, labels))
    lines = []
    if isinstance(model, str):
        lines += ["from openshape_ood import ShapeEncoder", f"encoder = ShapeEncoder.from_pretrained({model!r})"]
    detector_name = "known" if isinstance(known, BaseDetector) else "detector"  # a fitted one, passed positionally
    if detector is None and detector_name == "detector":
        fit = "".join(f", {name}={_literal(name, value)}" for name, value in keywords.items())
        lines += ["from openshape_ood.detectors import fit_detector",
                  f"detector = fit_detector(known{fit}, model=encoder)"]  # fmt: skip
    if calibration:
        rule = "".join(
            f", {name}={_literal(name, value)}" for name, value in calibration.items() if name != "calibration"
        )
        lines.append(f"detector.calibrate(calibration{rule})")
    defaults = {name: parameter.default for name, parameter in inspect.signature(score_scene).parameters.items()}
    rest = "".join(
        f", {name}={_literal(name, value)}" for name, value in given.items() if value is not defaults[name]
    )
    segmentation = ", segmentation=labels" if labels is not None else ""
    lines.append(f"result = score_scene(points, detector={detector_name}, encoder=encoder{segmentation}{rest})")
    head = (
        "score_scene takes a fitted detector and its shape encoder; it no longer fits one from known classes "
        "(known, model=, method=, threshold=, calibration=, labels= and the method's options). Write:"
        if old
        else "score_scene needs detector= (a fitted NoveltyDetector or EnsembleDetector) and encoder= (the shape "
        "encoder whose embeddings it scores; for an ensemble one per member), e.g.:"
    )
    return head + "\n\n" + "\n".join("    " + line for line in lines)


def _literal(name: str, value) -> str:
    """``value`` as Python source when it is a plain number, string or bool, else the argument's name."""
    return repr(value) if isinstance(value, (str, int, float, bool, type(None))) else name


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
            f"{obj.id}: {obj.class_} {obj.novelty:.3f}{verdict}",
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
