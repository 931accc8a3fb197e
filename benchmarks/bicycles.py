"""A model bicycle put into a LiDAR sweep and seen by the sweep's own beams: a class the sweep lacks.

SemanticKITTI counts parked bicycles as objects, and the streets kept out of sight may hold them. The sweep we
have holds one bicycle, of one point. A bicycle's frame and wheels are a few centimetres deep. So the street rules
that tell a fence panel or a sign from a vehicle by its depth judge a bicycle too: the street's sheet ratio
(``clustering._FLAT``) and the sheet's half voxel (``geometry.SHEET``). A rule weighed on the sweep alone cannot
see what it costs them. ``python -m benchmarks.scenes --bicycles N`` puts :func:`bicycle_mesh` at ``N`` free
places of each sweep (:func:`free_places`), turned to each of :data:`HEADINGS`, and segments each copy.

Each of the sweep's returns whose beam meets the bicycle before it is moved onto the bicycle: to the first
triangle the beam meets (Moller and Trumbore's test, as :mod:`benchmarks.turned_objects` casts the sensor's rays),
with the sensor's range noise (:data:`RANGE_NOISE`). So the bicycle is sampled by the sweep's own beams, their
dropouts included, and what stood behind it becomes its shadow. A return nearer than the bicycle on its beam hides
that part of it.

It is a model, not data. Spokes, cables, mudguards, a basket or a lock change what a sensor sees, and a bicycle
leaning on a wall, a post or another bicycle is a harder case that this does not make.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from openshape_ood.config import UP_AXES
from openshape_ood.segmentation.geometry import sensor_angles

from .turned_objects import GROUND_STEP, _centred, _first_hits, _ground, _image_steps

#: The bicycle's class in the benchmark's reports: a model put in, not an object of the sweep's truth.
NAME = "bicycle (model)"
#: The bicycle's headings (degrees) between its length and the direction across the line of sight: 0 is seen
#: side on, 90 end on. A bicycle seen from its other side, or from behind, shows the sensor the same.
HEADINGS = (0, 30, 60, 90)
#: One standard deviation (m) of the range noise added along each beam: the accuracy Velodyne gives for the
#: HDL-64E that took KITTI's sweeps (under 2 cm).
RANGE_NOISE = 0.02
#: A common adult bicycle (a 700c hybrid), in metres: x along its length (forward), y across, z up, the ground
#: at z = 0. Its wheels: a 622 mm rim with a 32 mm tyre, 1.04 m apart.
WHEEL_RADIUS = 0.343
TYRE_RADIUS = 0.016
WHEEL_X = 0.52
#: The frame's joints and the tubes between them, each (start, end, radius).
_REAR_HUB, _FRONT_HUB = (-WHEEL_X, 0.0, WHEEL_RADIUS), (WHEEL_X, 0.0, WHEEL_RADIUS)
_BOTTOM_BRACKET, _SEAT_CLUSTER = (-0.05, 0.0, 0.28), (-0.20, 0.0, 0.80)
_HEAD_TOP, _HEAD_BOTTOM = (0.38, 0.0, 0.86), (0.42, 0.0, 0.70)
TUBES = (
    (_BOTTOM_BRACKET, _SEAT_CLUSTER, 0.016),  # seat tube
    (_BOTTOM_BRACKET, _HEAD_BOTTOM, 0.018),  # down tube
    (_SEAT_CLUSTER, _HEAD_TOP, 0.016),  # top tube
    (_BOTTOM_BRACKET, _REAR_HUB, 0.010),  # chain stay
    (_SEAT_CLUSTER, _REAR_HUB, 0.009),  # seat stay
    (_HEAD_BOTTOM, _FRONT_HUB, 0.014),  # fork
    (_HEAD_BOTTOM, _HEAD_TOP, 0.020),  # head tube
    (_SEAT_CLUSTER, (-0.24, 0.0, 0.97), 0.014),  # seat post
    (_HEAD_TOP, (0.42, 0.0, 1.0), 0.014),  # stem
    ((0.42, -0.29, 1.0), (0.42, 0.29, 1.0), 0.013),  # a flat handlebar, 0.58 m wide
    ((-0.05, -0.07, 0.28), (0.12, -0.07, 0.28), 0.012),  # cranks
    ((-0.05, 0.07, 0.28), (0.12, 0.07, 0.28), 0.012),
)
#: Boxes, each (centre, extents): the saddle and the pedals.
BOXES = (
    ((-0.22, 0.0, 1.0), (0.27, 0.14, 0.06)),
    ((0.12, -0.14, 0.28), (0.09, 0.10, 0.025)),
    ((0.12, 0.14, 0.28), (0.09, 0.10, 0.025)),
)
#: Nothing may stand within this (m, across up) of a place: the bicycle's length, so that it stands clear of
#: anything by at least half its length, more than twice the cluster radius at 20 m (0.31-0.34 m on our sweep).
CLEARANCE = 1.75
#: Places at least this far apart (m, across up): two bicycles' lengths, so that no two copies show one spot.
APART = 2 * CLEARANCE


class BicycleCopy(NamedTuple):
    """A sweep with a bicycle put in: its points, their ground truth (the bicycle ``object_id``), its range across up
    (m) and its heading (degrees, :data:`HEADINGS`)."""

    points: np.ndarray
    truth: np.ndarray
    object_id: int
    range: float
    heading: int


def bicycle_mesh() -> trimesh.Trimesh:
    """The model bicycle (:data:`TUBES`, :data:`BOXES`, the wheels as tori), standing on z = 0 with its length
    along x, centred between its hubs."""
    parts = []
    for x in (-WHEEL_X, WHEEL_X):
        wheel = trimesh.creation.torus(WHEEL_RADIUS, TYRE_RADIUS, major_sections=48, minor_sections=8)
        wheel.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1.0, 0.0, 0.0]))
        wheel.apply_translation([x, 0.0, WHEEL_RADIUS])
        parts.append(wheel)
    parts += [trimesh.creation.cylinder(radius, segment=[start, end], sections=12) for start, end, radius in TUBES]
    parts += [trimesh.creation.box(extents, trimesh.transformations.translation_matrix(centre))
              for centre, extents in BOXES]  # fmt: skip
    return trimesh.util.concatenate(parts)


def free_places(
    points: np.ndarray, truth: np.ndarray, up_axis: str, count: int, *, min_points: int, seed: int = 0
) -> list[np.ndarray]:
    """Up to ``count`` places (points in the sweep's frame, on its ground: the median height of the returns within
    half the bicycle's length) where the bicycle, seen side on, shows ``min_points`` returns or more, nothing stands
    higher than ``GROUND_STEP`` above the ground within :data:`CLEARANCE`, and no other place lies within
    :data:`APART`. Drawn among the background returns with a weight of their range cubed across up: a spinning
    LiDAR's returns on flat ground thin out as the cube of the range, so the places lie evenly over the ground
    seen."""
    return _free_places(_Sweep(points, truth, up_axis), count, min_points, seed)


class _Sweep:
    """What the bicycle's places and beams need of a sweep, worked out once: its points (float64), up and the
    axes across it, heights, background, a tree across up, the sensor's image and steps, and the model."""

    def __init__(self, points: np.ndarray, truth: np.ndarray, up_axis: str):
        self.xyz = np.asarray(points)[:, :3].astype(np.float64)
        self.up = np.eye(3)[UP_AXES.index(up_axis)]
        self.across = [k for k in range(3) if k != UP_AXES.index(up_axis)]
        self.height, self.background = self.xyz @ self.up, np.asarray(truth) < 0
        self.flat = cKDTree(self.xyz[:, self.across])
        self.angles, self.steps = sensor_angles(self.xyz, self.up), _image_steps(self.xyz, self.up)
        self.mesh = bicycle_mesh()


def _free_places(sweep: _Sweep, count: int, min_points: int, seed: int) -> list[np.ndarray]:
    """:func:`free_places` of a :class:`_Sweep`."""
    candidates = np.flatnonzero(sweep.background)
    weights = np.linalg.norm(sweep.xyz[candidates][:, sweep.across], axis=1) ** 3
    # A weighted draw without replacement (Efraimidis and Spirakis, 2006): the order of exponential keys over weights
    # (a return at the sensor itself, of weight 0, comes last).
    with np.errstate(divide="ignore"):
        order = candidates[np.argsort(np.random.default_rng(seed).exponential(size=len(candidates)) / weights)]
    places: list[np.ndarray] = []
    for index in order:
        if len(places) == count:
            break
        spot = sweep.xyz[index, sweep.across]
        if any(np.linalg.norm(spot - place[sweep.across]) < APART for place in places):
            continue
        ground = _ground(spot, sweep.flat, sweep.height, sweep.background)
        if ground is None or sweep.height[index] > ground + GROUND_STEP:
            continue  # no ground found round it, or the return is not on it
        near = np.asarray(sweep.flat.query_ball_point(spot, CLEARANCE), dtype=np.int64)
        if (sweep.height[near] > ground + GROUND_STEP).any():
            continue  # something stands there
        # It stands on the surface under it: the returns within half its length (the lower envelope round it
        # lies on the road below a pavement's kerb).
        under = near[np.linalg.norm(sweep.xyz[near][:, sweep.across] - spot, axis=1) <= CLEARANCE / 2]
        place = sweep.xyz[index] + (np.median(sweep.height[under]) - sweep.height[index]) * sweep.up
        if len(_hits(sweep, place, 0)[0]) >= min_points:
            places.append(place)
    return places


def bicycle_copies(
    points: np.ndarray, truth: np.ndarray, up_axis: str, places: int, *, object_id: int, min_points: int,
    seed: int = 0, noise: float = RANGE_NOISE,
) -> Iterator[BicycleCopy]:
    """The sweep (``points`` ``(N, C >= 3)`` in its sensor's frame, xyz first, the sensor at the origin; ``truth``
    its objects' ids, below 0 background; ``up_axis`` its gravity axis) with the model bicycle (id ``object_id``,
    which no object of ``truth`` may have) standing at each of :func:`free_places` (``places`` of them, drawn
    with ``seed``), turned to each of :data:`HEADINGS`, seen by the sweep's own beams with range ``noise`` (m).
    A copy whose bicycle shows fewer than ``min_points`` returns is not made."""
    cloud, truth = np.asarray(points), np.asarray(truth)
    if (truth == object_id).any():
        raise ValueError(f"object_id {object_id} is an object of the sweep already; give the bicycle an id of its own")
    sweep, rng = _Sweep(cloud, truth, up_axis), np.random.default_rng(seed)
    for place in _free_places(sweep, places, min_points, seed):
        for heading in HEADINGS:
            beams, distance = _hits(sweep, place, heading)
            if len(beams) < min_points:
                continue
            moved = cloud.copy()
            ranges = np.linalg.norm(sweep.xyz[beams], axis=1)
            moved[beams, :3] = sweep.xyz[beams] * ((distance + rng.normal(0.0, noise, len(beams))) / ranges)[:, None]
            marked = truth.copy()
            marked[beams] = object_id
            yield BicycleCopy(moved, marked, int(object_id), float(np.linalg.norm(place[sweep.across])), int(heading))


def _hits(sweep: _Sweep, place: np.ndarray, heading: float) -> tuple[np.ndarray, np.ndarray]:
    """The returns of the ``sweep`` whose beams meet the model bicycle standing at ``place`` turned to ``heading``
    degrees (:data:`HEADINGS`) before them, and how far along each beam it meets it (m): their indices and the
    distances. Only the returns within the bicycle's box in the sensor's image (grown by one of the sensor's
    steps) are cast."""
    up = sweep.up
    sight = place - (place @ up) * up  # the line of sight across up
    sight /= np.linalg.norm(sight)
    turn = np.radians(heading)
    length = np.cos(turn) * np.cross(up, sight) + np.sin(turn) * sight
    # The model's x (its length), y (across it) and z (up) in the sweep's frame.
    frame = np.stack([length, np.cross(up, length), up], axis=1)
    triangles = sweep.mesh.triangles @ frame.T + place
    corners = sensor_angles(triangles.reshape(-1, 3), up)
    angles = _centred(sweep.angles, corners)
    corners = _centred(corners, corners)
    low, high = corners.min(axis=0) - sweep.steps, corners.max(axis=0) + sweep.steps
    window = np.flatnonzero(np.all((angles >= low) & (angles <= high), axis=1))
    ranges = np.linalg.norm(sweep.xyz[window], axis=1)
    met, distance = _first_hits(sweep.xyz[window] / ranges[:, None], triangles)
    before = (met >= 0) & (distance < ranges)
    return window[before], distance[before]
