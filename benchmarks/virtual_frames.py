"""Virtual depth-camera frames of a scan: single views with per-pixel ground truth.

The scans we have hold no single-view frames of rooms, while users (and the scans kept out of sight)
have them: a Kinect-class camera in a bedroom sees part of the room from one place, with far surfaces
sparser and noisier than near ones and objects hidden behind nearer ones. :func:`render_frame` renders
such a frame from a room's points (a sample of a reconstruction, with colour and an instance label per
point): each point is a small disc in its surface's plane (a splat; Zwicker et al. 2001), the surfaces
nearest the camera are kept per pixel and blended where they agree in depth, and depth noise is added
along the rays. The frame is in the camera's coordinates (x right, y down, z forward), as an RGB-D
frame's point cloud is, and every pixel carries the label of the point that covers it most.

The same renderer shows a table-top frame from other places (:func:`orbit_views`): the camera moved
round the objects and up or down, as another frame of the same table would be taken. What the first
camera did not see stays unseen (the backs of the objects), so the views are kept within a quarter turn.

This is a proxy, not data: where the sample is sparse the discs leave seams and creases that a real
frame does not have. It measures what a single view does to the segmentation (occlusion, range, the
wrong support); no constant is chosen on it.

:func:`with_surroundings` gives a table-top frame back what its camera also saw round the table, and the
mOSD frames' authors set to no depth: the floor, a wall and the table's far end, ray-cast into its empty
pixels with a Kinect's depth noise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from openshape_ood.config import UP_AXES
from openshape_ood.segmentation.geometry import normals


class Camera(NamedTuple):
    """A depth camera and how a scan's points are rendered in it."""

    width: int  # pixels
    height: int
    focal: float  # pixels
    nearest: float  # the range it measures, metres
    farthest: float
    noise_per_metre: float  # depth noise along the rays, per metre of range
    splat_radius: float  # a splat is a disc of this radius (m) in its point's tangent plane...
    max_splat_pixels: int  # ... at most this many pixels wide
    blend_depth: float  # surfaces within this share of the nearest depth at a pixel are one, blended


#: A Kinect v2 in a room: 512 x 424 pixels, focal length 365 pixels (70.6 x 60 degrees), 0.5-4.5 m, depth
#: noise of a time-of-flight camera's millimetres at a few metres; splats of about two point spacings of a
#: 50,000-point room sample, so that neighbouring discs overlap.
ROOM_CAMERA = Camera(512, 424, 365.0, 0.5, 4.5, 0.001, 0.04, 12, 0.05)


def room_camera(scale: float = 1.0) -> Camera:
    """:data:`ROOM_CAMERA` with ``scale`` times its pixels across and the same field of view: its focal length
    and its splats' reach in pixels grow alike. 1.45 gives about the depth images of SUN RGB-D's Kinect v2
    frames, registered to their colour images (730 x 530 pixels, focal length 529)."""
    if not scale > 0:
        raise ValueError(f"scale must be above 0, got {scale}")
    return ROOM_CAMERA._replace(
        width=round(ROOM_CAMERA.width * scale), height=round(ROOM_CAMERA.height * scale),
        focal=ROOM_CAMERA.focal * scale, max_splat_pixels=math.ceil(ROOM_CAMERA.max_splat_pixels * scale),
    )  # fmt: skip


def table_top_camera(spacing: float) -> Camera:
    """A Kinect (v1) over a table: 640 x 480 pixels, focal length 525 pixels, 0.4-4 m, 1.5 mm of depth noise
    per metre (a structured-light camera's at a metre); splats of two point spacings (``spacing``: the
    frame's median nearest-neighbour distance), as :data:`ROOM_CAMERA`'s are, blended within half a percent
    of the depth (5 mm at a metre)."""
    return Camera(640, 480, 525.0, 0.4, 4.0, 0.0015, 2 * spacing, 12, 0.005)


# A camera held at eye height in a corner of the room, looking at a point above the floor in its middle.
EYE_HEIGHT, TARGET_HEIGHT, CORNER_INSET = 1.6, 0.4, 0.15


