"""What a sensor at the origin saw: its row step, and objects whose top it did not see, on
synthetic LiDAR sweeps ray-cast against boxes (hand-placed, so the answers are known)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from benchmarks.sensor_patterns import ray_cast, with_range_noise
from openshape_ood.segmentation import segment_scene, visibility
from openshape_ood.segmentation.geometry import plane_basis
from openshape_ood.segmentation.ground import origin_on_ground
from openshape_ood.segmentation.visibility import (
    SensorRows,
    range_noise,
    ring_axis,
    row_step,
    sensor_height,
    sensor_rows,
    sensor_view,
    unseen_objects,
)

RING_STEP = np.radians(0.5)
AZIMUTH_STEP = np.radians(0.1)
SENSOR_HEIGHT = 1.7


def sweep(
    boxes: list[tuple[tuple, tuple]],
    rings: int = 40,
    top: float = 2.0,
    elevation: np.ndarray | None = None,
    wall: float | None = 40.0,
    half_width: float = np.pi / 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Points of a spinning LiDAR at the origin (rings 0.5 degrees apart up to ``top`` degrees, or at the
    ``elevation`` given in radians; 0.1 degrees along a ring, within ``half_width`` radians of x) hitting the
    ground 1.7 m below it, a wall ``wall`` metres ahead (x = 40; ``None``: an open field, where the rings above
    the horizontal return nothing) and axis-aligned ``boxes`` given as (low corner, high corner); and which box
    each point hit (-1: none)."""
    if elevation is None:
        elevation = np.radians(top) - RING_STEP * np.arange(rings)
    azimuth = np.arange(-half_width, half_width, AZIMUTH_STEP)
    ahead = [] if wall is None else [((wall, -1e4, -1e4), (wall + 1.0, 1e4, 1e4))]
    return ray_cast(boxes, elevation, azimuth, SENSOR_HEIGHT, ahead)


def test_row_step_is_the_step_between_rings_not_along_them():
    points, _ = sweep([])
    step = row_step(points, np.array([0.0, 0.0, 1.0]), spacing_growth=AZIMUTH_STEP)
    assert step == pytest.approx(RING_STEP, rel=0.05)


def test_row_step_of_an_even_grid_is_its_step():
    # A camera-like sensor: rows as far apart as columns.
    elevation, azimuth = np.meshgrid(np.radians(np.arange(-20, 0, 0.1)), np.radians(np.arange(-30, 30, 0.1)))
    e, a = elevation.ravel(), azimuth.ravel()
    points = 5.0 * np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], axis=1)
    step = row_step(points, np.array([0.0, 0.0, 1.0]), spacing_growth=np.radians(0.1))
    assert step == pytest.approx(np.radians(0.1), rel=0.05)


X, Y, Z = np.eye(3)


@pytest.mark.parametrize(
    ("stored", "largest_plane", "expected"),
    [
        ("sensor's axes", X, Z),  # a wall's normal: no rows about x, the rings turn about z
        ("sensor's axes", -Y, Z),
        ("a camera's axes", Z, Y),  # y down, z ahead: the wall ahead is the largest plane
        ("a camera's axes", X, Y),
    ],
)
def test_a_sweeps_up_is_the_axis_its_rows_lie_apart_about_where_they_show_none_about_the_largest_plane(
    stored, largest_plane, expected
):
    points, _ = sweep([])
    if stored == "a camera's axes":
        points = np.c_[-points[:, 1], -points[:, 2], points[:, 0]]
    assert ring_axis(points, largest_plane, AZIMUTH_STEP).tolist() == expected.tolist()


@pytest.mark.parametrize("largest_plane", [Z, -Z, np.array([0.6, 0.0, 0.8])])  # the ground, a sloped road
def test_a_sweeps_largest_plane_stands_as_measured_where_the_rows_show_about_its_axis(largest_plane):
    points, _ = sweep([])
    assert ring_axis(points, largest_plane, AZIMUTH_STEP) is largest_plane


def test_a_sensor_whose_rows_lie_as_close_as_its_points_keeps_the_largest_planes_normal():
    # A camera-like grid, 0.1 degrees both ways: no axis shows rows, so the measured normal stands.
    elevation, azimuth = np.meshgrid(np.radians(np.arange(-20, 0, 0.1)), np.radians(np.arange(-30, 30, 0.1)))
    e, a = elevation.ravel(), azimuth.ravel()
    points = 5.0 * np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], axis=1)
    normal = np.array([0.6, 0.0, 0.8])
    assert ring_axis(points, normal, np.radians(0.1)) is normal


