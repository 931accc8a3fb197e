"""Objects of a LiDAR sweep turned about its sensor: each seen in other places of the same street.

A spinning LiDAR samples every azimuth alike. Turned about the up axis through the sensor, an object keeps
its range, the rows that meet it and the side it shows; only what stands round it changes: a hedge beside
it, a tree in front of it, a wall behind it. One sweep of a street holds a handful of vehicles and people;
turned to other azimuths, each is seen against the sweep's other surroundings, as a car parked elsewhere
in that street would be. ``python -m benchmarks.scenes --turned`` segments these copies of every sweep.

The copy stands where the ground lies near its own ground's level, lifted or lowered onto it, and holds no
other object's points. Then what the sensor would see is kept: points behind the copy on its rays are gone
(its shadow), and points of the copy behind nearer ones are gone. What hid part of the object in the sweep (a
person or a post in front of a car) goes with it, or the copy would show the occluder's shadow as an open gap.
The object's old place is left empty, as if it had driven away.

Moved farther (``farther=k``), the object is first pushed out along its bearing to k times its range across up,
with what hides part of it, and sampled as the sensor samples it there: its angular size shrinks k times while
the sensor's steps stay, so every k-th of its rows and every k-th of its points along them are kept, and the
spacing between its points grows k times. One sweep of a street holds its objects at the ranges where they stood
(our sweep's cars at 21-26 m); moved farther, they stand for the far cars other sweeps may hold. The ground under
the copy is the sweep's own there, seen at its own density.

Set beside another object (:func:`beside_copies`), the object is turned to every degree and kept where it stands
within :data:`BESIDE` of another object that is counted there: a car parked in a row, people walking by a car or
together. Turned to every tenth degree, no copy of our sweep's objects stands within 1.18 m of another.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, NamedTuple

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from openshape_ood.config import UP_AXES
from openshape_ood.segmentation.geometry import plane_basis, sensor_angles
from openshape_ood.segmentation.visibility import row_step

#: The turns (degrees about the up axis through the sensor) to which ``--turned`` moves each object.
TURNS = tuple(range(10, 360, 10))
#: The copy stands only where the ground lies within this (metres) of its own ground's level, and is lifted or
#: lowered onto it: at 20 m that moves it by under two of a 64-ring sensor's rows (0.4 degrees apart), so the
#: rows meeting it are nearly those of the sweep there.
GROUND_STEP = 0.3
#: The ground round an object is the lower envelope (this percentile of the height) of the background
#: points within GROUND_RADIUS metres of its centre across up, given at least GROUND_POINTS of them.
GROUND_PERCENTILE = 5
GROUND_RADIUS = 2.0
GROUND_POINTS = 20
#: In one cell of the sensor's image a point is hidden by another nearer by more than this (metres): beyond a
#: LiDAR's range noise (about 2 cm) and a car's own depth across a cell.
HIDDEN_MARGIN = 0.1
#: A copy stands beside another object where one of its points lies within this (metres) of one of the other's:
#: the gaps between cars parked in a row and between people walking together, three times the cluster radius
#: at our sweep's ranges (0.31-0.34 m at 22-25 m), where a neighbour can join an object or hide part of it.
BESIDE = 1.0
#: Two neighbouring returns lie on one surface where the angle at the farther one, between its ray and the line to
#: the nearer one, exceeds this (radians): Bogoslavskyi and Stachniss's criterion (IROS 2016), at their 10 degrees.
SURFACE_ANGLE = np.radians(10.0)
#: An object's returns whose elevations lie closer than this share of the sweep's row step are of one row: a
#: row's own elevations stray by a few hundredths of a degree across an object, a tenth of the 1/3-degree rows.
ROW_GAP_SHARE = 0.25
#: Returns further apart than this many of the object's steps, along a row or between rows, have a missing return
#: (a window, a dark coat) between them: a hole, not surface.
HOLE_STEPS = 1.5

#: The turns (degrees) at which a copy beside another is looked for: every degree, as the gaps the tenth
#: degrees leave are 3.8 m wide at 22 m.
BESIDE_TURNS = tuple(range(1, 360))


class TurnedCopy(NamedTuple):
    """A sweep with one object turned: its points, their ground truth (the object keeps its id), which object
    and by how many degrees."""

    points: np.ndarray
    truth: np.ndarray
    object_id: int
    turn: int
    sampling: int = 0  # moved farther by k: which of the k^2 choices of every k-th row and column, 0..k^2-1


def turned_copies(
    points: np.ndarray, truth: np.ndarray, up_axis: str, turns: Iterable[int] = TURNS, *, min_points: int,
    farther: int = 1, nearer: int = 1, near: float | None = None,
) -> Iterator[TurnedCopy]:
    """Each object of ``truth`` (ids >= 0) of a sweep in its sensor's frame (``points`` ``(N, C >= 3)``, xyz
    first, in metres, the sensor at the origin; ``up_axis`` its gravity axis) that keeps ``min_points`` points
    where it goes (the fewest of an object counted), turned by each of ``turns`` about the up axis, where the
    copy can stand (see the module's text). With ``farther`` k > 1 (an integer) it is first moved out to k times
    its range and thinned to every k-th row and column, which keeps about a k^2-th of its points: only objects
    of ``min_points`` times k^2 are moved so. Each of the k^2 ways of choosing the rows and columns gives a
    copy. With ``nearer`` k > 1 (an integer) it is first pulled in to a k-th of its range and sampled there by
    the sensor's rays cast on the surface its returns span (see the module's text), one copy a turn. With
    ``near`` (metres), only copies with a point within it of another object of ``min_points`` points are made:
    tested before the sensor's view is worked out, the costly step, which only takes points away."""
    for name, factor in (("farther", farther), ("nearer", nearer)):
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"{name} must be a whole number of times the range, 1 or more, not {factor!r}")
    if farther > 1 and nearer > 1:
        raise ValueError(f"a copy is moved either farther or nearer, not both (farther={farther}, nearer={nearer})")
    cloud = np.asarray(points)
    xyz = cloud[:, :3].astype(np.float64)
    up = np.eye(3)[UP_AXES.index(up_axis)]
    across = [k for k in range(3) if k != UP_AXES.index(up_axis)]
    height = xyz @ up
    background = truth < 0
    flat = cKDTree(xyz[:, across])
    steps = _image_steps(xyz, up)
    # The sweep's image, once: where each point lies in it and how far.
    angles, ranges = sensor_angles(xyz, up), np.linalg.norm(xyz, axis=1)
    cells = np.floor(angles / steps).astype(np.int64)
    objects, sizes = np.unique(truth[truth >= 0], return_counts=True)
    counted = objects[sizes >= min_points]
    for object_id in objects[sizes >= min_points * farther**2]:
        own = truth == object_id
        others = None
        if near is not None:  # the points of the other counted objects, which a copy must come near
            nearby = np.isin(truth, counted) & ~own
            if not nearby.any():
                continue
            others = cKDTree(xyz[nearby])
        ground = _ground(xyz[own].mean(axis=0)[across], flat, height, background)
        if ground is None:
            continue
        # What hides part of it goes with it: its shadow on the object would otherwise be a hole with nothing
        # in front, an open gap. Carried, it is background there (a person in front of a car is no object
        # where only the part of it before the car comes along).
        occluders = _occluders(angles, ranges, own, height > ground + GROUND_STEP, steps)
        carried = np.concatenate([np.flatnonzero(own), np.flatnonzero(occluders)])
        carried_truth = np.concatenate([truth[own], np.minimum(truth[occluders], -1)])
        carried_xyz = xyz[carried] + (farther / nearer - 1) * (xyz[own].mean(axis=0) - height[own].mean() * up)
        if nearer > 1:
            source, resampled = _cast_on_returns(xyz[carried], carried_xyz, int(own.sum()), up, steps)
            samplings = [(cloud[carried[source]], carried_truth[source], resampled)]
        else:
            rows_and_columns = _rows_and_columns(angles[carried], steps)
            # Each choice of every k-th row and column, once: the carried points it keeps (its own first).
            kept_samplings = [np.all(rows_and_columns % farther == divmod(sampling, farther), axis=1)
                              for sampling in range(farther**2)]
            samplings = [(cloud[carried[kept]], carried_truth[kept], carried_xyz[kept]) for kept in kept_samplings]
        elsewhere = background & ~own
        for turn, sampling in itertools.product(turns, range(len(samplings))):
            carried_points, carried_truth_here, sampled_xyz = samplings[sampling]
            own_count = int((carried_truth_here == object_id).sum())
            if own_count == 0:
                continue
            moved_xyz = Rotation.from_rotvec(up * np.radians(turn)).apply(sampled_xyz)
            copy = moved_xyz[:own_count]
            there = _ground(copy.mean(axis=0)[across], flat, height, elsewhere)
            if there is None or abs(there - ground) > GROUND_STEP:
                continue
            moved_xyz += (there - ground) * up
            low, high = copy.min(axis=0) - HIDDEN_MARGIN, copy.max(axis=0) + HIDDEN_MARGIN
            inside = np.all((xyz > low) & (xyz < high), axis=1) & (height > there + HIDDEN_MARGIN)
            if (inside & ~own & ~background).any():
                continue  # it would stand in another object
            if others is not None and not np.isfinite(others.query(copy, distance_upper_bound=near)[0]).any():
                continue
            rest = ~own & ~inside
            shadowed, hidden = _occlusion(cells[rest], ranges[rest], moved_xyz, up, steps)
            kept = np.flatnonzero(rest)[~shadowed]
            moved = carried_points[~hidden].copy()
            moved[:, :3] = moved_xyz[~hidden]
            yield TurnedCopy(
                np.concatenate([cloud[kept], moved]),
                np.concatenate([truth[kept], carried_truth_here[~hidden]]),
                int(object_id),
                int(turn),
                sampling,
            )


