"""Colour where the scan has it: objects lying in a removed plane (a picture on a wall, a mat on the
floor, a sheet of paper on a table) told from the plane by their colour.

A removed plane is cut into colour regions: each voxel is joined to its neighbours in the plane (within
the plane's patch cell) whose colour differs by no more than the plane's noise would make it, and the
connected components are the regions (colour-based region growing, Zhan et al. 2009, PCL's
``RegionGrowingRGB``). Joining neighbour to neighbour, a wall whose light changes gradually across
metres stays one region, while a sharp colour edge cuts one out. A wall (a plane upright on the support) is
lit from the side, by lamps and windows metres along it: its own surface is its paint under that light, a
smooth field of colour over the plane (a quadratic per channel, fitted robustly to all its voxels:
:func:`_light_field`), so that the halves of a wall that a doorway parts, or the strip of wall between two
pictures, are the wall in the light they stand in, not regions of another colour than the largest one. On
the other planes the largest region is the plane's own surface. The voxels of the regions whose mean colour
differs from the plane's own by more than the noise are grouped by DBSCAN like any object's voxels (a
picture's frame and its canvas are two regions, one object), and a group that lies inside its plane
(:data:`INSIDE`: a picture is surrounded by its wall, the far end of a wall in another light is not) becomes
an object, size-checked like any other. Voxels at the seam of two planes (a wall's foot) hold points of both
and blend their colours: they are never another colour.

On the support (the table, the floor) a region of the support's own colour at another brightness is
the support in other light, not an object: every object standing on it casts a shadow there, lit from
above and the side away from its base, and lamps leave brighter patches. Such a region's mean colour lies
within the noise of the support's scaled by one factor (shading keeps the colour's hue; Finlayson et al.,
ECCV 2002, remove shadows by that invariance), while a sheet of paper or a mat lying on the support
differs in hue. On other planes every region counts: a picture in a dark frame on a pale wall is a
picture.

The noise is measured on each plane: the colour differences between neighbouring voxels of a plane are
nearly all differences within one surface, so their median sets the noise level robustly (the edges
across object boundaries are few). With per-channel Gaussian noise of standard deviation ``s``, the
squared difference of two voxels over ``2 s^2`` follows a chi-square law with 3 degrees of freedom:
the median difference is ``2.175 s``, and two voxels of one surface differ by more than ``4.76 s`` once
in a hundred (:data:`SAME_SURFACE`), the one threshold used here.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..io.contract import rgb_to_unit
from .clustering import cluster
from .geometry import plane_basis

#: sqrt(2 * median of chi-square(3)): the median colour difference of two voxels of one surface, in
#: units of the per-channel noise.
MEDIAN_DIFFERENCE = math.sqrt(2 * 2.3660)
#: sqrt(2 * 99th percentile of chi-square(3)): two voxels of one surface differ by more once in a hundred.
SAME_SURFACE = math.sqrt(2 * 11.345)
# The step of 8-bit colour: a plane of one flat colour has no less noise.
_RESOLUTION = 1 / 255
#: A group of voxels of another colour lies inside its plane (a picture in its wall) when at least this
#: share of the cells around it (in the plane's patch grid) hold voxels of the plane; above 1, colour is
#: not used. Chosen by leave-one-scan-out (segmentation.tuning, python -m benchmarks.scenes).
INSIDE = 0.5
# The light field is settled when a reweighting moves it by under this at every voxel: far below the step of
# 8-bit colour. The walls of both rooms, of the table tops and of nine frames of scene0006's furniture settle in
# 7 to 40 reweightings (stop 138); the cap only bounds the time a pathological wall could take.
_SETTLED = 1e-6
_MOST_REWEIGHTINGS = 100


def point_colours(points: np.ndarray) -> np.ndarray | None:
    """Colour ``(N, 3)`` in [0, 1] of each point, from columns 3-5 of ``points`` (RGB in [0, 1] or [0, 255]);
    ``None`` when the scan has no colour (fewer than six columns, or values that are not colours)."""
    if points.ndim != 2 or points.shape[1] < 6:
        return None
    return rgb_to_unit(np.asarray(points[:, 3:6], dtype=np.float64))


def voxel_colours(points: np.ndarray, voxel_of_point: np.ndarray, voxels: int) -> np.ndarray | None:
    """Mean colour ``(M, 3)`` of each voxel (:func:`point_colours`), ``None`` when the scan has no colour."""
    rgb = point_colours(points)
    if rgb is None:
        return None
    counts = np.bincount(voxel_of_point, minlength=voxels)
    return np.stack([np.bincount(voxel_of_point, rgb[:, k], voxels) for k in range(3)], axis=1) / counts[:, None]


def objects_in_planes(planes, colours: np.ndarray, distance: float) -> np.ndarray:
    """Object ids ``(M,)`` of the voxels of the removed planes of ``planes`` (a :class:`~.planes.Planes`)
    that are something lying in the plane, not its surface; -1 elsewhere. ``distance``: the cluster
    distance that groups them."""
    objects = np.full(len(colours), -1, dtype=np.int64)
    if INSIDE > 1:
        return objects
    within, seams = _neighbours(planes, 1.5 * planes.cell)
    for index, plane in enumerate(planes.found):
        shading = index == 0 and planes.has_support
        normal = plane.normal if planes.upright(plane.normal) else None  # a wall: lit from the side
        other = _other_colour(plane.voxels, within[index], planes.centroids, colours, normal, shading)
        other = other[~seams[other]]
        if len(other) == 0:
            continue
        groups = cluster(planes.centroids[other], distance, 0.0, None)
        inside = _inside(plane, other, groups, planes.centroids, planes.cell)
        kept = np.isin(groups, inside)
        objects[other[kept]] = objects.max(initial=-1) + 1 + np.unique(groups[kept], return_inverse=True)[1]
    return objects


def add_objects_in_planes(objects: np.ndarray, in_planes: np.ndarray, centroids: np.ndarray, distance: float) -> None:
    """Give the groups ``in_planes`` (:func:`objects_in_planes`) new ids in ``objects`` (in place), but
    those within ``distance`` of an object found by the clustering: what touches an object standing on
    the plane is its base's colour bled into the plane, its shadow or its reflection, not an object."""
    grouped = np.flatnonzero(in_planes >= 0)
    owned = np.flatnonzero(objects >= 0)
    if len(grouped) == 0:
        return
    touching = np.zeros(len(grouped), dtype=bool)
    if len(owned):
        touching = np.isfinite(cKDTree(centroids[owned]).query(centroids[grouped], distance_upper_bound=distance)[0])
    alone = np.setdiff1d(in_planes[grouped], in_planes[grouped[touching]])
    kept = grouped[np.isin(in_planes[grouped], alone)]
    objects[kept] = objects.max(initial=-1) + 1 + np.unique(in_planes[kept], return_inverse=True)[1]


