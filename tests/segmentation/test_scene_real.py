"""Segmentation of real scans of each kind with the defaults: a table-top RGB-D frame, a LiDAR
sweep (copies in tests/data/scenes_real, see its SOURCES.md) and a room (ScanNet, read from
../shared when present: its terms keep it out of the repository)."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks.scenes import CAMERA_HEADINGS, camera_view_masks, evaluate, iou_matrix
from openshape_ood import load_points
from openshape_ood.cli import main
from openshape_ood.io import read_pcd_fields
from openshape_ood.scenes.scene import segment_scene
from openshape_ood.segmentation.settings import measure_scan
from openshape_ood.segmentation.visibility import row_step

from ..helpers.cpu_kernels import oldest_kernels, run_elsewhere, skip_unless_other_kernels
from ..helpers.data import DATA as TEST_DATA, ROOT, WILD
from ..helpers.scenes import record_scatter_levels

DATA = TEST_DATA / "scenes_real"
# The shared data beside the checkout, or where OPENSHAPE_OOD_SCENES_REAL points.
SHARED = Path(os.environ.get("OPENSHAPE_OOD_SCENES_REAL", ROOT.parent / "shared" / "data" / "scenes_real"))


def mosd_frame() -> tuple[np.ndarray, np.ndarray]:
    """The mOSD frame's finite points and objects (label // 10 - 2 for objects, -1 for the table)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the organised cloud's NaN points are dropped with a warning
        points = load_points(DATA / "mosd_test34.pcd")
    fields = read_pcd_fields(DATA / "mosd_test34.pcd")
    xyz = np.stack([fields[axis][0].astype(np.float64) for axis in "xyz"], axis=1)
    label = fields["label"][0][np.isfinite(xyz).all(axis=1)].astype(np.int64)
    assert len(label) == len(points)
    return points, np.where(label >= 10, label // 10 - 2, -1)


def test_invalid_depth_written_as_zeros_is_background_and_changes_nothing_else():
    # Converters write a depth camera's pixels without depth as (0, 0, 0). Before they were set aside, 5 %
    # of them in this frame (its NaN pixels) put the sensor's place inside the scan: 4 of its 5 objects
    # were found instead of 5, with 3 false segments instead of 1.
    points, _ = mosd_frame()
    alone = segment_scene(points)
    zeros = np.zeros((len(points) // 20, points.shape[1]), points.dtype)
    with pytest.warns(UserWarning, match=rf"^{len(zeros)} of {len(points) + len(zeros)} points lie at exactly \(0, 0, 0\)"):
        labels = segment_scene(np.concatenate([points, zeros]))
    np.testing.assert_array_equal(labels[: len(points)], alone)
    assert (labels[len(points):] == -1).all()


def kitti_sweep() -> tuple[np.ndarray, np.ndarray]:
    """The sweep's xyz and objects: one per (semantic class, instance id > 0), -1 for the rest."""
    stem = DATA / "semantickitti_000000_r45_half"
    points = np.fromfile(stem.with_suffix(".bin"), dtype="<f4").reshape(-1, 4)[:, :3]
    label = np.fromfile(stem.with_suffix(".label"), dtype="<u4")
    instance = (label >> 16).astype(np.int64)
    key = (label & 0xFFFF).astype(np.int64) * 65536 + instance
    truth = np.full(len(label), -1, dtype=np.int64)
    _, truth[instance > 0] = np.unique(key[instance > 0], return_inverse=True)
    return points, truth


def test_table_top_frame_without_gravity_axis():
    points, truth = mosd_frame()
    labels, settings = segment_scene(points, return_settings=True)
    # The support plane is the table; its normal (0.00, -0.83, -0.56) in the camera frame (mOSD README).
    assert np.dot(settings.up, [0.0, -0.83, -0.56]) > 0.97
    assert settings.ground == "planes" and settings.voxel_size <= 0.01
    result = evaluate(labels, truth, 25)
    assert result["objects"] == 5
    assert result["found_050"] == 5, result  # two of them touch: split at their concave edge
    assert result["false"] <= 1, result


def test_lidar_sweep_keeps_the_cars_and_people_and_drops_the_ground():
    points, truth = kitti_sweep()
    labels, settings = segment_scene(points, "z", return_settings=True)
    measured = settings.measured
    assert measured.single_viewpoint and measured.spacing_growth > 0  # sparser with range
    assert settings.ground == "grid" and settings.max_size >= 6.0
    # An HDL-64E's rings are about 0.4 degrees apart, about twice its points along a ring: the clusters bridge them.
    assert np.degrees(measured.row_step) == pytest.approx(0.4, abs=0.05)
    assert settings.cluster_growth == measured.row_step > 1.2 * measured.spacing_growth
    # Objects of 13 points or more (25 in the full sweep, of which this copy keeps every second point).
    result = evaluate(labels, truth, 13)
    assert result["objects"] == 7
    assert result["found_050"] >= 6, result
    # Facade bases, trunks under their crowns, bushes behind fences are not seen whole: background.
    assert result["false"] <= result["found_050"], result
    # The road, the sidewalk and the terrain are background.
    semantic = np.fromfile(DATA / "semantickitti_000000_r45_half.label", dtype="<u4") & 0xFFFF
    ground = np.isin(semantic, [40, 44, 48, 72])  # road, parking, sidewalk, terrain
    assert (labels[ground] == -1).mean() > 0.98


@pytest.mark.parametrize("up_axis", ["y", None])
def test_a_lidar_sweep_in_a_cameras_axes_finds_what_it_finds_in_the_sensors(up_axis):
    # x right, y down, z ahead, as KITTI's boxes are given: "y" names the vertical without its sign, and
    # without an axis the road's normal, tilted by its slope, is taken to the axis the rings turn about.
    points, truth = kitti_sweep()
    expected = evaluate(segment_scene(points, "z"), truth, 13)
    in_camera_axes = np.c_[-points[:, 1], -points[:, 2], points[:, 0]]
    labels, settings = segment_scene(in_camera_axes, up_axis, return_settings=True)
    assert settings.up == (0.0, -1.0, 0.0)
    assert evaluate(labels, truth, 13) == expected


def test_a_sweep_among_buildings_without_an_axis_turns_about_its_rings_not_its_largest_wall():
    # hdl_graph_slam's HDL-32E sweep (tests/data/real_samples_wild): its largest plane is a wall, whose
    # normal (y) was taken for up, and every object was then "not standing on the ground".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # beams without a return, written as (0, 0, 0)
        points = load_points(WILD / "koide3_fast_gicp" / "251370668.pcd")
        labels, settings = segment_scene(points, None, return_settings=True)
        expected = segment_scene(points, "z")
    assert settings.up == (0.0, 0.0, 1.0)
    assert expected.max() + 1 == 6
    np.testing.assert_array_equal(labels, expected)


def test_a_sweep_whose_origin_lies_a_little_below_its_sensor_finds_what_it_finds_from_the_sensor():
    # The top of the view is read on the far voxels: 0.15 m off moves their elevations least. Read on every
    # voxel it rose with the near ones, and the trunks and facades it cuts off came back (10 false against 5).
    points, truth = kitti_sweep()
    expected = evaluate(segment_scene(points, "z"), truth, 13)
    lowered_origin = evaluate(segment_scene(points + np.float32([0.0, 0.0, 0.15]), "z"), truth, 13)
    assert lowered_origin["found_050"] == expected["found_050"] == 6
    assert lowered_origin["false"] <= expected["false"] + 1, (lowered_origin, expected)


def test_a_sweep_in_a_vehicles_frame_is_judged_from_its_sensor():
    # The origin on the road under the sensor, as Waymo's and Argoverse 2's points are given: the sweep is moved
    # to its top ring's apex, and says so. Judged from the road it found 4 of the 7 objects with 14 false segments.
    points, truth = kitti_sweep()
    labels, sensor_frame = segment_scene(points, "z", return_settings=True)
    expected = evaluate(labels, truth, 13)
    with pytest.warns(UserWarning, match=r"origin lies on its ground.*taken to be 2\.\d\d m above it"):
        labels, settings = segment_scene(points + np.float32([0.0, 0.0, 1.73]), "z", return_settings=True)
    vehicle_frame = evaluate(labels, truth, 13)
    assert vehicle_frame["found_050"] == expected["found_050"] == 6
    assert vehicle_frame["false"] <= expected["false"] + 1, (vehicle_frame, expected)
    # Its range noise is read from the sensor too: from the road the ground's rings crowd onto the horizon,
    # and the noise read 0.32 m instead of 7 mm.
    assert settings.measured.range_noise == pytest.approx(sensor_frame.measured.range_noise, rel=0.1)
    assert settings.voxel_size == sensor_frame.voxel_size


def test_a_sweep_among_buildings_in_a_vehicles_frame_keeps_its_vertical():
    # Its lowest voxels lie 0.86 m above the road under the sensor in half its cells (walls, rising ground):
    # judged on every cell, the sweep was turned upside down. The road near the origin is the road.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # beams without a return, and the vehicle's frame
        points = load_points(WILD / "koide3_fast_gicp" / "251370668.pcd")
        expected = segment_scene(points, "z")
        labels, settings = segment_scene(points + np.float32([0.0, 0.0, 1.73]), "z", return_settings=True)
    assert settings.up == (0.0, 0.0, 1.0)
    assert (labels == expected).mean() > 0.98


def test_the_row_step_of_a_real_sweep_follows_its_rings():
    # The copy keeps the sensor's order: a ring ends where the azimuth turns over. Keeping every second
    # or fourth ring is a 32- or 16-ring sensor with the same points along a ring.
    points, _ = kitti_sweep()
    azimuth = np.arctan2(points[:, 1], points[:, 0])
    ring = np.cumsum(np.r_[0, np.abs(np.diff(azimuth)) > np.pi])
    assert ring.max() + 1 == 65  # 64 rings, the first one split where the sweep starts
    steps = []
    for every in (1, 2, 4):
        kept = points[ring % every == 0].astype(np.float64)
        steps.append(row_step(kept, np.array([0.0, 0.0, 1.0]), measure_scan(kept).spacing_growth))
    assert 1.8 < steps[1] / steps[0] < 2.3 and 3.5 < steps[2] / steps[0] < 4.6, np.degrees(steps)


def test_scene_command_on_a_lidar_sweep_with_and_without_its_label_file(tiny_registry, tmp_path, capsys):
    sweep = DATA / "semantickitti_000000_r45_half.bin"
    common = ["scene", str(sweep), "--known", "car,person", "--model", "vitb32", "--up", "z", "--json", "-q"]
    assert main([*common, "--labels", "none", "--out", str(tmp_path / "segmented.ply")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["objects_from"] == "segmentation"
    assert np.degrees(document["segmentation"]["measured"]["row_step"]) == pytest.approx(0.4, abs=0.05)
    points, truth = kitti_sweep()
    assert 6 <= len(document["objects"]) <= 2 * 6  # the 6 found at IoU 0.5 (test above), false ones at most as many
    # With the .label beside it, SemanticKITTI's instances are the objects; one of them is a single point
    # (a person of two points in the full sweep), which has no shape: left out, not the end of the run.
    flat = [i for i in np.unique(truth[truth >= 0]) if np.ptp(points[truth == i], axis=0).max() == 0]
    assert len(flat) == 1
    assert main([*common, "--labels", "auto", "--out", str(tmp_path / "labelled.ply")]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["objects_from"] != "segmentation"
    assert len(document["objects"]) == len(np.unique(truth[truth >= 0])) - 1
    assert "1 object(s) have no extent" in captured.err


def shared_scan(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A scan's points and objects from the shared data (skips the test where it is not here)."""
    reader = SHARED / "load_gt.py"
    if not reader.is_file():
        pytest.skip(
            f"the shared scans (ScanNet's rooms stay out of the repository by their terms) are read from {SHARED}; "
            f"{reader} is not here"
        )
    sys.path.insert(0, str(SHARED))
    try:
        import load_gt
    finally:
        sys.path.remove(str(SHARED))
    points, truth, _ = load_gt.load(name)
    return points, truth


def test_room_from_shared_data():
    points, truth = shared_scan("scannet_scene0001_00")
    labels, settings = segment_scene(points, "z", return_settings=True)
    assert settings.ground == "planes" and settings.max_size <= 3.0
    result = evaluate(labels, truth, 25)
    assert result["found_050"] >= 10, result  # of 19: sofas, chairs, tables, a door
    assert result["false"] <= result["found_050"], result


def test_a_flat_box_on_a_cluttered_table_is_not_taken_with_the_table():
    # mOSD test60 (15 objects, not in tests/data). With seed 1 the best hypothesis on RANSAC's sample was a
    # band tilted 5.5 degrees across the table through the top of a flat box 3.6 cm high; refitted, it
    # stayed there, and the box went with the table. Every best-so-far hypothesis is refitted now, and
    # an earlier one turns into the whole table.
    points, truth = shared_scan("mosd_test60")
    for seed in (0, 1):
        result = evaluate(segment_scene(points, seed=seed), truth, 25)
        assert result["found_050"] == 15, (seed, result)


def test_a_car_cut_by_the_side_of_a_camera_view_of_the_sweep_stands_on_the_road():
    # The SemanticKITTI sweep cut to what KITTI's colour camera sees at a heading of 285 degrees: car 0 (21.6 m
    # away, its underside 0.3 m above a road hidden under it) loses its end beyond the view's edge. Filled from
    # the nearest cell, the ground beyond the edge took its underside's height, and the car sank below
    # min_height (1 m; its top 1.2 m above the road): background. Mirrored across the edge, the ground is the road.
    points, truth = shared_scan("semantickitti_spvnas_000000")
    view = camera_view_masks(points[:, :3], "z")[CAMERA_HEADINGS.index(285)]
    assert 200 < np.count_nonzero(view & (truth == 0)) < np.count_nonzero(truth == 0)  # cut, not gone
    iou, objects, _ = iou_matrix(segment_scene(points[view], "z"), truth[view])
    assert iou[list(objects).index(0)].max() > 0.9


def test_the_sweeps_camera_views_show_about_as_many_false_segments_as_the_whole_sweep():
    # The SemanticKITTI sweep cut to KITTI's colour camera's view at 24 headings (view k with seed k, objects of 25
    # points or more, as the benchmark's --camera-views): 31 of 40 found, with 34 false segments, the whole sweep's
    # few false things seen in several views (it shows 5-6 for its 6 objects found). Completed as sampled depth
    # frames between their rings (8924465 until stop 120), the views showed 106.
    points, truth = shared_scan("semantickitti_spvnas_000000")
    found = false = 0
    for seed, view in enumerate(camera_view_masks(points[:, :3], "z")):
        result = evaluate(segment_scene(points[view], "z", seed=seed), truth[view], 25)
        found, false = found + result["found_050"], false + result["false"]
    assert found >= 31 and false < 1.5 * found, (found, false)


def test_touching_chairs_of_a_room_are_split_at_their_concave_edge():
    # At the 3 cm voxels of a room the concave test must still cut: two chairs pushed together
    # (objects 9 and 10 of scene0001_00) are two objects, not one.
    points, truth = shared_scan("scannet_scene0001_00")
    labels = segment_scene(points, "z")
    iou, _, _ = iou_matrix(labels, truth)
    segments = np.unique(labels[labels >= 0])
    assert iou[9].max() >= 0.5 and iou[10].max() >= 0.5, (iou[9].max(), iou[10].max())
    assert segments[iou[9].argmax()] != segments[iou[10].argmax()]


def test_explicit_settings_win_and_every_setting_is_reported():
    points, _ = mosd_frame()
    labels, settings = segment_scene(points, "y", voxel_size=0.01, min_points=200, return_settings=True)
    assert settings.voxel_size == 0.01 and settings.min_points == 200
    assert settings.source["voxel_size"] == settings.source["min_points"] == "given"
    assert settings.source["cluster_distance"] == "chosen"
    # A camera frame: the axis given picks the table, whose normal (towards the camera) is up.
    assert settings.up_axis == "y" and -0.85 < settings.up[1] < -0.8 and abs(settings.up[0]) < 0.01
    document = json.loads(json.dumps(settings.to_dict()))
    assert document["voxel_size"] == 0.01 and document["measured"]["points"] == len(points)
    assert np.bincount(labels[labels >= 0]).min() >= 200


def test_grid_ground_follows_a_sloped_and_curved_road():
    """A 60 m road rising 10 % and bending, a car (4.5 x 1.8 x 1.5 m box) on it: the road is
    background, the car one object; one plane cannot fit this road."""
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-30, 30, 200000), rng.uniform(-10, 10, 200000)
    road = np.stack([x, y, 0.1 * x + 0.01 * x**2 / 3], axis=1)
    centre = np.array([15.0, 2.0, 0.1 * 15 + 0.01 * 15**2 / 3])
    half = np.array([2.25, 0.9, 0.75])
    car = rng.uniform(-half, half, (60000, 3))
    face = rng.integers(0, 3, len(car))  # each point pushed onto a side or the roof: what a LiDAR sees
    car[np.arange(len(car)), face] = np.where((rng.random(len(car)) < 0.5) & (face < 2), -1, 1) * half[face]
    car += centre + [0, 0, 0.3 + half[2]]  # the body 30 cm above the road (wheels not modelled)
    points = np.concatenate([road, car])
    labels, settings = segment_scene(points, "z", return_settings=True)
    assert settings.ground == "grid"
    assert (labels[: len(road)] == -1).mean() > 0.99
    found = labels[len(road) :]
    assert (found == found[0]).mean() > 0.95 and found[0] >= 0
    assert len(np.unique(labels[labels >= 0])) == 1


def test_map_coordinates_far_from_the_origin_give_the_same_objects():
    """A scan in UTM-like coordinates (hundreds of kilometres from the origin) is segmented as it
    is at the origin: float64 arithmetic relative to the scan, not to the origin."""
    from ..synthetic_scene import make_synthetic_scene

    points, _ = make_synthetic_scene(spacing=0.015, seed=2)
    near = segment_scene(points, "y")
    far = segment_scene(points.astype(np.float64) + [500000.0, 100.0, 5000000.0], "y")
    assert len(np.unique(near[near >= 0])) >= 5
    assert (near == far).mean() > 0.999


def test_a_room_stored_with_a_corner_of_its_box_at_the_origin_gives_the_same_objects():
    """ScanNet's raw meshes and many exports keep a room to one side of the origin. Taken for a camera's
    view from there, the room was split and joined along rays from its corner: 10 objects found, not 15."""
    points, truth = shared_scan("scannet_scene0001_00")
    centred = segment_scene(points, "z")
    moved = points.copy()
    moved[:, :3] += np.float32([0.05, 0.05, 0.0]) - moved[:, :3].min(axis=0)
    labels, settings = segment_scene(moved, "z", return_settings=True)
    assert not settings.measured.camera_frame
    assert (labels == centred).mean() > 0.99
    assert evaluate(labels, truth, 25)["found_050"] == evaluate(centred, truth, 25)["found_050"] == 15


def test_a_street_sweep_is_judged_for_scatter_by_one_level(monkeypatch):
    by_range = record_scatter_levels(monkeypatch)
    segment_scene(kitti_sweep()[0], "z")
    assert by_range and not any(by_range)  # a LiDAR's range noise hardly grows: no level by range


# Segments the scan saved in argv[1] (with its up axis in argv[2]) and saves the labels to argv[3].
_SEGMENT = """
import sys
import numpy as np
from openshape_ood.segmentation import segment_scene
np.save(sys.argv[3], segment_scene(np.load(sys.argv[1]), sys.argv[2] or None, seed=0))
"""


def _segmented_elsewhere(points: np.ndarray, up_axis: str | None, folder: Path, env: dict) -> tuple[np.ndarray, dict]:
    np.save(folder / "points.npy", points)
    used = run_elsewhere(_SEGMENT, [str(folder / "points.npy"), up_axis or "", str(folder / "labels.npy")], env)
    return np.load(folder / "labels.npy"), used


@pytest.mark.parametrize("kind", ["table top", "street", "room"])
def test_the_labels_do_not_depend_on_the_cpus_simd_extensions_or_blas_kernels(kind, tmp_path):
    """Machines here are AVX2-only or AVX-512: a figure measured on one must hold on the other. numpy's
    sums and OpenBLAS's products and eigenvectors round differently with each set of SIMD extensions; a
    decision that a rounding flips (a threshold met to the last bit, a tie, a sign) would show here."""
    points, up_axis = {
        "table top": lambda: (mosd_frame()[0], None),
        "street": lambda: (kitti_sweep()[0], "z"),
        "room": lambda: (shared_scan("scannet_scene0001_00")[0], "z"),
    }[kind]()  # fmt: skip
    here, used_here = _segmented_elsewhere(points, up_axis, tmp_path, {})
    np.testing.assert_array_equal(here, segment_scene(points, up_axis, seed=0))
    labels, used = _segmented_elsewhere(points, up_axis, tmp_path, oldest_kernels(used_here))
    skip_unless_other_kernels(used_here, used)
    np.testing.assert_array_equal(labels, here)
