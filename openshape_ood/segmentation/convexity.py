"""Splitting touching objects where their surfaces meet at a concave edge.

In the spirit of PCL's locally convex connected patches (LCCP, Stein et al. 2014), at the scale of
voxels: neighbouring voxels of one object are joined when the surface between them is convex or
nearly flat, and an object falls into the parts that convex joins connect. A box standing on a box,
or a cup against a book, meets its neighbour at a concave edge (the normals turn towards each
other); the faces of one box meet at convex edges, so a convex object stays whole.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

# Neighbouring voxels: closer than this many voxel sizes.
_REACH = 1.8
# Normals closer than this angle (degrees) are the same smooth surface, whatever the sign of the bend:
# sensor noise on a flat face must not cut it.
_SMOOTH_ANGLE = 25.0
# A part is split off only when it holds this share of the object's voxels; smaller concave pieces
# (a handle, a dent, noise at an edge) stay with the part they touch.
_MIN_PART = 0.1


def split_concave(objects: np.ndarray, centroids: np.ndarray, normals: np.ndarray, voxel_size: float,
                  min_voxels: int, viewpoint: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Labels with each object split into its convexly connected parts of ``min_voxels`` voxels or more.

    Normals are turned outwards: towards the ``viewpoint`` of a scan taken from one place (a
    sensor sees the outside of surfaces), else away from the object's centre. The join of voxels ``i`` and
    ``j`` is concave when ``(n_i - n_j) . (x_i - x_j) < 0`` and the normals differ by more than
    the smooth angle.
    """
    labelled = np.flatnonzero(objects >= 0)
    if len(labelled) < 2:
        return objects
    owner = objects[labelled]
    points = centroids[labelled]
    ids, members = np.unique(owner, return_inverse=True)
    sizes = np.bincount(members)
    centre = np.stack([np.bincount(members, points[:, k]) for k in range(3)], axis=1) / sizes[:, None]
    inside = centre[members] if viewpoint is None else viewpoint
    outward = normals[labelled] * np.where(np.einsum("ij,ij->i", normals[labelled], points - inside) * (
        1 if viewpoint is None else -1) < 0, -1.0, 1.0)[:, None]  # fmt: skip
    pairs = cKDTree(points).query_pairs(_REACH * voxel_size, output_type="ndarray")
    first, second = pairs[:, 0], pairs[:, 1]
    same = members[first] == members[second]
    first, second = first[same], second[same]
    step = points[first] - points[second]
    bend = np.einsum("ij,ij->i", outward[first] - outward[second], step)
    cosine = np.einsum("ij,ij->i", outward[first], outward[second])
    joined = (bend >= 0) | (cosine >= math.cos(math.radians(_SMOOTH_ANGLE)))
    graph = coo_matrix((np.ones(joined.sum()), (first[joined], second[joined])), shape=(len(points),) * 2)
    _, part = connected_components(graph, directed=False)
    part_size = np.bincount(part)
    big = part_size[part] >= np.maximum(min_voxels, _MIN_PART * sizes[members])
    # A part that is the whole object's only large part, or none, leaves the object as it was.
    large_parts = np.bincount(members, big & (np.r_[True, np.diff(np.sort(part)) != 0][np.argsort(np.argsort(part))]))
    result = objects.copy()
    split = large_parts[members] >= 2
    if not split.any():
        return result
    anchors = np.flatnonzero(split & big)
    # Small pieces join the nearest large part of their own object.
    loose = np.flatnonzero(split & ~big)
    target = part.copy()
    if len(loose):
        tree = cKDTree(points[anchors])
        _, nearest = tree.query(points[loose])
        target[loose] = part[anchors[nearest]]
    new = objects.max() + 1 + np.unique(target[split], return_inverse=True)[1]
    result[labelled[split]] = new
    _, result[result >= 0] = np.unique(result[result >= 0], return_inverse=True)
    return result