def _neighbours(planes, reach: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The neighbours in each removed plane of ``planes`` (a :class:`~.planes.Planes`): for each plane, its pairs of
    voxels within ``reach``, as positions in its ``voxels``; and whether each voxel lies within ``reach`` of a voxel
    of another plane, at a seam: a wall's foot, whose voxels hold points of the wall and the floor and blend their
    colours. No voxel at a seam is another colour: a picture hangs clear of the floor, and a door's lowest row may
    go. The planes' voxels are paired once, for both."""
    owner = np.full(len(planes.centroids), -1)
    position = np.zeros(len(planes.centroids), dtype=np.int64)
    for index, plane in enumerate(planes.found):
        owner[plane.voxels] = index
        position[plane.voxels] = np.arange(len(plane.voxels))
    in_planes = np.flatnonzero(owner >= 0)
    seams = np.zeros(len(planes.centroids), dtype=bool)
    if len(in_planes) == 0:
        return [np.empty((0, 2), dtype=np.int64) for _ in planes.found], seams
    pairs = in_planes[cKDTree(planes.centroids[in_planes]).query_pairs(reach, output_type="ndarray")]
    across = owner[pairs[:, 0]] != owner[pairs[:, 1]]
    seams[pairs[across].ravel()] = True
    within = pairs[~across]
    return [position[within[owner[within[:, 0]] == index]] for index in range(len(planes.found))], seams


def colour_noise_level(squared: np.ndarray) -> float:
    """The per-channel colour noise of a voxel, from the squared colour differences ``squared`` of
    neighbouring voxels, nearly all of one surface: their median over 2.175, no less than the step of
    8-bit colour."""
    return max(math.sqrt(float(np.median(squared))) / MEDIAN_DIFFERENCE, _RESOLUTION)


def same_surface_difference(squared: np.ndarray) -> float:
    """The largest colour difference of two voxels of one surface (once in a hundred it is more), from the
    squared colour differences ``squared`` of neighbouring voxels (:func:`colour_noise_level`)."""
    return SAME_SURFACE * colour_noise_level(squared)


def _other_colour(
    voxels: np.ndarray, pairs: np.ndarray, centroids: np.ndarray, colours: np.ndarray,
    normal: np.ndarray | None = None, shading: bool = False,
) -> np.ndarray:
    """The ``voxels`` (of one plane; ``pairs``, its neighbours as positions in ``voxels``: :func:`_neighbours`) in
    colour regions whose mean colour differs from the plane's own by more than the plane's noise allows between two
    voxels of one surface: with its ``normal`` (a wall's), from the light over the region (:func:`_light_field`),
    else from the largest region's; with ``shading``, also from the largest region's colour scaled to the region's
    brightness (the least-squares factor)."""
    if len(pairs) == 0:
        return voxels[:0]
    local = colours[voxels]
    squared = ((local[pairs[:, 0]] - local[pairs[:, 1]]) ** 2).sum(axis=1)  # no square roots of millions of pairs
    threshold = same_surface_difference(squared)
    same = pairs[squared <= threshold**2]
    graph = coo_matrix((np.ones(len(same)), (same[:, 0], same[:, 1])), shape=(len(voxels),) * 2)
    _, region = connected_components(graph, directed=False)
    size = np.bincount(region)

    def region_means(values: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(region, values[:, k]) for k in range(3)], axis=1) / size[:, None]

    mean = region_means(local)
    surface = mean[int(np.argmax(size))]
    if normal is None:
        own = surface
    else:
        own = region_means(_light_field(centroids[voxels] @ plane_basis(normal).T, local, threshold))
    differs = np.linalg.norm(mean - own, axis=1) > threshold
    if shading:
        brightness = mean @ surface / max(float(surface @ surface), _RESOLUTION**2)
        differs &= np.linalg.norm(mean - brightness[:, None] * surface, axis=1) > threshold
    return voxels[differs[region]]


