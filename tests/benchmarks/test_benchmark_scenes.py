"""benchmarks.scenes: the matching of segments to ground-truth objects, and a run over a folder
laid out like scenes_real (one scan, its own load_gt.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import bicycles, pushed_objects, scenes, turned_objects
from openshape_ood.segmentation import pipeline

from ..helpers.camera_frames import RED, render_table_frame, standing_box
from ..helpers.cli import assert_usage_error
from ..helpers.scenes import write_scan_folder


def test_evaluate_counts_found_and_false_objects_by_hand():
    truth = np.array([0, 0, 0, 0, 1, 1, 2, -1, -1, -1])
    labels = np.array([5, 5, 5, -1, 7, 7, 7, 9, 9, -1])
    # Object 0: IoU 3/4 with segment 5. Object 1: 2/3 with segment 7. Object 2 (1 point): 1/3 with 7.
    # Segment 9 covers background only: false.
    result = scenes.evaluate(labels, truth, min_gt_points=2)
    assert result == {"objects": 2, "found_050": 2, "found_025": 2, "segments": 3, "false": 1}
    result = scenes.evaluate(labels, truth, min_gt_points=1)
    assert (result["objects"], result["found_050"], result["found_025"]) == (3, 2, 3)


def test_up_axis_is_read_from_the_readers_info():
    assert scenes.up_axis_of({"up_axis": "+z (sensor frame)"}) == "z"
    assert scenes.up_axis_of({"up_axis": "none: camera frame (x right, y down, z forward)"}) is None


@pytest.fixture(scope="module")
def scan_folder(tmp_path_factory):
    """One synthetic room (Y up) of no named kind."""
    return write_scan_folder(tmp_path_factory.mktemp("scans"), {"up_axis": "+y"})


def test_the_benchmark_runs_on_a_folder_with_its_own_reader(scan_folder, tmp_path, capsys):
    from ..synthetic_scene import OBJECTS

    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "--no-loso"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    [result] = row["in_sample"]
    assert row["scan"] == "room" and row["kind"] == "scan"
    assert result["found_050"] == result["objects"] == len(OBJECTS) and result["false"] == 0
    assert result["settings"]["up_axis"] == "y"
    assert report["kinds"]["scan"]["in_sample"]["ap50"] == 1.0
    # Without --perturb no copy is made.
    assert row["perturbed"] == [] and "perturbed" not in report["kinds"]["scan"]
    assert "room" in capsys.readouterr().out


def test_the_benchmark_segments_perturbed_copies_beside_the_scan(scan_folder, tmp_path, capsys):
    from ..synthetic_scene import OBJECTS

    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "--no-loso", "--perturb", "1"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    [copy] = row["perturbed"]
    # The copy holds about 90 % of the points (each kept with probability 0.9), all objects still counted.
    points = len(np.load(scan_folder / "points.npy"))
    assert copy["objects"] == len(OBJECTS)
    assert 0.88 * points < copy["settings"]["measured"]["points"] < 0.92 * points
    summary = report["kinds"]["scan"]["perturbed"]
    assert summary["found_050"] == copy["found_050"] and summary["false"] == copy["false"]
    assert report["perturbation"]["copies"] == 1
    printed = capsys.readouterr().out
    assert "perturbed, mean over 1 copies" in printed and f"perturbed found {copy['found_050']}" in printed


def test_the_benchmark_segments_denser_copies_beside_the_scan(scan_folder, tmp_path, capsys):
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "--no-loso", "--denser", "2"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    [finer] = row["denser"]["2"]
    assert report["denser"] == [2] and finer["objects"] == row["in_sample"][0]["objects"]
    assert report["kinds"]["scan"]["denser_x2"]["found_050"] == finer["found_050"]
    assert f"x2 found {finer['found_050']}" in capsys.readouterr().out
    assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--denser", "1"],
                       "--denser takes factors of 2 or more, not [1]", capsys)


def _copies_per_seed(folder, out, option: str, value: str) -> tuple[dict, list[dict], int]:
    """The benchmark on ``folder`` with seeds 0 and 1 and ``option value``: its report, the scan's copies of that
    option and the scan's number of points."""
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "1", "--no-loso", option, value])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    return report, row[option.lstrip("-")][value], len(np.load(folder / "points.npy"))


def test_the_benchmark_segments_finer_copies_of_rooms_only_one_per_seed(scan_folder, tmp_path, capsys):
    folder = write_scan_folder(tmp_path, {"up_axis": "+y", "kind": "indoor room"})
    out = tmp_path / "scenes.json"
    report, copies, points = _copies_per_seed(folder, out, "--finer", "1.5")
    assert report["scans"][0]["kind"] == "room" and len(copies) == 2 and report["finer"] == [1.5]
    assert all(abs(copy["settings"]["measured"]["points"] - 1.5 * points) <= 0.015 * points for copy in copies)
    summary = report["kinds"]["room"]["finer_x1.5"]
    assert summary["found_050"] == (copies[0]["found_050"] + copies[1]["found_050"]) / 2
    printed = capsys.readouterr().out
    assert "about 1.5 times the points spread evenly (a copy per seed)" in printed
    assert f"finer x1.5 found {copies[0]['found_050']}" in printed
    # A scan of another kind (a sensor's view: a finer sensor has more rays) has none.
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "--no-loso", "--finer", "1.5"])
    report = json.loads(out.read_text())
    assert report["scans"][0]["finer"] == {"1.5": []} and "finer_x1.5" not in report["kinds"]["scan"]
    assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--finer", "0"],
                       "--finer takes factors of the points above 0, not [0.0]", capsys)


def test_the_benchmark_segments_sparser_copies_one_per_seed(scan_folder, tmp_path, capsys):
    out = tmp_path / "scenes.json"
    report, copies, points = _copies_per_seed(scan_folder, out, "--sparser", "0.8")
    assert len(copies) == 2 and report["sparser"] == [0.8]
    assert all(0.77 * points < copy["settings"]["measured"]["points"] < 0.83 * points for copy in copies)
    assert copies[0]["settings"]["measured"]["points"] != copies[1]["settings"]["measured"]["points"]
    summary = report["kinds"]["scan"]["sparser_0.8"]
    assert summary["found_050"] == (copies[0]["found_050"] + copies[1]["found_050"]) / 2
    printed = capsys.readouterr().out
    assert "0.8 of the points (a copy per seed)" in printed and f"x0.8 found {copies[0]['found_050']}" in printed
    for share in ("1", "0"):
        assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--sparser", share],
                           f"--sparser takes shares of the points between 0 and 1, not [{float(share)}]", capsys)


def test_the_benchmark_segments_each_scan_at_other_voxel_sizes_one_run_per_seed(scan_folder, tmp_path, capsys):
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "1", "--no-loso",
                 "--voxel-scales", "0.9", "1.25"])  # fmt: skip
    report = json.loads(out.read_text())
    [row] = report["scans"]
    assert report["voxel_scales"] == [0.9, 1.25] and set(row["voxel_scales"]) == {"0.9", "1.25"}
    for scale, runs in row["voxel_scales"].items():
        assert len(runs) == 2
        for run, own in zip(runs, row["in_sample"]):
            # The voxel given, the settings that follow it chosen from it as ever.
            assert run["settings"]["voxel_size"] == pytest.approx(float(scale) * own["settings"]["voxel_size"])
            assert run["settings"]["source"]["voxel_size"] == "given"
            assert run["settings"]["cluster_distance"] == pytest.approx(2 * run["settings"]["voxel_size"])
        summary = report["kinds"]["scan"][f"voxels_x{scale}"]
        assert summary["found_050"] == (runs[0]["found_050"] + runs[1]["found_050"]) / 2
    printed = capsys.readouterr().out
    assert "1.25 times the chosen voxel (a run per seed)" in printed
    assert f"voxel x0.9 found {row['voxel_scales']['0.9'][0]['found_050']}" in printed
    assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--voxel-scales", "0"],
                       "--voxel-scales takes factors above 0, not [0.0]", capsys)


