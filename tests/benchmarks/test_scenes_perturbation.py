"""benchmarks.scenes: the perturbed copies of a scan (points kept with their ground truth, noise of a
tenth of the spacing, a turn about the sensor: about the up axis where the scan has one), on small grids."""

from __future__ import annotations

import numpy as np

from benchmarks import scenes


def grid_scan(step: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """A 10 x 10 x 10 grid of ``step`` (float32, x y z r g b) offset from the origin; the colour
    column r is the row number / 1000, which names each row in a copy, and the truth is row // 100."""
    axis = np.arange(10) * step
    xyz = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3) + [1.0, 0.5, 2.0]
    rows = np.arange(len(xyz))
    colour = np.stack([rows / 1000, np.full(len(xyz), 0.25), np.full(len(xyz), 0.75)], axis=1)
    return np.concatenate([xyz, colour], axis=1).astype(np.float32), rows // 100


def source_rows(copy: np.ndarray) -> np.ndarray:
    return np.rint(copy[:, 3] * 1000).astype(int)


def test_median_spacing_of_a_grid_is_its_step():
    points, _ = grid_scan(step=0.02)
    assert np.isclose(scenes.median_spacing(points[:, :3]), 0.02, rtol=1e-5)


def test_a_copy_keeps_points_with_their_ground_truth_rows_by_hand():
    points = np.array([[0, 0, 0, 0.1, 0.2, 0.3], [1, 0, 0, 0.4, 0.5, 0.6], [2, 0, 0, 0.7, 0.8, 0.9],
                       [3, 0, 0, 0.0, 0.0, 0.0], [4, 0, 0, 1.0, 1.0, 1.0]], dtype=np.float32)  # fmt: skip
    truth = np.array([-1, 0, 0, 1, -1])
    for k in range(20):
        # No noise (spacing 0), no turn: a copy is the kept rows of the scan, in order, with their truth.
        copy, copy_truth = scenes.perturbed_copy(points, truth, k, spacing=0.0, turn=False)
        rows = copy[:, 0].astype(int)
        np.testing.assert_array_equal(copy, points[rows])
        np.testing.assert_array_equal(copy_truth, truth[rows])
        assert np.all(np.diff(rows) > 0) and copy.dtype == np.float32 and copy_truth.dtype == truth.dtype


def test_a_copy_drops_a_tenth_and_moves_points_by_a_tenth_of_the_spacing():
    points, truth = grid_scan(step=0.02)
    copy, copy_truth = scenes.perturbed_copy(points, truth, 0, spacing=0.02, turn=False)
    rows = source_rows(copy)
    assert 850 < len(copy) < 950  # 1000 points kept with probability 0.9: 900 +- 9.5
    np.testing.assert_array_equal(copy_truth, truth[rows])
    np.testing.assert_array_equal(copy[:, 3:], points[rows, 3:])  # colour untouched
    noise = copy[:, :3] - points[rows, :3]
    assert 0.0018 < noise.std() < 0.0022 and abs(noise.mean()) < 2e-4  # sigma = 0.1 * 0.02


def test_copies_are_reproducible_for_the_same_k_and_differ_between_k():
    points, truth = grid_scan()
    first = scenes.perturbed_copy(points, truth, 3, spacing=0.02)
    again = scenes.perturbed_copy(points, truth, 3, spacing=0.02)
    other = scenes.perturbed_copy(points, truth, 4, spacing=0.02)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert len(first[0]) != len(other[0]) or not np.array_equal(first[0], other[0])


def test_a_turned_copy_keeps_every_distance_to_the_sensor_at_the_origin():
    points, truth = grid_scan()
    copy, _ = scenes.perturbed_copy(points, truth, 1, spacing=0.0)
    rows = source_rows(copy)
    before, after = points[rows, :3].astype(float), copy[:, :3].astype(float)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), np.linalg.norm(before, axis=1), rtol=1e-6)
    np.testing.assert_allclose(after @ after.T, before @ before.T, atol=1e-5)  # a rotation: all angles kept
    assert np.abs(after - before).max() > 0.1  # and it did turn the scan


