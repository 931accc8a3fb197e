"""Objects on a raised top cut where a segmentation at their own spacing parts them.

A camera's frame is segmented no finer than its diagonal over :data:`.settings._VOXELS_ACROSS` (the voxel
floor), which a room's frame needs: cut at its own two spacings, a room's near furniture falls into pieces.
A table top seen with the room round it gets the room's voxel, 7-9 mm, and touching objects on the table merge
that come apart at its own 5 mm. What tells the two apart is a raised top: a table's has the floor and the
table's legs below it, a room's floor nothing (:meth:`.planes.Planes.raised_top`).

- Where the support is the raised top, the whole frame is segmented a second time at the voxel chosen from the
  spacing (:func:`finer_voxel`), and an object standing on the support and sampled finely enough that this
  segmentation parts into a few large pieces, each lying within the object and, where the scan has colour,
  each of another colour, is replaced by them (:func:`split_by_finer`). The furniture round a raised support
  stands on the floor, below it, and keeps the room's voxel.
- Where the support is the floor and a table stands on it (a table seen from a metre or two, the floor round
  it the largest plane), the table's top and what stands on it (:func:`on_top`) are segmented as a frame of
  their own, with their own measures (their voxel, their smallest object), and the objects standing on the top
  within them are replaced by that segmentation's (:func:`replace_on_top`). Seen from twice as far, the objects on a
  table fill a quarter of the pixels they fill from 0.7 m: at the room's voxel they merge, or fall below the
  room's smallest object. The first segmentation's rule for parts (:func:`split_by_finer`) applied to theirs
  gave back about a quarter as many (segmentation experiments, stop 135).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from .colour import same_surface_difference
from .geometry import by_point_count, count_voxels, outside_hull, plane_basis, voxel_keys
from .scan_checks import robust_range
from .settings import SegmentationSettings, fast_voxel

#: The finer voxel is used only where it is at least this many times finer than the voxel segmented at, and an
#: object is split only where its own points lie that much closer than the voxel (two spacings of them): a
#: voxel less than a fifth finer resolves little that the voxel did not. Set at stop 107, where any finer voxel
#: gave the rooms' frames 1-3 false segments more; weighed by the benchmark's rule against none (inf) and 1.5 at
#: stop 108 (segmentation experiments, "A table top cut at its own spacing"): chosen on all scans and with each
#: left out; at 1.5 the table tops with the room in view find one object fewer.
FINER = 1.25
#: A piece of the finer segmentation counts as a part of an object where it holds at least this share of the
#: object's points: a few large parts, as two or three objects merged are, not a fringe cut off (a fifth of the
#: object; the concave split's tenth, convexity.PART_SHARE, tried with a majority inside: 1-3 false segments more
#: in the rooms' frames, stop 107). 0.1 and 0.3 find the same in every view of the benchmark's rule (stop 109).
PART_SHARE = 0.2
#: ... and at least this share of the piece lies within the object: a piece reaching out of it is no part of
#: it, but a bridge to another object, which the voxel segmented at saw better. 0.6 and 0.9 find the same in
#: every view of the benchmark's rule (stop 109).
INSIDE = 0.8
#: The parts must hold at least this share of the object's points together (the rest joins the nearest part):
#: an object the finer segmentation leaves largely as background or in small pieces is not parted by it. 0.6
#: and 0.9 find the same in every view of the benchmark's rule (stop 109).
COVERED = 0.8
#: Points of an object whose spacing is measured, at most: a median is stable long before.
_SPACING_SAMPLE = 2000
#: Background points whose colour is compared with their nearest neighbour's to measure the colour noise: a
#: median's standard error of about 2 %.
_NOISE_SAMPLE = 5000


def finer_voxel(chosen: SegmentationSettings, used: SegmentationSettings, xyz: np.ndarray) -> float | None:
    """The voxel (m) at which the points ``xyz`` of a camera's frame segmented indoors at a voxel not given
    (``used``) are segmented a second time (the whole frame, or a raised top and what stands on it), or ``None``
    where they are not: where the floor (:func:`.settings.voxel_floor`) made ``used`` at least :data:`FINER`
    times coarser than the voxel chosen from their spacing (``chosen``, before the floor; made coarser for speed
    where it would give more than :data:`.settings.MAX_VOXELS`, as any scan's is)."""
    if FINER * chosen.voxel_size > used.voxel_size:
        return None
    fine = fast_voxel(chosen, count_voxels(voxel_keys(xyz, chosen.voxel_size)))
    return fine if FINER * fine <= used.voxel_size else None


class RaisedTop(NamedTuple):
    """A horizontal top raised off the floor, as a scan's first segmentation found it
    (:meth:`.planes.Planes.raised_top`)."""

    up: np.ndarray  # unit, from the support to what stands on it
    level: float  # its height along up: its voxels' median
    lowest: float  # the lowest height along up of a point standing on it: its level less its band
    outline: np.ndarray  # (K, 2) its voxels across up (geometry.plane_basis(up))
    support: bool  # whether it is the scan's support; else a top standing on the support (a table on the floor)


def split_by_finer(
    labels: np.ndarray, finer: np.ndarray, xyz: np.ndarray, voxel_size: float, support: RaisedTop,
    reach: float, rgb: np.ndarray | None = None,
) -> np.ndarray:
    """Per-point ``labels`` (-1 background) with each object standing on the raised ``support`` (a
    :class:`RaisedTop` that is the scan's support) replaced by the objects of the ``finer`` segmentation of the
    same points that part it: two or more that each hold
    :data:`PART_SHARE` of its points and lie :data:`INSIDE` it, and together hold :data:`COVERED` of them; its
    other points join the part nearest them. An object stands on the support where its robust lowest point
    (:func:`.scan_checks.robust_range` of its heights along up) lies no lower than ``support.lowest`` and its
    base (its points within ``reach``, the cluster distance, of that height) lies within the support's outline
    by ``reach``: the clutter on a table, which the room's voxel was not chosen for. Furniture standing by a
    table or a bed reaches below it; a sofa's back, whose seat a camera close to it takes for the support,
    rises at the seat's rim. Only objects whose own points lie :data:`FINER` times closer than ``voxel_size`` (two of
    their spacings, the voxel that would be chosen for them alone) are tested: the finer segmentation resolves
    nothing more of a far, sparse object. With the points' colours ``rgb`` (``(N, 3)`` in [0, 1]), every other
    part's median colour must also differ from the largest part's, its brightness aside (shading), by more than
    two points of one surface do (:func:`.colour.same_surface_difference` of neighbouring background points):
    objects on a table differ in colour; a duvet's folds, which the finer voxel parts as well, do not. The
    largest part keeps the object's id; the ids are then renumbered by decreasing point count."""
    # The colour noise needs a tree over the background (0.07 s on a table top with the room round it): measured
    # once, for the first object that reaches the colour test, not for frames where none does.
    same_surface = functools.cache(lambda: _same_surface_bound(xyz, rgb, labels < 0))
    heights, across = xyz @ support.up, xyz @ plane_basis(support.up).T
    split = labels.copy()
    next_id = int(labels.max()) + 1
    finer_sizes = np.bincount(finer[finer >= 0], minlength=1)
    for object_id in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == object_id)
        low = robust_range(heights[members])[0]
        if low < support.lowest or FINER * 2 * _spacing(xyz[members]) > voxel_size:
            continue
        base = members[heights[members] <= low + reach]
        outside = outside_hull(support.outline, across[base])
        if outside is None or robust_range(outside)[1] > -reach:
            continue
        pieces, counts = np.unique(finer[members], return_counts=True)
        kept = (pieces >= 0) & (counts >= PART_SHARE * len(members))
        kept[kept] &= counts[kept] >= INSIDE * finer_sizes[pieces[kept]]
        parts, held = pieces[kept][np.argsort(-counts[kept], kind="stable")], counts[kept].sum()
        if len(parts) < 2 or held < COVERED * len(members):
            continue
        if rgb is not None and (bound := same_surface()) is not None and not _differ_in_colour(
            rgb[members], finer[members], parts, bound
        ):
            continue
        in_part = np.isin(finer[members], parts)
        part_of = finer[members].copy()
        if not in_part.all():
            nearest = cKDTree(xyz[members[in_part]]).query(xyz[members[~in_part]])[1]
            part_of[~in_part] = part_of[in_part][nearest]
        for rank, part in enumerate(parts[1:]):
            split[members[part_of == part]] = next_id + rank
        next_id += len(parts) - 1
    return by_point_count(split, np.ones(len(split)))