#: A Velodyne HDL-64E's rings: an upper block 1/3 degree apart from +2 degrees down, a lower block 1/2 degree apart.
UPPER_RINGS = np.radians(2.0 - np.arange(30) / 3)
LOWER_RINGS = UPPER_RINGS[-1] - np.radians(0.5) * np.arange(1, 31)


def test_sensor_rows_count_each_block_of_rings_in_its_own_step():
    points, _ = sweep([], elevation=np.concatenate([UPPER_RINGS, LOWER_RINGS]))
    rows = sensor_rows(points, np.array([0.0, 0.0, 1.0]), spacing_growth=AZIMUTH_STEP)
    # One row from each ring to the next, in both blocks (the bands round the step between them aside).
    assert np.diff(rows.at(UPPER_RINGS[:22][::-1])) == pytest.approx(np.ones(21), abs=0.1)
    assert np.diff(rows.at(LOWER_RINGS[8:][::-1])) == pytest.approx(np.ones(21), abs=0.1)
    # One step for the whole sweep, the median, is the lower block's here: it counts an upper ring as 2/3 of a row.
    step = row_step(points, np.array([0.0, 0.0, 1.0]), spacing_growth=AZIMUTH_STEP)
    assert step == pytest.approx(np.radians(0.5), rel=0.05)


def test_a_sweep_cut_to_its_upper_rings_counts_them_as_the_whole_sweep_does():
    # A camera's view keeps the upper rings: its median step is theirs, but their rows are as many as before.
    up = np.array([0.0, 0.0, 1.0])
    whole, _ = sweep([], elevation=np.concatenate([UPPER_RINGS, LOWER_RINGS]))
    cut, _ = sweep([], elevation=UPPER_RINGS)
    assert row_step(cut, up, AZIMUTH_STEP) < 0.85 * row_step(whole, up, AZIMUTH_STEP)
    span = UPPER_RINGS[[20, 2]]
    counted = [np.diff(sensor_rows(points, up, AZIMUTH_STEP).at(span))[0] for points in (whole, cut)]
    assert counted == pytest.approx([18.0, 18.0], abs=0.5)


class _CountedTree(cKDTree):
    """A cKDTree that keeps, for each pair search, how many points it searched and how many pairs it gave."""

    searches: list[tuple[int, int]] = []

    def query_pairs(self, *args, **kwargs):
        pairs = super().query_pairs(*args, **kwargs)
        self.searches.append((len(self.data), len(pairs)))
        return pairs


def _row_pair_searches(points: np.ndarray, monkeypatch) -> tuple[list[tuple[int, int]], SensorRows]:
    monkeypatch.setattr(visibility, "cKDTree", _CountedTree)
    monkeypatch.setattr(_CountedTree, "searches", [])
    rows = sensor_rows(points, np.array([0.0, 0.0, 1.0]), spacing_growth=AZIMUTH_STEP)
    return _CountedTree.searches, rows


def test_a_scan_lying_in_a_plane_through_the_sensor_is_thinned_before_its_rows_are_paired(monkeypatch):
    # Every point at the sensor's own elevation (a room flattened onto its floor, seen from a corner of it):
    # each shares its box of rows with about 380 others here, and the pairs grow as the square of the points
    # (a million points asked for more memory than the machine had).
    rng = np.random.default_rng(0)
    azimuth, distance = rng.uniform(-np.pi, np.pi, 100_000), rng.uniform(1.0, 10.0, 100_000)
    flat = np.stack([distance * np.cos(azimuth), distance * np.sin(azimuth), np.zeros(len(azimuth))], axis=1)
    [(searched, pairs)], rows = _row_pair_searches(flat, monkeypatch)
    assert 2 * pairs / searched < 1.15 * visibility._MOST_IN_ROW_BOX
    assert rows.step == pytest.approx(AZIMUTH_STEP)  # no row above another: one step, the finer one