def _runs_seen(scan_folder, out, monkeypatch, seen_of, *options) -> tuple[dict, dict, list]:
    """The benchmark run on ``scan_folder`` at seeds 0 and 1 with ``options``: its report, the scan's row, and
    ``seen_of(points)`` at each call of the segmentation, in order."""
    real, seen = scenes.segment_scene, []

    def segment_scene(points, *args, **kwargs):
        seen.append(seen_of(points))
        return real(points, *args, **kwargs)

    monkeypatch.setattr(scenes, "segment_scene", segment_scene)
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "1", "--no-loso", *options])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    return report, row, seen


def test_the_benchmark_segments_each_scan_with_its_voxel_grid_at_other_places(scan_folder, tmp_path, capsys,
                                                                           monkeypatch):
    places = scenes.grid_places(2)
    assert places.shape == (2, 3) and ((places >= 0) & (places < 1)).all()
    assert np.array_equal(places, scenes.grid_places(2))  # the same places for every run of a sweep
    out = tmp_path / "scenes.json"
    report, row, seen = _runs_seen(scan_folder, out, monkeypatch,
                                   lambda points: np.array(pipeline._GRID_PHASE, dtype=float), "--grid-places", "2")
    assert report["grid_places"] == places.tolist() and set(row["grid_places"]) == {"1", "2"}
    # The scan at seeds 0 and 1 where the grid lies now, then at each place a run per seed; the place put back after.
    expected = [np.zeros(3)] * 2 + [places[0]] * 2 + [places[1]] * 2
    assert len(seen) == 6 and all(np.allclose(phase, want) for phase, want in zip(seen, expected))
    assert pipeline._GRID_PHASE == 0.0
    runs = row["grid_places"]["2"]
    assert report["kinds"]["scan"]["grid_place_2"]["found_050"] == (runs[0]["found_050"] + runs[1]["found_050"]) / 2
    printed = capsys.readouterr().out
    assert "voxel grid at place 2, [" in printed and f"grid place 1 found {row['grid_places']['1'][0]['found_050']}" in printed
    assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--grid-places", "-1"],
                       "--grid-places must be 0 or more places, not -1", capsys)


def test_a_scan_is_turned_about_its_up_axis_through_the_origin():
    points = np.array([[1.0, 0.0, 0.0, 0.2, 0.4, 0.6], [0.0, 2.0, 3.0, 0.1, 0.1, 0.1]], dtype=np.float32)
    # A quarter turn about z takes x to y; about y it takes x to -z and z to x. Colour stays, and the dtype.
    about_z = scenes.turned_about_up(points, "z", np.pi / 2)
    assert np.allclose(about_z[:, :3], [[0, 1, 0], [-2, 0, 3]], atol=1e-6) and about_z.dtype == np.float32
    about_y = scenes.turned_about_up(points, "y", np.pi / 2)
    assert np.allclose(about_y[:, :3], [[0, 0, -1], [3, 2, 0]], atol=1e-6)
    assert np.array_equal(about_y[:, 3:], points[:, 3:]) and np.array_equal(points[0, :3], [1, 0, 0])  # a copy


def test_the_benchmark_segments_each_scan_with_an_up_axis_turned_to_other_headings(scan_folder, tmp_path, capsys,
                                                                                    monkeypatch):
    angles = scenes.headings(2)
    assert angles.shape == (2,) and ((angles >= 0) & (angles < 360)).all()
    assert np.array_equal(angles, scenes.headings(2))  # the same headings for every run of a sweep
    out = tmp_path / "scenes.json"
    report, row, seen = _runs_seen(scan_folder, out, monkeypatch, lambda points: np.array(points[:, :3]), "--headings", "2")
    assert report["headings"] == angles.tolist() and set(row["headings"]) == {"1", "2"}
    # The scan at seeds 0 and 1 as it is, then turned about its up axis (y) to each heading, a run per seed.
    scan = np.load(scan_folder / "points.npy")
    expected = [scan] * 2 + [scenes.turned_about_up(scan, "y", np.radians(angle)) for angle in angles for _ in (0, 1)]
    assert len(seen) == 6 and all(np.allclose(points, want[:, :3], atol=1e-5) for points, want in zip(seen, expected))
    runs = row["headings"]["2"]
    assert report["kinds"]["scan"]["heading_2"]["found_050"] == (runs[0]["found_050"] + runs[1]["found_050"]) / 2
    printed = capsys.readouterr().out
    assert f"turned {angles[1]:.1f} degrees about the up axis, heading 2" in printed
    assert f"heading 1 found {row['headings']['1'][0]['found_050']}" in printed
    assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--headings", "-1"],
                       "--headings must be 0 or more headings, not -1", capsys)


def test_the_benchmark_segments_each_scan_with_its_points_stored_in_other_orders(scan_folder, tmp_path, capsys,
                                                                                 monkeypatch):
    from ..synthetic_scene import OBJECTS

    order = scenes.stored_order(7, 1)
    assert sorted(order) == list(range(7)) and not np.array_equal(order, np.arange(7))
    assert np.array_equal(order, scenes.stored_order(7, 1)) and not np.array_equal(order, scenes.stored_order(7, 2))
    out = tmp_path / "scenes.json"
    report, row, seen = _runs_seen(scan_folder, out, monkeypatch, lambda points: np.array(points[:, :3]), "--orders", "2")
    assert report["orders"] == 2 and set(row["orders"]) == {"1", "2"}
    # The scan at seeds 0 and 1 as stored, then in each other order, a run per seed, its truth reordered alike.
    scan = np.load(scan_folder / "points.npy")
    expected = [scan] * 2 + [scan[scenes.stored_order(len(scan), k)] for k in (1, 2) for _ in (0, 1)]
    assert len(seen) == 6 and all(np.array_equal(points, want[:, :3]) for points, want in zip(seen, expected))
    runs = row["orders"]["2"]
    # Every object found in each order: its truth followed its points.
    assert all(run["found_050"] == run["objects"] == len(OBJECTS) for k in ("1", "2") for run in row["orders"][k])
    assert report["kinds"]["scan"]["order_2"]["found_050"] == (runs[0]["found_050"] + runs[1]["found_050"]) / 2
    printed = capsys.readouterr().out
    assert "points stored in order 2 (a run per seed)" in printed
    assert f"order 1 found {row['orders']['1'][0]['found_050']}" in printed
    assert_usage_error(scenes.main, ["--data", str(scan_folder), "--out", str(out), "--orders", "-1"],
                       "--orders must be 0 or more orders, not -1", capsys)


def test_a_scan_without_an_up_axis_is_not_turned(tmp_path):
    folder = write_scan_folder(tmp_path, {"kind": "table-top frame", "up_axis": "none: camera frame"})
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--headings", "1"])
    report = json.loads(out.read_text())
    assert report["scans"][0]["headings"] == {"1": []} and "heading_1" not in report["kinds"]["table-top"]