def camera_views(
    xyz: np.ndarray, up_axis: str, count: int = 4, structure: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` (at most 4) (eye, target) pairs: from each corner of the room (the 3rd-97th percentile
    box across ``up_axis``, moved :data:`CORNER_INSET` of the way to the middle) at :data:`EYE_HEIGHT`
    above the floor (the 2nd percentile of height), towards the middle at :data:`TARGET_HEIGHT`. With
    ``structure`` (a mask of the points of walls, floors and ceilings), a corner whose sight of the middle a
    wall blocks (a scan that runs on past it: an alcove, a corridor, the next room), or whose eye stands
    inside something (a wardrobe in the corner), gives an eye stepped inside (:func:`_stepped_inside`), or none
    where no place on the way will do."""
    if not 1 <= count <= 4:
        raise ValueError(f"count must be 1 to 4 views (one per corner), got {count}")
    up = UP_AXES.index(up_axis) % 3
    across = [axis for axis in range(3) if axis != up]
    floor = np.percentile(xyz[:, up], 2)
    low, high = np.percentile(xyz[:, across], [3, 97], axis=0)
    middle = (low + high) / 2
    blocking = None if structure is None else xyz[structure]
    scan = None if structure is None else cKDTree(xyz)
    views = []
    for corner in ([low[0], low[1]], [high[0], low[1]], [high[0], high[1]], [low[0], high[1]])[:count]:
        eye, target = np.zeros(3), np.zeros(3)
        eye[across] = np.asarray(corner) + CORNER_INSET * (middle - corner)
        target[across] = middle
        eye[up], target[up] = floor + EYE_HEIGHT, floor + TARGET_HEIGHT
        if blocking is not None:
            eye = _stepped_inside(blocking, scan, eye, target, up)
        if eye is not None:
            views.append((eye, target))
    return views


#: A frame taken of a piece of furniture (a bed, a sofa, a table): of each object at least this wide (m, its
#: robust extent along either horizontal axis), from these distances (m) to its centre at eye height, at
#: OBJECT_VIEW_TURNS headings round it; a person steps back until it is in the picture.
OBJECT_VIEW_MIN_EXTENT, OBJECT_VIEW_DISTANCES, OBJECT_VIEW_TURNS = 1.0, (1.6, 2.2), 8
#: A person takes such a frame standing in the room: no point of the scan lies within SIGHT_CLEARANCE (m) of
#: the eye (a camera is inside nothing: a curtain, a lamp), and no wall, floor or ceiling within it of the line
#: from the eye to the object's centre, up to SIGHT_TARGET_REACH (m) short of that centre, where an object
#: against a wall (a window, a wardrobe) meets it. Without the check, the room's box let eyes stand behind a
#: wall the scan runs on past, in a wall's plane looking along it, or in a curtain.
SIGHT_CLEARANCE, SIGHT_TARGET_REACH = 0.1, 0.3
#: A camera whose corner sees the room's middle only through a wall steps towards the middle until it stands
#: this far (m) past the last wall in its way: a person holding it an arm's length from the wall.
SIGHT_STEP = 0.5


def object_views(
    xyz: np.ndarray, truth: np.ndarray, up_axis: str, structure: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(eye, target) pairs of frames taken of each object of ``truth`` (ids >= 0) at least
    :data:`OBJECT_VIEW_MIN_EXTENT` wide: the camera at :data:`EYE_HEIGHT` above the floor (the 2nd percentile of
    height), :data:`OBJECT_VIEW_DISTANCES` from the object's centre across ``up_axis`` at each of
    :data:`OBJECT_VIEW_TURNS` headings, looking at that centre at :data:`TARGET_HEIGHT`; only eyes within the
    room's box (its 3rd-97th percentile across up_axis), as :func:`camera_views` takes it, and with
    ``structure`` (a mask of the points of walls, floors and ceilings) only eyes in free space with a clear
    line of sight (:func:`_clear_sight`). Objects by id."""
    up = UP_AXES.index(up_axis)
    across = [axis for axis in range(3) if axis != up]
    blocking = None if structure is None else xyz[structure]
    scan = None if structure is None else cKDTree(xyz)
    floor = np.percentile(xyz[:, up], 2)
    low, high = np.percentile(xyz[:, across], [3, 97], axis=0)
    headings = 2 * np.pi * np.arange(OBJECT_VIEW_TURNS) / OBJECT_VIEW_TURNS
    directions = np.stack([np.cos(headings), np.sin(headings)], axis=1)
    views = []
    for object_id in np.unique(truth[truth >= 0]):
        spread = np.percentile(xyz[truth == object_id][:, across], [2, 98], axis=0)
        if (spread[1] - spread[0]).max() < OBJECT_VIEW_MIN_EXTENT:
            continue
        centre = spread.mean(axis=0)
        for distance in OBJECT_VIEW_DISTANCES:
            for place in centre + distance * directions:
                if not ((place >= low) & (place <= high)).all():
                    continue
                eye, target = np.zeros(3), np.zeros(3)
                eye[across], target[across] = place, centre
                eye[up], target[up] = floor + EYE_HEIGHT, floor + TARGET_HEIGHT
                if scan is None or (scan.query(eye)[0] >= SIGHT_CLEARANCE and _clear_sight(blocking, eye, target)):
                    views.append((eye, target))
    return views


def _clear_sight(structure: np.ndarray, eye: np.ndarray, target: np.ndarray) -> bool:
    """Whether no point of ``structure`` lies within :data:`SIGHT_CLEARANCE` of the segment from ``eye`` towards
    ``target`` that stops :data:`SIGHT_TARGET_REACH` short of it."""
    return len(_in_the_way(structure, eye, target)) == 0


def _in_the_way(structure: np.ndarray, eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """How far from ``eye`` (m, along the line to ``target``) each point of ``structure`` within
    :data:`SIGHT_CLEARANCE` of that line, up to :data:`SIGHT_TARGET_REACH` short of ``target``, lies."""
    direction = target - eye
    length = float(np.linalg.norm(direction))
    reach = max(length - SIGHT_TARGET_REACH, 0.0)
    along = np.clip((structure - eye) @ (direction / length), 0.0, reach)
    nearest = eye + along[:, None] * (direction / length)
    return along[np.linalg.norm(structure - nearest, axis=1) < SIGHT_CLEARANCE]


def _stepped_inside(
    structure: np.ndarray, scan: cKDTree, eye: np.ndarray, target: np.ndarray, up: int
) -> np.ndarray | None:
    """``eye`` moved across axis ``up`` (its height kept) towards ``target`` until :data:`SIGHT_STEP` past the
    farthest point of ``structure`` in the way of its line of sight, or by :data:`SIGHT_STEP` while a point of
    the ``scan`` lies within :data:`SIGHT_CLEARANCE` of it, again until neither holds: ``eye`` itself where
    neither does, ``None`` where a step would bring it within :data:`SIGHT_STEP` of the target."""
    across = np.ones(3, dtype=bool)
    across[up] = False
    while len(blocked := _in_the_way(structure, eye, target)) or scan.query(eye)[0] < SIGHT_CLEARANCE:
        towards = np.where(across, target - eye, 0.0)
        remaining = float(np.linalg.norm(towards))
        # The farthest point in the way, as a distance across up (the line of sight descends to the target).
        farthest = float(blocked.max()) * remaining / float(np.linalg.norm(target - eye)) if len(blocked) else 0.0
        step = farthest + SIGHT_STEP
        if step >= remaining - SIGHT_STEP:
            return None
        eye = eye + towards * (step / remaining)
    return eye


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """The rotation whose rows are the camera's x (right), y (down) and z (forward) axes in the scan's frame."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(forward, right), forward])


def orbit_views(
    up: np.ndarray, target: np.ndarray, turns: tuple[tuple[float, float], ...]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(eye, target) pairs: a camera at the origin looking at ``target`` (the frame's own camera, in its
    coordinates), moved on the sphere round ``target``: by each (azimuth, elevation) of ``turns``, in
    degrees, about ``up`` (a unit vector) and then about the horizontal axis across the line of sight
    (positive elevation: higher, looking down more steeply). Its distance to the target is kept."""
    views = []
    for azimuth, elevation in turns:
        offset = Rotation.from_rotvec(np.radians(azimuth) * up).apply(-target)
        across = np.cross(offset, up)
        if np.linalg.norm(across) > 0:  # looking straight down there is no axis to tilt about
            offset = Rotation.from_rotvec(np.radians(elevation) * across / np.linalg.norm(across)).apply(offset)
        views.append((target + offset, target.copy()))
    return views


def render_frame(
    points: np.ndarray, truth: np.ndarray, eye: np.ndarray, target: np.ndarray, up: str | np.ndarray, seed: int = 0,
    camera: Camera = ROOM_CAMERA,
) -> tuple[np.ndarray, np.ndarray]:
    """The frame ``(M, 3 + C)`` float32 (xyz in the camera's frame, then ``points``' other columns, such as
    colour, blended) that ``camera`` at ``eye`` looking at ``target`` (its image upright about ``up``, a
    gravity axis name or a unit vector) sees of ``points``, and the ``truth`` label of each of its pixels;
    depth noise of the camera's ``noise_per_metre`` times the range, drawn with ``seed``."""
    rotation = look_at(eye, target, _up_vector(up))
    xyz = (points[:, :3] - eye) @ rotation.T
    tangent_normal = normals(points[:, :3].astype(np.float64))[0] @ rotation.T
    seen = (xyz[:, 2] > camera.nearest) & (xyz[:, 2] < camera.farthest)
    xyz, extra, labels, tangent_normal = xyz[seen], points[seen, 3:], truth[seen], tangent_normal[seen]
    plane_offset = np.einsum("ij,ij->i", tangent_normal, xyz)
    width, height, focal = camera.width, camera.height, camera.focal
    column = focal * xyz[:, 0] / xyz[:, 2] + width / 2
    row = focal * xyz[:, 1] / xyz[:, 2] + height / 2
    radius = np.minimum(camera.splat_radius * focal / xyz[:, 2], camera.max_splat_pixels)

    def splats():
        """Per pixel offset within the splats: (pixel index, depth, point, weight) of each disc covering it."""
        reach = camera.max_splat_pixels
        for dx in range(-reach, reach + 1):
            for dy in range(-reach, reach + 1):
                distance = np.hypot(dx, dy)
                which = np.flatnonzero(radius >= distance)
                u = np.round(column[which]).astype(np.int64) + dx
                v = np.round(row[which]).astype(np.int64) + dy
                inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
                which, u, v = which[inside], u[inside], v[inside]
                ray = np.stack([(u - width / 2) / focal, (v - height / 2) / focal, np.ones(len(u))], axis=1)
                facing = np.einsum("ij,ij->i", ray, tangent_normal[which])
                # The disc's depth at this pixel: where the ray meets its plane (its own depth when seen edge-on).
                along = np.abs(facing) > 0.2
                depth = np.where(along, plane_offset[which] / np.where(along, facing, 1.0), xyz[which, 2])
                depth = np.clip(depth, xyz[which, 2] - camera.splat_radius, xyz[which, 2] + camera.splat_radius)
                weight = np.exp(-0.5 * (distance / np.maximum(radius[which] / 2, 0.5)) ** 2)
                yield v * width + u, depth, which, weight

    nearest = np.full(width * height, np.inf)
    for pixel, depth, _, _ in splats():
        np.minimum.at(nearest, pixel, depth)
    pixels = width * height
    depth_sum, weight_sum, extra_sum = np.zeros(pixels), np.zeros(pixels), np.zeros((pixels, extra.shape[1]))
    heaviest, owner = np.zeros(pixels), np.full(pixels, -1)
    for pixel, depth, which, weight in splats():
        front = depth <= nearest[pixel] * (1 + camera.blend_depth)
        pixel, depth, which, weight = pixel[front], depth[front], which[front], weight[front]
        np.add.at(depth_sum, pixel, weight * depth)
        np.add.at(weight_sum, pixel, weight)
        np.add.at(extra_sum, pixel, weight[:, None] * extra[which])
        np.maximum.at(heaviest, pixel, weight)
        owner[pixel[weight >= heaviest[pixel]]] = which[weight >= heaviest[pixel]]
    covered = np.flatnonzero(weight_sum > 0)
    depth = depth_sum[covered] / weight_sum[covered]
    depth *= 1 + np.random.default_rng(seed).normal(0, camera.noise_per_metre, len(covered))
    u, v = covered % width, covered // width
    frame = np.stack([(u - width / 2) * depth / focal, (v - height / 2) * depth / focal, depth], axis=1)
    return np.hstack([frame, extra_sum[covered] / weight_sum[covered, None]]).astype(np.float32), labels[owner[covered]]


def upright_frame(frame: np.ndarray, eye: np.ndarray, target: np.ndarray, up: str | np.ndarray) -> np.ndarray:
    """``frame`` (:func:`render_frame`'s, of the camera at ``eye`` looking at ``target`` upright about ``up``)
    turned upright about its camera, as SUN RGB-D and VoteNet's export of it store a Kinect v2 frame (turned
    by the camera's tilt): the camera at the origin, ``up`` along the same axis, and the camera's heading
    along the axis after it (x right, y ahead, z up for ``"z"``), so the room's walls lie at whatever angle
    the camera saw them. A copy; its other columns (colour) as they were."""
    up_vector = _up_vector(up)
    ahead = (target - eye) - ((target - eye) @ up_vector) * up_vector
    if np.linalg.norm(ahead) < 1e-9:
        raise ValueError("the camera looks straight along up: it has no heading to turn its frame upright by")
    ahead /= np.linalg.norm(ahead)
    axes = np.zeros((3, 3))
    axis = int(np.argmax(np.abs(up_vector)))
    axes[axis], axes[(axis + 1) % 3], axes[(axis + 2) % 3] = up_vector, np.cross(ahead, up_vector), ahead
    turned = frame.copy()
    # The camera's coordinates back to the scan's (the rows of look_at are the camera's axes), then onto the new axes.
    # Turned in float64 and rounded once: a float32 product rounds as the CPU's BLAS kernel adds, and the frames,
    # so the benchmark's figures, would differ between machines (half the points by 1-4 units in the last place).
    turned[:, :3] = frame[:, :3].astype(np.float64) @ (look_at(eye, target, up_vector) @ axes.T)
    return turned


def _up_vector(up: str | np.ndarray) -> np.ndarray:
    """The unit vector of a gravity axis name (``"z"``), or ``up`` itself as floats."""
    return np.eye(3)[UP_AXES.index(up)] if isinstance(up, str) else np.asarray(up, dtype=np.float64)


#: A Kinect (v1) frame's pixels: 640 x 480 with a focal length of 525 pixels; the mOSD frames' points fall on
#: the pixel (floor(f x / z + 320), floor(f y / z + 240)), one per pixel.
KINECT = Camera(640, 480, 525.0, 0.4, 4.0, 0.0, 0.0, 0, 0.0)
#: Round a table in a room (metres): the top stands TABLE_HEIGHT above the floor (dining and desk tables,
#: 0.72-0.76 m), goes on FAR_END beyond its farthest point in view, and a wall stands WALL_GAP beyond its end.
TABLE_HEIGHT, FAR_END, WALL_GAP = 0.75, 0.3, 0.4
#: Colours (RGB in [0, 1]) of the floor and the wall; the table's far end takes the table's median colour.
FLOOR_RGB, WALL_RGB = (0.42, 0.38, 0.33), (0.82, 0.81, 0.78)
#: A Kinect's depth noise (one standard deviation) at range z: this times z^2 metres (Khoshelham and
#: Elberink, Sensors 2012).
KINECT_NOISE = 1.425e-3


def with_surroundings(
    points: np.ndarray, truth: np.ndarray, up: np.ndarray, seed: int = 0, camera: Camera = KINECT
) -> tuple[np.ndarray, np.ndarray]:
    """A table-top frame (``points`` in its camera's coordinates, the sensor at the origin looking along +z,
    one point per pixel of ``camera``; ``truth`` -1 or below on the table) with the surfaces round the table
    ray-cast into the pixels it leaves empty, as a Kinect frame shows them: the table's far end (beyond its
    farthest point in view), the floor :data:`TABLE_HEIGHT` below its top and a wall :data:`WALL_GAP` beyond
    its end, facing the camera. ``up`` is the table's normal, towards the objects. Empty pixels whose ray meets
    the table within its part in view stay empty (shadows, missing depth). The new points are background
    (-1), with :data:`KINECT_NOISE` along their rays (drawn with ``seed``) and, where the frame has colour
    columns, the surface's colour."""
    xyz = points[:, :3].astype(np.float64)
    up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    table = truth < 0
    centre = np.median(xyz[table], axis=0)
    ahead = np.array([0.0, 0.0, 1.0]) - up[2] * up  # the line of sight along the table
    if np.linalg.norm(ahead) < 1e-3:
        raise ValueError("the camera looks straight down on the table: no direction leads to a wall beyond it")
    ahead /= np.linalg.norm(ahead)
    side = np.cross(up, ahead)
    across, along = (xyz[table] - centre) @ side, (xyz[table] - centre) @ ahead
    seen_end, table_end = along.max(), along.max() + FAR_END
    width, height = camera.width, camera.height
    u, v = pixels_of(xyz, camera).T
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    empty = np.ones(width * height, dtype=bool)
    empty[v[inside] * width + u[inside]] = False
    pixel = np.flatnonzero(empty)
    rays = pixel_rays(pixel % width, pixel // width, camera)

    def hits(normal: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Range along each ray to the plane through ``point`` (inf behind the camera or parallel), and where."""
        facing = rays @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(np.abs(facing) > 1e-9, (point @ normal) / facing, np.inf)
        scale = np.where(scale > 0, scale, np.inf)
        return scale, rays * np.where(np.isfinite(scale), scale, 0.0)[:, None]

    top, on_top = hits(up, centre)
    offset = on_top - centre
    far_end = (offset @ ahead > seen_end) & (offset @ ahead < table_end)
    far_end &= (offset @ side > across.min()) & (offset @ side < across.max())
    floor, on_floor = hits(up, centre - TABLE_HEIGHT * up)
    wall, _ = hits(ahead, centre + (table_end + WALL_GAP) * ahead)
    floor[(on_floor - centre) @ ahead > table_end + WALL_GAP] = np.inf  # beyond the wall
    candidates = np.stack([np.where(far_end, top, np.inf), floor, wall], axis=1)
    surface, scale = candidates.argmin(axis=1), candidates.min(axis=1)
    # The table's part in view: what it leaves empty there is a shadow or missing depth, not the room.
    in_view = (offset @ ahead >= along.min()) & (offset @ ahead <= seen_end) & (top < scale)
    in_view &= (offset @ side >= across.min()) & (offset @ side <= across.max())
    distance = scale * np.linalg.norm(rays, axis=1)
    kept = np.isfinite(scale) & ~in_view & (distance > camera.nearest) & (distance < camera.farthest)
    rng = np.random.default_rng(seed)
    new = rays[kept] * scale[kept, None]
    new *= (1 + rng.normal(0, 1, len(new)) * KINECT_NOISE * distance[kept])[:, None]  # z^2 along the ray
    columns = [new]
    if points.shape[1] >= 6:
        colours = np.array([np.median(points[table, 3:6], axis=0), FLOOR_RGB, WALL_RGB])
        columns.append(np.clip(colours[surface[kept]] + rng.normal(0, 0.02, (len(new), 3)), 0, 1))
        columns.append(np.zeros((len(new), points.shape[1] - 6)))
    added = np.hstack(columns).astype(points.dtype)
    return np.concatenate([points, added]), np.concatenate([truth, np.full(len(added), -1, dtype=truth.dtype)])


def pixels_of(xyz: np.ndarray, camera: Camera) -> np.ndarray:
    """Each point's pixel ``(column, row)`` in ``camera`` (points in its coordinates, ahead of it), ``(N, 2)``."""
    return np.stack([np.floor(camera.focal * xyz[:, 0] / xyz[:, 2] + camera.width / 2),
                     np.floor(camera.focal * xyz[:, 1] / xyz[:, 2] + camera.height / 2)], axis=1).astype(np.int64)


def pixel_rays(column: np.ndarray, row: np.ndarray, camera: Camera) -> np.ndarray:
    """The rays (z = 1) through the centres of the pixels (``column``, ``row``) of ``camera``, ``(N, 3)``."""
    return np.stack([(column + 0.5 - camera.width / 2) / camera.focal, (row + 0.5 - camera.height / 2) / camera.focal,
                     np.ones(len(column))], axis=1)