def on_top(labels: np.ndarray, xyz: np.ndarray, top: RaisedTop, reach: float) -> np.ndarray:
    """Which points of a scan ``xyz`` (segmented as ``labels``, -1 background) are the raised ``top`` and what
    stands on it: those no lower than ``top.lowest`` that lie within ``reach`` (the cluster distance) of the
    convex hull, across up, of the top's outline and of the bases of the objects resting on it (their robust
    lowest point, :func:`.scan_checks.robust_range`, no lower than ``top.lowest`` and no higher than ``reach``
    above its level; their base, their points within ``reach`` of that). Objects crowded on a table hide its top
    where they stand: the outline alone leaves out a corner they cover (0.2 m of the mOSD test60 table seen from
    twice its distance). Furniture standing by the table reaches below it; what hangs above it (a shelf, a wall's
    upper part) is taken in and segmented with it."""
    heights, across = xyz @ top.up, xyz @ plane_basis(top.up).T
    outline = [top.outline]
    for object_id in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == object_id)
        low = robust_range(heights[members])[0]
        if top.lowest <= low <= top.level + reach:
            outline.append(across[members[heights[members] <= low + reach]])
    above = heights >= top.lowest
    outside = outside_hull(np.concatenate(outline), across)
    return above if outside is None else above & (outside <= reach)