def test_scaled_voxel_leaves_a_run_that_raised_to_raise_again():
    assert scenes.scaled_voxel({"settings": {"voxel_size": 0.02}}, 1.5) == pytest.approx(0.03)
    assert scenes.scaled_voxel({"settings": None, "error": "ValueError: ..."}, 1.5) is None


def test_the_benchmark_segments_virtual_frames_of_rooms_only(tmp_path, capsys):
    folder = write_scan_folder(tmp_path, {"up_axis": "+y", "kind": "indoor room"})
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--frames", "2"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    assert row["kind"] == "room" and len(row["frames"]) == 2 and report["frames"] == 2
    assert all(frame["settings"]["measured"]["points"] > 10_000 for frame in row["frames"])
    summary = report["kinds"]["room"]["frames"]
    assert summary["objects"] == sum(frame["objects"] for frame in row["frames"])
    assert summary["found_050"] == sum(frame["found_050"] for frame in row["frames"])
    assert "virtual frames, 2 views of each, all together" in capsys.readouterr().out
    assert_usage_error(scenes.main, ["--data", str(folder), "--out", str(out), "--frames", "5"],
                       "--frames takes 0 to 4 views per room (one per corner), not 5", capsys)


def run_one_frame(tmp_path, *options):
    """The benchmark on the synthetic room with one virtual frame and ``options``: its arguments without
    ``options``, its report and the room's row."""
    folder = write_scan_folder(tmp_path, {"up_axis": "+y", "kind": "indoor room"})
    out = tmp_path / "scenes.json"
    argv = ["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--frames", "1"]
    scenes.main([*argv, *options])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    return argv, report, row


def test_the_benchmark_samples_its_frames_at_other_resolutions_down(tmp_path, capsys):
    # SUN RGB-D as VoteNet stores it: Kinect v2 frames registered to colour (1.45 times the pixels across), of
    # which 50,000 points are kept. The frame at 1.5 times sampled down to 20,000 points holds a smaller share of
    # its pixels than the frame itself sampled so; the segmentation completes it to its pixel grid, and measures
    # the completed frame (more points than the sample, no more than the whole frame's).
    _, report, row = run_one_frame(tmp_path, "--frame-scales", "1.5", "--frame-points", "20000")
    [sampled], [scaled] = row["sampled_frames"], row["frame_scales"]["1.5"]
    [scaled_sampled] = row["sampled_frame_scales"]["1.5"]
    whole_points = scaled["settings"]["measured"]["points"]
    assert 20000 < scaled_sampled["settings"]["measured"]["points"] <= whole_points
    share = scaled_sampled["settings"]["sampled_pixel_share"]
    assert share < sampled["settings"]["sampled_pixel_share"]
    assert share == pytest.approx(20000 / whole_points, rel=0.1)
    assert report["kinds"]["room"]["frames_x1.5_20000"]["found_050"] == scaled_sampled["found_050"]
    assert "the virtual frames at 1.5 times the pixels across sampled down to 20000 points" in capsys.readouterr().out


def test_the_benchmark_samples_its_virtual_frames_down(tmp_path, capsys):
    argv, report, row = run_one_frame(tmp_path, "--frame-points", "20000")
    [whole], [sampled] = row["frames"], row["sampled_frames"]
    whole_points = whole["settings"]["measured"]["points"]
    assert report["frame_points"] == 20000 and whole_points > 20000
    assert sampled["settings"]["sampled_pixel_share"] == pytest.approx(20000 / whole_points, rel=0.1)
    # Objects of 200 pixels are counted in the whole frame; a sample holds fewer of their points.
    assert 0 < sampled["objects"] <= whole["objects"]
    assert report["kinds"]["room"]["frames_20000"]["found_050"] == sampled["found_050"]
    assert "the virtual frames sampled down to 20000 points" in capsys.readouterr().out
    assert_usage_error(scenes.main, [*argv[:-2], "--frame-points", "20000"],  # without --frames
                       "--frame-points takes a number of points of 1 or more, with --frames or --object-frames; "
                       "got 20000", capsys)


def test_the_benchmark_renders_its_virtual_frames_at_other_resolutions(tmp_path, capsys):
    argv, report, row = run_one_frame(tmp_path, "--frame-scales", "1.5")
    [whole], [scaled] = row["frames"], row["frame_scales"]["1.5"]
    assert report["frame_scales"] == [1.5]
    assert row["sampled_frame_scales"] == {"1.5": []}  # without --frame-points no frame is sampled down
    # The same view with 1.5 times the pixels across holds 2.25 times the points (pixels round at its edges).
    ratio = scaled["settings"]["measured"]["points"] / whole["settings"]["measured"]["points"]
    assert 2.2 < ratio < 2.3
    assert report["kinds"]["room"]["frames_x1.5"]["found_050"] == scaled["found_050"]
    assert "the virtual frames at 1.5 times the pixels across" in capsys.readouterr().out
    for scale in ("0", "-1"):
        assert_usage_error(scenes.main, [*argv, "--frame-scales", scale],
                           f"--frame-scales takes factors above 0, with --frames; got [{float(scale)}]", capsys)
    assert_usage_error(scenes.main, [*argv[:-2], "--frame-scales", "1.5"],  # without --frames
                       "--frame-scales takes factors above 0, with --frames; got [1.5]", capsys)


def test_the_benchmark_turns_its_virtual_frames_upright_and_gives_them_the_up_axis(tmp_path, capsys):
    argv, report, row = run_one_frame(tmp_path, "--frames-upright")
    [frame] = row["frames"]
    assert report["frames_upright"] is True
    # The synthetic room stands along +y: its frame, turned upright, is segmented given y, and up (the fitted
    # floor's normal) is +-y; in the camera's coordinates the camera's pitch tilts it off y.
    assert frame["settings"]["up_axis"] == "y"
    np.testing.assert_allclose(np.abs(frame["settings"]["up"]), [0.0, 1.0, 0.0], atol=0.01)
    assert "virtual frames (upright, given the up axis), 1 views of each" in capsys.readouterr().out
    (tmp_path / "plain").mkdir()
    _, plain, plain_row = run_one_frame(tmp_path / "plain")
    assert plain["frames_upright"] is False and abs(plain_row["frames"][0]["settings"]["up"][1]) < 0.99
    assert_usage_error(scenes.main, [*argv[:-2], "--frames-upright"],  # without --frames
                       "--frames-upright turns the virtual frames of --frames upright: give --frames as well", capsys)


def assert_moved_summaries(report: dict, row: dict, kind: str, key: str, label: str, capsys) -> None:
    """One kind of moved copies (``key``: pushed, turned, beside) as the report sums it for ``kind``: the moved objects
    counted and found at IoU >= 0.5, every object of the copies found, and the line printed for ``label``."""
    ious = [copy[key]["iou"] for copy in row[key] if copy[key]["iou"] is not None]
    found = sum(iou >= 0.5 for iou in ious)
    moved = report["kinds"][kind][f"{key}_objects"]
    assert (moved["objects"], moved["found_050"]) == (len(ious), found)
    assert sum(entry["objects"] for entry in moved["per_class"].values()) == len(ious)
    assert report["kinds"][kind][key]["found_050"] == sum(copy["found_050"] for copy in row[key])
    classes = ", ".join(f"{name} {entry['found_050']} of {entry['objects']}" for name, entry in moved["per_class"].items())
    assert f"{label}: found {found} of {len(ious)} at IoU >= 0.5 ({classes})" in capsys.readouterr().out


