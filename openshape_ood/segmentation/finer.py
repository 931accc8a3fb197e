"""Objects on a raised top cut where a segmentation at their own spacing parts them.

A camera's frame is segmented no finer than its diagonal over :data:`.settings._VOXELS_ACROSS` (the voxel
floor), which a room's frame needs: cut at its own two spacings, a room's near furniture falls into pieces.
A table top seen with the room round it gets the room's voxel, 7-9 mm, and touching objects on the table merge
that come apart at its own 5 mm; seen from twice as far, the objects on a table fill a quarter of the pixels
they fill from 0.7 m, and at the room's voxel they merge or fall below the room's smallest object. What tells a
table from a room's floor is a raised top: a table's has the floor and the table's legs below it, a room's
floor nothing (:meth:`.planes.Planes.raised_top`: the support where it is raised, else a table standing on
the floor).

The top and what stands on it (:func:`on_top`) are segmented as a frame of their own, with their own measures
(their voxel, their smallest object), and the objects standing on the top within them are replaced by that
segmentation's (:func:`replace_on_top`). The furniture round a table stands on the floor, below its top, and
keeps the room's voxel. The first segmentation's rule for parts applied to theirs gave back about a quarter as
many objects on a table on the floor (segmentation experiments, stop 135); where the support is raised, the
whole frame segmented again and that rule found one object fewer and four false segments more over the
benchmark's rule's views (stop 136).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .geometry import by_point_count, count_voxels, outside_hull, plane_basis, voxel_keys
from .scan_checks import robust_range
from .settings import SegmentationSettings, fast_voxel

#: The finer voxel is used only where it is at least this many times finer than the voxel segmented at: a
#: voxel less than a fifth finer resolves little that the voxel did not. Set at stop 107, where any finer voxel
#: gave the rooms' frames 1-3 false segments more; weighed by the benchmark's rule against none (inf) and 1.5 at
#: stop 108 (segmentation experiments, "A table top cut at its own spacing"): chosen on all scans and with each
#: left out; at 1.5 the table tops with the room in view find one object fewer.
FINER = 1.25
#: An object of the first segmentation standing on the top gives way where at least this share of its points lies
#: within the top's neighbourhood (:func:`on_top`), and an object of the neighbourhood's segmentation is taken
#: where this share of its points lies within the freed points: one reaching out of them is a bridge to
#: an object the first segmentation saw whole. Set for the rule for parts of stop 107 (0.6 and 0.9 found the
#: same in every view of the benchmark's rule at stop 109), kept for the neighbourhood at stop 135.
INSIDE = 0.8


def cut_finer(chosen: SegmentationSettings, used: SegmentationSettings, xyz: np.ndarray) -> bool:
    """Whether the points ``xyz`` (a raised top and what stands on it, :func:`on_top`) of a camera's frame
    segmented indoors at a voxel not given (``used``) are segmented a second time, as a frame of their own: where
    the floor (:func:`.settings.voxel_floor`) made ``used`` at least :data:`FINER` times coarser than the voxel
    chosen from their spacing (``chosen``, before the floor; made coarser for speed where it would give more than
    :data:`.settings.MAX_VOXELS`, as any scan's is)."""
    if FINER * chosen.voxel_size > used.voxel_size:
        return False
    return FINER * fast_voxel(chosen, count_voxels(voxel_keys(xyz, chosen.voxel_size))) <= used.voxel_size


class RaisedTop(NamedTuple):
    """A horizontal top raised off the floor, as a scan's first segmentation found it
    (:meth:`.planes.Planes.raised_top`)."""

    up: np.ndarray  # unit, from the support to what stands on it
    level: float  # its height along up: its voxels' median
    lowest: float  # the lowest height along up of a point standing on it: its level less its band
    outline: np.ndarray  # (K, 2) its voxels across up (geometry.plane_basis(up))


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
