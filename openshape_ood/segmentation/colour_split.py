"""Splitting an object into its colour regions: touching objects of different colours that no concave
edge separates (two boxes side by side with coplanar tops, a can against a box seen edge on).

On in a camera's frame indoors, off elsewhere (setting ``colour_split``). A frame has one exposure, where a
reconstruction's colours blend many frames'. Splitting every colour region cut the printed faces of
packaging and the materials of furniture (a duvet on its bed, a desk's top on its legs) more often than it
separated touching objects. So a region is an object of its own only where it stands on the support, beside
the others, as touching objects on a table or a floor do (step 4; measured in the segmentation
experiments, "Colour regions inside objects" and stop 127).

1. **Colour regions.** Each object is cut into colour regions by region growing on its voxel neighbour
   graph, as :mod:`.colour` cuts a removed plane (Zhan et al. 2009, PCL's ``RegionGrowingRGB``): two
   neighbouring voxels join when their colours differ by no more than two voxels of one surface do
   (``SAME_SURFACE`` times the colour noise: the 99th percentile of the chi-square law with 3 degrees
   of freedom). Where the surface folds outwards between them (a convex join, bending by more than the
   normals' noise), the light changes with the face: there only the difference across the direction
   of their colour counts (:data:`_SAME_HUE`, 2 degrees of freedom), so that a box's faces, brighter
   and darker, stay one region, while two boxes of different hues touching at a corner do not join.
   The noise is measured on the removed planes (the table, the floor, the walls), whose neighbouring
   voxels differ by noise alone but for the few pairs across an edge: the median difference of a plane
   voxel to its nearest plane neighbour is 2.175 noise levels (:func:`colour_noise`). An object whose own
   neighbouring voxels differ more (print, fabric) is judged by its own noise, measured alike on its
   joins (their median: the joins across a boundary between two objects are few): against the table's
   noise, a printed box falls into regions of its print.
2. **Large regions.** A region counts when it holds :data:`.convexity.PART_SHARE` of its object's voxels
   and ``part_voxels``; every other voxel (printed text, a label, a specular highlight, the blurred
   colour along an edge) goes to the nearest large region of its object.
3. **Parts.** Large regions are one part when their mean colours are within the same threshold (the
   two halves of a box cut by a printed band) or when they meet at a convex edge: most of the joins
   where they meet bend outwards beyond the normals' noise (a lid printed in another colour than the
   sides; as in locally convex connected patches, LCCP, Stein et al. 2014, the faces of one object meet
   at convex edges, two objects at concave or flat ones).
4. **Standing.** A part stands on the support when its lowest voxel lies within the support's band
   (:attr:`.planes.Planes.band`) of the support's level (:func:`support_base`), where the support's own
   voxels lie: it touches the support. Each object rests on the surface below it (Silberman et al., ECCV
   2012), and a part of another colour held up by the rest (a lid, a box stacked on another, a bed's duvet,
   a seat's cushion) is the object's own. An object with two or more
   standing parts is split between them; every other voxel goes to the nearest.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .colour import MEDIAN_DIFFERENCE, SAME_SURFACE, colour_noise_level
from .convexity import PART_SHARE, Joins, split_into_parts
from .geometry import median_by

# sqrt(2 * 99th percentile of chi-square(2)): the colour difference of two voxels of one surface across
# the direction of their colour (the noise in the two directions a change of brightness does not move).
_SAME_HUE = math.sqrt(2 * 9.2103)
# Plane voxels whose nearest plane neighbour measures the colour noise: a random sample is as good a
# median as all of a room's floor and walls, and bounds the time.
_NOISE_SAMPLE = 20_000


def colour_noise(planes, colours: np.ndarray, reach: float, rng: np.random.Generator) -> float | None:
    """Per-channel colour noise of a voxel (at least one step of 8-bit colour) measured on the removed
    planes of ``planes`` (a :class:`~.planes.Planes`): the median colour difference between a plane voxel
    and its nearest voxel of the planes within ``reach``, over 2.175 (:data:`.colour.MEDIAN_DIFFERENCE`).
    ``None`` when no plane was removed or fewer than 10 of its voxels have a neighbour."""
    if not planes.found:
        return None
    voxels = np.unique(np.concatenate([plane.voxels for plane in planes.found]))
    if len(voxels) < 2:
        return None
    probes = voxels if len(voxels) <= _NOISE_SAMPLE else rng.choice(voxels, _NOISE_SAMPLE, replace=False)
    gap, nearest = cKDTree(planes.centroids[voxels]).query(planes.centroids[probes], k=2, distance_upper_bound=reach)
    near = np.isfinite(gap[:, 1])
    if near.sum() < 10:
        return None
    squared = ((colours[probes[near]] - colours[voxels[nearest[near, 1]]]) ** 2).sum(axis=1)
    return colour_noise_level(squared)


def support_base(planes, up: np.ndarray) -> float | None:
    """The highest (along ``up``, from the support to what stands on it) that the lowest voxel of a part
    standing on the support of ``planes`` (a :class:`~.planes.Planes`) lies: the level of the support's
    voxels and their band above it. ``None`` without a support."""
    level = planes.support_level(up)
    return None if level is None else level + planes.band


def split_colours(objects: np.ndarray, joins: Joins | None, centroids: np.ndarray, colours: np.ndarray,
                  part_voxels: int, noise: float | None, standing: tuple[np.ndarray, float]) -> np.ndarray:  # fmt: skip
    """Labels with each object of ``objects`` split into its parts of different colour that stand on the
    support (module docstring); ``joins``: the objects' :func:`.convexity.object_joins`; ``colours``: the
    voxels' mean colours ``(M, 3)`` in [0, 1]; ``noise``: the per-channel colour noise of the removed planes
    (:func:`colour_noise`), ``None`` for none measured (nothing is split); an object whose own joins show
    more is judged by its own; ``standing``: the up direction and the highest a standing part's lowest
    voxel lies along it (:func:`support_base`). Objects with fewer than two standing parts are as they
    were."""
    if joins is None or noise is None:
        return objects
    local = colours[joins.labelled]
    first, second, members = joins.first, joins.second, joins.members
    difference = local[first] - local[second]
    squared = (difference**2).sum(axis=1)
    noise = np.maximum(noise, median_by(squared, members[first], len(joins.sizes)) ** 0.5 / MEDIAN_DIFFERENCE)
    threshold = SAME_SURFACE * noise[members[first]]
    joined = squared <= threshold**2
    # Across a fold of the surface the light changes: a face of one object may be brighter or darker than
    # the next, but of the same hue, so there only the difference across the colours' direction counts.
    direction = local[first] + local[second]
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    across_light = difference - np.einsum("ij,ij->i", difference, direction)[:, None] * direction
    fold = _fold(joins)
    joined |= fold & ((across_light**2).sum(axis=1) <= (_SAME_HUE * noise[members[first]]) ** 2)
    count_voxels = len(joins.labelled)
    graph = coo_matrix((np.ones(joined.sum()), (first[joined], second[joined])), shape=(count_voxels,) * 2)
    count, region = connected_components(graph, directed=False)
    region_size = np.bincount(region, minlength=count)
    owner = np.zeros(count, dtype=np.int64)
    owner[region] = members  # joins stay within an object: each region has one owner
    large = np.flatnonzero(region_size >= np.maximum(part_voxels, PART_SHARE * joins.sizes[owner]))
    if len(np.unique(owner[large])) == len(large):  # no object has two large regions
        return objects
    # Every voxel of an object with two or more large regions goes to its nearest large region (the
    # blurred colour along an edge, a label), so that they meet, and the joins where they meet are counted.
    index = np.full(count, -1, dtype=np.int64)
    several = np.bincount(owner[large], minlength=len(joins.sizes))[owner[large]] >= 2
    index[large[several]] = np.flatnonzero(several)
    nearest = _nearest_anchor(centroids[joins.labelled], members, index[region])
    folded = _folded(joins, nearest, len(large))
    mean = np.stack([np.bincount(region, local[:, k], count)[large] for k in range(3)], axis=1) / region_size[large, None]
    # Large regions are one part where they meet at a convex edge (faces of one object: a lid, a shaded
    # side) or where their mean colours are alike (the halves of a box cut by a printed band).
    alike = (owner[large][:, None] == owner[large][None, :]) & (
        ((mean[:, None, :] - mean[None, :, :]) ** 2).sum(axis=2) <= (SAME_SURFACE * noise[owner[large]][:, None]) ** 2
    )
    _, group = connected_components(alike | folded, directed=False)
    part = np.where(nearest >= 0, group[nearest], -1)
    up, base = standing
    labelled = part >= 0
    lowest = np.full(int(group.max()) + 1, np.inf)
    np.minimum.at(lowest, part[labelled], centroids[joins.labelled[labelled]] @ up)
    return split_into_parts(objects, joins, centroids, part, labelled & (lowest[np.maximum(part, 0)] <= base))


def _folded(joins: Joins, part: np.ndarray, parts: int) -> np.ndarray:
    """``(parts, parts)``: whether parts ``part`` (per labelled voxel) meet at a convex edge: most of the
    joins where they meet bend outwards by more than the normals' noise. Not by the smooth-rounding
    allowance of the concave split, which is for single joins at coarse voxels: the normals of the
    voxels on an edge are fitted across it and tilted halfway, so that few joins of an edge exceed it."""
    low, high = np.minimum(part[joins.first], part[joins.second]), np.maximum(part[joins.first], part[joins.second])
    across = (low != high) & (low >= 0)
    fold = _fold(joins)
    meeting, where = np.unique(low[across] * parts + high[across], return_inverse=True)
    folded = np.zeros((parts, parts), dtype=bool)
    folded[meeting // parts, meeting % parts] = np.bincount(where, fold[across]) > np.bincount(where) / 2
    return folded | folded.T


def _nearest_anchor(points: np.ndarray, members: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """For each voxel, the ``anchor`` id (>= 0; -1 for none) of the nearest anchored voxel of its object
    (``members``); -1 in objects without anchors (one kd-tree per object that has some)."""
    nearest = np.full(len(points), -1, dtype=np.int64)
    for owner in np.unique(members[anchor >= 0]):
        voxels = np.flatnonzero(members == owner)
        anchors = voxels[anchor[voxels] >= 0]
        nearest[voxels] = anchor[anchors[cKDTree(points[anchors]).query(points[voxels])[1]]]
    return nearest


def _fold(joins: Joins) -> np.ndarray:
    """Whether each join bends outwards by more than the normals' noise."""
    return (joins.bend > 0) & (joins.cosine < math.cos(joins.noise_angle))