def test_the_moved_objects_are_counted_per_class_by_hand():
    """Each scan's moved copies keep their object's id, named by that scan's classes; an object seen by too few points
    (IoU None) is not counted."""
    by_scan = {
        "a": [{"turned": {"object": 0, "iou": 0.8}}, {"turned": {"object": 1, "iou": 0.3}}],
        "b": [{"turned": {"object": 0, "iou": None}}, {"turned": {"object": 0, "iou": 0.6}}],
    }
    names = {"a": ({0: "car", 1: "person"}, 2), "b": ({0: "person"}, 1)}
    assert scenes._moved_objects(by_scan, ["a", "b"], "turned", names) == {
        "objects": 3, "found_050": 2,
        "per_class": {"car": {"objects": 1, "found_050": 1}, "person": {"objects": 2, "found_050": 1}},
    }  # fmt: skip


def _report_on_a_sweep(tmp_path, *options: str) -> tuple[dict, np.ndarray]:
    """The benchmark's report on the synthetic room as a LiDAR sweep (y up), run with ``options``, and its points."""
    folder = write_scan_folder(tmp_path, {"kind": "LiDAR sweep", "up_axis": "+y"})
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", *options])
    return json.loads(out.read_text()), np.load(folder / "points.npy")


def _report_on_a_room(tmp_path, *options: str) -> dict:
    """The benchmark's report on the synthetic room as an indoor room (y up), run with ``options``."""
    room = tmp_path / "room"
    room.mkdir()
    write_scan_folder(room, {"up_axis": "+y", "kind": "indoor room"})
    out = tmp_path / "room.json"
    scenes.main(["--data", str(room), "--out", str(out), "--seeds", "0", "--no-loso", *options])
    return json.loads(out.read_text())


def test_the_benchmark_turns_table_top_frames_only(tmp_path, capsys, monkeypatch):
    # The synthetic room as a camera's frame without an up axis: the camera 0.8 m above the floor and 1.8 m
    # in front of the wall, looking at it (the scan moved so that the camera is at the origin).
    folder = write_scan_folder(tmp_path, {"kind": "table-top frame", "up_axis": "none: camera frame"})
    np.save(folder / "points.npy", np.load(folder / "points.npy") - [0.0, 0.8, 1.8])
    monkeypatch.setattr(scenes, "ORBITS", ((0, 0), (15, -10)))
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--orbit"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    assert row["kind"] == "table-top" and len(row["orbit"]) == 2 and report["orbit"] == [[0, 0], [15, -10]]
    assert all(view["settings"]["measured"]["points"] > 10_000 for view in row["orbit"])
    assert row["orbit"][0]["settings"]["measured"]["points"] != row["orbit"][1]["settings"]["measured"]["points"]
    summary = report["kinds"]["table-top"]["orbit"]
    assert summary["found_050"] == sum(view["found_050"] for view in row["orbit"])
    assert "seen from 2 places round each, all together" in capsys.readouterr().out
    assert _report_on_a_room(tmp_path, "--orbit")["scans"][0]["orbit"] == []  # a room has its up axis: no camera frame


def test_the_benchmark_puts_the_room_round_table_top_frames_only(tmp_path, capsys):
    folder = write_scan_folder(tmp_path, {"kind": "table-top frame", "up_axis": "none: camera frame"})
    np.save(folder / "points.npy", np.load(folder / "points.npy") - [0.0, 0.8, 1.8])
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "1", "--no-loso", "--surroundings"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    assert report["surroundings"] is True and len(row["surroundings"]) == 2  # a copy per seed
    frame_points = row["in_sample"][0]["settings"]["measured"]["points"]
    assert all(copy["settings"]["measured"]["points"] > frame_points for copy in row["surroundings"])
    summary = report["kinds"]["table-top"]["surroundings"]
    assert summary["found_050"] == np.mean([copy["found_050"] for copy in row["surroundings"]])
    assert "with the floor, a wall and the table's far end in view (a copy per seed)" in capsys.readouterr().out
    report = _report_on_a_room(tmp_path, "--surroundings")
    assert report["scans"][0]["surroundings"] == [] and "surroundings" not in report["kinds"]["room"]


def test_a_camera_stepped_back_sees_each_object_as_far_again_along_its_line_of_sight_in_fewer_pixels():
    # A box on a table 0.25 m below the camera (y down, up -y), seen only below the table's far edge.
    things = [standing_box(0.0, 0.7, 0.08, 0.06, 0.1, RED)]
    points, owner = render_table_frame(things, step=0.0019, rows=(0.15, 0.45), room=(0.5, 0.6, 2.0, None, 9.0))
    up, factor = np.array([0.0, -1.0, 0.0]), 2.0
    target = np.median(points[:, :3], axis=0)
    eye = (1 - factor) * target  # as far again from the median point, along the line of sight through it
    frame, truth = scenes.stepped_back_frame(points, owner, up, factor, seed=0)
    box, seen_box = points[owner == 0, :3], frame[truth == 0, :3]
    # The same faces seen from the same line of sight: the box's centroid lies as far from the new camera as
    # from the eye in the first frame's coordinates, and it fills about 1 / factor^2 of its pixels.
    assert np.linalg.norm(seen_box.mean(axis=0)) == pytest.approx(np.linalg.norm(box.mean(axis=0) - eye), abs=0.01)
    assert len(seen_box) / len(box) == pytest.approx(1 / factor**2, rel=0.2)
    assert (truth == -1).sum() > (owner == -1).sum()  # the floor, a wall and the table's far end put round it
    with pytest.raises(ValueError, match="above 1, not 1"):
        scenes.stepped_back_frame(points, owner, up, 1.0, seed=0)


def test_the_benchmark_steps_the_camera_back_from_table_top_frames_only(tmp_path, capsys):
    folder = write_scan_folder(tmp_path, {"kind": "table-top frame", "up_axis": "none: camera frame"})
    np.save(folder / "points.npy", np.load(folder / "points.npy") - [0.0, 0.8, 1.8])
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "1", "--no-loso", "--stepped-back", "1.5"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    assert report["stepped_back"] == [1.5] and list(row["stepped_back"]) == ["1.5"]
    copies = row["stepped_back"]["1.5"]
    assert len(copies) == 2 and copies[0]["settings"]["measured"]["points"] != copies[1]["settings"]["measured"]["points"]
    summary = report["kinds"]["table-top"]["stepped_back_x1.5"]
    assert summary["found_050"] == np.mean([copy["found_050"] for copy in copies])
    assert "seen from 1.5 times as far, with the floor, a wall and the table's far end in view" in capsys.readouterr().out
    report = _report_on_a_room(tmp_path, "--stepped-back", "1.5")
    assert report["scans"][0]["stepped_back"] == {"1.5": []} and "stepped_back_x1.5" not in report["kinds"]["room"]
    assert_usage_error(scenes.main, ["--data", str(folder), "--out", str(out), "--stepped-back", "1"],
                       "--stepped-back takes factors of the camera's distance above 1, not [1.0]", capsys)


