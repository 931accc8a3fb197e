"""Geometry of a scan for the segmentation: checked coordinates, voxels, normals, plane bases."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.spatial import ConvexHull, QhullError, cKDTree

# Neighbours of a voxel that estimate its surface normal. Weighed at 8 and 12 by the benchmark's rule (python -m
# benchmarks.scenes_sweep geometry._NORMAL_NEIGHBOURS 8 12): the rooms themselves find 113 and 119 objects over
# seeds 0-4 against 145, so both are refused, on all scans and with each left out (segmentation experiments,
# "Three constants weighed by the rule").
_NORMAL_NEIGHBOURS = 10
#: The fewest voxels of a surface patch that has normals of its own, fitted on the patch alone, enough of them to
#: fill one neighbourhood. Each normal is fitted on its voxel's _NORMAL_NEIGHBOURS nearest voxels, a disc of about
#: that many on a surface (radius r). Only voxels more than r inside the patch's rim have normals fitted on the
#: patch alone, and for those to fill one such disc the patch must reach r beyond them: a disc of radius 2r, four
#: neighbourhoods of voxels. A smaller patch's normals all mix in what lies round it. Weighed at 30 and 50 by the
#: benchmark's rule (python -m benchmarks.scenes_sweep): 30 finds one object more over every view, but chosen with
#: each scan left out it finds 7 fewer there (segmentation experiments, "One command for the rule").
PATCH_VOXELS = 4 * _NORMAL_NEIGHBOURS
# The distinct entries (row, column) of a symmetric 3 x 3 matrix.
_MOMENTS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
#: A cluster whose voxels lie within this many voxels (one standard deviation) of their own plane is a sheet
#: one voxel deep: a piece of structure, not an object with a depth of its own. Indoors such a sheet that
#: bounds the scan is a piece of a wall or a floor (planes.Planes.drop_flat); outdoors any sheet is a fence, a
#: sign or a piece of a facade, never a vehicle or a person, whose visible surface bends round them
#: (clustering.filter_objects). Half a voxel, flatter than the doors of the rooms' virtual frames (python -m
#: benchmarks.scenes --frames 4). Tried 0.5, 0.7 and 1.0 on those frames (views with seeds 0-2, each room's
#: summed; found and false segments): scene0001 86 (180), 85 (162), 80 (135), scene0006 50 (276), 50 (243),
#: 47 (199), against 86 (221) and 50 (327) without. Chosen on scene0001 0.5, on scene0006 0.7 (scene0001 then
#: finds one fewer). Chosen again at 0.35, 0.5 and 0.7 on today's copies and views of every scan, the sweep's
#: included, and with any one scan left out: 0.5 (0.7 finds 14 fewer, with 71 fewer false segments).
SHEET = 0.5
#: A camera's frame: every point within this angle (degrees) of the frame's mean ray. Wider fields of view (a
#: LiDAR sweep round its sensor) do not project onto one image plane.
FIELD_OF_VIEW = 80.0
# Surface variation (normals) above which a voxel is rough, not on a solid surface: solid objects measure a few
# hundredths at voxel scale, foliage that the beams pass into approaches the 1/3 of a uniform cloud. On a
# voxel lattice a voxel one voxel off a right-angled fold measures 0.056, so a small solid object, most of whose
# voxels lie near its folds, has its median near that (KITTI's pedestrian of frame 000000: 0.064). Chosen by the
# benchmark's rule among 0.05-0.08 (python -m benchmarks.scenes_sweep geometry._SCATTER 0.05 0.07 0.08): 0.07
# finds 26 objects more over every view with 71 false segments more, AP50 up, and is chosen again with each
# scan left out (0.08 for the sweep); 0.06 until stop 85 (segmentation experiments, "One command for the rule").
_SCATTER = 0.07


def rough_above(flat_level: float | np.ndarray) -> float | np.ndarray:
    """The surface variation above which a voxel, or a cluster by its median, is rough: scatter (foliage,
    noise) rather than a solid surface. Above :data:`_SCATTER` and above twice ``flat_level``, the variation
    of the scan's flat surfaces (:func:`.clustering.flat_variation`, or a plane's own), so that a noisy scan
    is not all scatter."""
    return np.maximum(_SCATTER, 2 * flat_level)


def scene_xyz(points) -> np.ndarray:
    array = np.asarray(points)
    if array.ndim != 2 or array.shape[1] < 3 or len(array) == 0:
        raise ValueError(f"a scene must be an (N, 3) or (N, C >= 3) array, xyz first; got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"scene points have dtype {array.dtype}; expected numbers")
    xyz = array[:, :3].astype(np.float64)
    if not np.isfinite(xyz).all():
        raise ValueError("the scene has NaN or infinite coordinates; drop those points first (load_points does)")
    return xyz


def given_labels(labels, count: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.shape != (count,):
        raise ValueError(f"labels must have shape ({count},), one per point of the scene; got {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all() or (array != np.round(array)).any():
        raise ValueError("labels must be integers (object ids, negative for background)")
    # uint64 ids from 2**63 up would wrap to negative in int64 and become background without a word.
    if len(array) and array.max() > np.iinfo(np.int64).max:
        raise ValueError(
            f"labels must fit in int64: the largest given is {array.max()}; renumber the objects "
            "(np.unique(labels, return_inverse=True)[1])"
        )
    array = array.astype(np.int64)
    return np.where(array < 0, -1, array)


def column_bounds(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value of each column of ``array`` ``(N, d)``. Reduced a column at a time:
    numpy reduces a C-ordered ``(N, 3)`` array along its first axis about eight times slower (35 ms
    against 4 ms on a million points, numpy 2.4, AMD EPYC with AVX2), and scans take it several times."""
    columns = array.T
    return np.array([column.min() for column in columns]), np.array([column.max() for column in columns])