def test_a_sweeps_rows_are_paired_whole(monkeypatch):
    points, _ = sweep([], rings=64, half_width=np.pi)
    [(searched, _)], rows = _row_pair_searches(points, monkeypatch)
    monkeypatch.setattr(visibility, "_MOST_IN_ROW_BOX", np.inf)
    [(searched_all, _)], rows_all = _row_pair_searches(points, monkeypatch)
    assert searched == searched_all
    assert rows.counts == pytest.approx(rows_all.counts)


@pytest.mark.parametrize("sigma", [0.005, 0.02])
@pytest.mark.parametrize("axes", [[0, 1, 2], [2, 0, 1]])  # the sensor turning about z, and about x
def test_a_sweeps_range_noise_is_read_along_its_rows(sigma, axes):
    points, _ = sweep([], rings=64, half_width=np.pi)
    noisy = with_range_noise(points, sigma, np.random.default_rng(0))[:, axes]
    # The smoothest tenth of the neighbourhoods of 64 points reads 0.80-0.81 of the noise on noise alone.
    assert 0.75 * sigma < range_noise(noisy, AZIMUTH_STEP) < sigma
    assert range_noise(points, AZIMUTH_STEP) < 1e-4  # the ground's rings and the wall: smooth in angle


def test_a_sweeps_range_noise_is_its_smooth_surfaces_not_its_leaves():
    # Four fifths of the view (every direction but the ground ahead) scatter by 20 cm, as leaves and grass
    # do; the road ahead shows the sensor's 1 cm. The median over all points would read the leaves.
    points, _ = sweep([], rings=64, half_width=np.pi)
    azimuth = np.arctan2(points[:, 1], points[:, 0])
    leaves = np.abs(azimuth) > 0.2 * np.pi
    noisy = with_range_noise(points, np.where(leaves, 0.2, 0.01), np.random.default_rng(0))
    assert range_noise(noisy, AZIMUTH_STEP) < 0.012


def test_a_second_return_along_a_beam_is_no_neighbour_along_the_row():
    # A dual-return sensor gives some beams a second, farther return (through leaves, past an edge), and some
    # files repeat their points: on the point's own direction, neither is its neighbour along its row. Taken
    # for one, the repeated points read no noise and the second returns (on three beams in ten) 30 % more.
    points, _ = sweep([], rings=64, half_width=np.pi)
    noisy = with_range_noise(points, 0.01, np.random.default_rng(0))
    second = noisy[np.random.default_rng(1).random(len(noisy)) < 0.3] * 1.2
    single = range_noise(noisy, AZIMUTH_STEP)
    assert range_noise(np.concatenate([noisy, second]), AZIMUTH_STEP) == pytest.approx(single, rel=0.1)
    assert range_noise(np.concatenate([noisy, noisy]), AZIMUTH_STEP) == pytest.approx(single, rel=0.1)


def test_a_car_beside_a_noisy_sensor_is_an_object():
    # A dense sweep (0.1 degrees along its rings) with 2 cm of range noise: at its two spacings (3.5-3.7 cm) the
    # car's side, 3 m away, lay in three layers of voxels and was dropped as scatter (found in 4 of 12 places
    # and seeds); its voxel now holds the noise.
    car = ((3.0, -2.8, 0.2), (7.3, -1.0, 1.6))
    points, hit = sweep([car], rings=64, half_width=np.pi)
    in_range = np.linalg.norm(points, axis=1) < 80.0  # the ground just below the horizon lies kilometres away
    points, hit = points[in_range], hit[in_range]
    noisy = with_range_noise(points, 0.02, np.random.default_rng(0))
    labels, settings = segment_scene(noisy, "z", return_settings=True)
    assert settings.voxel_size >= 3.5 * 0.02  # 2.3 times its two spacings
    assert {int(np.bincount(hit[labels == k] + 1).argmax()) - 1 for k in np.unique(labels[labels >= 0])} == {0}


