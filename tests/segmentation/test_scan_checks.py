"""Scans that fooled segment_scene: a stray point, wrong units, coarse float32, complex values, noise, sparse scans."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.scan_checks import check_precision, distinct_sample, far_outliers, origin_points
from ..synthetic_scene import make_synthetic_scene

SPACING = 0.02


def _grid(a: tuple[float, float], b: tuple[float, float], step: float = SPACING) -> np.ndarray:
    u, v = np.meshgrid(np.arange(a[0], a[1], step), np.arange(b[0], b[1], step), indexing="ij")
    return np.stack([u.ravel(), v.ravel()], axis=1)


def _ball(x: float, z: float, radius: float) -> np.ndarray:
    """A ball resting on the floor (y up) at (x, z): Fibonacci points about ``SPACING`` apart, none below the floor."""
    count = int(4 * np.pi * radius**2 / SPACING**2)
    i = np.arange(count) + 0.5
    polar, azimuth = np.arccos(1 - 2 * i / count), np.pi * (1 + 5**0.5) * i
    unit = np.c_[np.cos(azimuth) * np.sin(polar), np.cos(polar), np.sin(azimuth) * np.sin(polar)]
    return unit * radius + [x, radius + 0.01, z]


@pytest.fixture(scope="module")
def room() -> tuple[np.ndarray, np.ndarray]:
    """A 3 x 3 m floor with three balls of 0.2 m radius on it, y up, in metres; and which ball each point is (-1: floor)."""
    floor = _grid((-1.5, 1.5), (-1.5, 1.5))
    centres = ((-1.0, -1.0), (0.3, -0.8), (-0.5, 0.6))
    boxes = [_ball(x, z, 0.2) for x, z in centres]
    floor = np.c_[floor[:, 0], np.zeros(len(floor)), floor[:, 1]]
    points = np.concatenate([floor, *boxes])
    truth = np.concatenate([np.full(len(floor), -1)] + [np.full(len(b), i) for i, b in enumerate(boxes)])
    noise = np.random.default_rng(0).normal(0, 0.002, points.shape)
    return points + noise, truth


def _segment(points, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = segment_scene(points, "y", **kwargs)
    return labels, [str(w.message) for w in caught]


def test_a_stray_point_1e7_m_away_is_background_and_the_room_is_found(room):
    points, truth = room
    labels, messages = _segment(np.concatenate([points, [[1e7, 0.0, 0.0]]]))
    assert labels[-1] == -1
    found = labels[:-1]
    assert found.max() + 1 == 3
    majority = []
    for ball in range(3):  # each ball is one object (its points touching the floor may go with the floor)
        ids, counts = np.unique(found[truth == ball], return_counts=True)
        assert ids[np.argmax(counts)] >= 0 and counts.max() >= 0.9 * counts.sum()
        majority.append(ids[np.argmax(counts)])
    assert sorted(majority) == [0, 1, 2]
    assert any(m.startswith("1 of ") and "far outside the rest of the scan" in m for m in messages)


def test_coordinates_in_kilometres_warn_with_the_measured_spacing(room):
    _, messages = _segment(room[0] / 1000)
    assert any("finer than any scanner" in m and "multiply kilometres by 1000" in m for m in messages), messages


def test_integer_centimetres_warn(room):
    _, messages = _segment(np.round(room[0] * 100))
    assert any("whole numbers" in m and "divide centimetres by 100" in m for m in messages), messages


def test_float32_utm_coordinates_are_refused_with_what_to_do(room):
    utm = (room[0] + [512_345.0, 310.0, 5_403_210.0]).astype(np.float32)  # float32 steps of 0.5 m at 5.4e6
    with pytest.raises(ValueError, match=r"reach 5\.40321e\+06 on axis z, where float32 steps are 0\.5") as info:
        segment_scene(utm, "y")
    assert "Pass float64, or subtract an origin" in str(info.value)


def test_float32_passes_while_its_steps_are_under_half_the_spacing_and_float64_utm_passes():
    xyz = np.random.default_rng(1).random((100, 3))
    assert check_precision(np.dtype(np.float32), xyz * 3, SPACING) is None  # steps of 2.4e-7 m
    assert check_precision(np.dtype(np.float64), xyz + 5.4e6, SPACING) is None
    # The grid step must stay below half the spacing (0.01 m): float32 steps are 2^-7 = 0.0078 in [2^16, 2^17)
    # and 2^-6 = 0.0156 in [2^17, 2^18).
    assert check_precision(np.dtype(np.float32), xyz + 1e5, SPACING) is None
    message = ("points are float32 and reach 200001 on axis x, where float32 steps are 0.0156: coarser than half the "
               "points' own spacing (0.02, measured)")
    with pytest.raises(ValueError, match=re.escape(message)):
        check_precision(np.dtype(np.float32), xyz + 2e5, SPACING)


def test_float32_points_at_two_places_are_no_precision_error_but_background_as_in_float64():
    # Fewer than three distinct places measure a spacing of 0; float32 was refused for "steps coarser than
    # half the points' own spacing (0)", where the same scan in float64 comes back all background.
    two_places = np.repeat([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]], [4000, 1000], axis=0)
    assert check_precision(np.dtype(np.float32), two_places, 0.0) is None
    for dtype in (np.float32, np.float64):
        assert (segment_scene(two_places.astype(dtype)) == -1).all()


def test_complex_points_are_a_value_error_naming_the_argument(room):
    with pytest.raises(ValueError, match=re.escape("points is complex-valued (complex128)")):
        segment_scene(room[0].astype(np.complex128), "y")
    with pytest.raises(ValueError, match="complex-valued"):  # given labels too
        segment_scene(room[0].astype(np.complex64), labels=room[1])


def test_uniform_noise_is_refused_at_once():
    noise = np.random.default_rng(2).random((20_000, 3))  # correlation dimension about 2.8: a volume
    with pytest.raises(ValueError, match=r"fill a volume rather than surfaces: their correlation dimension is 2\.[6-9]"):
        segment_scene(noise)


def test_a_sparse_scan_in_metres_is_told_what_was_measured():
    # An aerial scan with points 5 m apart: objects of the default sizes cannot be outlined.
    ground = _grid((0, 500), (0, 500), 5.0)
    points = np.c_[ground, np.random.default_rng(3).normal(0, 0.1, len(ground))]
    with pytest.raises(ValueError) as info:
        segment_scene(points, "z")
    message = str(info.value)
    assert message.startswith("the scan's points are 5 m apart (measured")
    assert "pass min_size=30 and max_size=" in message and "min_size must be in" not in message


def test_points_at_the_origin_by_hand():
    near = np.array([[0.0, 0.0, 1e-9], [1.0, 2.0, 3.0], [0.0, -0.0, 0.0], [0.0, 0.0, 0.0]])
    # Two rows at exactly the origin (-0.0 is 0.0): both; a row 1 nm from it is a point.
    assert np.flatnonzero(origin_points(near)).tolist() == [2, 3]
    assert not origin_points(near[:3]).any()  # one point at the origin may be a real one
    assert not origin_points(np.empty((0, 3))).any()


def test_far_outliers_by_hand():
    line = np.c_[np.arange(1000.0), np.zeros(1000), np.zeros(1000)]
    points = np.concatenate([line, [[1972.0, 0, 0], [1974.0, 0, 0], [-974.0, 0, 0], [np.nan, 0, 0]]])
    # Sorted finite x: -974, 0..999, 1972, 1974. Quantiles (linear) at 0.01 * 1002 = 10.02 -> 9.02 and at
    # 0.99 * 1002 = 991.98 -> 990.98; size 981.96: far below -972.94 or above 1972.94.
    assert np.flatnonzero(far_outliers(points)).tolist() == [1001, 1002]


def test_a_street_whose_objects_are_all_too_tall_says_what_was_dropped_and_why():
    # Megaplot.laz, a forest, gave 0 objects and an empty table without a word: every tree is over a street's
    # height limit. Here the 1.5 m cars of a synthetic street are stretched to 6 m, over the 4.5 m limit.
    from ..synthetic_scene import make_street

    points, owner = make_street(3, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the street as it is: its 3 cars, no warning
        assert segment_scene(points, "z").max() + 1 == 3
    points[owner >= 0, 2] *= 4
    with pytest.warns(UserWarning, match="no objects found: the object filters dropped all") as caught:
        assert segment_scene(points, "z").max() == -1
    message = str(caught[0].message)
    taller = re.search(r"of the other (\d+), .*?(\d+) are taller than max_height=4.5 m above the ground", message)
    assert taller is not None and int(taller[2]) >= 3, message  # at least the three cars
    assert "--max-height" in message


def test_the_distinct_places_of_a_sample_and_their_scale_by_hand():
    grid = np.c_[_grid((0.0, 0.2), (0.0, 0.2)), np.zeros(100)]  # 100 places 2 cm apart
    # Every place three times, all of it sampled: the 100 places, at the scan's own density (scale 1).
    places, scale = distinct_sample(np.repeat(grid, 3, axis=0), 300, np.random.default_rng(0))
    assert len(places) == 100 and scale == pytest.approx(1.0)
    # No repeats: a sample of n of N rows is sqrt(N / n) times sparser, as before.
    places, scale = distinct_sample(grid, 25, np.random.default_rng(0))
    assert len(places) == 25 and scale == pytest.approx(np.sqrt(25 / 100))


def test_repeats_are_counted_from_the_pairs_a_sample_holds():
    places = np.random.default_rng(1).random((20000, 3))
    scan = np.repeat(places, 4, axis=0)  # N = 80,000 rows at U = 20,000 places
    sample, scale = distinct_sample(scan, 8000, np.random.default_rng(2))
    # Expected pairs: 8000 * 7999 / (80000 * 79999) * 20000 * 4 * 3 / 2 = 1,200; U = N / (1 + 3) = 20,000.
    assert scale == pytest.approx(np.sqrt(len(sample) / 20000), rel=0.05)


def test_a_scan_written_twice_measures_the_spacing_of_its_points():
    # A floor of 4 x 4 m sampled at random (no lattice, so a random part of it is as irregular as the
    # whole) with a ball on it, y up.
    rng = np.random.default_rng(3)
    floor = rng.random((40000, 2)) * 4 - 2
    points = np.concatenate([np.c_[floor[:, 0], np.zeros(len(floor)), floor[:, 1]], _ball(0.0, 0.0, 0.2)])
    once = segment_scene(points, "y", return_settings=True)[1]
    twice = segment_scene(np.concatenate([points, points]), "y", return_settings=True)[1]
    # Measured on all 2N rows as if they were N places, the spacing was sqrt(2) times too fine.
    assert twice.measured.spacing == pytest.approx(once.measured.spacing, rel=0.03)
    assert twice.voxel_size == once.voxel_size


def test_a_scan_written_twice_is_segmented_as_the_scan():
    # Each copy counted again towards the points a step asks for: 6 % of the room's points took other labels.
    points, _ = make_synthetic_scene(seed=0)
    colours = np.random.default_rng(0).random((len(points), 3))
    for scan in (points, np.c_[points, colours]):
        once = segment_scene(scan)
        assert np.array_equal(segment_scene(np.repeat(scan, 2, axis=0)), np.repeat(once, 2))
        # Written again in another order, with a stray far away: the same labels, the stray background.
        order = np.random.default_rng(1).permutation(2 * len(scan))
        written = np.concatenate([scan, scan])[order]
        stray = scan[0].copy()
        stray[:3] += 1e4
        with pytest.warns(UserWarning, match="1 of .* far outside"):
            labels = segment_scene(np.vstack([written, stray]))
        assert labels[-1] == -1
        assert _same_partition(labels[:-1], np.concatenate([once, once])[order])


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings group the points alike (ids aside: the segments are numbered by size)."""
    pairs = np.unique(np.c_[a, b], axis=0)
    one_to_one = len(pairs) == len(np.unique(a)) == len(np.unique(b))
    return one_to_one and bool(np.all((pairs[:, 0] < 0) == (pairs[:, 1] < 0)))