def test_the_benchmark_pushes_the_objects_of_table_top_frames_only(tmp_path, capsys, monkeypatch):
    folder = write_scan_folder(tmp_path, {"kind": "table-top frame", "up_axis": "none: camera frame"})
    np.save(folder / "points.npy", np.load(folder / "points.npy") - [0.0, 0.8, 1.8])
    asked = []

    def copies(points, truth, up):
        asked.append(up)
        for object_id in (0, 1):  # the frame itself, as if each of two objects had been pushed against the other
            yield pushed_objects.PushedCopy(points, truth, object_id, 1 - object_id, 0.05)

    monkeypatch.setattr(scenes, "pushed_copies", copies)
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--pushed"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    # The frame is pushed on the support its segmentation found, once, and each copy is segmented.
    assert len(asked) == 1 and np.allclose(asked[0], row["in_sample"][0]["settings"]["up"])
    assert report["pushed"] is True and [copy["pushed"]["object"] for copy in row["pushed"]] == [0, 1]
    assert all(copy["pushed"]["towards"] == 1 - copy["pushed"]["object"] for copy in row["pushed"])
    assert all(copy["pushed"]["distance"] == 0.05 for copy in row["pushed"])
    ious = [copy["pushed"]["iou"] for copy in row["pushed"]]
    assert ious == [copy["object_iou"][copy["pushed"]["object"]] for copy in row["pushed"]]  # the moved object's
    assert_moved_summaries(report, row, "table-top", "pushed", "the pushed objects themselves", capsys)
    report = _report_on_a_room(tmp_path, "--pushed")  # a room has its up axis: no camera frame to push in
    assert report["scans"][0]["pushed"] == [] and "pushed_objects" not in report["kinds"]["room"]


def test_the_benchmark_turns_the_objects_of_lidar_sweeps_only(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(scenes, "TURNS", (90, 180))
    report, _ = _report_on_a_sweep(tmp_path, "--turned")
    [row] = report["scans"]
    assert report["turned"] == [90, 180] and row["kind"] == "LiDAR"
    copies = [(copy["turned"]["object"], copy["turned"]["turn"]) for copy in row["turned"]]
    assert copies and all(turn in (90, 180) for _, turn in copies) and len(set(copies)) == len(copies)
    assert_moved_summaries(report, row, "LiDAR", "turned", "the turned objects themselves", capsys)
    report = _report_on_a_room(tmp_path, "--turned")
    assert report["scans"][0]["turned"] == [] and "turned_objects" not in report["kinds"]["room"]


def test_the_benchmark_sets_the_objects_of_lidar_sweeps_beside_another_only(tmp_path, capsys, monkeypatch):
    made = []

    def copies(points, truth, up, min_points):
        made.append((up, min_points))
        for object_id in (0, 1):  # the sweep itself, as if each of two objects stood 0.4 m from the other
            yield turned_objects.BesideCopy(points, truth, object_id, 7, 1 - object_id, 0.4)

    monkeypatch.setattr(scenes, "beside_copies", copies)
    report, _ = _report_on_a_sweep(tmp_path, "--beside", "--min-gt-points", "30")
    [row] = report["scans"]
    assert made == [("y", 30)] and report["beside"] == turned_objects.BESIDE
    assert [(c["beside"]["object"], c["beside"]["turn"], c["beside"]["beside"], c["beside"]["gap"]) for c in row["beside"]] \
        == [(0, 7, 1, 0.4), (1, 7, 0, 0.4)]
    ious = [copy["beside"]["iou"] for copy in row["beside"]]
    assert ious == [copy["object_iou"][copy["beside"]["object"]] for copy in row["beside"]]  # the moved object's
    assert_moved_summaries(report, row, "LiDAR", "beside", "the objects set beside another themselves", capsys)
    report = _report_on_a_room(tmp_path, "--beside")
    assert made == [("y", 30)] and report["scans"][0]["beside"] == [] and "beside_objects" not in report["kinds"]["room"]


def test_the_benchmark_puts_a_bicycle_into_lidar_sweeps_only_named_as_the_model_it_is(tmp_path, capsys, monkeypatch):
    made = []

    def copies(points, truth, up, places, object_id, min_points):
        made.append((up, places, object_id, min_points))
        for heading in (0, 90):  # object 0 of the sweep, as if it were the bicycle put in, seen two ways
            marked = truth.copy()
            marked[truth == 0] = object_id
            yield bicycles.BicycleCopy(points, marked, object_id, 9.5, heading)

    monkeypatch.setattr(scenes, "bicycle_copies", copies)
    report, _ = _report_on_a_sweep(tmp_path, "--bicycles", "3", "--min-gt-points", "30")
    [row] = report["scans"]
    stride = int(np.load(tmp_path / "truth.npy").max()) + 1  # the bicycle takes the next id after the sweep's
    assert made == [("y", 3, stride, 30)]
    assert report["bicycle"] == {"places": 3, "headings": list(bicycles.HEADINGS)}
    assert [(c["bicycle"]["object"], c["bicycle"]["range"], c["bicycle"]["heading"]) for c in row["bicycle"]] \
        == [(stride, 9.5, 0), (stride, 9.5, 90)]
    assert_moved_summaries(report, row, "LiDAR", "bicycle", "the bicycles themselves", capsys)
    assert list(report["kinds"]["LiDAR"]["bicycle_objects"]["per_class"]) == [bicycles.NAME]
    assert bicycles.NAME in report["kinds"]["LiDAR"]["bicycle"]["per_class"]
    report = _report_on_a_room(tmp_path, "--bicycles", "3")
    assert len(made) == 1 and report["scans"][0]["bicycle"] == [] and "bicycle_objects" not in report["kinds"]["room"]
    assert_usage_error(scenes.main, ["--bicycles", "-1"], "--bicycles must be 0 or more places, not -1", capsys)


def test_the_benchmark_moves_the_objects_of_lidar_sweeps_farther_and_nearer_and_refuses_factors_below_two(
    tmp_path, capsys, monkeypatch
):
    folder = write_scan_folder(tmp_path, {"kind": "LiDAR sweep", "up_axis": "+y"})
    made = []

    def copies(points, truth, up, turns, min_points, farther=1, nearer=1):
        made.append((turns, min_points, farther, nearer))
        yield turned_objects.TurnedCopy(points, truth, 0, turns[0])

    monkeypatch.setattr(scenes, "turned_copies", copies)
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--farther", "2", "3",
                 "--nearer", "2", "--min-gt-points", "30"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    # Moved either way, an object is also tried at its own bearing (turn 0); the turned copies are not asked for.
    # The objects moved are those counted (turned_copies asks K^2 times as many points of one moved K times out).
    everywhere = (0, *scenes.TURNS)
    assert made == [(everywhere, 30, 2, 1), (everywhere, 30, 3, 1), (everywhere, 30, 1, 2)] and row["turned"] == []
    assert report["farther"] == [2, 3] and sorted(row["farther"]) == ["2", "3"]
    assert report["nearer"] == [2] and sorted(row["nearer"]) == ["2"]
    iou = row["farther"]["2"][0]["turned"]["iou"]
    counts = {"objects": 1, "found_050": int(iou >= 0.5)}
    # The scan's reader names no class: its objects are "object".
    assert report["kinds"]["LiDAR"]["farther_x2_objects"] == {**counts, "per_class": {"object": counts}}
    output = capsys.readouterr().out
    assert "the objects moved out to 3 times their range themselves: found" in output
    assert "the objects pulled in to 1/2 of their range themselves: found" in output
    report = _report_on_a_room(tmp_path, "--farther", "2", "--nearer", "2")
    assert report["scans"][0]["farther"] == {"2": []} and "farther_x2_objects" not in report["kinds"]["room"]
    assert report["scans"][0]["nearer"] == {"2": []} and "nearer_x2_objects" not in report["kinds"]["room"]
    for way in ("farther", "nearer"):
        assert_usage_error(scenes.main, ["--data", str(folder), "--out", str(out), f"--{way}", "1"],
                           f"--{way} takes whole factors of the range of 2 or more, not [1]", capsys)


def test_turned_copies_that_cannot_be_made_are_named_and_the_run_goes_on(tmp_path, capsys, monkeypatch):
    folder = write_scan_folder(tmp_path, {"kind": "LiDAR sweep", "up_axis": "+y"})

    def one_then_fails(points, truth, up, turns, min_points, farther=1, nearer=1):
        yield turned_objects.TurnedCopy(points, truth, 0, 90)
        raise ValueError("no sensor at the origin")

    monkeypatch.setattr(scenes, "turned_copies", one_then_fails)
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--turned"])
    [row] = json.loads(out.read_text())["scans"]
    assert [copy["turned"]["turn"] for copy in row["turned"]] == [90] and row["in_sample"][0]["found_050"] > 0
    message = "room: turned copies after the first 1 could not be made: ValueError: no sensor at the origin"
    assert message in capsys.readouterr().err


def test_crop_masks_are_the_halves_and_quarters_across_the_up_axis_by_hand():
    # Four points at the corners of a 2 x 4 box across up (y up: x and z are across), one in each quarter.
    xyz = np.array([[0.0, 5.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 4.0], [2.0, 9.0, 4.0]])
    masks = scenes.crop_masks(xyz, "y")
    expected = {  # CROPS: (sign across x, sign across z)
        (-1, 0): [1, 0, 1, 0], (1, 0): [0, 1, 0, 1], (0, -1): [1, 1, 0, 0], (0, 1): [0, 0, 1, 1],
        (-1, -1): [1, 0, 0, 0], (-1, 1): [0, 0, 1, 0], (1, -1): [0, 1, 0, 0], (1, 1): [0, 0, 0, 1],
    }  # fmt: skip
    assert [mask.astype(int).tolist() for mask in masks] == [expected[signs] for signs in scenes.CROPS]


def test_the_benchmark_segments_the_halves_and_quarters_of_rooms_only(scan_folder, tmp_path, capsys):
    folder = write_scan_folder(tmp_path, {"up_axis": "+y", "kind": "indoor room"})
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--crops"])
    report = json.loads(out.read_text())
    [row] = report["scans"]
    points = len(np.load(folder / "points.npy"))
    assert row["kind"] == "room" and len(row["crops"]) == 8 and report["crops"] is True
    halves = [crop["settings"]["measured"]["points"] for crop in row["crops"]]
    assert halves[0] + halves[1] == halves[2] + halves[3] == sum(halves[4:]) == points
    summary = report["kinds"]["room"]["crops"]
    assert summary["found_050"] == sum(crop["found_050"] for crop in row["crops"])
    assert "halves and quarters, 8 of each, all together" in capsys.readouterr().out
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "--no-loso", "--crops"])
    assert json.loads(out.read_text())["scans"][0]["crops"] == []  # a scan of no named kind is not a room


