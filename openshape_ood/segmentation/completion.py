"""A camera's frame sampled down, completed to its whole pixel grid before it is segmented.

VoteNet keeps 50,000 points of each SUN RGB-D frame: an eighth to a fifth of a Kinect v2 frame's pixels. A far
surface holds about a pixel per voxel in the whole frame, so such a sample leaves most of its voxels empty:
walls fall into patches too small for planes and objects into clusters that no longer link. The sample is
a depth image with pixels missing at random; as when a depth image is meshed, its samples are triangulated in
the image and each triangle is filled unless it spans a depth edge or a hole. The frame then segments as a
whole one does, and its own points take the labels they get there.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import Delaunay, QhullError, cKDTree
from scipy.special import gammainccinv

from .colour import point_colours, same_surface_difference
from .geometry import central_projection
from .visibility import BEHIND, grid_steps

# A triangle of the sample spans a hole in the frame (a window, a black or shiny surface, beyond the sensor's
# range), not a gap between its samples, where its circumcircle is wider than those of all but this share of
# the triangles of a random sample. Keeping a share s of the pixels, a disc of A pixels holds none with chance
# (1 - s)^A: the samples are a Poisson process of density -ln(1 - s) per pixel, whose Delaunay triangles'
# circumcircles hold that density times their area in a Gamma(2, 1) law (Miles 1970, "On the homogeneous
# planar Poisson point process", Math. Biosci. 6). 0.05, the conventional level, against 0.01 by the
# benchmark's rule on the rooms' sampled frames: 0.01 fills more of the widest gaps, which also run between
# objects and what stands behind them, and finds 5 objects fewer (segmentation experiments, "Sampled frames
# completed to their pixel grid").
_GAP_CHANCE = 0.05

# A triangle with an edge within this many degrees of the ray to its corners either spans a silhouette (the edge
# runs from an object's outline to what the camera sees past it, nearer than a tenth of the range: an object on
# a table, the table behind it) or lies on one surface seen near grazing (a bed's side, the floor far off).
# PCL's OrganizedFastMesh, which meshes a depth image as this module does, leaves every such triangle out at this
# default tolerance (D. Holz and S. Behnke, "Fast Range Image Segmentation and Smoothing using Approximate Surface
# Reconstruction and Region Growing", IAS 2012). Here it is left out only where that edge's ends also differ in
# colour by more than two points of one surface do (:func:`.colour.same_surface_difference`, measured on the
# triangulation's edges), as an outline and what lies past it do: every such triangle left out broke the rooms'
# sampled frames into more pieces (segmentation log, "Silhouettes of a sampled frame left open").
_SHADOW_ANGLE = 12.5


def complete_frame(
    xyz: np.ndarray, points: np.ndarray, pixel_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """The frame ``xyz`` ``(N, 3)`` in its camera's coordinates (``points``: its rows with every column, xyz
    first), holding ``pixel_share`` of its camera's pixels, with a point added at each pixel the sample left
    empty: ``(xyz, points)`` of the completed frame, the frame's own rows first. ``None`` where the points lie
    in no camera's view (:func:`.geometry.central_projection`) or on one line in its image.

    The points are projected onto the plane one unit along their mean direction ``a`` (a pinhole camera's image
    plane, turned a little where ``a`` is not its axis: :func:`.geometry.central_projection`) and triangulated
    there (Delaunay). A triangle whose vertices' ranges differ by more than :data:`.visibility.BEHIND` of the
    farthest spans a depth edge (an object before a wall), as does one with an edge within :data:`_SHADOW_ANGLE`
    of its ray whose ends differ in colour (an object's outline and the table behind it); one whose circumcircle
    is wider than all but :data:`_GAP_CHANCE` of a random sample's of ``pixel_share`` spans a hole. The other
    triangles are filled at a square grid of the sample's pixel pitch (:func:`.visibility.grid_steps`) from its
    lowest coordinates, at each site that is no sample's nearest: the depth along ``a`` interpolated in its
    inverse (exact on a plane, as a camera sees one), the other columns (colour) linearly. ``rng`` draws the
    samples the pitch is measured round."""
    projection = central_projection(xyz) if len(xyz) >= 3 else None
    if projection is None:
        return None
    image, depth, ranges, axes = projection
    _, first = np.unique(image, axis=0, return_index=True)  # a ray seen twice: its nearer sample will do
    try:
        triangles = Delaunay(image[first])
    except QhullError:  # the samples lie on one line in the image: no triangle to fill
        return None
    corners = first[triangles.simplices]
    across_edge = ranges[corners].min(axis=1) < (1 - BEHIND) * ranges[corners].max(axis=1)
    a, b, c = (image[corners[:, k]] for k in range(3))
    sides = np.stack([np.linalg.norm(b - c, axis=1), np.linalg.norm(c - a, axis=1), np.linalg.norm(a - b, axis=1)])
    ab, ac = b - a, c - a
    area = 0.5 * np.abs(ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
    circumradius = sides.prod(axis=0) / np.maximum(4 * area, np.finfo(float).tiny)
    pitch = float(np.median(np.linalg.norm(grid_steps(image, cKDTree(image), rng)[1], axis=1)))
    widest = pitch * math.sqrt(gammainccinv(2, _GAP_CHANCE) / (-math.pi * math.log1p(-pixel_share)))
    points = np.asarray(points, dtype=float)
    colours = point_colours(points)
    silhouette = np.zeros(len(corners), dtype=bool) if colours is None else _silhouette(xyz[corners], colours[corners])
    filled = ~across_edge & ~silhouette & (circumradius <= widest)
    low = image.min(axis=0)
    shape = np.floor((image.max(axis=0) - low) / pitch).astype(np.int64) + 2
    held = np.zeros(shape, dtype=bool)  # the sites nearest a sample: its own pixel, or the one beside it
    held[tuple(np.rint((image - low) / pitch).astype(np.int64).T)] = True
    empty = np.argwhere(~held)
    sites = low + empty * pitch
    simplex = triangles.find_simplex(sites)
    inside = np.flatnonzero(simplex >= 0)
    inside = inside[filled[simplex[inside]]]
    sites, simplex = sites[inside], simplex[inside]
    transform = triangles.transform[simplex]  # barycentric coordinates, as scipy's Delaunay documents them
    partial = np.einsum("nij,nj->ni", transform[:, :2], sites - transform[:, 2])
    weights = np.concatenate([partial, 1 - partial.sum(axis=1, keepdims=True)], axis=1)
    vertices = corners[simplex]
    site_depth = 1 / np.einsum("nk,nk->n", weights, 1 / depth[vertices])
    site_xyz = (axes[0] + sites @ axes[1:]) * site_depth[:, None]
    site_points = np.concatenate([site_xyz, np.einsum("nk,nkc->nc", weights, points[vertices, 3:])], axis=1)
    return np.concatenate([xyz, site_xyz]), np.concatenate([points, site_points])


def _silhouette(triangles: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Whether each triangle ``(T, 3, 3)`` (its corners' xyz, the camera at the origin; ``colours`` theirs in
    [0, 1]) has an edge within :data:`_SHADOW_ANGLE` of the ray to its first end whose ends differ in colour by
    more than two points of one surface do."""
    edges = ((0, 1), (1, 2), (2, 0))
    squared = np.stack([((colours[:, start] - colours[:, end]) ** 2).sum(axis=1) for start, end in edges], axis=1)
    differ = squared > same_surface_difference(squared.ravel()) ** 2
    cos_tolerance = math.cos(math.radians(_SHADOW_ANGLE))
    silhouette = np.zeros(len(triangles), dtype=bool)
    for k, (start, end) in enumerate(edges):
        ray, edge = triangles[:, start], triangles[:, end] - triangles[:, start]
        lengths = np.linalg.norm(ray, axis=1) * np.linalg.norm(edge, axis=1)
        silhouette |= differ[:, k] & (np.abs(np.einsum("tk,tk->t", ray, edge)) >= cos_tolerance * lengths)
    return silhouette