def _light_field(flat: np.ndarray, colours: np.ndarray, threshold: float) -> np.ndarray:
    """The colour ``(M, 3)`` a plane's own surface shows at each of its voxels (``flat``: their ``(M, 2)``
    coordinates in the plane; ``colours``: theirs) under its light: a quadratic in the coordinates per channel,
    fitted with Huber's loss (Huber 1964; iteratively reweighted least squares until the field settles), whose
    quadratic part reaches ``threshold``, the difference at which a voxel counts as another colour. A lamp or a
    window lights a wall more at one end or in one spot, smoothly (a quadratic has one brightest place), and a
    wall's halves that a doorway parts into two colour regions still show one paint under that light; the voxels
    of a picture pull the fit by no more than their share, and its edge stays sharp against it. The loss is
    convex: one field, whatever the start."""
    centred = flat - flat.mean(axis=0)
    u, v = (centred / (float(np.abs(centred).max()) or 1.0)).T  # scaled to 1 for a well-posed fit
    design = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    weight = np.ones(len(colours))
    field = None
    for _ in range(_MOST_REWEIGHTINGS):
        root = np.sqrt(weight)[:, None]
        fitted = design @ np.linalg.lstsq(design * root, colours * root, rcond=None)[0]
        settled = field is not None and np.abs(fitted - field).max() < _SETTLED
        field = fitted
        if settled:
            break
        residual = np.linalg.norm(colours - field, axis=1)
        weight = np.minimum(1.0, threshold / np.maximum(residual, np.finfo(float).tiny))
    return field


def _inside(plane, other: np.ndarray, groups: np.ndarray, centroids: np.ndarray, cell: float) -> np.ndarray:
    """Ids of the ``groups`` (of the voxels ``other`` of ``plane``) at least :data:`INSIDE` of whose
    surrounding cells (8-connected, on the plane's grid of ``cell`` metres) hold voxels of the plane."""
    basis = plane_basis(plane.normal)
    cells = np.floor(centroids[plane.voxels] @ basis.T / cell).astype(np.int64)
    low = cells.min(axis=0) - 1  # one empty cell of margin on every side
    occupied = np.zeros(cells.max(axis=0) - low + 2, dtype=bool)
    occupied[tuple((cells - low).T)] = True
    group_cells = np.floor(centroids[other] @ basis.T / cell).astype(np.int64) - low
    inside = []
    for group in np.unique(groups[groups >= 0]):
        own = group_cells[groups == group]
        start, stop = own.min(axis=0) - 1, own.max(axis=0) + 2  # its box with the ring around it
        mask = np.zeros(stop - start, dtype=bool)
        mask[tuple((own - start).T)] = True
        ring = ndimage.binary_dilation(mask, np.ones((3, 3), dtype=bool)) & ~mask
        if (ring & occupied[start[0]:stop[0], start[1]:stop[1]]).sum() >= INSIDE * ring.sum():
            inside.append(group)
    return np.array(inside, dtype=np.int64)
