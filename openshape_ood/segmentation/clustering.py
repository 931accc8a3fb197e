"""Clustering the voxels left after the planes and the ground, and keeping those that are objects."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .cuts import split_to_size
from .geometry import SHEET, median_by, rough_above

# DBSCAN: voxels within the cluster distance (the voxel included) that make a voxel a core voxel;
# fewer is sensor noise left over from the planes. The benchmark's rule keeps 4 among 3-5 on every scan's copies
# and views (segmentation experiments, "Constants chosen again by the benchmark's rule").
_CORE_VOXELS = 4
# Voxel centres within two voxel sizes (the cluster distance) of one on the straight rim of a flat
# surface, itself included (lattice points i, j >= 0 with i^2 + j^2 <= 4: 5 + 3 + 1; one inside the
# surface has 13): a voxel with fewer neighbours lies on a thinner link than a surface's rim (a contact
# along a line, a corner, a sparse bridge); the split of oversized clusters raises the core count up to
# this and no further.
_RIM_NEIGHBOURS = 9
# A cluster splits by density only into parts holding this share of its voxels each: a sliver frayed
# off an object's rim is not an object. Chosen by leave-one-scan-out (segmentation.tuning) among 0.05,
# 0.1 (the concave split's share, convexity.PART_SHARE) and 0.2.
MIN_PART = 0.05
# Range bands of a one-viewpoint scan, each searched for neighbours at the radius of its far edge rather than
# every voxel at the farthest one's (speed); the pairs found are the same for any number of bands.
_BANDS = 8
# Flat voxels per range band over which the noise level of a one-viewpoint scan's flat surfaces is
# measured: the median of 200 is within about 9 % of the band's (its standard error, 1.25 / sqrt(200)).
_LEVEL_VOXELS = 200
# Outdoors, a cluster whose thinnest direction has less than this share of the spread of the
# middle one is a piece of a plane (a facade, a fence, a sign), not a vehicle or a person; so is one
# whose thinnest spread is within geometry.SHEET voxels, however small it is. Weighed at 0.15-0.3 on the
# sweep's views (python -m benchmarks.scenes_sweep clustering._FLAT 0.2 0.25 0.3 --groups sweeps): 0.25 finds
# the same with a tenth fewer false segments, the least ratio of an object found being 0.26 (a car's flank);
# kept, as a bicycle seen side on (none in the sweep) would be flatter than that (segmentation experiments,
# "One command for the rule"). With a model bicycle put into the sweep (--bicycles, stop 142) the rule itself
# refuses 0.2 and 0.25, which lose bicycles, and 0.1 and 0.12, which find none more ("A bicycle put into the
# sweep").
_FLAT = 0.15
# Halvings of the bracket in which surface_voxels solves each object's pixels per voxel: 2^-50 of it, as
# fine as a float holds.
_BISECTIONS = 50


def cluster(
    centroids: np.ndarray, distance: float, growth: float, ranges: np.ndarray | None, max_size: float = np.inf,
    voxel_size: float = 0.0, cut_oversized: bool = True,
) -> np.ndarray:
    """DBSCAN labels of voxels ``(M,)`` (-1 for noise) whose neighbourhood radius is ``distance``,
    plus ``growth`` times the voxel's range to the sensor when ``ranges`` are given.

    Two voxels are neighbours when they are closer than the larger of their radii, so a sparse
    far object holds together while near objects a few centimetres apart stay apart. A cluster
    whose largest side (plus ``voxel_size``) exceeds ``max_size`` is split, not dropped
    (:func:`_split_oversized`): by rising density, then, with ``cut_oversized``, by normalized cuts.
    """
    count = len(centroids)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    rows, columns = _neighbour_pairs(centroids, distance, growth, ranges)
    # The voxel itself counts, as in scikit-learn's DBSCAN: scipy's distance matrix holds each voxel's
    # pair with itself (distance 0), so the pairs count it once.
    degree = np.bincount(rows, minlength=count)
    labels = _density_clusters(degree >= _CORE_VOXELS, rows, columns, count)
    if np.isfinite(max_size):
        labels = _split_oversized(labels, degree, rows, columns, centroids, max_size, voxel_size, cut_oversized)
    return labels


def _neighbour_pairs(centroids, distance, growth, ranges) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of every pair of voxels closer than the larger of their radii."""
    count = len(centroids)
    radius = np.full(count, distance) if ranges is None or growth <= 0 else distance + growth * ranges
    tree = cKDTree(centroids)
    rows, columns = [], []
    edges = np.unique(np.quantile(radius, np.linspace(0, 1, _BANDS + 1)))
    band = np.clip(np.searchsorted(edges, radius, side="left"), 0, len(edges) - 1)
    for b in np.unique(band):
        members = np.flatnonzero(band == b)
        pairs = cKDTree(centroids[members]).sparse_distance_matrix(tree, float(edges[b]), output_type="coo_matrix")
        first, second = members[pairs.row], pairs.col
        close = pairs.data <= np.maximum(radius[first], radius[second])
        # A pair farther apart than the second voxel's band edge is not found from its side: add that direction,
        # so that every voxel counts all its neighbours whatever the bands.
        unseen = close & (pairs.data > edges[band[second]])
        rows += [first[close], second[unseen]]
        columns += [second[close], first[unseen]]
    return np.concatenate(rows), np.concatenate(columns)