def replace_on_top(
    labels: np.ndarray, crop: np.ndarray, crop_labels: np.ndarray, xyz: np.ndarray, top: RaisedTop
) -> np.ndarray:
    """Per-point ``labels`` (-1 background) of a scan ``xyz`` with the objects standing on the raised ``top``
    and lying :data:`INSIDE` the points ``crop`` (a mask: :func:`on_top`) replaced by the objects of the crop's
    own segmentation ``crop_labels`` (one per point of the crop) that lie as much within those objects' points
    and the background (their points there). An object stands on the top where its robust lowest point
    (:func:`.scan_checks.robust_range` of its heights along up) lies no lower than ``top.lowest`` and its robust
    highest point above the top's band: the table the top belongs to reaches below it with its legs or, seen
    from above, lies in it, and the crop's segmentation takes its top for the support. An object mostly
    outside the crop (a chair pushed under the table) keeps its points too, and an object of the crop's
    segmentation that reaches into one kept is not taken: the first segmentation saw it whole. The ids are
    renumbered by decreasing point count."""
    heights = xyz @ top.up
    above_band = 2 * top.level - top.lowest
    replaced = labels.copy()
    crop_objects = np.full(len(labels), -1)
    crop_objects[crop] = crop_labels
    inside = np.zeros(len(labels), dtype=bool)
    for object_id in np.unique(labels[labels >= 0]):
        members = labels == object_id
        low, high = robust_range(heights[members])
        if crop[members].mean() >= INSIDE and low >= top.lowest and high > above_band:
            inside |= members
    free = inside | (labels < 0)
    replaced[inside] = -1
    next_id = int(labels.max()) + 1
    for object_id in np.unique(crop_labels[crop_labels >= 0]):
        members = crop_objects == object_id
        if free[members].mean() >= INSIDE:
            replaced[members & free] = next_id
            next_id += 1
    return by_point_count(replaced, np.ones(len(replaced)))


def _same_surface_bound(xyz: np.ndarray, rgb: np.ndarray, background: np.ndarray) -> float | None:
    """The largest colour difference of two neighbouring points of one surface (once in a hundred it is more),
    measured between :data:`_NOISE_SAMPLE` ``background`` points and their nearest background neighbours;
    ``None`` with fewer than two such points."""
    points = np.flatnonzero(background)
    if len(points) < 2:
        return None
    probes = points[:: max(1, len(points) // _NOISE_SAMPLE)]
    nearest = points[cKDTree(xyz[points]).query(xyz[probes], k=2)[1][:, 1]]
    return same_surface_difference(((rgb[probes] - rgb[nearest]) ** 2).sum(axis=1))


def _differ_in_colour(rgb: np.ndarray, pieces: np.ndarray, parts: np.ndarray, bound: float) -> bool:
    """Whether the median colour of each of ``parts`` (pieces of ``pieces``, largest first) but the first differs
    from the first's, scaled to its brightness (the least-squares factor), by more than ``bound``."""
    first, *others = (np.median(rgb[pieces == part], axis=0) for part in parts)
    for colour in others:
        brightness = float(colour @ first) / max(float(first @ first), 1e-12)
        if np.linalg.norm(colour - brightness * first) <= bound:
            return False
    return True


def _spacing(xyz: np.ndarray) -> float:
    """The median distance (m) from a point of ``xyz`` to its nearest neighbour among them (on at most
    :data:`_SPACING_SAMPLE` of them, evenly strided), ``inf`` for fewer than two points."""
    if len(xyz) < 2:
        return float("inf")
    queries = xyz[:: max(1, len(xyz) // _SPACING_SAMPLE)]
    return float(np.median(cKDTree(xyz).query(queries, k=2)[0][:, 1]))