def test_side_by_side_moves_copies_along_the_horizontal_axes_and_keeps_their_objects_apart_by_hand():
    # y up: x and z are across. The room's box is 2 m along x and 4 m along z; with a 0.5 m gap the copies
    # lie 2.5 m apart along x and 4.5 m along z, copy k (numbered with the column along x slowest) giving
    # its objects ids plus 3 k (the largest id is 2); background codes stay.
    points = np.array([[0.0, 5.0, 0.0, 0.1], [2.0, 0.0, 0.0, 0.2], [0.0, 1.0, 4.0, 0.3]], dtype=np.float32)
    truth = np.array([2, -1, -3])
    layout, layout_truth = scenes.side_by_side(points, truth, "y", 2, 2, gap=0.5)
    offsets = [(0.0, 0.0), (0.0, 4.5), (2.5, 0.0), (2.5, 4.5)]
    expected = np.concatenate([points + np.array([dx, 0.0, dz, 0.0], dtype=np.float32) for dx, dz in offsets])
    np.testing.assert_array_equal(layout, expected)
    assert layout.dtype == np.float32
    assert layout_truth.tolist() == [2, -1, -3, 5, -1, -3, 8, -1, -3, 11, -1, -3]


def test_the_benchmark_lays_rooms_only_side_by_side(tmp_path, capsys):
    report = _report_on_a_room(tmp_path, "--side-by-side")
    [row] = report["scans"]
    assert report["side_by_side"] == [[2, 1], [2, 2]] and len(row["side_by_side"]) == 2
    points = row["in_sample"][0]["settings"]["measured"]["points"]
    assert [layout["settings"]["measured"]["points"] for layout in row["side_by_side"]] == [2 * points, 4 * points]
    alone = row["in_sample"][0]["objects"]
    assert [layout["objects"] for layout in row["side_by_side"]] == [2 * alone, 4 * alone]
    summary = report["kinds"]["room"]["side_by_side"]
    assert summary["found_050"] == sum(layout["found_050"] for layout in row["side_by_side"])
    # Per class over the layouts: each copy's objects are its room's, counted once per copy.
    per_class = summary["per_class"]
    assert sum(entry["objects"] for entry in per_class.values()) == 6 * alone
    assert sum(entry["found_050"] for entry in per_class.values()) == summary["found_050"]
    # Sampled back to the room's own count: layout k of n copies keeps each point with probability 1/n, seed k.
    kept = [int((np.random.default_rng(k).random(n * points) < 1 / n).sum()) for k, n in enumerate((2, 4))]
    assert [layout["settings"]["measured"]["points"] for layout in row["side_by_side_sampled"]] == kept
    assert all(abs(count - points) < 0.1 * points for count in kept)
    assert report["kinds"]["room"]["side_by_side_sampled"]["found_050"] == sum(
        layout["found_050"] for layout in row["side_by_side_sampled"]
    )
    out = capsys.readouterr().out
    assert "2 x 1 and 2 x 2 copies of each side by side, all together" in out
    assert "per class found/objects, 2 x 1 and 2 x 2 copies of each side by side, all together:" in out
    assert "the same sampled to each room's own point count" in out
    report, _ = _report_on_a_sweep(tmp_path, "--side-by-side")
    assert report["scans"][0]["side_by_side"] == report["scans"][0]["side_by_side_sampled"] == []
    assert "side_by_side" not in report["kinds"]["LiDAR"]


def test_the_benchmark_takes_frames_of_the_furniture_of_rooms_only(tmp_path, capsys, monkeypatch):
    view = (np.array([0.0, 1.6, 1.8]), np.array([0.0, 0.4, 0.0]))  # the synthetic room's camera, y up
    monkeypatch.setattr(scenes, "object_views", lambda xyz, truth, up, structure: [view, view])
    report = _report_on_a_room(tmp_path, "--object-frames")
    [row] = report["scans"]
    assert report["object_frames"] is True and len(row["object_frames"]) == 2
    assert all(view["settings"]["up_axis"] == "y" for view in row["object_frames"])  # upright, given up
    summary = report["kinds"]["room"]["object_frames"]
    assert summary["found_050"] == sum(view["found_050"] for view in row["object_frames"])
    label = "frames taken of each piece of furniture (upright, given the up axis), all together"
    assert label in capsys.readouterr().out
    report, _ = _report_on_a_sweep(tmp_path, "--object-frames")
    assert report["scans"][0]["object_frames"] == [] and "object_frames" not in report["kinds"]["LiDAR"]


