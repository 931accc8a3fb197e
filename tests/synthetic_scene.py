"""Synthetic scans for the scene tests and benchmark: real meshes standing on a floor before a wall.

``make_synthetic_scene()`` samples the sample meshes of ``tests/data/real_samples`` on their
surface, scales them to everyday sizes (metres), stands them upright on a floor (y = 0,
Y up) in front of a wall (z = 0), drops what a sensor could not see (the floor under each
object, the objects' flat undersides), and adds Gaussian sensor noise to every point.
It returns the points and the true object of each point (-1 for floor and wall).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.path import Path as Polygon
from scipy.spatial import ConvexHull

from openshape_ood import load_points

MESHES = Path(__file__).parent / "data" / "real_samples" / "mikedh_trimesh"
# file, its up axis, largest side in metres, (x, z) of its centre on the floor.
OBJECTS = (
    ("rabbit.obj", "y", 0.45, (-1.0, 0.45)),
    ("teapot.stl", "z", 0.35, (-0.35, 0.40)),
    ("Duck.glb", "y", 0.40, (0.30, 0.45)),
    ("bunny.ply", "y", 0.30, (0.95, 0.40)),
    ("fuze.ply", "z", 0.30, (-0.70, 1.05)),
    ("ballA.off", "y", 0.25, (0.65, 1.10)),
)
FLOOR = ((-1.6, 1.6), (0.05, 1.6))  # x and z ranges, metres
WALL = ((-1.6, 1.6), (0.0, 1.5))  # x and y ranges, at z = 0


def make_synthetic_scene(
    spacing: float = 0.01, noise: float = 0.002, seed: int = 0, objects=OBJECTS
) -> tuple[np.ndarray, np.ndarray]:
    """A scan ``(N, 3)`` with about one point per ``spacing`` squared metres, and its labels ``(N,)``.

    ``noise`` is the standard deviation (metres) of the Gaussian noise on every coordinate.
    Object ``i`` of ``objects`` has label ``i``.
    """
    rng = np.random.default_rng(seed)
    parts, labels, bases = [], [], []
    for label, (name, up, size, (x, z)) in enumerate(objects):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fuze.ply's texture is not in the repository: no colour needed
            sides = np.ptp(load_points(MESHES / name, num_samples=1000, seed=seed)[:, :3], axis=0)
            scale = size / sides.max()
            count = int(_surface_area(sides * scale) / spacing**2)
            cloud = load_points(MESHES / name, num_samples=count, seed=seed)[:, :3].astype(np.float64)
        if up == "z":  # turn Z up into Y up (right-handed)
            cloud = cloud[:, [0, 2, 1]] * [1, 1, -1]
        cloud = (cloud - cloud.min(axis=0)) * scale
        cloud += [x - np.ptp(cloud[:, 0]) / 2, 0.0, z - np.ptp(cloud[:, 2]) / 2]
        cloud = cloud[cloud[:, 1] > 0.002]  # the underside on the floor is hidden
        parts.append(cloud)
        labels.append(np.full(len(cloud), label))
        bases.append(cloud[cloud[:, 1] < 0.02][:, [0, 2]])
    floor = _sheet(rng, FLOOR, spacing)
    floor = np.stack([floor[:, 0], np.zeros(len(floor)), floor[:, 1]], axis=1)
    hidden = np.zeros(len(floor), dtype=bool)
    for base in bases:  # the floor an object stands on is hidden under it
        hidden |= _inside_hull(floor[:, [0, 2]], base)
    wall = _sheet(rng, WALL, spacing)
    wall = np.stack([wall[:, 0], wall[:, 1], np.zeros(len(wall))], axis=1)
    points = np.concatenate(parts + [floor[~hidden], wall])
    truth = np.concatenate(labels + [np.full(int((~hidden).sum()) + len(wall), -1)])
    points += rng.normal(0.0, noise, points.shape)
    order = rng.permutation(len(points))
    return points[order].astype(np.float32), truth[order]


def standing_z_up(points: np.ndarray) -> np.ndarray:
    """The composed scene of :func:`make_synthetic_scene` (Y up) turned to stand with Z up (right-handed), as the
    tests and the sweep's rule (``benchmarks.scenes_sweep.composed_worst_iou``) segment it with ``up="z"``."""
    return points[:, [0, 2, 1]] * np.array([1, -1, 1], dtype=np.float32)


def _sheet(rng: np.random.Generator, ranges, spacing: float) -> np.ndarray:
    (a0, a1), (b0, b1) = ranges
    count = int((a1 - a0) * (b1 - b0) / spacing**2)
    return rng.uniform([a0, b0], [a1, b1], (count, 2))


def _surface_area(sides: np.ndarray) -> float:
    """Rough visible surface area of a shape: half the surface of its bounding box."""
    dx, dy, dz = sides
    return dx * dy + dy * dz + dx * dz


def _inside_hull(points: np.ndarray, outline: np.ndarray) -> np.ndarray:
    hull = ConvexHull(outline)
    return Polygon(outline[hull.vertices]).contains_points(points)


def make_street(cars: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A flat road 20 m wide along a 10 m high facade with ``cars`` cars (4.5 x 1.8 x 1.5 m boxes,
    surfaces only) parked 8 m apart along it, 60 points per square metre of road (about 18,000 points
    per car); and the car each point belongs to (-1: road, facade)."""
    rng = np.random.default_rng(seed)
    length = 8.0 * cars + 16.0
    count = int(60 * length * 20)
    road = np.column_stack([rng.uniform(0, length, count), rng.uniform(-10, 10, count), np.zeros(count)])
    facade = np.column_stack([rng.uniform(0, length, count // 2), np.full(count // 2, 10.0), rng.uniform(0, 10, count // 2)])
    parts, owner = [road, facade], [np.full(count + count // 2, -1)]
    half = np.array([2.25, 0.9, 0.75])
    for index in range(cars):
        car = rng.uniform(-half, half, (3000, 3))
        face = rng.integers(0, 3, len(car))
        # Sides and roof, what a scanner passing by sees.
        car[np.arange(len(car)), face] = np.where((rng.random(len(car)) < 0.5) & (face < 2), -1, 1) * half[face]
        parts.append(car + [10.0 + 8.0 * index, 3.0, 0.3 + half[2]])
        owner.append(np.full(len(car), index))
    return np.concatenate(parts), np.concatenate(owner)
