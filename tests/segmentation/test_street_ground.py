"""The ground of a street sweep (:func:`~openshape_ood.segmentation.ground.grid_ground`) where the sensor's view
ends at its sides, as KITTI's sweeps cut to the camera's image do: hand-made views whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from openshape_ood.segmentation.geometry import sensor_angles
from openshape_ood.segmentation.ground import _cell_centres, _in_view, grid_ground, sensor_up

UP = np.array([0.0, 0.0, 1.0])


def road_seen(azimuths: tuple[float, float], step: float = 0.5) -> np.ndarray:
    """A flat road (z = 0) seen from the origin between two azimuths (degrees), from 3 to 40 m."""
    azimuth, distance = np.meshgrid(np.radians(np.arange(*azimuths, step)), np.arange(3.0, 40.0, 0.5))
    road = np.stack([distance * np.cos(azimuth), distance * np.sin(azimuth), np.zeros_like(distance)], axis=-1)
    return road.reshape(-1, 3)


def cut_car_view() -> tuple[np.ndarray, np.ndarray]:
    """The road seen within 45 degrees either side of x, and a car (x 5-7 m, y 2-7 m, its body 0.3-1.5 m above
    the road) standing across the view's left edge: the sensor sees its front (x = 5) and its side (y = 2) as far
    as the edge. The road under the car and behind it (its shadow) is hidden, so no cell under it holds the road.
    Returns the points and which of them are the car's."""
    road = road_seen((-45.0, 45.0))
    height = np.arange(0.3, 1.51, 0.1)
    front = np.array([[5.0, y, z] for y in np.arange(2.0, 7.0, 0.1) for z in height])
    side = np.array([[x, 2.0, z] for x in np.arange(5.0, 7.01, 0.1) for z in height])
    car = np.concatenate([front, side])
    car = car[np.arctan2(car[:, 1], car[:, 0]) <= np.radians(45.0)]
    direction = np.arctan2(road[:, 1], road[:, 0])
    hidden = (direction >= np.arctan2(2.0, 7.0)) & ((road[:, 0] >= 5.0) | (road[:, 1] >= 2.0))
    points = np.concatenate([road[~hidden], car])
    return points, np.arange(len(points)) >= np.count_nonzero(~hidden)


def test_a_car_cut_by_the_side_of_the_view_stands_on_the_road():
    points, car = cut_car_view()
    under, height = grid_ground(points, UP, 1.0, np.sort(sensor_angles(points, UP)[:, 0]))
    assert np.abs(under).max() < 1e-9  # the road everywhere, under the car too
    assert np.allclose([height[car].min(), height[car].max()], [0.3, 1.5])


def test_filled_from_the_nearest_cell_the_region_beyond_the_edge_lifts_the_ground_under_the_car():
    # Without the view's directions (a scan not from one viewpoint) the empty cells beyond the edge take
    # the car's underside, the opening keeps that plateau, and the car's lowest points become ground.
    points, car = cut_car_view()
    under, _ = grid_ground(points, UP, 1.0)
    assert np.isclose(under[car].max(), 0.3)


def test_a_road_rising_towards_the_edge_of_the_view_stays_ground():
    # Mirrored, the cells beyond the edge continue the road's rise; taken as the lowest cell within the
    # window instead (a variant that also keeps the cut car), they lay the road's foot beside its rising
    # end, and 218 of its points, against 32 here, stood more than the 0.15 m of ground_height above it.
    points = road_seen((-45.0, 45.0))
    points[:, 2] = 0.1 * points[:, 1]  # rising 10 % towards the left edge
    seen = np.sort(sensor_angles(points, UP)[:, 0])
    _, mirrored = grid_ground(points, UP, 1.0, seen)
    _, nearest = grid_ground(points, UP, 1.0)
    assert np.count_nonzero(mirrored > 0.15) <= np.count_nonzero(nearest > 0.15) <= 40


def test_a_view_all_round_has_no_cell_beyond_its_edge():
    points = road_seen((-180.0, 180.0), step=1.0)
    points = np.concatenate([points, [[10.0, 0.0, 1.0], [10.0, 0.3, 1.2]]])  # and a post
    without = grid_ground(points, UP, 1.0)
    given = grid_ground(points, UP, 1.0, np.sort(sensor_angles(points, UP)[:, 0]))
    assert np.array_equal(without[0], given[0]) and np.array_equal(without[1], given[1])


def test_cells_beyond_the_side_of_the_view_are_out_of_it():
    azimuths = np.radians(np.arange(-45.0, 45.0, 1.0))  # -45 to 44 degrees
    low = np.array([-10.5, -10.5])
    inside = _in_view(azimuths, *_cell_centres(low, 1.0, (21, 21)), 1.0)  # cells centred on whole metres, -10 to 10
    at = {(x, y): inside[x + 10, y + 10] for x in range(-10, 11) for y in range(-10, 11)}
    assert at[(0, 0)]  # the sensor's own cell spans every direction
    assert at[(10, 0)] and at[(10, 9)] and at[(10, -9)]  # ahead, within 45 degrees
    assert not at[(-10, 0)] and not at[(0, 10)] and not at[(3, 10)]  # behind and beside
    # A cell spans the directions within half its diagonal of its centre: 45 +- 2.9 degrees holds 44, and
    # 48.0 +- 3.0 holds none.
    assert at[(10, 10)] and not at[(9, 10)]


@pytest.mark.parametrize(
    ("flip", "lift", "given", "expected"),
    [
        ((1, 1, 1), 1.7, (0.0, 0.0, 1.0), (0.0, 0.0, 1.0)),  # as the sensor gives it, 1.7 m above the road
        ((1, 1, 1), 1.7, (0.04, -0.03, 0.998), (0.0, 0.0, 1.0)),  # the ground's normal, tilted by a 5 % slope
        ((1, 1, -1), 1.7, (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)),  # stored upside down: the axis given has no sign
        ((1, 1, -1), 1.7, (0.0, 0.0, -1.0), (0.0, 0.0, -1.0)),
        ((1, 1, 1), 0.0, (0.0, 0.0, 1.0), (0.0, 0.0, 1.0)),  # the origin on the road: the sign given stands
        ((1, 1, -1), 0.0, (0.0, 0.0, -1.0), (0.0, 0.0, -1.0)),
    ],
)
def test_a_sweeps_vertical_is_its_axis_signed_with_the_sensor_above_the_ground(flip, lift, given, expected):
    points, _ = cut_car_view()
    points = (points - [0.0, 0.0, lift]) * flip
    assert sensor_up(points, np.array(given), 1.0, 0.25).tolist() == list(expected)