def voxel_keys(xyz: np.ndarray, voxel_size: float, phase: float | np.ndarray = 0.0) -> np.ndarray:
    """One integer ``(N,)`` per point naming its voxel, ordered as the voxels' cells (x, then y, then z).

    The grid's first cell on each axis starts ``phase`` of a voxel (in ``[0, 1)``, one for every axis or one
    per axis) below the scan's lowest point on that axis."""
    low, high = column_bounds(xyz)
    low = low - np.asarray(phase, dtype=float) * voxel_size
    scaled = np.floor((xyz - low) / voxel_size)
    # Subtraction, division by a positive size and floor never reverse an order: the highest point's cell
    # is the highest cell, exactly as the maximum over every point's cell.
    extent = np.floor((high - low) / voxel_size) + 1
    if np.prod(extent) >= 2.0**62:
        raise ValueError(
            f"the scene spans {extent.tolist()} voxels of {voxel_size} m; are the coordinates in metres? "
            "Scale them, or raise voxel_size"
        )
    cells, extent = scaled.astype(np.int64), extent.astype(np.int64)
    return (cells[:, 0] * extent[1] + cells[:, 1]) * extent[2] + cells[:, 2]


def count_voxels(keys: np.ndarray) -> int:
    """How many voxels :func:`voxelize` makes of these :func:`voxel_keys` (at least one), without its
    inverse, counts and centroids: where only the count is needed, to choose coarser voxels. Counted on the
    sorted keys: numpy's ``unique`` without an inverse hashes them, slower than a sort (numpy 2.4 on an
    AMD EPYC with AVX2: 0.7 s against 0.02 s on a million keys)."""
    ordered = np.sort(keys)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def distinct_places(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``(U,)`` of ``xyz`` ``(N, 3)`` that first hold each distinct place, in the scan's order, and
    the place ``(N,)`` (an index into them) of every row: ``xyz[rows][place] == xyz``. Sorted by its columns
    (a stable sort keeps each place's first row first): numpy's ``unique`` over rows takes twice as long."""
    order = np.lexsort(xyz.T[::-1])
    ordered = xyz[order]
    starts = np.ones(len(xyz), dtype=bool)
    starts[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    first = order[starts]
    in_scan_order = np.argsort(first)
    rank = np.empty_like(in_scan_order)
    rank[in_scan_order] = np.arange(len(first))
    place = np.empty(len(xyz), dtype=np.int64)
    place[order] = rank[np.cumsum(starts) - 1]
    return first[in_scan_order], place


def voxelize(xyz: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroids ``(M, 3)`` and point counts ``(M,)`` of the occupied voxels, and each point's voxel ``(N,)``:
    the voxels ``keys`` (:func:`voxel_keys` of ``xyz``) name, in their order."""
    _, voxel_of_point, counts = np.unique(keys, return_inverse=True, return_counts=True)
    voxel_of_point = voxel_of_point.reshape(-1)
    sums = np.stack([np.bincount(voxel_of_point, xyz[:, k], len(counts)) for k in range(3)], axis=1)
    return sums / counts[:, None], counts, voxel_of_point


def normals(centroids: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Unit surface normal of each voxel (the least-variance direction of its nearest
    neighbours), the median distance between neighbouring voxels, each voxel's surface
    variation (the least variance over the total, 0 on a plane, 1/3 in a uniform cloud), and the
    median radius of the neighbourhoods the normals were fitted on (the finest curvature they show)."""
    k = min(_NORMAL_NEIGHBOURS, len(centroids))
    if k < 3:
        return np.tile([0.0, 0.0, 1.0], (len(centroids), 1)), 0.0, np.zeros(len(centroids)), 0.0
    distances, neighbours = cKDTree(centroids).query(centroids, k=k, workers=-1)
    # Moments summed neighbour by neighbour: never an (M, k, 3) copy of the neighbourhoods. Coordinates are
    # taken as rows (contiguous), and each of the six distinct products once: the outer product's other
    # three are the same numbers (a * b == b * a in floating point), 25 % of the time of the normals.
    rows = np.ascontiguousarray(centroids.T)
    sums = np.zeros((3, len(centroids)))
    products = np.zeros((len(_MOMENTS), len(centroids)))
    for column in neighbours.T:
        point = rows[:, column] - rows  # relative to the voxel: no loss of precision far from the origin
        sums += point
        for moment, (i, j) in enumerate(_MOMENTS):
            products[moment] += point[i] * point[j]
    mean = sums / k
    covariance = [products[moment] / k - mean[i] * mean[j] for moment, (i, j) in enumerate(_MOMENTS)]
    least, normal = _least_eigenpair(*covariance)
    total_variance = covariance[0] + covariance[3] + covariance[5]  # the trace: the eigenvalues' sum
    variation = np.divide(least, total_variance, out=np.zeros(len(least)), where=total_variance > 0)
    return normal, float(np.median(distances[:, 1])), variation, float(np.median(distances[:, -1]))


def _least_eigenpair(xx, xy, xz, yy, yz, zz) -> tuple[np.ndarray, np.ndarray]:
    """The least eigenvalue ``(M,)`` and a unit eigenvector ``(M, 3)`` of each symmetric 3 x 3 matrix given by
    its six distinct entries (arrays of ``M``), in closed form (Smith 1961, "Eigenvalues of a symmetric 3 x 3
    matrix", Commun. ACM 4(4)): numpy's ``eigh`` solves each matrix by LAPACK, a call per matrix, about ten
    times slower on the 200,000 voxels of a million-point room (0.3 s of the 3 s it may take). The values
    agree with ``eigh`` within about 1e-11 of the trace and the vectors within 1e-7 radians where the two least
    eigenvalues are apart; where they are not (a line, an isotropic blob) any vector of their plane is a
    least one, as with ``eigh``. The sign is arbitrary, as with ``eigh``; a zero matrix gets (0, 0, 1)."""
    mean = (xx + yy + zz) / 3
    dx, dy, dz = xx - mean, yy - mean, zz - mean
    scale = np.sqrt((dx * dx + dy * dy + dz * dz + 2 * (xy * xy + xz * xz + yz * yz)) / 6)
    safe = np.where(scale > 0, scale, 1.0)
    half_det = (dx * (dy * dz - yz * yz) - xy * (xy * dz - yz * xz) + xz * (xy * yz - dy * xz)) / (2 * safe**3)
    least = mean + 2 * scale * np.cos(np.arccos(np.clip(half_det, -1.0, 1.0)) / 3 + 2 * np.pi / 3)
    ax, ay, az = xx - least, yy - least, zz - least
    # The eigenvector is orthogonal to every row of the matrix less the eigenvalue: the cross product of two
    # rows, of the three pairs the longest (the rows least parallel).
    crosses = np.array(
        [
            [xy * yz - xz * ay, xz * xy - ax * yz, ax * ay - xy * xy],
            [xy * az - xz * yz, xz * xz - ax * az, ax * yz - xy * xz],
            [ay * az - yz * yz, yz * xz - xy * az, xy * yz - ay * xz],
        ]
    )
    lengths = np.einsum("kdm,kdm->km", crosses, crosses)
    longest = lengths.argmax(axis=0)
    vector = np.take_along_axis(crosses, longest[None, None, :].repeat(3, axis=1), axis=0)[0]
    length = np.sqrt(np.take_along_axis(lengths, longest[None], axis=0)[0])
    vector = np.where(length > 0, vector / np.where(length > 0, length, 1.0), np.array([[0.0], [0.0], [1.0]]))
    return least, np.ascontiguousarray(vector.T)



class Projection(NamedTuple):
    """Points seen from the origin, in a camera's image (:func:`central_projection`)."""

    image: np.ndarray  # (N, 2): on the plane at unit depth along the mean direction
    depth: np.ndarray  # (N,): along the mean direction
    ranges: np.ndarray  # (N,): from the origin
    axes: np.ndarray  # (3, 3): the mean direction, then the image's two axes; a point of the image p at depth t
    # is t * (axes[0] + p @ axes[1:])


def central_projection(rays: np.ndarray) -> Projection | None:
    """Points ``rays`` ``(N, 3)`` seen from the origin, centrally projected onto the plane at unit depth along
    their mean direction; ``None`` where a point lies at the origin or beyond :data:`FIELD_OF_VIEW` of that
    direction: no camera's frame."""
    ranges = np.linalg.norm(rays, axis=1)
    axis = rays.sum(axis=0)
    if not np.linalg.norm(axis) or (ranges == 0).any():
        return None
    axis = axis / np.linalg.norm(axis)
    depth = rays @ axis
    if (depth <= math.cos(math.radians(FIELD_OF_VIEW)) * ranges).any():
        return None
    axes = np.vstack([axis, plane_basis(axis)])
    return Projection(rays @ axes[1:].T / depth[:, None], depth, ranges, axes)


def plane_basis(normal: np.ndarray) -> np.ndarray:
    """Two orthonormal rows spanning the plane with this unit normal."""
    helper = np.eye(3)[int(np.argmin(np.abs(normal)))]
    first = np.cross(normal, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(normal, first)])



def fullest_slab(heights: np.ndarray, distance: float) -> np.ndarray:
    """A mask of the ``heights`` in the slab two ``distance`` thick that holds the most of them, the slab
    sliding by half a distance (a plane's band of inliers, found along up)."""
    bins = np.floor((heights - heights.min()) / (distance / 2)).astype(np.int64)
    per_slab = np.convolve(np.bincount(bins), np.ones(4, dtype=np.int64))[3:]
    start = int(np.argmax(per_slab))
    return (bins >= start) & (bins < start + 4)


def outside_hull(outline: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """How far each of ``points`` (2-D) lies outside the convex hull of ``outline``: the largest of its signed
    distances to the hull's edges, negative inside (minus the distance to the nearest edge); ``None`` where
    the outline has no area (fewer than three points off one line)."""
    try:
        hull = ConvexHull(outline)
    except QhullError:
        return None
    # Each facet's equation is unit outward normal . x + offset, <= 0 inside.
    return (points @ hull.equations[:, :2].T + hull.equations[:, 2]).max(axis=1)


def rises_smoothly(contact: np.ndarray, normals: np.ndarray, up: np.ndarray, min_cos: float) -> bool:
    """Whether a part is a horizontal top's own relief (a fold of a duvet on a mattress), not a thing lying on
    it: every one of its voxels that touch the top (``contact``: those within the cluster distance of it) faces
    up within the normal angle (``min_cos``), so the surface goes on from the top into the part without an edge.
    A pillow or a book meets the top with its sides, which face sideways. False where none touches it."""
    return len(contact) > 0 and bool(np.all(np.abs(normals[contact] @ up) >= min_cos))


def sensor_angles(xyz: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Azimuth and elevation ``(N, 2)`` in radians of points seen from a sensor at the origin
    whose vertical is ``up``: the rows and columns of a LiDAR's or a camera's image."""
    basis = plane_basis(up)
    across = xyz @ basis.T
    return np.stack([np.arctan2(across[:, 1], across[:, 0]), np.arctan2(xyz @ up, np.linalg.norm(across, axis=1))], axis=1)


def by_point_count(objects: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Labels (-1 background) renumbered 0..K-1 by decreasing point count (``counts``: points per labelled
    element, a voxel's or 1 for a point)."""
    kept = objects >= 0
    if kept.any():
        ids, members = np.unique(objects[kept], return_inverse=True)
        order = np.argsort(-np.bincount(members, counts[kept]), kind="stable")
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids))
        objects = objects.copy()
        objects[kept] = rank[members]
    return objects


def median_by(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """The median of ``values`` in each of ``groups`` groups (of an even count, the mean of the middle two, as
    :func:`numpy.median`), 0 for an empty group: one sort for all groups."""
    counts = np.bincount(group, minlength=groups)
    if len(values) == 0:
        return np.zeros(groups)
    ordered = values[np.lexsort((values, group))]
    start = np.cumsum(counts) - counts
    upper = np.minimum(start + counts // 2, len(values) - 1)
    lower = np.minimum(start + (counts - 1) // 2, len(values) - 1)
    return np.where(counts > 0, (ordered[lower] + ordered[upper]) / 2, 0.0)
