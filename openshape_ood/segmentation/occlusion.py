"""Joining the visible parts of an object that a nearer object hides in the middle.

In a frame taken from one viewpoint (an RGB-D camera), an object partly behind a nearer one (a box
behind a mug) is seen as two disjoint pieces, and each becomes a segment. The pipeline joins the
objects its filters kept: a piece too small to be an object on its own is no evidence of one. Richtsfeld et al. (IROS
2012, "Segmentation of unknown objects in indoor environments", the mOSD data set) group such
patches across occlusions when what lies between them, seen from the sensor, is in front of them,
and when they continue one surface of one colour. The same tests are used here, each against a
bound the scan itself sets, not learned weights:

- **Occlusion.** Seen from the sensor (a central projection), the two segments come closest at two
  voxels. Of the rays from the sensor between those two, none may meet a surface behind the parts
  by more than the plane distance (the band within which a surface's voxels scatter): one such ray
  (the table or the wall seen through the gap) shows that the space between them is empty, two
  objects. Of the rays that meet something nearer than the parts by more than that, most must meet
  an object (the occluder), not background. Rays that meet nothing (no depth returned, as beside
  depth edges) or a surface at the parts' depth (the support they stand on, which meets them at
  their base) prove neither.
- **One surface.** A plane is fitted to each part's voxels within the gap's length of its end
  (a patch as wide as the distance it must predict over). The plane of the larger patch predicts
  the other patch: its median distance to the plane is within the plane distance, and the normals
  differ by less than the normal angle, the two tests by which a voxel belongs to a plane
  (:mod:`.planes`). An object behind the occluder that is offset in depth, or turned, fails them.
- **Colour,** where the scan has it: the median colours of the two ends differ by no more than two
  voxels of one surface do (:func:`.colour.same_surface_difference`).

Parts that touch in the image (a bowl's rim hiding its inside, a step in depth) are not joined by
that test: the space between them holds no occluder, and an object standing in front of another touches
it so too. An object also hides parts of itself, and a piece of it seen past its own nearer edge (a
sofa's seat behind its arm) lies within its outline, behind it, no farther than the object is deep:
:func:`join_seen_past_edge` joins such pieces, on geometry alone.
Scans that are not camera frames (no viewpoint, or a LiDAR sweep all around its sensor) are left as
they are, and so are scans without colour: on the mOSD frames the geometric tests alone joined two
pairs of different objects standing behind one occluder (test60: a bowl and a box, two boxes) for
the one true pair they joined; with colour, none.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .colour import same_surface_difference
from .geometry import central_projection, outside_hull

# Voxels nearest a point of the image among which the nearest surface is looked for: enough that the
# front surface at a depth edge (sparser in the image than the one behind it) is among them.
_NEIGHBOURS = 16
# The closest image points of two segments are looked for among at most this many voxels of one of
# them (evenly spread), so that a frame of many segments costs pairs times this, not pairs times voxels;
# the ends found lie within a few voxels of the closest, which only moves the line of rays tested.
_CLOSEST_SAMPLE = 512
# Colour differences between neighbours within this many voxel sizes measure a surface's colour noise
# (the reach over which colour.py measures it on planes).
_COLOUR_REACH = 1.5
# Voxels within this many voxel widths of each other in the image are neighbours there.
_RAY_REACH = 1.5


def join_occluded(objects: np.ndarray, centroids: np.ndarray, viewpoint: np.ndarray | None, voxel_size: float,
                  plane_distance: float, normal_angle: float, part_voxels: int, max_size: float,
                  colours: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """Labels with the segments that are visible parts of one occluded object given one id.

    ``objects``: voxel labels (-1 background), ``centroids`` the voxels, ``viewpoint`` the sensor's
    position (``None``: nothing is joined), ``plane_distance`` and ``normal_angle`` (degrees) the
    scan's plane tests, ``part_voxels`` the fewest voxels a part needs to fit its surface, ``max_size``
    the largest object (parts farther apart are not joined), ``colours`` the voxels' mean colours
    (``None``: nothing is joined; see the module's note). Ids are renumbered 0..K-1.
    """
    joins = occluded_pairs(objects, centroids, viewpoint, voxel_size, plane_distance, normal_angle, part_voxels,
                           max_size, colours)  # fmt: skip
    return _joined(objects, joins)


def _joined(objects: np.ndarray, joins: list[tuple[int, int]]) -> np.ndarray:
    """Voxel labels with the segments of each pair in ``joins`` (and those linked through them) given one id,
    renumbered 0..K-1; ``objects`` itself when there is nothing to join."""
    if not joins:
        return objects
    kept = objects >= 0
    count = int(objects.max()) + 1
    first, second = np.array(joins).T
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(count, count))
    _, joined = connected_components(graph, directed=False)
    result = objects.copy()
    result[kept] = np.unique(joined[objects[kept]], return_inverse=True)[1]
    return result


def occluded_pairs(objects, centroids, viewpoint, voxel_size, plane_distance, normal_angle, part_voxels, max_size,
                   colours) -> list[tuple[int, int]]:  # fmt: skip
    """The pairs of segment ids that :func:`join_occluded` joins (same arguments)."""
    projection = None if colours is None else _central_projection(centroids, viewpoint)
    if projection is None:
        return []
    image, ranges = projection
    ids, sizes = np.unique(objects[objects >= 0], return_counts=True)
    ids = ids[sizes >= part_voxels]
    if len(ids) < 2:
        return []
    members = [np.flatnonzero(objects == segment) for segment in ids]
    low = np.array([centroids[m].min(axis=0) for m in members])
    high = np.array([centroids[m].max(axis=0) for m in members])
    trees = [cKDTree(image[m]) for m in members]
    scene = cKDTree(image)
    cos_angle = math.cos(math.radians(normal_angle))
    joins = []
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            # Parts farther apart than the largest object are not one object.
            apart = np.maximum(low[a] - high[b], 0) + np.maximum(low[b] - high[a], 0)
            if np.linalg.norm(apart) > max_size:
                continue
            sample = members[b][np.linspace(0, len(members[b]) - 1, min(len(members[b]), _CLOSEST_SAMPLE)).astype(int)]
            gap, nearest = trees[a].query(image[sample])
            end_b = sample[int(np.argmin(gap))]
            end_a = members[a][nearest[int(np.argmin(gap))]]
            if not _hidden_by_nearer(objects, ranges, image, scene, end_a, end_b, voxel_size, plane_distance):
                continue
            if _one_surface(centroids, members[a], members[b], end_a, end_b, voxel_size, plane_distance, cos_angle,
                            colours):  # fmt: skip
                joins.append((int(ids[a]), int(ids[b])))
    return joins


def _central_projection(centroids: np.ndarray, viewpoint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The voxels' points in the image (:func:`.geometry.central_projection` from ``viewpoint``) and their
    ranges; ``None`` without a viewpoint or where they are no camera's frame."""
    if viewpoint is None:
        return None
    projection = central_projection(centroids - viewpoint)
    return None if projection is None else (projection.image, projection.ranges)


def join_seen_past_edge(objects: np.ndarray, centroids: np.ndarray, viewpoint: np.ndarray | None,
                        voxel_size: float, plane_distance: float) -> np.ndarray:  # fmt: skip
    """Labels with each segment that is a part of a nearer segment, seen past that one's own edge, joined to it.

    Seen from one viewpoint an object hides parts of itself: the seat of a sofa behind its arm, the inside of
    a chair behind its back. A piece seen past such an edge lies within the object's outline in the image,
    behind it: most of the piece's own outline meets the object, the object is the nearer side of every depth
    edge between them (a step in range of more than ``plane_distance``; at least one), and the piece lies
    within the convex hull of the object's image (widened by ``plane_distance`` at the piece's range) and no
    farther behind the object's farthest voxel than the object's own span of ranges. An object standing in
    front of another owns the edges between them; one lying on it or in it owns some of them; what is seen
    past an object's side lies outside its outline, and a wall seen through a gap in a chair lies farther
    behind it than the chair is deep. Segments join the one whose part they are (which may itself join
    another). ``objects``: voxel labels (-1 background, whose voxels count in the outline); ``viewpoint``: the
    sensor (``None``, or a view wider than a camera's: unchanged). Ids are renumbered 0..K-1.
    """
    projection = _central_projection(centroids, viewpoint)
    if projection is None or objects.max() < 1:
        return objects
    image, ranges = projection
    members = np.flatnonzero(objects >= 0)
    # Image neighbours: of the nearest voxels in the image, those within one and a half voxel widths at the
    # voxel's range (a surface's voxels lie one width apart in the image where it faces the camera, closer
    # where it is seen at a slant).
    distance, nearest = cKDTree(image).query(image[members], k=_NEIGHBOURS + 1, workers=-1)
    nearest = np.minimum(nearest, len(image) - 1)  # past the last neighbour found: masked by its distance
    first = np.broadcast_to(members[:, None], nearest.shape)
    across = (distance <= _RAY_REACH * voxel_size / ranges[first]) & (objects[nearest] != objects[first])
    first, second = first[across], nearest[across]
    # Per (piece, neighbouring segment): outline voxels of the piece that meet it, and depth edges between them.
    count = int(objects.max()) + 1
    key = objects[first] * (count + 1) + objects[second] + 1  # the background as neighbour 0
    outline = np.bincount(objects[np.unique(first)], minlength=count)
    pairs, meeting = np.unique(np.unique(np.stack([key, first], axis=1), axis=0)[:, 0], return_counts=True)
    step = ranges[second] - ranges[first]
    nearer_other = np.bincount(np.searchsorted(pairs, key), step < -plane_distance, len(pairs))
    nearer_piece = np.bincount(np.searchsorted(pairs, key), step > plane_distance, len(pairs))
    piece, other = pairs // (count + 1), pairs % (count + 1) - 1
    behind = (other >= 0) & (2 * meeting > outline[piece]) & (nearer_other > 0) & (nearer_piece == 0)
    joins = [(int(a), int(b)) for a, b in zip(piece[behind], other[behind])
             if _within_outline(objects == a, objects == b, image, ranges, plane_distance)]
    return _joined(objects, joins)


def _within_outline(piece: np.ndarray, segment: np.ndarray, image: np.ndarray, ranges: np.ndarray,
                    tolerance: float) -> bool:  # fmt: skip
    """Whether the voxels of ``piece`` (a mask) lie within the convex hull of ``segment``'s in the image, up to
    ``tolerance`` metres at their range, and no farther behind its farthest voxel than its span of ranges."""
    span = ranges[segment]
    if ranges[piece].max() > span.max() + (span.max() - span.min()):
        return False
    outside = outside_hull(image[segment], image[piece])
    if outside is None:  # a line of voxels in the image: no outline to lie within
        return False
    return bool((outside * ranges[piece] <= tolerance).all())


def _hidden_by_nearer(objects, ranges, image, scene, end_a, end_b, voxel_size, plane_distance) -> bool:
    """Whether no ray between the image points of voxels ``end_a`` and ``end_b`` meets a surface behind
    the parts there (farther by more than ``plane_distance``), and most of the rays that meet something
    nearer than them meet an object (not ``end_a``'s or ``end_b``'s segment, not background)."""
    start, stop = image[end_a], image[end_b]
    length = float(np.linalg.norm(stop - start))
    step = voxel_size / max(ranges[end_a], ranges[end_b])  # a voxel's width in the image at the parts' range
    along = np.arange(step, length - step / 2, step) / max(length, step)  # rays strictly between the ends
    if len(along) == 0:
        return False  # touching in the image: nothing stands between them
    samples = start + along[:, None] * (stop - start)
    expected = ranges[end_a] + along * (ranges[end_b] - ranges[end_a])  # the hidden surface's range, roughly
    # A ray meets a voxel when it passes within half the diagonal of the voxel's square in the image
    # (its size over its range): voxels of one surface leave no ray between them unmet.
    footprint = math.sqrt(0.5) * voxel_size / ranges
    found, near = scene.query(samples, k=_NEIGHBOURS, distance_upper_bound=float(footprint.max()))
    near = np.minimum(near, len(ranges) - 1)
    hit = np.isfinite(found) & (found <= footprint[near])
    near_range = np.where(hit, ranges[near], np.inf)
    front = np.argmin(near_range, axis=1)
    front_voxel = near[np.arange(len(samples)), front]
    front_range = near_range[np.arange(len(samples)), front]
    seen = np.isfinite(front_range)
    if (seen & (front_range > expected + plane_distance)).any():
        return False  # the gap is open there: what is behind it is seen
    # A surface at the parts' depth proves nothing: the support they stand on meets them there.
    owner = np.where(seen, objects[front_voxel], -1)
    nearer = seen & (front_range < expected - plane_distance)
    occluder = nearer & (owner >= 0) & (owner != objects[end_a]) & (owner != objects[end_b])
    return 2 * int(occluder.sum()) > int(nearer.sum())


def _one_surface(centroids, part_a, part_b, end_a, end_b, voxel_size, plane_distance, cos_angle, colours) -> bool:
    """Whether the two parts' voxels near their ends continue one plane of one colour."""
    # A patch as wide as the gap its plane must predict over; at least three voxels, the fewest that fix
    # a plane's tilt beyond one voxel's quantisation.
    reach = max(float(np.linalg.norm(centroids[end_a] - centroids[end_b])), 3 * voxel_size)
    near_a = part_a[np.linalg.norm(centroids[part_a] - centroids[end_a], axis=1) <= reach]
    near_b = part_b[np.linalg.norm(centroids[part_b] - centroids[end_b], axis=1) <= reach]
    if min(len(near_a), len(near_b)) < 3:
        return False
    if len(near_a) < len(near_b):
        near_a, near_b = near_b, near_a
    # The larger end patch predicts the other; a thin strip (a sliver along the occluder's edge) lies
    # in many planes, so only a patch wider than the noise band across shows its own normal.
    (centre_a, normal_a, width_a), (_, normal_b, width_b) = _plane(centroids[near_a]), _plane(centroids[near_b])
    if np.median(np.abs((centroids[near_b] - centre_a) @ normal_a)) > plane_distance:
        return False
    if min(width_a, width_b) > plane_distance and abs(normal_a @ normal_b) < cos_angle:
        return False
    ends = np.concatenate([near_a, near_b])
    pairs = cKDTree(centroids[ends]).query_pairs(_COLOUR_REACH * voxel_size, output_type="ndarray")
    if len(pairs) == 0:
        return False
    squared = ((colours[ends[pairs[:, 0]]] - colours[ends[pairs[:, 1]]]) ** 2).sum(axis=1)
    difference = np.linalg.norm(np.median(colours[near_a], axis=0) - np.median(colours[near_b], axis=0))
    return bool(difference <= same_surface_difference(squared))


def _plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre, unit normal and width (the spread along the second principal direction) of the
    least-squares plane through ``points``."""
    centre = points.mean(axis=0)
    _, spread, directions = np.linalg.svd(points - centre, full_matrices=False)
    return centre, directions[-1], float(spread[1] / math.sqrt(len(points)))
