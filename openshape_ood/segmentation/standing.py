"""What stands on the top of a piece of furniture is an object of its own.

A lamp on a night stand, a pillow or a bag on a bed, a television on a desk touch what holds them up over
their base, and where no concave edge shows between them (a lamp's narrow foot, a soft pillow) the
clustering and the concave split leave them one object. Support relations decide it instead (Silberman et
al., "Indoor segmentation and support inference from RGBD images", ECCV 2012: each object rests on the
surface below it). An object's top is the fullest horizontal slab of its voxels facing up; what rises above
that slab is in parts (connected at the cluster distance). A top is flat: its voxels' median tilt from up
is within what 99 % of the normals of the scan's planes stray by (:data:`.planes.RAYLEIGH_99` times their
median), so the rounded back of a duck or the cap of a dome, whose fullest slab facing up is a ring round
what rises above it, is no top. The tilt is judged away from the top's rim, on the voxels whose normals were
fitted over the top alone: nearer the rim the neighbourhood takes in the faces below and the normal leans
out, and on a night stand's top more than half the voxels lie that near it. A part stands on a top when the
top alone holds it up:

- its base lies within the top's interior: a part rising at the top's rim is the object's own (a chair's
  back, a sofa's arm, a bed's headboard rise at the rim of the seat or the mattress);
- without the top, it is joined to nothing of the object below the top: a body going on above its back (a
  duck's neck, rising out of its chest in front of the back) is one surface with what lies below;
- it meets the top with an edge: a part whose voxels next to the top all face up within the normal angle rises
  out of it without one, and is the top's own relief (a fold of a duvet, the cap of a dome), one surface with it
  (:func:`.geometry.rises_smoothly`). A pillow, a lamp's foot or a book meets it with sides that face sideways.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .clustering import cluster
from .geometry import fullest_slab, outside_hull, plane_basis, rises_smoothly
from .planes import RAYLEIGH_99

__all__ = ["split_standing"]


def split_standing(
    objects: np.ndarray,
    centroids: np.ndarray,
    normals: np.ndarray,
    up: np.ndarray,
    band: float,
    reach: float,
    min_cos: float,
    part_voxels: int,
    normal_noise: float,
    normal_radius: float,
) -> None:
    """Give each part of an object that stands on the object's top an id of its own, in ``objects`` (per
    voxel, -1 for background; in place).

    ``up`` points from the support to what stands on it; ``band``: the plane distance (a top is a slab two
    of them thick, a part lies above it beyond one, a part's base is its lowest band, and below the top
    means beyond one band under it); ``reach``: the cluster distance (the joins, and the rim's width);
    ``min_cos``: the cosine of the normal angle (voxels facing up); ``part_voxels``: the fewest voxels a
    part, and what it leaves, hold; ``normal_noise``: the median angle (radians) by which the normals of the
    scan's planes stray from their plane's (:meth:`.planes.Planes.normal_noise`); ``normal_radius``: the
    median radius of the neighbourhoods the normals were fitted on (:func:`.geometry.normals`): a top's
    voxels farther than it within the top's outline are those its flatness is judged on, all of them where
    none is.
    """
    heights = centroids @ up
    flat_angle = RAYLEIGH_99 * normal_noise
    basis = plane_basis(up)
    next_id = int(objects.max(initial=-1)) + 1
    for object_id in np.unique(objects[objects >= 0]):
        voxels = np.flatnonzero(objects == object_id)
        if len(voxels) < 2 * part_voxels:
            continue
        facing_up = voxels[np.abs(normals[voxels] @ up) >= min_cos]
        if len(facing_up) < 3:
            continue
        top = facing_up[fullest_slab(heights[facing_up], band)]
        level = float(np.median(heights[top]))
        above = voxels[heights[voxels] > level + band]
        if len(above) < part_voxels:
            continue
        # One hull of the top's outline measures both the top's own voxels and what rises above it.
        outline = centroids[top] @ basis.T
        distances = outside_hull(outline, np.concatenate([outline, centroids[above] @ basis.T]))
        if distances is None:
            continue
        inner = top[distances[: len(top)] <= -normal_radius]
        judged = inner if len(inner) else top
        if np.median(np.arccos(np.clip(np.abs(normals[judged] @ up), 0.0, 1.0))) > flat_angle:
            continue
        # Within the top's outline shrunk by the reach: a part rising at its rim stays.
        interior = distances[len(top) :] <= -reach
        held_below = None  # clustered once, for the first part whose base lies within the top
        # What touches the top: a part whose voxels there all face up rises out of it without an edge.
        touches_top = np.isfinite(cKDTree(centroids[top]).query(centroids[above], distance_upper_bound=reach)[0])
        parts = cluster(centroids[above], reach, 0.0, None)
        for number in np.unique(parts[parts >= 0]):
            member = parts == number
            part = above[member]
            if len(part) < part_voxels or len(voxels) - len(part) < part_voxels:
                continue
            # Its base: its voxels within a band of its lowest, where it meets the top.
            base = member & (heights[above] <= heights[part].min() + band)
            if interior[base].mean() < 0.5 or rises_smoothly(above[member & touches_top], normals, up, min_cos):
                continue
            if held_below is None:
                held_below = _held_below(voxels, top, centroids, heights, level - band, reach)
            if not np.isin(part, held_below).any():
                objects[part] = next_id
                next_id += 1


def _held_below(
    voxels: np.ndarray, top: np.ndarray, centroids: np.ndarray, heights: np.ndarray, below: float, reach: float
) -> np.ndarray:
    """The ``voxels`` joined, without the ``top``, to one of them lower than ``below`` (connected at
    ``reach``)."""
    rest = np.setdiff1d(voxels, top)
    pieces = cluster(centroids[rest], reach, 0.0, None)
    low = np.unique(pieces[(heights[rest] < below) & (pieces >= 0)])
    return rest[np.isin(pieces, low)]

