"""Objects of a table-top camera frame pushed against others: contacts the frame does not hold.

The table-top frames we have hold their objects in the arrangements they were tuned on, and every object of
theirs is found; a frame kept out of sight merged the touching objects of a cluttered table. Seen from other
places (``--orbit``) a frame keeps its contacts. Here each object that stands free (on no other object, none on
it, touching none) is pushed across the table in each of :data:`PUSH_DIRECTIONS` until it touches another
object: the same objects, seen by the same camera, in arrangements the segmentation was not tuned on (side by
side, or one partly behind another).

The push moves the object's points (its surface as the camera saw it) by at most :data:`PUSH_REACH` across the
table; the camera's view of it turns by the angle that move subtends, under 15 degrees at the frames' 0.6-1.3 m,
and the sides it newly faces stay unseen. Then what the camera would see is kept, on its own pixel grid: each of
the object's points goes to the pixel its ray meets, at its depth (the nearest where several meet one), and each
pixel shows the nearer of the object and what the frame held there. Its old place shows the table: the pixels it
leaves empty take the table's plane where their rays meet it within the convex hull of the table's points (what
the object hid of the table, its shadow too), in the table's median colour. The object it touches does not move.
A push that leaves the image or the table, or touches nothing within its reach, gives no copy.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np
from scipy.spatial import ConvexHull, Delaunay, cKDTree

from openshape_ood.segmentation.geometry import plane_basis

from .virtual_frames import KINECT, Camera, pixel_rays, pixels_of

#: Objects of at least this many points (pixels) are pushed: the frames' smallest objects at a metre hold a
#: few hundred, and the segmentation's floor in a camera frame is 512.
PUSHED_MIN_POINTS = 500
#: The farthest (m, across the table) an object is pushed: what a hand would, and little enough that the
#: camera sees it from nearly where it did.
PUSH_REACH = 0.15
#: Two objects touch when their points come within this (m) of each other across the table: a voxel of the
#: frames' 5 mm, and a millimetre.
CONTACT = 0.006
#: The push goes on in steps of this (m), in each of these directions (degrees about the table's normal, from
#: the first axis of :func:`~openshape_ood.segmentation.geometry.plane_basis` across it).
PUSH_STEP = 0.002
PUSH_DIRECTIONS = tuple(range(0, 360, 30))
#: One object lies on another (or under it) when this share of the smaller one's cells across the table (of
#: :data:`TABLE_CELL`) are the other's too; objects side by side share a line of cells at most.
STACKED_SHARE = 0.1
#: A pushed object stays over the table: this share of its points lie over it across the table's plane (an
#: object at the table's edge may overhang it a little).
ON_TABLE_SHARE = 0.95
#: Objects' extents across the table's plane are compared in cells of this (m).
TABLE_CELL = 0.01


class PushedCopy(NamedTuple):
    """A frame with one object pushed against another: its points, their ground truth (objects keep their ids),
    which object was pushed, which it touches, and how far it went (m)."""

    points: np.ndarray
    truth: np.ndarray
    object_id: int
    towards: int
    distance: float


def pushed_copies(
    points: np.ndarray, truth: np.ndarray, up: np.ndarray, camera: Camera = KINECT,
    min_points: int = PUSHED_MIN_POINTS,
) -> Iterator[PushedCopy]:
    """Each object of ``truth`` (ids >= 0; the table is -1 or below) with at least ``min_points`` points of a
    table-top frame (``points`` ``(N, C >= 3)`` in its camera's coordinates, x right, y down, z forward, one
    point per pixel of ``camera``) that stands free, pushed across the table in each of :data:`PUSH_DIRECTIONS`
    until it touches another object (see the module's text). ``up`` is the table's normal, towards the objects
    (the support the segmentation finds)."""
    cloud = np.asarray(points)
    xyz = cloud[:, :3].astype(np.float64)
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    table = truth < 0
    level = float(np.median(xyz[table] @ up))
    basis = plane_basis(up)
    across = xyz @ basis.T
    on_table = _table_extent(across, table)
    pixel = pixels_of(xyz, camera)
    objects, sizes = np.unique(truth[truth >= 0], return_counts=True)
    large = [int(o) for o in objects[sizes >= min_points]]
    free = _free(across, truth, objects)
    for pushed in (o for o in large if free[o]):
        own = truth == pushed
        others = (truth >= 0) & ~own
        if not others.any():
            continue
        neighbours = cKDTree(across[others])
        if neighbours.query(across[own])[0].min() < CONTACT:
            continue  # touching already: its contacts are the frame's own
        for angle in np.radians(PUSH_DIRECTIONS):
            step = (np.cos(angle) * basis[0] + np.sin(angle) * basis[1]) * PUSH_STEP
            for count in range(1, int(round(PUSH_REACH / PUSH_STEP)) + 1):
                moved = xyz[own] + count * step
                flat = moved @ basis.T
                gap, nearest = neighbours.query(flat)
                if gap.min() < CONTACT:
                    if on_table(flat).mean() >= ON_TABLE_SHARE and _in_image(moved, camera):
                        copy, copy_truth = _rendered(
                            cloud, truth, own, moved, pixel, up, level, on_table, basis, camera
                        )
                        touched = int(truth[others][nearest[np.argmin(gap)]])
                        yield PushedCopy(copy, copy_truth, pushed, touched, round(count * PUSH_STEP, 6))
                    break


def _free(across: np.ndarray, truth: np.ndarray, objects: np.ndarray) -> dict[int, bool]:
    """Whether each object lies neither on nor under another: no other shares :data:`STACKED_SHARE` of the
    smaller one's cells across the table (``across``: the points' coordinates in the table's plane)."""
    cells = {int(o): set(map(tuple, np.floor(across[truth == o] / TABLE_CELL).astype(np.int64).tolist()))
             for o in objects}
    return {a: not any(len(cells[a] & cells[b]) > STACKED_SHARE * min(len(cells[a]), len(cells[b]))
                       for b in cells if b != a) for a in cells}


def _table_extent(across: np.ndarray, table: np.ndarray):
    """A function telling whether points (their coordinates ``(M, 2)`` across the table's plane) lie over the
    table: within the convex hull of its points there (a table top is convex; what the objects hide of it, and
    their shadows, lie within)."""
    hull = ConvexHull(across[table])
    inside = Delaunay(across[table][hull.vertices])
    return lambda flat: inside.find_simplex(flat) >= 0


def _in_image(xyz: np.ndarray, camera: Camera) -> bool:
    """Whether every point lies ahead of ``camera`` and within its image."""
    if (xyz[:, 2] <= 0).any():
        return False
    pixel = pixels_of(xyz, camera)
    return bool(np.all((pixel >= 0) & (pixel < (camera.width, camera.height))))


def _rendered(
    cloud: np.ndarray, truth: np.ndarray, own: np.ndarray, moved: np.ndarray, pixel: np.ndarray, up: np.ndarray,
    level: float, on_table, basis: np.ndarray, camera: Camera,
) -> tuple[np.ndarray, np.ndarray]:
    """The frame with the object ``own`` at ``moved``, as the camera sees it (see the module's text)."""
    width, size = camera.width, camera.width * camera.height
    source, depth = _splatted(moved, camera)
    scene = np.flatnonzero(~own)
    scene_index = pixel[scene, 1] * width + pixel[scene, 0]
    scene_kept = cloud[scene, 2] < depth[scene_index]  # each pixel shows the nearer surface
    scene_depth = np.full(size, np.inf)
    scene_depth[scene_index[scene_kept]] = cloud[scene[scene_kept], 2]
    shown = np.flatnonzero((source >= 0) & (depth <= scene_depth))  # the object's pixels the scene does not hide
    placed = cloud[own][source[shown]].copy()
    placed[:, :3] = pixel_rays(shown % width, shown // width, camera) * depth[shown, None]  # on the pixel's ray
    # Its old place: pixels it held that nothing holds now show the table, where their rays meet it.
    taken = np.isfinite(scene_depth)
    taken[shown] = True
    left = np.unique(pixel[own, 1] * width + pixel[own, 0])
    left = left[~taken[left]]
    rays = pixel_rays(left % width, left // width, camera)
    with np.errstate(divide="ignore"):
        reach = level / (rays @ up)
    hit = rays * np.where(reach > 0, reach, 0.0)[:, None]
    over = (reach > 0) & on_table(hit @ basis.T)
    filled = np.zeros((int(over.sum()), cloud.shape[1]), dtype=cloud.dtype)
    filled[:, :3] = hit[over]
    if cloud.shape[1] >= 6:
        filled[:, 3:6] = np.median(cloud[truth < 0, 3:6], axis=0)
    points = np.concatenate([cloud[scene[scene_kept]], placed, filled])
    labels = np.concatenate(
        [truth[scene[scene_kept]], truth[own][source[shown]], np.full(len(filled), -1, dtype=truth.dtype)]
    )
    return points, labels


def _splatted(moved: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The moved object in the camera's image: on each pixel, which of its points (-1: none) at what depth (inf).

    Each point goes to the pixel its ray meets, the nearest where several meet one. Moved, the object covers a few
    more or fewer pixels than it has points, and forward mapping leaves cracks one pixel wide inside it; a pixel
    between two of its pixels (left and right, or above and below) takes their mean depth and the first one's
    point, as a surface seen there would."""
    width, height = camera.width, camera.height
    pixel = pixels_of(moved, camera)
    index = pixel[:, 1] * width + pixel[:, 0]
    order = np.lexsort((moved[:, 2], index))
    nearest = order[np.r_[True, index[order][1:] != index[order][:-1]]]
    source = np.full((height, width), -1, dtype=np.int64)
    depth = np.full((height, width), np.inf)
    source.flat[index[nearest]] = nearest
    depth.flat[index[nearest]] = moved[nearest, 2]
    held = source >= 0
    for axis in (1, 0):
        before, after = np.roll(held, 1, axis=axis), np.roll(held, -1, axis=axis)
        crack = ~held & before & after
        crack[(0, -1), :] &= axis == 1  # no neighbour across the image's border
        crack[:, (0, -1)] &= axis == 0
        depth[crack] = (np.roll(depth, 1, axis=axis)[crack] + np.roll(depth, -1, axis=axis)[crack]) / 2
        source[crack] = np.roll(source, 1, axis=axis)[crack]
        held = source >= 0
    return source.ravel(), depth.ravel()