@pytest.mark.parametrize("kept", ["whole sweep", "upper rings"])
def test_a_top_hidden_two_of_its_own_rows_below_a_nearer_voxel_is_hidden_in_a_cut_sweep_too(kept):
    # One column of an object at 20 m whose top lies on a ring of the upper block, and 2.3 of that block's rows
    # above it a voxel at 15 m: hidden whether the sweep holds its lower rings (whose wider steps raise the
    # median step) or not (where two median steps reach 2 rows only).
    up = np.array([0.0, 0.0, 1.0])
    rings = np.concatenate([UPPER_RINGS, LOWER_RINGS]) if kept == "whole sweep" else UPPER_RINGS
    scan, _ = sweep([], elevation=rings)
    rows = sensor_rows(scan, up, AZIMUTH_STEP)
    step = row_step(scan, up, AZIMUTH_STEP)
    elevation = UPPER_RINGS[10] + np.radians(1 / 3) * np.array([-2.0, -1.0, 0.0, 2.3])
    points = directions(np.zeros(4), elevation, up) * np.array([20.0, 20.0, 20.0, 15.0])[:, None]
    objects = np.array([0, 0, 0, -1])
    assert unseen_objects(objects, points, up, step, np.full(4, 0.5), top=1.0, rows=rows).tolist() == [0]


def unseen(points: np.ndarray, objects: np.ndarray) -> set[int]:
    up = np.array([0.0, 0.0, 1.0])
    radius = 0.16 + RING_STEP * np.linalg.norm(points, axis=1)
    return set(unseen_objects(objects, points, up, RING_STEP, radius, sensor_view(points, up)[0]).tolist())


def test_a_car_is_seen_a_trunk_under_its_crown_and_a_pole_cut_by_the_view_are_not():
    car = ((14.0, -4.0, 0.2), (18.5, -2.2, 1.6))  # below the beams that pass over it to the wall
    trunk = ((15.0, 2.0, 0.0), (15.4, 2.4, 2.5))
    crown = ((13.5, 0.7, 2.5), (16.9, 3.7, 5.0))  # right above the trunk, at its range
    pole = ((20.0, 6.0, 0.0), (20.2, 6.2, 9.0))  # higher than the top ring reaches at 21 m
    points, hit = sweep([car, trunk, crown, pole])
    objects = np.select([hit == 0, hit == 1, hit == 3], [0, 1, 2], -1)  # the crown is not an object
    assert (np.bincount(objects[objects >= 0]) > 20).all()
    assert unseen(points, objects) == {1, 2}


def test_a_base_whose_top_is_behind_a_nearer_crown_is_not_seen_whole():
    crown = ((18.0, -3.0, 2.0), (21.0, 3.0, 4.0))  # a tree's crown (its trunk aside), nearer than the base
    base = ((30.0, -2.0, 0.0), (30.5, 2.0, 2.5))  # a facade's base: its top only under the crown
    car = ((14.0, -9.0, 0.2), (18.5, -7.2, 1.6))  # beside them, open to the sky
    points, hit = sweep([crown, base, car])
    objects = np.select([hit == 1, hit == 2], [0, 1], -1)
    assert (np.bincount(objects[objects >= 0]) > 20).all()
    assert unseen(points, objects) == {0}