class BesideCopy(NamedTuple):
    """A sweep with one object turned to stand beside another: its points, their ground truth, which object, by how
    many degrees, the object it stands beside (``beside``) and the least distance between their points (``gap``, m)."""

    points: np.ndarray
    truth: np.ndarray
    object_id: int
    turn: int
    beside: int
    gap: float


def beside_copies(
    points: np.ndarray, truth: np.ndarray, up_axis: str, *, min_points: int, within: float = BESIDE
) -> Iterator[BesideCopy]:
    """The :func:`turned_copies` (at :data:`BESIDE_TURNS`) of a sweep whose turned object has a point within
    ``within`` metres of a point of another object that keeps ``min_points`` points in the copy (one the
    benchmark counts), each with the nearest such object and the gap to it."""
    for copy in turned_copies(points, truth, up_axis, BESIDE_TURNS, min_points=min_points, near=within):
        own = copy.truth == copy.object_id
        others, sizes = np.unique(copy.truth[(copy.truth >= 0) & ~own], return_counts=True)
        counted = np.isin(copy.truth, others[sizes >= min_points])
        if not counted.any() or not own.any():
            continue
        gaps, nearest = cKDTree(copy.points[counted, :3]).query(copy.points[own, :3])
        closest = int(np.argmin(gaps))
        if gaps[closest] <= within:
            beside = int(copy.truth[counted][nearest[closest]])
            yield BesideCopy(copy.points, copy.truth, copy.object_id, copy.turn, beside, float(gaps[closest]))