def test_a_scan_with_an_up_axis_is_turned_about_it_and_one_without_any_way(monkeypatch):
    points, truth = grid_scan()
    segmented = []
    monkeypatch.setattr(scenes, "run_scan", lambda copy, copy_truth, up, seed, *rest: segmented.append((copy, up, seed)))
    for up in ("z", "x", None):
        scenes.run_perturbed(points, truth, up, 2, {}, 25)
    assert [(up, seed) for _, up, seed in segmented] == [("z", 0), ("z", 1), ("x", 0), ("x", 1), (None, 0), (None, 1)]
    for copy, up, _ in segmented:
        before, after = points[source_rows(copy), :3].astype(float), copy[:, :3].astype(float)
        assert np.abs(after - before).max() > 0.1  # turned: the grid moves by decimetres, noise by millimetres
        if up is None:
            continue
        axis = "xyz".index(up)
        # Noise of sigma 0.002 moves a point less than 0.02 (10 sigma) along up, and off the axis.
        assert np.abs(after[:, axis] - before[:, axis]).max() < 0.02
        off_axis = [k for k in range(3) if k != axis]
        np.testing.assert_allclose(np.linalg.norm(after[:, off_axis], axis=1), np.linalg.norm(before[:, off_axis], axis=1),
                                   atol=0.02)  # fmt: skip
    # The two copies of a scan with an up axis are turned by different angles.
    first, second = (np.arctan2(copy[:, 1], copy[:, 0]) - np.arctan2(points[source_rows(copy), 1], points[source_rows(copy), 0])
                     for copy, _, _ in segmented[:2])  # fmt: skip
    assert abs(np.median(np.mod(first, 2 * np.pi)) - np.median(np.mod(second, 2 * np.pi))) > 0.05


def test_a_denser_copy_adds_points_between_neighbours_with_their_ground_truth():
    points, truth = grid_scan(step=0.02)
    copy, copy_truth = scenes.denser_copy(points, truth, factor=3, seed=1)
    assert copy.shape == (3 * len(points), 6) and copy.dtype == np.float32 and len(copy_truth) == len(copy)
    np.testing.assert_array_equal(copy[: len(points)], points)  # the scan first, as it was
    origin = np.tile(np.arange(len(points)), 3)
    # Each new point keeps the colour (which names its row) and the truth of the point it starts from...
    np.testing.assert_array_equal(source_rows(copy), origin)
    np.testing.assert_array_equal(copy_truth, truth[origin])
    # ... and lies within reach of it: the 8 nearest neighbours on this grid are at most one diagonal away.
    step = np.linalg.norm(copy[:, :3] - points[origin, :3], axis=1)
    assert step.max() <= 0.02 * np.sqrt(2) + 1e-6 and (step[len(points):] > 0).mean() > 0.99
    again, _ = scenes.denser_copy(points, truth, factor=3, seed=1)
    np.testing.assert_array_equal(copy, again)


def test_a_denser_copy_of_one_object_puts_no_point_in_the_gap_to_the_next():
    # Two 10 x 10 grids of 1 cm on one plane, objects 0 and 1, 1.5 cm apart along x: the rim of each has
    # neighbours across the gap among its 8 nearest.
    axis = np.arange(10) * 0.01
    square = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    xy = np.concatenate([square, square + [0.105, 0.0]])
    points = np.concatenate([xy, np.zeros((200, 1)), np.full((200, 3), 0.5)], axis=1).astype(np.float32)
    truth = np.repeat([0, 1], 100)

    def in_gap(copy: np.ndarray) -> int:
        return int(((copy[:, 0] > 0.091) & (copy[:, 0] < 0.104)).sum())

    bridged, _ = scenes.denser_copy(points, truth, 8, seed=0)
    assert in_gap(bridged) > 20
    copy, copy_truth = scenes.denser_copy(points, truth, 8, seed=0, same_object=True)
    assert in_gap(copy) == 0 and len(copy) == 8 * len(points)
    # Each new point lies between points of its own object: within that object's square.
    inside = np.where(copy_truth == 0, copy[:, 0] <= 0.09 + 1e-6, copy[:, 0] >= 0.105 - 1e-6)
    assert inside.all()


