"""benchmarks.pushed_objects: objects of a ray-cast Kinect frame over a table pushed against each other."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from benchmarks import pushed_objects as pushed
from benchmarks.virtual_frames import KINECT, pixels_of

# A Kinect pitched 40 degrees down, the table top 0.5 m below it. In level coordinates (x right, y down, z ahead)
# the table is seen from z = 0.6 to 1.0 m with x within 0.3 m.
PITCH = np.radians(40)
TO_LEVEL = np.array([[1, 0, 0], [0, np.cos(PITCH), np.sin(PITCH)], [0, -np.sin(PITCH), np.cos(PITCH)]])
TABLE_Y = 0.5
UP = TO_LEVEL.T @ [0.0, -1.0, 0.0]  # the table's normal in the camera's coordinates, towards the camera


def frame(*boxes):
    """The frame's points (xyz, and a grey RGB) and truth: each pixel's ray meets the nearest of the table and
    the ``boxes`` (level coordinates ``(x0, x1, y0, y1, z0, z1)``, object ids 0, 1, ...); -1 is the table."""
    row, column = np.divmod(np.arange(KINECT.width * KINECT.height), KINECT.width)
    rays = np.stack([(column + 0.5 - KINECT.width / 2) / KINECT.focal, (row + 0.5 - KINECT.height / 2) / KINECT.focal,
                     np.ones(len(row))], axis=1)  # fmt: skip
    level = rays @ TO_LEVEL.T
    reach = np.full(len(rays), np.inf)
    truth = np.full(len(rays), -2)
    with np.errstate(divide="ignore", invalid="ignore"):
        on_table = TABLE_Y / level[:, 1]
        hit = level * on_table[:, None]
        table = (on_table > 0) & (np.abs(hit[:, 0]) <= 0.3) & (hit[:, 2] >= 0.6) & (hit[:, 2] <= 1.0)
        reach[table], truth[table] = on_table[table], -1
        for k, bounds in enumerate(boxes):
            low, high = np.array(bounds[0::2]), np.array(bounds[1::2])
            near, far = (low - 0) / level, (high - 0) / level
            enter, leave = np.minimum(near, far).max(axis=1), np.maximum(near, far).min(axis=1)
            meets = (enter <= leave) & (enter > 0) & (enter < reach)
            reach[meets], truth[meets] = enter[meets], k
    seen = truth >= -1
    points = np.c_[rays[seen] * reach[seen, None], np.full((seen.sum(), 3), 0.5)].astype(np.float32)
    return points, truth[seen]


def box(x0: float, z0: float, side: float = 0.08, height: float = 0.08, on: float = TABLE_Y):
    """A box of ``side`` across and ahead from (x0, z0) standing on the level ``on`` (y, down)."""
    return (x0, x0 + side, on - height, on, z0, z0 + side)


def gap_across(first: np.ndarray, second: np.ndarray) -> float:
    """The least distance across the table between two sets of points."""
    basis = pushed.plane_basis(UP)
    return float(cKDTree(second[:, :3] @ basis.T).query(first[:, :3] @ basis.T)[0].min())


def pixel_of(points: np.ndarray) -> np.ndarray:
    """Each point's pixel as one index (row * width + column)."""
    return pixels_of(points[:, :3].astype(np.float64), KINECT) @ [1, KINECT.width]


def test_each_object_is_pushed_across_the_table_until_it_touches_the_other():
    points, truth = frame(box(-0.15, 0.75), box(0.01, 0.75))  # side by side, 8 cm apart
    copies = list(pushed.pushed_copies(points, truth, UP))
    assert {(copy.object_id, copy.towards) for copy in copies} == {(0, 1), (1, 0)}
    for copy in copies:
        moved, still = copy.points[copy.truth == copy.object_id], copy.points[copy.truth == copy.towards]
        assert gap_across(moved, still) < pushed.CONTACT + 0.002  # touching, give or take a pixel (1.7 mm here)
        assert copy.distance >= 0.08 - pushed.CONTACT - pushed.PUSH_STEP  # the gap closed to a touch
        before = {tuple(point) for point in points[truth == copy.towards].tolist()}
        assert all(tuple(point) in before for point in still.tolist())  # the neighbour stays (part may be hidden)
        shift = moved[:, :3].mean(axis=0) - points[truth == copy.object_id, :3].mean(axis=0)
        assert abs(shift @ UP) < 0.003  # across the table, not off it
        assert np.linalg.norm(shift) == pytest.approx(copy.distance, abs=0.005)
    # Pushed straight at each other (the nearest of the directions, 30 degrees apart) the gap closes soonest.
    for object_id in (0, 1):
        shortest = min(copy.distance for copy in copies if copy.object_id == object_id)
        assert shortest <= (0.08 - pushed.CONTACT) / np.cos(np.radians(15)) + pushed.PUSH_STEP


def test_a_copy_is_a_frame_with_one_point_per_pixel_and_the_table_in_the_old_place():
    points, truth = frame(box(-0.15, 0.75), box(0.01, 0.75))
    level = np.median(points[truth == -1, :3] @ UP)
    for copy in pushed.pushed_copies(points, truth, UP):
        pixels = pixel_of(copy.points)
        assert len(np.unique(pixels)) == len(pixels)  # what the camera sees: one surface per pixel
        old = np.setdiff1d(pixel_of(points[truth == copy.object_id]), pixel_of(copy.points[copy.truth >= 0]))
        assert len(old) > 100
        table = np.isin(pixels, old)
        assert table.sum() == len(old) and (copy.truth[table] == -1).all()  # the table shows where it stood
        np.testing.assert_allclose(copy.points[table, :3] @ UP, level, atol=1e-5)
        np.testing.assert_allclose(copy.points[table, 3:], 0.5)  # in the table's colour
        # The table behind its new place is hidden: it held those pixels before the push.
        new = pixel_of(copy.points[copy.truth == copy.object_id])
        assert np.isin(new, pixel_of(points[truth == -1])).sum() > 100
        # It shows as a solid patch: no pixel between two of its own is left to the table behind it or empty.
        image = np.zeros(KINECT.width * KINECT.height, dtype=bool)
        image[new] = True
        image = image.reshape(KINECT.height, KINECT.width)
        between = (image[1:-1, :-2] & image[1:-1, 2:]) | (image[:-2, 1:-1] & image[2:, 1:-1])
        assert not (between & ~image[1:-1, 1:-1]).any()


def test_objects_touching_stacked_or_small_are_not_pushed():
    touching = frame(box(-0.15, 0.75), box(-0.07, 0.75))
    assert list(pushed.pushed_copies(*touching, UP)) == []
    # A box on a box beside a third one: only the third is pushed, into the stack's lower box.
    stacked = frame(box(-0.15, 0.75), box(0.03, 0.75), box(-0.14, 0.76, side=0.06, on=TABLE_Y - 0.08))
    assert {(copy.object_id, copy.towards) for copy in pushed.pushed_copies(*stacked, UP)} == {(1, 0)}
    apart = frame(box(-0.15, 0.75), box(0.01, 0.75))
    fewest = (apart[1] == 1).sum()
    assert {copy.object_id for copy in pushed.pushed_copies(*apart, UP, min_points=fewest + 1)} == {0}


def test_an_object_farther_than_the_reach_is_not_reached():
    far_apart = frame(box(-0.28, 0.75), box(0.20, 0.75))  # 40 cm apart
    assert list(pushed.pushed_copies(*far_apart, UP)) == []