def test_camera_view_masks_keep_what_kittis_camera_sees_at_each_heading_by_hand(monkeypatch):
    monkeypatch.setattr(scenes, "CAMERA_HEADINGS", (0, 90))
    # z up: azimuth from x towards y. Ahead, at the view's left edge and past it, to the left, below the view.
    directions = [(0.0, -5.0), (40.0, -5.0), (41.5, -5.0), (90.0, -5.0), (0.0, -16.5), (130.0, 0.0)]
    xyz = np.array([[np.cos(np.radians(a)) * np.cos(np.radians(e)), np.sin(np.radians(a)) * np.cos(np.radians(e)),
                     np.sin(np.radians(e))] for a, e in directions]) * 20.0  # fmt: skip
    ahead, left = scenes.camera_view_masks(xyz, "z")
    assert ahead.tolist() == [True, True, False, False, False, False]
    assert left.tolist() == [False, False, False, True, False, True]  # 49.3 to 130.7 degrees
    # y up: the first horizontal axis is z, the second x.
    assert scenes.camera_view_masks(xyz[:, [1, 2, 0]], "y")[0].tolist() == ahead.tolist()


def test_the_benchmark_cuts_lidar_sweeps_only_to_camera_views(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(scenes, "CAMERA_HEADINGS", (0, 180))
    report, points = _report_on_a_sweep(tmp_path, "--camera-views")
    [row] = report["scans"]
    assert report["camera_views"] == [0, 180] and len(row["camera_views"]) == 2
    views = scenes.camera_view_masks(points[:, :3], "y")
    assert [view["settings"]["measured"]["points"] for view in row["camera_views"]] == [int(v.sum()) for v in views]
    summary = report["kinds"]["LiDAR"]["camera_views"]
    assert summary["found_050"] == sum(view["found_050"] for view in row["camera_views"])
    assert "cut to KITTI's camera's view at 2 headings, all together" in capsys.readouterr().out
    report = _report_on_a_room(tmp_path, "--camera-views")
    assert report["scans"][0]["camera_views"] == [] and "camera_views" not in report["kinds"]["room"]


def test_the_benchmark_takes_frames_of_furniture_clear_of_the_walls_the_reader_names(tmp_path, monkeypatch):
    # The synthetic room's background points named wall (class 1) or floor (class 2) by the half of the room
    # they lie in, and its objects class 3: the structure object_views gets is the background, and none
    # where the reader names no wall, floor or ceiling.
    given = []
    monkeypatch.setattr(scenes, "object_views", lambda xyz, truth, up, structure: given.append(structure) or [])
    readers = {"walls": "{1: 'wall', 2: 'floor', 3: 'chair'}", "none": "{1: 'window', 2: 'rug', 3: 'chair'}"}
    for place, names in readers.items():
        (tmp_path / place).mkdir()
        folder = write_scan_folder(tmp_path / place, {"up_axis": "+y", "kind": "indoor room"})
        with open(folder / "load_gt.py", "a") as reader:
            reader.write("def load_semantic(name):\n    points, truth, _ = load(name)\n    return points, "
                         f"np.where(truth >= 0, 3, np.where(points[:, 0] > 0, 1, 2)), {names}\n")
        scenes.main(["--data", str(folder), "--out", str(tmp_path / "out.json"), "--seeds", "0", "--no-loso",
                     "--object-frames"])
    truth = np.load(tmp_path / "walls" / "truth.npy")
    np.testing.assert_array_equal(given[0], truth < 0)
    assert given[0].any() and given[1] is None


@pytest.mark.parametrize(
    ("load_semantic", "message"),
    [
        (  # one label short of the scan's points
            "    return None, np.zeros(len(load(name)[1]) - 1, dtype=int), {0: 'wall'}\n",
            "room: the semantic labels do not match",
        ),
        (  # a format the reader's load_semantic does not know
            "    raise FileNotFoundError(f'{name}: no semantic labels')\n",
            "room: room: no semantic labels; its false segments are reported as 'background'",
        ),
    ],
    ids=["labels-do-not-match", "reader-raises"],
)
def test_a_scan_whose_semantic_labels_cannot_be_used_is_still_measured(tmp_path, capsys, load_semantic, message):
    folder = write_scan_folder(tmp_path, {"up_axis": "+y"})
    with open(folder / "load_gt.py", "a") as reader:
        reader.write("def load_semantic(name):\n" + load_semantic)
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso"])
    [row] = json.loads(out.read_text())["scans"]
    assert row["in_sample"][0]["found_050"] == row["in_sample"][0]["objects"]
    assert message in capsys.readouterr().err


def test_a_scan_in_millimetres_is_measured_in_metres(scan_folder, tmp_path):
    folder = write_scan_folder(tmp_path, {"up_axis": "+y", "units": "mm"})
    np.save(folder / "points.npy", np.load(folder / "points.npy") * 1000)
    results = []
    for data in (scan_folder, folder):
        out = tmp_path / f"{data.name}.json"
        scenes.main(["--data", str(data), "--out", str(out), "--seeds", "0", "--no-loso"])
        results += json.loads(out.read_text())["scans"][0]["in_sample"]
    in_metres, in_millimetres = results
    assert in_millimetres["found_050"] == in_millimetres["objects"] and in_millimetres["false"] == 0
    assert in_millimetres["settings"]["voxel_size"] == in_metres["settings"]["voxel_size"] < 0.05


def test_in_metres_scales_xyz_only_and_refuses_an_unknown_unit():
    points = np.array([[1000.0, 2000.0, 3000.0, 0.5, 0.5, 0.5]], dtype=np.float32)
    assert np.array_equal(scenes.in_metres(points, {"units": "mm"}), [[1.0, 2.0, 3.0, 0.5, 0.5, 0.5]])
    assert scenes.in_metres(points, {"units": "cm (scanner)"})[0, 0] == 10.0
    assert np.array_equal(scenes.in_metres(points, {"units": "Millimetres"}), scenes.in_metres(points, {"units": "mm"}))
    assert scenes.in_metres(points, {"units": "centimeters"})[0, 0] == 10.0
    assert scenes.in_metres(points, {}) is points  # no units text: metres
    with pytest.raises(ValueError, match="units 'furlongs' is not one of"):
        scenes.in_metres(points, {"units": "furlongs"})


def reader_with_a_broken_scan(scan_folder, folder, names: str):
    """``folder`` with a copy of ``scan_folder``'s reader listing ``names`` (a Python list literal), whose
    ``load`` raises for the scan "broken"."""
    folder.mkdir()
    (folder / "load_gt.py").write_text(
        (scan_folder / "load_gt.py").read_text().replace('return ["room"]', f"return {names}")
        + "\n_load = load\ndef load(name):\n    if name == 'broken':\n        raise OSError('broken.ply: truncated')\n"
        "    return _load(name)\n"
    )
    return folder


def test_a_scan_the_reader_cannot_give_is_left_out_and_named(scan_folder, tmp_path, capsys):
    folder = reader_with_a_broken_scan(scan_folder, tmp_path / "scans", '["room", "broken"]')
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso"])
    report = json.loads(out.read_text())
    assert [row["scan"] for row in report["scans"]] == ["room"]
    assert report["left_out_unread"] == {"broken": "OSError: broken.ply: truncated"}
    assert "broken: left out, OSError: broken.ply: truncated" in capsys.readouterr().err
    folder = reader_with_a_broken_scan(scan_folder, tmp_path / "only_broken", '["broken"]')
    with pytest.raises(SystemExit, match="no scan of .* could be read: {'broken': 'OSError: broken.ply: truncated'}"):
        scenes.main(["--data", str(folder), "--out", str(tmp_path / "none.json"), "--seeds", "0", "--no-loso"])


def test_a_segmentation_that_raises_finds_nothing_and_the_run_goes_on(scan_folder, tmp_path, capsys, monkeypatch):
    def refuse(points, up, **options):
        raise ValueError("the scan's points are 2 m apart")

    monkeypatch.setattr(scenes, "segment_scene", refuse)
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "1", "--no-loso"])
    [row] = json.loads(out.read_text())["scans"]
    for result in row["in_sample"]:
        assert result["found_050"] == result["segments"] == 0 and result["objects"] > 0
        assert result["error"] == "ValueError: the scan's points are 2 m apart" and result["settings"] is None
    assert "room: the segmentation raised in 2 of 2 runs, which find nothing" in capsys.readouterr().err