def _density_clusters(core: np.ndarray, rows: np.ndarray, columns: np.ndarray, count: int) -> np.ndarray:
    """DBSCAN's clusters given its core voxels: components of joined cores, and border voxels with a
    core neighbour's cluster; labels ``0..K-1``, -1 for noise."""
    both = core[rows] & core[columns]
    graph = coo_matrix((np.ones(both.sum()), (rows[both], columns[both])), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    labels = np.where(core, component, -1)
    border = ~core[rows] & core[columns]
    labels[rows[border]] = component[columns[border]]
    _, labels[labels >= 0] = np.unique(labels[labels >= 0], return_inverse=True)
    return labels


def _split_oversized(
    labels, degree, rows, columns, centroids, max_size: float, voxel_size: float, cut: bool = True
) -> np.ndarray:
    """Clusters larger than ``max_size`` split by rising density, as in the cluster tree of HDBSCAN
    (Campello et al. 2013): the core count is raised one neighbour at a time, so that voxels on thin
    links stop being cores first and objects touching along a line or at a corner (a night stand
    against a bed, chairs pushed to a table) fall apart while each one's surface holds. A part no
    larger than ``max_size`` is kept as soon as it appears; a larger one is split further. The count
    stops at that of a voxel on a surface's rim (:data:`_RIM_NEIGHBOURS`): beyond it, surfaces
    themselves would fray. Parts hold :data:`MIN_PART` of the cluster each; the voxels no part holds
    go to the part of their nearest voxel. What is still too large (furniture standing together over
    whole faces, a row of seats) is bisected by normalized cuts until every part fits
    (:func:`~openshape_ood.segmentation.cuts.split_to_size`) with ``cut``: never dropped whole."""
    labels = labels.copy()
    next_id = int(labels.max()) + 1 if len(labels) else 0
    for core_count in range(_CORE_VOXELS + 1, _RIM_NEIGHBOURS + 1):
        oversized = _oversized(labels, centroids, max_size, voxel_size)
        if len(oversized) == 0:
            break
        members = np.isin(labels, oversized)
        inside = members[rows] & members[columns]
        parts = _density_clusters(members & (degree >= core_count), rows[inside], columns[inside], len(labels))
        for cluster_id in oversized:
            voxels = np.flatnonzero(labels == cluster_id)
            split = parts[voxels]
            pieces, size = np.unique(split[split >= 0], return_counts=True)
            # A part holds a share of the cluster: eroding one object frays its rim into slivers first.
            large = pieces[size >= MIN_PART * len(voxels)]
            if len(large) < 2:
                continue
            # Voxels no large part holds at this density go to the part of their nearest voxel.
            held = np.isin(split, large)
            split[~held] = -1
            nearest = cKDTree(centroids[voxels[held]]).query(centroids[voxels[~held]])[1]
            split[~held] = split[held][nearest]
            labels[voxels] = next_id + np.unique(split, return_inverse=True)[1]
            next_id = int(labels.max()) + 1
    oversized = _oversized(labels, centroids, max_size, voxel_size) if cut else []
    if len(oversized):
        members = np.isin(labels, oversized)
        inside = members[rows] & members[columns]
        labels = split_to_size(labels, rows[inside], columns[inside], centroids, max_size, voxel_size, oversized)
    _, labels[labels >= 0] = np.unique(labels[labels >= 0], return_inverse=True)
    return labels


def _oversized(labels: np.ndarray, centroids: np.ndarray, max_size: float, voxel_size: float) -> np.ndarray:
    """Ids of the clusters whose bounding box's largest side plus a voxel exceeds ``max_size``."""
    kept = labels >= 0
    if not kept.any():
        return np.empty(0, dtype=np.int64)
    ids, members = np.unique(labels[kept], return_inverse=True)
    low = np.full((len(ids), 3), np.inf)
    high = np.full((len(ids), 3), -np.inf)
    np.minimum.at(low, members, centroids[kept])
    np.maximum.at(high, members, centroids[kept])
    return ids[(high - low).max(axis=1) + voxel_size > max_size]


def surface_voxels(points: np.ndarray, voxels: np.ndarray, pixel_share: float) -> np.ndarray:
    """The voxels that objects of ``points`` over ``voxels`` (each object's, the voxels holding them) cover in
    a camera's frame that holds ``pixel_share`` (s) of its pixels, a sample kept at random (as VoteNet keeps
    50,000 points of a SUN RGB-D frame): a sample leaves some of a surface's voxels empty.

    A voxel into which k of the whole frame's pixels fall holds a point with chance ``1 - (1 - s)^k``, and the
    voxels holding one hold ``k s / (1 - (1 - s)^k)`` points on average (k = 1: one each). That mean rises with
    k, so each object's k is solved from its own points per voxel (by bisection, between 1 and that mean over
    s), and its surface is its whole pixels over k: ``points / (k s)``. On the rooms' frames (stop 116) a pillow
    covering 598 voxels of the whole frame covered 198 of them sampled to 0.32 of its pixels, counted 459."""
    mean = points / voxels
    low, high = np.ones_like(mean), np.maximum(mean / pixel_share, 1.0)
    for _ in range(_BISECTIONS):
        k = (low + high) / 2
        rises = k * pixel_share / -np.expm1(k * np.log1p(-pixel_share)) < mean
        low, high = np.where(rises, k, low), np.where(rises, high, k)
    return points / ((low + high) / 2 * pixel_share)


def filter_objects(
    objects: np.ndarray,
    centroids: np.ndarray,
    counts: np.ndarray,
    min_points: int,
    min_size: float,
    max_size: float,
    voxel_size: float,
    variation: np.ndarray | None = None,
    flat_level: float | np.ndarray = 0.0,
    heights: np.ndarray | None = None,
    max_height: float | None = None,
    min_height: float = 0.0,
    min_voxels: int = 1,
    surfaces: np.ndarray | None = None,
    pixel_share: float = 1.0,
) -> np.ndarray:
    """Objects that pass the size filters, renumbered ``0..K-1`` by decreasing point count: at least
    ``min_points`` points (``counts``: each voxel's) over at least ``min_voxels`` voxels; in a camera's frame
    holding ``pixel_share`` of its pixels, the voxels its points stand for (:func:`surface_voxels`).

    With ``variation`` (each voxel's surface variation), clusters of scattered voxels (foliage,
    noise) are not objects: their median variation is rough (:func:`.geometry.rough_above`) against
    ``flat_level``, that of the scan's flat surfaces: one level, or one per voxel
    (:func:`flat_variation`, at the voxel's range), of which a cluster's median counts. A cluster more than
    half of whose voxels are ``surfaces`` (a mask: the patches of a sheet, :meth:`.planes.Planes.in_sheets`) is
    not judged so: it was found as a plane's connected patches, a surface, and its folds raise its variation.
    With ``heights`` (each voxel's height above the ground) and ``max_height``, an object must
    also stand on the ground (its lowest voxel within a third of ``max_height`` of it: not a
    tree crown or an awning), be no taller than ``max_height`` (not a building, a tree or a pole)
    and rise at least ``min_height`` above the ground (not a kerb, a low hedge or ground clutter), and
    have a depth of its own: a sheet (:data:`_FLAT`) is a fence, a sign or a piece of a facade.
    """
    kept = objects >= 0
    if not kept.any():
        return objects
    ids, members = np.unique(objects[kept], return_inverse=True)
    points = np.bincount(members, counts[kept])
    low = np.full((len(ids), 3), np.inf)
    high = np.full((len(ids), 3), -np.inf)
    np.minimum.at(low, members, centroids[kept])
    np.maximum.at(high, members, centroids[kept])
    size = (high - low).max(axis=1) + voxel_size
    voxels = np.bincount(members)
    covered = voxels if pixel_share >= 1.0 else surface_voxels(points, voxels, pixel_share)
    good = (points >= min_points) & (covered >= min_voxels) & (size >= min_size) & (size <= max_size)
    if heights is not None and max_height is not None:
        bottom = np.full(len(ids), np.inf)
        top = np.full(len(ids), -np.inf)
        np.minimum.at(bottom, members, heights[kept])
        np.maximum.at(top, members, heights[kept])
        good &= (bottom <= max_height / 3) & (top <= max_height) & (top >= min_height)
        thinnest, middle = _spreads(members, centroids[kept], counts[kept], len(ids))
        good &= (thinnest >= _FLAT * middle) & (thinnest > SHEET * voxel_size)
    if variation is not None:
        level = median_by(flat_level[kept], members, len(ids)) if np.ndim(flat_level) else float(flat_level)
        solid = median_by(variation[kept], members, len(ids)) <= rough_above(level)
        if surfaces is not None:
            solid |= np.bincount(members, surfaces[kept], len(ids)) > voxels / 2
        good &= solid
    order = np.argsort(-points, kind="stable")
    new_id = np.full(len(ids), -1, dtype=np.int64)
    ranked = order[good[order]]
    new_id[ranked] = np.arange(len(ranked))
    relabelled = np.full_like(objects, -1)
    relabelled[kept] = new_id[members]
    return relabelled


def flat_variation(variation: np.ndarray, flat: np.ndarray, ranges: np.ndarray | None = None) -> float | np.ndarray:
    """The surface variation of the scan's flat surfaces (the ``flat`` voxels: removed planes or ground),
    its noise level: one median, or with ``ranges`` (each voxel's distance to the sensor of a
    one-viewpoint scan) one level per voxel: that of the flat voxels at its range, never below the one
    median.

    A depth sensor's noise grows with range (quadratically for a structured-light or stereo camera,
    Khoshelham & Elberink 2012) while the voxels keep their size: at 4 m the wall of an RGB-D frame
    is as rough as leaves are at 1 m, and a desk there is dropped as scatter against the one median
    of a frame whose flat surfaces are mostly near. The flat voxels are taken in range bands of
    :data:`_LEVEL_VOXELS`, each band's median is its level, held from band to band as the largest so
    far (noise does not fall with range), and interpolated to every voxel's range. The one median
    stays the least level: a floor seen at a grazing angle, whose noise lies in its plane, is
    smoother than a surface facing the sensor at the same range, and must not make that one scatter.
    With fewer than two bands of flat voxels, the one median.
    """
    everywhere = float(np.median(variation[flat] if flat.any() else variation))
    seen = np.flatnonzero(flat)
    if ranges is None or len(seen) < 2 * _LEVEL_VOXELS:
        return everywhere
    bands = np.array_split(seen[np.argsort(ranges[seen])], len(seen) // _LEVEL_VOXELS)
    centre = np.array([np.median(ranges[band]) for band in bands])
    level = np.maximum.accumulate([np.median(variation[band]) for band in bands])
    return np.maximum(everywhere, np.interp(ranges, centre, level))


def _spreads(
    members: np.ndarray, centroids: np.ndarray, weights: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: the standard deviations along its thinnest and its middle direction."""
    total = np.bincount(members, weights, count)
    mean = np.stack([np.bincount(members, weights * centroids[:, k], count) for k in range(3)], axis=1) / total[:, None]
    centred = centroids - mean[members]
    covariance = np.empty((count, 3, 3))
    for i in range(3):
        for j in range(3):
            covariance[:, i, j] = np.bincount(members, weights * centred[:, i] * centred[:, j], count) / total
    spread = np.sqrt(np.clip(np.linalg.eigvalsh(covariance), 0, None))
    return spread[:, 0], spread[:, 1]
