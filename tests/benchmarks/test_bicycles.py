"""benchmarks.bicycles: a model bicycle put into a sweep and seen by its beams, checked on a road ray-cast through
an HDL-64E's pattern (benchmarks.sensor_patterns)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import bicycles
from benchmarks.sensor_patterns import PATTERNS, SENSOR_HEIGHT, ray_cast

COUNTED = 25  # the fewest points of an object the benchmark counts (its --min-gt-points)
TOP = 1.03  # the model's highest point above the ground: its saddle's top (m)


def road_sweep(*boxes, half_width: float = 30.0):
    """The returns of an HDL-64E's beams (z up, the sensor at the origin, SENSOR_HEIGHT above a flat road) over
    ``half_width`` degrees either side of x, with ``boxes`` ((low corner, high corner), the road at z = 0) standing
    on the road as background; and their truth (all -1) and which box each return lies on (-1 the road)."""
    rows, step = PATTERNS["HDL-64E"]
    azimuths = np.radians(np.arange(-half_width, half_width, step))
    points, hit = ray_cast(boxes, np.radians(rows), azimuths, SENSOR_HEIGHT, max_range=80.0)
    return points, np.full(len(points), -1), hit


def test_a_bicycle_is_seen_by_the_sweeps_own_beams_on_the_ground_where_it_stands():
    points, truth, _ = road_sweep()
    copies = list(bicycles.bicycle_copies(points, truth, "z", 2, object_id=7, min_points=COUNTED, noise=0.0))
    assert copies and {copy.heading for copy in copies} <= set(bicycles.HEADINGS)
    for copy in copies:
        seen = copy.truth == 7
        assert seen.sum() >= COUNTED and (copy.truth[~seen] == -1).all()
        assert len(copy.points) == len(points)  # each beam returns once: moved onto the bicycle, none added
        np.testing.assert_array_equal(copy.points[~seen], points[~seen])
        before, after = points[seen], copy.points[seen]
        # On its own beam, nearer than the road it hid (its shadow), as the sensor would see it there.
        np.testing.assert_allclose(np.cross(before, after), 0.0, atol=1e-9)
        assert (np.linalg.norm(after, axis=1) < np.linalg.norm(before, axis=1)).all()
        assert (after[:, 2] > -SENSOR_HEIGHT).all() and (after[:, 2] <= -SENSOR_HEIGHT + TOP + 1e-6).all()
        centre = np.linalg.norm(after[:, :2].mean(axis=0))
        assert abs(centre - copy.range) < 0.5


def test_side_on_the_bicycle_shows_its_length_across_the_line_of_sight_and_end_on_along_it():
    points, truth, _ = road_sweep()
    sweep = bicycles._Sweep(points, truth, "z")
    place = np.array([8.0, 2.0, -SENSOR_HEIGHT])  # 8.2 m away, 14 degrees off x
    sight = place[:2] / np.linalg.norm(place[:2])
    across = np.array([-sight[1], sight[0]])

    def spreads(heading):
        beams, distance = bicycles._hits(sweep, place, heading)
        seen = points[beams] * (distance / np.linalg.norm(points[beams], axis=1))[:, None]
        return np.ptp(seen[:, :2] @ across), np.ptp(seen[:, :2] @ sight)

    across_side_on, along_side_on = spreads(0)
    across_end_on, along_end_on = spreads(90)
    assert across_side_on > 1.5 and along_side_on < 0.7  # its 1.75 m length faces the sensor
    assert across_end_on < 0.7 and along_end_on > 0.7  # its 0.58 m handlebar faces it; its length runs away


def test_a_return_nearer_than_the_bicycle_on_its_beam_hides_that_part_of_it():
    post = ((5.0, -0.1, 0.0), (5.2, 0.1, 2.0))  # a post before the bicycle, taller than the sensor
    points, truth, on_box = road_sweep(post)
    sweep = bicycles._Sweep(points, truth, "z")
    place = np.array([8.0, 0.0, -SENSOR_HEIGHT])
    beams, distance = bicycles._hits(sweep, place, 0)
    # Beams over the post's whole height at 5 m would meet the bicycle at 8 m behind it: the post keeps them.
    assert len(beams) >= COUNTED and not (on_box[beams] == 0).any()
    assert (distance < np.linalg.norm(points[beams], axis=1)).all()


def test_no_bicycle_is_put_near_something_standing_or_near_another():
    posts = [((x, y, 0.0), (x + 0.2, y + 0.2, 1.5)) for x in np.arange(4.0, 20.0, 3.0) for y in (-4.0, -1.0, 2.0)]
    points, truth, on_box = road_sweep(*posts)
    places = bicycles.free_places(points, truth, "z", 6, min_points=COUNTED)
    assert places
    standing = points[on_box >= 0]
    for k, place in enumerate(places):
        assert np.linalg.norm(standing[:, :2] - place[:2], axis=1).min() >= bicycles.CLEARANCE
        assert abs(place[2] + SENSOR_HEIGHT) < 0.05  # on the road
        for other in places[k + 1 :]:
            assert np.linalg.norm(other[:2] - place[:2]) >= bicycles.APART


def test_a_bicycle_stands_on_the_surface_under_it_not_on_the_road_below_a_kerb():
    pavement = ((0.0, 1.0, 0.0), (40.0, 20.0, 0.15))  # a pavement 15 cm above the road, beside it from y = 1 m
    points, truth, _ = road_sweep(pavement)
    places = bicycles.free_places(points, truth, "z", 8, min_points=COUNTED, seed=1)
    by_kerb = [place for place in places if 1.0 < place[1] < 3.0]
    assert by_kerb  # on the pavement, within the ground's radius of the road (its lower envelope lies there)
    for place in places:
        surface = -SENSOR_HEIGHT + (0.15 if place[1] > 1.0 else 0.0)
        assert abs(place[2] - surface) < 0.01


def test_the_places_are_the_same_for_the_same_seed():
    points, truth, _ = road_sweep()
    first = bicycles.free_places(points, truth, "z", 3, min_points=COUNTED, seed=4)
    again = bicycles.free_places(points, truth, "z", 3, min_points=COUNTED, seed=4)
    np.testing.assert_array_equal(np.array(first), np.array(again))


def test_an_id_the_sweep_already_uses_is_refused():
    points, truth, _ = road_sweep()
    truth[:10] = 3
    with pytest.raises(ValueError, match="object_id 3 is an object of the sweep already"):
        next(bicycles.bicycle_copies(points, truth, "z", 1, object_id=3, min_points=COUNTED))