def _occluders(
    angles: np.ndarray, ranges: np.ndarray, own: np.ndarray, raised: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """The points (``angles`` in the sensor's image, ``ranges`` from it) in front of the object ``own`` (a mask)
    that hide part of it: within its box in the image (grown by a cell), nearer than its nearest point by more
    than :data:`HIDDEN_MARGIN`, and ``raised`` (above the ground round it, which lies in front of every object's
    foot)."""
    angles = _centred(angles, angles[own])
    low, high = angles[own].min(axis=0) - steps, angles[own].max(axis=0) + steps
    in_box = np.all((angles >= low) & (angles <= high), axis=1)
    return in_box & ~own & raised & (ranges < ranges[own].min() - HIDDEN_MARGIN)


def _rows_and_columns(angles: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Each point's row and column (``angles``: azimuth and elevation in the sensor's image) counted from the
    lowest row and from the middle azimuth of the points, in the sensor's ``steps``: an object's rings and its
    points along them."""
    offsets = _centred(angles, angles)
    offsets[:, 1] -= offsets[:, 1].min()
    return np.round(offsets / steps).astype(np.int64)


def _cast_on_returns(
    seen: np.ndarray, moved: np.ndarray, own: int, up: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The sensor's rays cast on the surface that returns ``seen`` (``(N, 3)``, where the sensor saw them; the first
    ``own`` the object's, the rest what hides part of it) span once ``moved`` (the same returns elsewhere): for each
    ray that meets it, the index of the return nearest the hit (whose truth and attributes the hit takes) and the
    hit, the object's hits first. The rays lie at the object's own steps between its rows and along them (``steps``,
    the sweep's, where it has no two rows or no two returns on a row), anchored at its lowest row."""
    angles = sensor_angles(seen, up)
    angles = _centred(angles, angles[:own])
    rows = _rows(angles[:, 1], ROW_GAP_SHARE * steps[1])
    along, between = _own_steps(angles[:own], rows[:own], steps)
    triangles = _surface(seen, angles, rows, np.array([along, between]))
    moved_angles = sensor_angles(moved, up)
    middle = _mean_azimuth(moved_angles[:own])
    moved_angles = _centred(moved_angles, moved_angles[:own])
    lowest = angles[:own, 1][rows[:own] == rows[:own].min()].mean()
    low = (moved_angles.min(axis=0) - [0.0, lowest]) / [along, between]
    high = (moved_angles.max(axis=0) - [0.0, lowest]) / [along, between]
    azimuths = middle + along * np.arange(np.floor(low[0]), np.ceil(high[0]) + 1)
    elevations = lowest + between * np.arange(np.floor(low[1]), np.ceil(high[1]) + 1)
    azimuth, elevation = (a.ravel()[:, None] for a in np.meshgrid(azimuths, elevations))
    basis = plane_basis(up)
    rays = np.cos(elevation) * (np.cos(azimuth) * basis[0] + np.sin(azimuth) * basis[1]) + np.sin(elevation) * up
    met, distance = _first_hits(rays, moved[triangles])
    hit = met >= 0
    points = rays[hit] * distance[hit, None]
    corners = triangles[met[hit]]
    nearest = np.argmin(np.linalg.norm(moved[corners] - points[:, None], axis=2), axis=1)
    source = corners[np.arange(len(corners)), nearest]
    order = np.argsort(source >= own, kind="stable")  # the object's own hits first
    return source[order], points[order]


def _rows(elevations: np.ndarray, gap: float) -> np.ndarray:
    """Each return's row (0 the lowest): its ``elevations`` sorted and cut where two lie more than ``gap`` apart."""
    order = np.argsort(elevations)
    rows = np.empty(len(elevations), dtype=np.int64)
    rows[order] = np.concatenate([[0], np.cumsum(np.diff(elevations[order]) > gap)])
    return rows


def _own_steps(angles: np.ndarray, rows: np.ndarray, steps: np.ndarray) -> tuple[float, float]:
    """An object's steps (radians) along its rows and between them: the median gaps between neighbouring returns
    of a row and between its rows' elevations, the sweep's ``steps`` where there are none."""
    members = [rows == row for row in np.unique(rows)]
    along = np.concatenate([np.diff(np.sort(angles[row, 0])) for row in members])
    levels = np.array([angles[row, 1].mean() for row in members])
    along, between = along[along > 0], np.diff(levels)
    return (float(np.median(along)) if len(along) else float(steps[0]),
            float(np.median(between)) if len(between) else float(steps[1]))


def _surface(xyz: np.ndarray, angles: np.ndarray, rows: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Triangles ``(T, 3)`` (indices into ``xyz``) joining each row's returns to the next row's as a range image
    does, in order of azimuth (``angles``, centred), kept where each side joins one surface: its two returns no
    further apart in azimuth or elevation than :data:`HOLE_STEPS` of the ``steps`` (along a row, between rows)
    and at an angle above :data:`SURFACE_ANGLE` (:func:`_one_surface`)."""
    triangles = []
    levels = np.unique(rows)
    for lower, upper in zip(levels[:-1], levels[1:]):
        low = np.flatnonzero(rows == lower)
        high = np.flatnonzero(rows == upper)
        low, high = low[np.argsort(angles[low, 0])], high[np.argsort(angles[high, 0])]
        i = j = 0
        # Two rows zipped in order of azimuth: each step closes a triangle on the return that comes next.
        while i < len(low) - 1 or j < len(high) - 1:
            if j == len(high) - 1 or (i < len(low) - 1 and angles[low[i + 1], 0] <= angles[high[j + 1], 0]):
                triangles.append((low[i], low[i + 1], high[j]))
                i += 1
            else:
                triangles.append((low[i], high[j + 1], high[j]))
                j += 1
    triangles = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    kept = np.ones(len(triangles), dtype=bool)
    for a, b in ((0, 1), (1, 2), (0, 2)):
        first, second = triangles[:, a], triangles[:, b]
        kept &= np.all(np.abs(angles[first] - angles[second]) <= HOLE_STEPS * steps, axis=1)
        kept &= _one_surface(xyz[first], xyz[second])
    return triangles[kept]


def _one_surface(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Whether two returns (rows of ``first`` and ``second``, the sensor at the origin) lie on one surface: the
    angle at the farther, between its ray and the line to the nearer, exceeds :data:`SURFACE_ANGLE`."""
    one, two = np.linalg.norm(first, axis=1), np.linalg.norm(second, axis=1)
    far, close = np.maximum(one, two), np.minimum(one, two)
    between = np.arccos(np.clip(np.einsum("ij,ij->i", first, second) / (one * two), -1.0, 1.0))
    return np.arctan2(close * np.sin(between), far - close * np.cos(between)) > SURFACE_ANGLE


def _first_hits(rays: np.ndarray, triangles: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The first of ``triangles`` ``(T, 3, 3)`` that each ray from the origin (``rays``, unit rows) meets (-1 for
    none) and how far along it (Moller and Trumbore's test, 1997). Written here: trimesh's ray queries need rtree
    or embree, which the project does not install, and a sweep's object is a few hundred triangles."""
    met, distance = np.full(len(rays), -1, dtype=np.int64), np.full(len(rays), np.inf)
    for start in range(0, len(rays), chunk):
        along = _distances(rays[start : start + chunk], triangles)
        if along.shape[1]:
            first = np.argmin(along, axis=1)
            nearest = along[np.arange(len(first)), first]
            met[start : start + chunk] = np.where(np.isfinite(nearest), first, -1)
            distance[start : start + chunk] = nearest
    return met, distance


def _distances(rays: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(R, T)``: how far along each ray from the origin it meets each triangle, infinite where it misses."""
    corner, edge1, edge2 = triangles[:, 0], triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    normal_to_ray = np.cross(rays[:, None, :], edge2[None])
    determinant = np.einsum("rtk,tk->rt", normal_to_ray, edge1)
    facing = np.abs(determinant) > 1e-12
    inverse = np.where(facing, 1.0 / np.where(facing, determinant, 1.0), 0.0)
    u = np.einsum("rtk,tk->rt", normal_to_ray, -corner) * inverse
    across = np.cross(-corner, edge1)
    v = np.einsum("rk,tk->rt", rays, across) * inverse
    along_ray = np.einsum("tk,tk->t", edge2, across)[None] * inverse
    meets = facing & (u >= 0) & (v >= 0) & (u + v <= 1) & (along_ray > 0)
    return np.where(meets, along_ray, np.inf)


def _centred(angles: np.ndarray, around: np.ndarray) -> np.ndarray:
    """``angles`` (azimuth and elevation) with the azimuth measured from the mean direction of ``around``'s, in
    (-pi, pi]: no seam across the points round it."""
    middle = _mean_azimuth(around)
    return np.stack([np.angle(np.exp(1j * (angles[:, 0] - middle))), angles[:, 1]], axis=1)


def _mean_azimuth(angles: np.ndarray) -> float:
    """The mean direction (radians) of the azimuths of ``angles`` (azimuth and elevation): no seam at +-pi."""
    return float(np.arctan2(np.sin(angles[:, 0]).mean(), np.cos(angles[:, 0]).mean()))


def _ground(centre: np.ndarray, flat: cKDTree, height: np.ndarray, background: np.ndarray) -> float | None:
    """The ground's height round ``centre`` (across up): the lower envelope of the background points there."""
    near = np.asarray(flat.query_ball_point(centre, GROUND_RADIUS), dtype=np.int64)
    near = near[background[near]]
    return None if len(near) < GROUND_POINTS else float(np.percentile(height[near], GROUND_PERCENTILE))


def _image_steps(xyz: np.ndarray, up: np.ndarray) -> np.ndarray:
    """The sensor's steps (radians) along its rows and between them: the median angle from a direction to its
    nearest other (along a LiDAR's rows), measured on 2,000 points at an even stride, and the row step that the
    segmentation measures (:func:`openshape_ood.segmentation.visibility.row_step`)."""
    directions = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    probes = directions[:: max(1, len(directions) // 2000)]
    along = float(np.median(cKDTree(directions).query(probes, k=2)[0][:, 1]))
    return np.array([along, row_step(xyz, up, along)])


def _occlusion(
    scene_cells: np.ndarray, scene_range: np.ndarray, copy: np.ndarray, up: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which scene points (their ``scene_cells`` in the sensor's image and ``scene_range``) lie behind the ``copy``
    and which copy points behind scene points: a depth buffer on the image, in cells of its ``steps`` (along a
    row, between rows); behind is farther than the nearest point of the other in the cell by more than
    :data:`HIDDEN_MARGIN`."""
    copy_cells = np.floor(sensor_angles(copy, up) / steps).astype(np.int64)
    cells, index = np.unique(np.concatenate([scene_cells, copy_cells]), axis=0, return_inverse=True)
    index = index.ravel()
    scene_index, copy_index = index[: len(scene_cells)], index[len(scene_cells) :]
    copy_range = np.linalg.norm(copy, axis=1)
    nearest_scene, nearest_copy = np.full(len(cells), np.inf), np.full(len(cells), np.inf)
    np.minimum.at(nearest_scene, scene_index, scene_range)
    np.minimum.at(nearest_copy, copy_index, copy_range)
    shadowed = scene_range > nearest_copy[scene_index] + HIDDEN_MARGIN
    hidden = copy_range > nearest_scene[copy_index] + HIDDEN_MARGIN
    return shadowed, hidden
