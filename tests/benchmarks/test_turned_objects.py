"""benchmarks.turned_objects: an object of a sweep turned about the sensor, checked on a ground of rays and boxes."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import turned_objects as turned

SENSOR_HEIGHT = 1.7  # metres above the ground, z up, the sensor at the origin
COUNTED = 25  # the fewest points of an object the benchmark counts (its --min-gt-points)


def ground_of_rays(height_at=lambda x, y: -SENSOR_HEIGHT, rows: int = 40, columns: int = 720):
    """Where a sensor's rays (elevations of -4 to -30 degrees, azimuths every half degree) meet a ground whose
    height (z, the sensor at the origin) is ``height_at(x, y)``; found for each ray by a few fixed-point steps."""
    azimuth, elevation = np.meshgrid(
        np.radians(np.arange(columns) * 360 / columns), np.radians(np.linspace(-30, -4, rows))
    )
    azimuth, elevation = azimuth.ravel(), elevation.ravel()
    along = np.full(len(azimuth), SENSOR_HEIGHT / np.tan(-elevation))
    for _ in range(20):
        x, y = along * np.cos(azimuth), along * np.sin(azimuth)
        along = -height_at(x, y) / np.tan(-elevation)
    return np.stack([along * np.cos(azimuth), along * np.sin(azimuth), along * np.tan(elevation)], axis=1)


def box(centre, sides, step: float = 0.05) -> np.ndarray:
    """Points on a grid of ``step`` over the faces of a box of ``sides`` standing on z = -SENSOR_HEIGHT at
    ``centre`` (x, y)."""
    axes = [np.linspace(-side / 2, side / 2, max(2, round(side / step) + 1)) for side in sides]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    on_face = np.isclose(np.abs(grid), np.array(sides) / 2).any(axis=1)
    return grid[on_face] + [centre[0], centre[1], -SENSOR_HEIGHT + sides[2] / 2]


def sweep(*objects, height_at=lambda x, y: -SENSOR_HEIGHT):
    """A ground of rays and boxes on it (object ids 0, 1, ...): the points and their truth (-1 the ground)."""
    ground = ground_of_rays(height_at)
    parts = [ground, *objects]
    truth = np.concatenate([np.full(len(part), k - 1) for k, part in enumerate(parts)])
    return np.concatenate(parts), truth


def test_a_copy_turned_keeps_its_ranges_stands_on_the_ground_and_leaves_its_place_empty():
    car = box((10.0, 0.0), (4.0, 1.8, 1.5))
    points, truth = sweep(car)
    [copy] = turned.turned_copies(points, truth, "z", turns=(180,), min_points=COUNTED)
    assert (copy.object_id, copy.turn) == (0, 180)
    moved = copy.points[copy.truth == 0]
    assert len(moved) == len(car)  # nothing nearer hides any of it
    np.testing.assert_allclose(np.sort(np.linalg.norm(moved, axis=1)), np.sort(np.linalg.norm(car, axis=1)))
    np.testing.assert_allclose(moved.mean(axis=0), [-10.0, 0.0, car[:, 2].mean()], atol=1e-9)
    old_place = (np.abs(copy.points[:, 0] - 10.0) < 2.1) & (np.abs(copy.points[:, 1]) < 1.0)
    assert (copy.points[old_place, 2] < -SENSOR_HEIGHT + 0.01).all()  # ground only: it drove away


def test_the_ground_behind_a_copy_on_its_rays_is_its_shadow():
    points, truth = sweep(box((10.0, 0.0), (4.0, 1.8, 1.5)))
    [copy] = turned.turned_copies(points, truth, "z", turns=(180,), min_points=COUNTED)
    ground = copy.points[copy.truth < 0]
    behind = (ground[:, 0] < -12.0) & (np.abs(ground[:, 1]) < 0.5)  # straight behind the copy, seen over nothing
    ahead = (ground[:, 0] > 12.0) & (np.abs(ground[:, 1]) < 0.5)  # behind the object's old place: seen again
    assert behind.sum() == 0 and ahead.sum() > 0
    kept_before = (points[:, 0] < -12.0) & (np.abs(points[:, 1]) < 0.5) & (truth < 0)
    assert kept_before.sum() > 0  # the sweep had ground there


def test_what_is_nearer_on_its_rays_hides_part_of_the_copy():
    car = box((10.0, 0.0), (4.0, 1.8, 1.5))
    post = box((-5.0, 0.0), (0.2, 0.2, 3.0), step=0.02)  # nearer than the copy, straight in front of it
    points, truth = sweep(car, post)
    truth[truth == 1] = -1  # a sign's post: background
    [copy] = turned.turned_copies(points, truth, "z", turns=(180,), min_points=COUNTED)
    moved = copy.points[copy.truth == 0]
    assert 0 < len(moved) < len(car)
    assert not (np.abs(np.arctan2(moved[:, 1], -moved[:, 0])) < np.radians(0.5)).any()  # none behind the post


def test_a_copy_stands_only_where_the_ground_is_near_its_own_level_and_is_set_on_it():
    car = box((10.0, 0.0), (4.0, 1.8, 1.5))
    step_up = 0.2

    def height_at(x, y):
        return np.where(x < -5.0, -SENSOR_HEIGHT + step_up, -SENSOR_HEIGHT)

    points, truth = sweep(car, height_at=height_at)
    [copy] = turned.turned_copies(points, truth, "z", turns=(180,), min_points=COUNTED)
    moved = copy.points[copy.truth == 0]
    assert moved[:, 2].min() == pytest.approx(car[:, 2].min() + step_up, abs=0.02)
    cliff = 2 * turned.GROUND_STEP

    def cliff_at(x, y):
        return np.where(x < -5.0, -SENSOR_HEIGHT + cliff, -SENSOR_HEIGHT)

    points, truth = sweep(car, height_at=cliff_at)
    assert list(turned.turned_copies(points, truth, "z", turns=(180,), min_points=COUNTED)) == []


def test_a_copy_never_stands_in_another_object_and_objects_not_counted_are_not_turned():
    car = box((10.0, 0.0), (4.0, 1.8, 1.5))
    other = box((0.0, 10.0), (4.0, 1.8, 1.5))
    cone = box((0.0, -10.0), (0.1, 0.1, 0.3))  # 58 points on the faces of a 3 x 3 x 7 grid
    points, truth = sweep(car, other, cone)
    assert (truth == 2).sum() == 58
    copies = list(turned.turned_copies(points, truth, "z", turns=(90, 180), min_points=59))
    # Turned by 90 degrees the car would stand in the other one, and by 180 the other in the cone.
    assert [(copy.object_id, copy.turn) for copy in copies] == [(0, 180), (1, 90)]
    # Counted from 58 points, the cone is turned as well.
    counted = turned.turned_copies(points, truth, "z", turns=(90, 180), min_points=58)
    assert {copy.object_id for copy in counted} == {0, 1, 2}


def test_what_hid_part_of_the_object_goes_with_it_as_background():
    car = box((10.0, 0.0), (4.0, 1.8, 1.5))
    post = box((6.0, 0.0), (0.2, 0.2, 2.0), step=0.02)  # before the car's middle: a hole in the car behind it
    points, truth = sweep(car, post)
    truth[truth == 1] = -1  # a sign's post: background
    [copy] = turned.turned_copies(points, truth, "z", turns=(180,), min_points=COUNTED)

    def at(xyz, x):  # points of a post at (x, 0), above the ground
        return (xyz[:, 2] > -SENSOR_HEIGHT + 0.5) & (np.abs(xyz[:, 0] - x) < 0.2) & (np.abs(xyz[:, 1]) < 0.2)

    at_new_post = at(copy.points, -6.0)
    assert at(copy.points, 6.0).sum() == at(points, 6.0).sum()  # it stays
    assert at_new_post.sum() > 0 and (copy.truth[at_new_post] == -1).all()  # and a copy of it stands before the car


def box_on_rays(centre, sides, elevations, azimuths) -> np.ndarray:
    """Where the rays of ``elevations`` x ``azimuths`` (degrees) first meet the upright faces and the top of a box
    of ``sides`` standing on the ground at ``centre`` (x, y): what the sensor sees of it, one point a ray."""
    azimuth, elevation = (np.radians(a).ravel() for a in np.meshgrid(azimuths, elevations))
    direction = np.stack(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)], axis=1
    )
    low = np.array([centre[0] - sides[0] / 2, centre[1] - sides[1] / 2, -SENSOR_HEIGHT])
    high = low + sides
    with np.errstate(divide="ignore"):
        near, far = (low / direction, high / direction)
    entry = np.minimum(near, far).max(axis=1)
    leave = np.maximum(near, far).min(axis=1)
    hit = (entry <= leave) & (entry > 0)
    return direction[hit] * entry[hit, None]


def test_a_copy_moved_farther_stands_at_that_many_times_its_range_on_every_kth_row_and_column():
    # The ground's rays, their rows carried on up to the car's top.
    rows, columns = -30 + np.arange(44) * 26 / 39, np.arange(-40, 40, 0.5)
    car = box_on_rays((10.0, 0.0), (4.0, 1.8, 1.5), rows, columns)
    points, truth = sweep(car)
    copies = list(turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, farther=2))
    assert [copy.sampling for copy in copies] == [0, 1, 2, 3]
    moved = copies[0].points[copies[0].truth == 0]
    assert 0.2 * len(car) < len(moved) < 0.3 * len(car)  # a quarter: every other row and column
    np.testing.assert_allclose(moved[:, :2].mean(axis=0), [2 * car[:, 0].mean(), 0.0], atol=0.15)
    assert moved[:, 2].min() == pytest.approx(car[:, 2].min(), abs=0.02)  # on the ground there
    # Its points lie twice as far apart: its rows and columns are the sensor's steps at twice the range.
    spacing = lambda xyz: np.median(np.sort(np.linalg.norm(xyz[:, None] - xyz[None], axis=2), axis=1)[:, 1])
    assert spacing(moved) == pytest.approx(2 * spacing(car), rel=0.15)
    # Each of the k^2 choices of rows and columns is a copy: together they hold every point once.
    together = np.concatenate([copy.points[copy.truth == 0] for copy in copies])
    assert len(np.unique(together.round(6), axis=0)) == len(together) == len(car)


def test_only_an_object_that_stays_counted_there_is_moved_farther():
    # Every other row and column keeps about a quarter of the car's points: moved twice as far it needs four
    # times the count.
    rows, columns = -30 + np.arange(44) * 26 / 39, np.arange(-40, 40, 0.5)
    car = box_on_rays((10.0, 0.0), (4.0, 1.8, 1.5), rows, columns)
    points, truth = sweep(car)
    for count, copies in ((len(car) // 4, 4), (len(car) // 4 + 1, 0)):
        moved = turned.turned_copies(points, truth, "z", turns=(0,), min_points=count, farther=2)
        assert len(list(moved)) == copies
    assert len(list(turned.turned_copies(points, truth, "z", turns=(0,), min_points=len(car)))) == 1


@pytest.mark.parametrize("farther", [0, 1.5, True, "2"])
def test_a_copy_moved_farther_needs_a_whole_number_of_times_its_range(farther):
    points, truth = sweep(box((10.0, 0.0), (4.0, 1.8, 1.5)))
    with pytest.raises(ValueError, match="farther must be a whole number"):
        list(turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, farther=farther))


def test_a_copy_beside_another_is_kept_where_its_nearest_point_lies_within_reach_of_a_counted_object(monkeypatch):
    car = box((10.0, 0.0), (4.0, 1.8, 1.5), step=0.2)  # coarse, for the oracle's distances between all points
    other = box((0.0, 10.0), (4.0, 1.8, 1.5), step=0.2)
    cone = box((-10.0, 0.0), (0.1, 0.1, 0.3))  # 58 points: not counted from 59
    points, truth = sweep(car, other, cone)
    # Turned by 60-68 and 112-116 degrees the car passes the other one (at 90 it would stand in it), by 172 the cone.
    turns = (60, 64, 66, 68, 90, 112, 116, 150, 172)
    monkeypatch.setattr(turned, "BESIDE_TURNS", turns)
    beside = {(copy.object_id, copy.turn): copy for copy in turned.beside_copies(points, truth, "z", min_points=59)}
    # The oracle: every turned copy, its least distance to a point of the other counted object.
    expected = {}
    for copy in turned.turned_copies(points, truth, "z", turns, min_points=59):
        own, other_points = copy.truth == copy.object_id, np.isin(copy.truth, [0, 1]) & (copy.truth != copy.object_id)
        gap = np.linalg.norm(copy.points[own, None, :3] - copy.points[None, other_points, :3], axis=2).min()
        if gap <= turned.BESIDE:
            expected[copy.object_id, copy.turn] = (1 - copy.object_id, gap)
    assert sorted(expected) == [(0, 66), (0, 68), (0, 112)]
    assert {key: (copy.beside, copy.gap) for key, copy in beside.items()} == pytest.approx(expected)
    # Counted from 58 points, the cone is an object the car stands beside, and turned by as much it stands by the car.
    near_cone = [(copy.object_id, copy.turn, copy.beside) for copy in
                 turned.beside_copies(points, truth, "z", min_points=58) if copy.turn == 172]
    assert near_cone == [(0, 172, 2), (2, 172, 0)]


def boxes_on_rays(boxes, elevations, azimuths) -> tuple[np.ndarray, np.ndarray]:
    """Where the rays of ``elevations`` x ``azimuths`` (degrees) first meet one of ``boxes`` (``(centre, sides)``
    pairs, as :func:`box_on_rays` takes): the points, and which box each lies on."""
    hits = [box_on_rays(centre, sides, elevations, azimuths) for centre, sides in boxes]
    points, which = np.concatenate(hits), np.concatenate([np.full(len(hit), k) for k, hit in enumerate(hits)])
    directions = np.round(points / np.linalg.norm(points, axis=1, keepdims=True), 9)
    nearest = {}
    for index in np.argsort(np.linalg.norm(points, axis=1)):  # the nearest along each ray first
        nearest.setdefault(tuple(directions[index]), index)
    kept = np.array(sorted(nearest.values()))
    return points[kept], which[kept]


# The ground's rays, their rows carried on up past a car's roof at 18 m.
ROWS, COLUMNS = -30 + np.arange(44) * 26 / 39, np.arange(-40, 40, 0.5)


def test_a_copy_moved_nearer_stands_at_a_kth_of_its_range_sampled_as_densely_as_the_sensor_samples_it_there():
    car = box_on_rays((20.0, 0.0), (4.0, 1.8, 1.5), ROWS, COLUMNS)  # its front at x = 18 m: all the sensor sees
    points, truth = sweep(car)
    [copy] = turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, nearer=2)
    moved = copy.points[copy.truth == 0]
    # Its returns' mean lies on the front, at 18 m: pulled in by half of that, the front stands at 9 m, and every
    # ray cast meets it there, within the rectangle the returns spanned.
    np.testing.assert_allclose(moved[:, 0], 9.0, atol=1e-9)
    assert car[:, 1].min() - 1e-9 <= moved[:, 1].min() and moved[:, 1].max() <= car[:, 1].max() + 1e-9
    assert car[:, 2].min() - 1e-9 <= moved[:, 2].min() and moved[:, 2].max() <= car[:, 2].max() + 1e-9
    # At half its range the sensor's steps meet it twice as densely each way: n rows of m returns become 2n - 1
    # of 2m - 1, less the rays at each edge that pass just outside the surface the returns span.
    elevation, azimuth = np.arctan2(car[:, 2], np.hypot(car[:, 0], car[:, 1])), np.arctan2(car[:, 1], car[:, 0])
    rows, per_row = len(np.unique(elevation.round(9))), len(np.unique(azimuth.round(9)))
    assert len(car) == rows * per_row
    assert (2 * rows - 3) * (2 * per_row - 3) <= len(moved) <= (2 * rows - 1) * (2 * per_row - 1)
    spacing = lambda xyz: np.median(np.sort(np.linalg.norm(xyz[:, None] - xyz[None], axis=2), axis=1)[:, 1])
    assert spacing(moved) == pytest.approx(spacing(car) / 2, rel=0.15)


def test_a_copy_moved_nearer_keeps_what_hides_part_of_it_apart_from_it():
    # A post 4 m before the car's front hides a strip of it. Between the two there is no surface: the angle
    # between a return on the post and the next on the car, at the car's, is far under SURFACE_ANGLE.
    seen, which = boxes_on_rays([((20.0, 0.0), (4.0, 1.8, 1.5)), ((14.0, 0.0), (0.3, 0.3, 3.0))], ROWS, COLUMNS)
    points, truth = sweep(seen[which == 0], seen[which == 1])
    truth[truth == 1] = -1  # a sign's post: background
    [copy] = turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, nearer=2)
    raised = copy.points[:, 2] > -SENSOR_HEIGHT + 0.01
    ahead = raised & (copy.points[:, 0] < 12.0)  # the car moved to 9 m and the post before it
    on_car, on_post = np.isclose(copy.points[:, 0], 9.0), np.isclose(copy.points[:, 0], 14.0 - 0.15 - 9.0)
    assert on_car.sum() > 0 and on_post.sum() > 0
    assert (on_car | on_post)[ahead].all()  # nothing bridges the gap
    assert (copy.truth[on_car & ahead] == 0).all() and (copy.truth[on_post & ahead] == -1).all()
    # The post's shadow stays a strip the car's copy does not cover.
    assert not (np.abs(copy.points[on_car & ahead, 1]) < 0.05).any()


def test_a_copy_moved_nearer_keeps_a_hole_where_returns_were_missing():
    car = box_on_rays((20.0, 0.0), (4.0, 1.8, 1.5), ROWS, COLUMNS)
    window = (np.abs(car[:, 1]) < 0.3) & (car[:, 2] > -1.0)  # no returns there: glass, or a dark panel
    points, truth = sweep(car[~window])
    [copy] = turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, nearer=2)
    moved = copy.points[copy.truth == 0]
    assert len(moved) > 0 and not ((np.abs(moved[:, 1]) < 0.25) & (moved[:, 2] > -0.8)).any()  # the rows it left


@pytest.mark.parametrize("nearer", [0, 1.5, True, "2"])
def test_a_copy_moved_nearer_needs_a_whole_number_of_times_its_range(nearer):
    points, truth = sweep(box((10.0, 0.0), (4.0, 1.8, 1.5)))
    with pytest.raises(ValueError, match="nearer must be a whole number"):
        list(turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, nearer=nearer))


def test_a_copy_is_moved_either_farther_or_nearer():
    points, truth = sweep(box((10.0, 0.0), (4.0, 1.8, 1.5)))
    with pytest.raises(ValueError, match="either farther or nearer"):
        list(turned.turned_copies(points, truth, "z", turns=(0,), min_points=COUNTED, farther=2, nearer=2))