def test_a_table_top_frame_whose_segmentation_raises_has_no_views_and_the_run_goes_on(tmp_path, capsys, monkeypatch):
    folder = write_scan_folder(tmp_path, {"kind": "table-top frame", "up_axis": "none: camera frame"})
    monkeypatch.setattr(scenes, "segment_scene", lambda points, up, **options: 1 / 0)
    out = tmp_path / "scenes.json"
    scenes.main(["--data", str(folder), "--out", str(out), "--seeds", "0", "--no-loso", "--orbit"])
    [row] = json.loads(out.read_text())["scans"]
    assert row["orbit"] == [] and row["in_sample"][0]["error"] == "ZeroDivisionError: division by zero"
    assert "room: the segmentation raised in 1 of 1 runs" in capsys.readouterr().err


def test_the_benchmark_samples_its_frames_of_furniture_down(tmp_path, capsys, monkeypatch):
    view = (np.array([0.0, 1.6, 1.8]), np.array([0.0, 0.4, 0.0]))  # the synthetic room's camera, y up
    monkeypatch.setattr(scenes, "object_views", lambda xyz, truth, up, structure: [view])
    report = _report_on_a_room(tmp_path, "--object-frames", "--frame-points", "20000")
    [row] = report["scans"]
    [whole], [sampled] = row["object_frames"], row["sampled_object_frames"]
    whole_points = whole["settings"]["measured"]["points"]
    assert sampled["settings"]["sampled_pixel_share"] == pytest.approx(20000 / whole_points, rel=0.1)
    assert sampled["settings"]["up_axis"] == "y" and row["sampled_frames"] == []  # no corner frames asked for
    assert report["kinds"]["room"]["object_frames_20000"]["found_050"] == sampled["found_050"]
    assert "the frames of furniture sampled down to 20000 points" in capsys.readouterr().out


@pytest.fixture
def constants_put_back(monkeypatch):
    """The constants the tests of --set change, put back after each test."""
    from openshape_ood.segmentation import clustering, convexity, geometry, planes, settings

    for module, name in ((geometry, "SHEET"), (clustering, "SHEET"), (planes, "SHEET"),
                         (convexity, "_VALLEY_SHARE"), (settings, "_VOXELS_ACROSS"),
                         (settings, "_RECONSTRUCTED_ACROSS")):  # fmt: skip
        monkeypatch.setattr(module, name, getattr(module, name))


def test_set_constants_sets_a_constant_where_it_is_defined_and_where_it_is_imported_by_name(constants_put_back):
    from openshape_ood.segmentation import clustering, convexity, geometry, planes, settings

    done = scenes.set_constants(["geometry.SHEET=0.7", "settings._VOXELS_ACROSS=450", "convexity._VALLEY_SHARE=0.1"])
    assert done == {"geometry.SHEET": 0.7, "settings._VOXELS_ACROSS": 450, "convexity._VALLEY_SHARE": 0.1}
    assert geometry.SHEET == clustering.SHEET == planes.SHEET == 0.7  # planes and clustering import it by name
    assert type(settings._VOXELS_ACROSS) is int and convexity._VALLEY_SHARE == 0.1


@pytest.mark.parametrize(("assignment", "message"), [
    ("SHEET=0.7", "give module.NAME=value"),
    ("geometry.SHEET=", "give module.NAME=value"),
    ("nowhere.SHEET=0.7", "has no module 'nowhere'"),
    ("geometry.NOT_THERE=1", "has no numeric constant NOT_THERE"),
    ("geometry.scene_xyz=1", "has no numeric constant scene_xyz"),
    ("clustering.SHEET=0.7", "clustering imports SHEET from geometry; set geometry.SHEET"),
    ("geometry.SHEET=half", r"geometry.SHEET is 0.5; give a number"),
    ("settings._VOXELS_ACROSS=450.5", r"settings._VOXELS_ACROSS is 500; give a whole number"),
])  # fmt: skip
def test_set_constants_refuses_what_is_no_numeric_constant_and_sets_nothing(assignment, message, constants_put_back):
    from openshape_ood.segmentation import geometry

    with pytest.raises(ValueError, match=message):
        scenes.set_constants(["geometry.SHEET=0.7", assignment])  # the good one before it is not set either
    assert geometry.SHEET == 0.5


def test_the_benchmark_runs_with_constants_set_and_records_them(scan_folder, tmp_path, capsys, constants_put_back):
    out = tmp_path / "scenes.json"
    options = ["--data", str(scan_folder), "--out", str(out), "--seeds", "0", "--no-loso"]
    scenes.main(options)
    default = json.loads(out.read_text())
    # Each --set adds its constants: the second one does not replace the first.
    scenes.main([*options, "--set", "settings._RECONSTRUCTED_ACROSS=50", "--set", "convexity._VALLEY_SHARE=0.25"])
    report = json.loads(out.read_text())
    assert default["constants"] == {}
    assert report["constants"] == {"settings._RECONSTRUCTED_ACROSS": 50, "convexity._VALLEY_SHARE": 0.25}
    [[before]], [[after]] = ([row["in_sample"] for row in r["scans"]] for r in (default, report))
    # The voxel floor of a reconstructed room is its diagonal (of at most 10 m) over 50 instead of 350, far above
    # the two point spacings that set it before.
    diagonal = min(np.linalg.norm(after["settings"]["measured"]["extent"]), 10.0)
    assert after["settings"]["voxel_size"] == pytest.approx(diagonal / 50, rel=0.05)
    assert after["settings"]["voxel_size"] > 3 * before["settings"]["voxel_size"]
    assert "set {'settings._RECONSTRUCTED_ACROSS': 50, 'convexity._VALLEY_SHARE': 0.25}" in capsys.readouterr().out
    assert_usage_error(scenes.main, [*options, "--set", "geometry.SHEET=flat"], "give a number", capsys)