def plane_scan(points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Points at random on a 0.8 m square of the plane z = 1, as a mesh's vertices lie (float32, x y z r g b):
    object 0 where x < 0.4, object 1 beyond."""
    xy = np.random.default_rng(0).random((points, 2)) * 0.8
    xyz = np.concatenate([xy, np.ones((points, 1))], axis=1)
    return np.concatenate([xyz, np.full((points, 3), 0.5)], axis=1).astype(np.float32), (xy[:, 0] >= 0.4).astype(int)


def test_a_finer_copy_spreads_factor_times_the_points_evenly_over_the_surface():
    points, truth = plane_scan()
    spacing = {}
    for factor in (1.0, 2.0, 3.0):
        copy, copy_truth = scenes.finer_copy(points, truth, factor, seed=1)
        assert abs(len(copy) - factor * len(points)) <= 0.01 * factor * len(points) and len(copy_truth) == len(copy)
        assert np.allclose(copy[:, 2], 1.0)  # on the surface
        # Each point keeps the truth of a scan point near it.
        far_from_the_seam = np.abs(copy[:, 0] - 0.4) > 0.05
        np.testing.assert_array_equal(copy_truth[far_from_the_seam], copy[far_from_the_seam, 0] >= 0.4)
        spacing[factor] = scenes.median_spacing(copy[:, :3])
        # Spread evenly: nearer each other than on a square lattice of as many points (the 0.8 m square's side over
        # the square root of their count), but not as near as points drawn at random (0.47 of it).
        assert 0.58 < spacing[factor] / (0.8 / np.sqrt(len(copy))) < 1.0, (factor, spacing[factor])
    # Spread evenly, the spacing falls as the square root of the count, as a finer scan's does; a denser copy's
    # new points bunch round the points they start from, and its spacing falls twice as fast.
    for factor in (2.0, 3.0):
        assert abs(spacing[factor] / spacing[1.0] * np.sqrt(factor) - 1) < 0.1, spacing
    denser, _ = scenes.denser_copy(points, truth, 3, seed=1)
    assert scenes.median_spacing(denser[:, :3]) / scenes.median_spacing(points[:, :3]) * np.sqrt(3) < 0.7
    again, _ = scenes.finer_copy(points, truth, 2.0, seed=1)
    other, _ = scenes.finer_copy(points, truth, 2.0, seed=2)
    np.testing.assert_array_equal(scenes.finer_copy(points, truth, 2.0, seed=1)[0], again)
    assert not np.array_equal(again, other)


def test_a_sparser_copy_keeps_a_share_of_the_points_with_their_ground_truth():
    points, truth = grid_scan(step=0.02)
    copy, copy_truth = scenes.sparser_copy(points, truth, 0.5, seed=2)
    rows = source_rows(copy)
    assert 450 < len(copy) < 550  # 1000 points kept with probability 0.5: 500 +- 16
    np.testing.assert_array_equal(copy, points[rows])  # kept as they were, in order
    np.testing.assert_array_equal(copy_truth, truth[rows])
    assert np.all(np.diff(rows) > 0)
    again, _ = scenes.sparser_copy(points, truth, 0.5, seed=2)
    other, _ = scenes.sparser_copy(points, truth, 0.5, seed=3)
    np.testing.assert_array_equal(copy, again)
    assert not np.array_equal(source_rows(other), rows)