def directions(azimuth: np.ndarray, elevation: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Unit rays at these sensor angles (radians), in the azimuth's own basis (``sensor_angles``)."""
    across = np.cos(azimuth)[:, None] * plane_basis(up)[0] + np.sin(azimuth)[:, None] * plane_basis(up)[1]
    return np.cos(elevation)[:, None] * across + np.sin(elevation)[:, None] * up


@pytest.mark.parametrize("centre", [0.5, 2.0, np.pi, -np.pi + 0.2 * RING_STEP])
@pytest.mark.parametrize("occluder_range, hidden", [(15.0, True), (25.0, False)])
def test_a_top_below_a_nearer_voxel_is_hidden_also_where_the_azimuth_goes_round(centre, occluder_range, hidden):
    # One column of an object at 20 m and, a row above its top and 0.8 steps aside, a voxel of something
    # else. Centred at pi, the column lies at +pi - 0.4 steps and the voxel at -pi + 0.4 steps: neighbours.
    up = np.array([0.0, 0.0, 1.0])
    azimuth = centre + RING_STEP * np.array([-0.4, -0.4, -0.4, 0.4])
    elevation = RING_STEP * np.array([-2.0, -1.0, 0.0, 1.0])
    points = directions(azimuth, elevation, up) * np.array([20.0, 20.0, 20.0, occluder_range])[:, None]
    objects = np.array([0, 0, 0, -1])
    radius = np.full(4, 0.5)
    unseen = unseen_objects(objects, points, up, RING_STEP, radius, top=1.0)
    assert unseen.tolist() == ([0] if hidden else [])


def test_a_car_in_an_open_field_is_not_taken_for_something_cut_off_by_the_view():
    # Nothing stands taller than the sensor: the far returns' top is the ground's, below the horizontal, and
    # the rings above it returned nothing. Taken for the view's top, it cut the car off at its roof.
    car = ((10.0, -6.0, 0.2), (14.5, -4.2, 1.6))
    points, hit = sweep([car], rings=64, wall=None)
    assert sensor_view(points, np.array([0.0, 0.0, 1.0]))[0] == np.pi
    labels = segment_scene(points, "z")
    assert {int(np.bincount(hit[labels == k] + 1).argmax()) - 1 for k in np.unique(labels[labels >= 0])} == {0}


#: Poles 6 m tall beside a street, every 3 m from 4 to 37 m ahead: the top ring hits one at most distances.
POLES = [((x, 6.0 + 0.1 * x, 0.0), (x + 0.3, 6.3 + 0.1 * x, 6.0)) for x in np.arange(4.0, 38.0, 3.0)]


@pytest.mark.parametrize("lift", [0.0, 1.0, SENSOR_HEIGHT])
def test_a_sweeps_sensor_is_the_apex_of_its_top_rings_cone(lift):
    # The poles and the wall 40 m ahead hold the top ring from 4 m to 57 m: its cone's apex is the sensor,
    # wherever the origin lies below it.
    points, _ = sweep(POLES, rings=64)
    found = sensor_height(points + [0.0, 0.0, lift], np.array([0.0, 0.0, 1.0]), voxel_size=0.05)
    assert found == pytest.approx(lift, abs=0.02)


def test_a_cone_that_the_top_ring_marks_at_few_distances_is_not_taken_for_the_sensor():
    # Only the wall holds the top ring, at 40-57 m: the line above the highest voxels rests on the car's roof
    # and the wall, 0.7 m below the sensor, and only 3 of 12 bands touch it.
    points, _ = sweep([((10.0, -6.0, 0.2), (14.5, -4.2, 1.6))], rings=64)
    assert sensor_height(points + [0.0, 0.0, SENSOR_HEIGHT], np.array([0.0, 0.0, 1.0]), voxel_size=0.05) is None


def test_a_car_in_a_vehicles_frame_whose_sensor_is_not_found_is_not_cut_off_by_the_view():
    # Seen from the road, the view's top is the far wall's foot: whatever stands on the road rises above it.
    car = ((10.0, -6.0, 0.2), (14.5, -4.2, 1.6))
    points, hit = sweep([car], rings=64)
    with pytest.warns(UserWarning, match="where its sensor lies was not found"):
        labels = segment_scene(points + [0.0, 0.0, SENSOR_HEIGHT], "z")
    assert {int(np.bincount(hit[labels == k] + 1).argmax()) - 1 for k in np.unique(labels[labels >= 0])} == {0}


@pytest.mark.parametrize(("lift", "on_ground"), [(0.0, False), (1.0, False), (SENSOR_HEIGHT, True)])
def test_a_sweeps_origin_on_its_road_is_told_from_its_sensor(lift, on_ground):
    points, _ = sweep([], rings=64)
    assert origin_on_ground(points + [0.0, 0.0, lift], np.array([0.0, 0.0, 1.0]), 1.0, 0.25) is on_ground


def test_segment_scene_keeps_the_car_of_a_sweep_and_drops_the_trunk_under_its_crown():
    car = ((24.0, -6.0, 0.2), (28.5, -4.2, 1.6))
    # The crown 0.4 m above the trunk, within the rings looked at over its top at 30 m. Above the top ring (from 3 m
    # up) no beam would reach it, and the rule of the view's top, not the hidden-top rule, would drop the trunk.
    trunk = ((30.0, 2.0, 0.0), (30.4, 2.4, 2.0))
    crown = ((28.5, 0.7, 2.4), (31.9, 3.7, 5.0))
    points, hit = sweep([car, trunk, crown], rings=64)
    assert (hit == 2).sum() > 20  # the top rings meet the crown
    labels, settings = segment_scene(points, "z", return_settings=True)
    assert settings.measured.row_step == pytest.approx(RING_STEP, rel=0.1)
    assert settings.cluster_growth == pytest.approx(settings.measured.row_step)  # rings join into objects
    found = {int(np.bincount(hit[labels == k] + 1).argmax()) - 1 for k in np.unique(labels[labels >= 0])}
    assert found == {0}
