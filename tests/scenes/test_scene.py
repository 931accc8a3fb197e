"""openshape_ood.scenes.scene: segmenting scans into objects, scoring them, and the ``scene`` command."""

from __future__ import annotations

import json
import warnings

import lzf
import numpy as np
import plyfile
import pytest

from openshape_ood import ShapeEncoder, load_points, segmentation
from openshape_ood.cli import main
from openshape_ood.detectors import fit_detector
from openshape_ood.scenes.scene import (
    BACKGROUND_GREY,
    load_scene,
    novelty_colours,
    plot_scene,
    score_scene,
    segment_scene,
    write_scene_ply,
)

from ..helpers.data import SAMPLES
from ..helpers.scene_scoring import HandMadeEncoder, toy_scene, unit
from ..helpers.scenes import best_iou, write_labelled_ply
from ..synthetic_scene import OBJECTS, make_street, make_synthetic_scene, standing_z_up

MUG_SCENE = SAMPLES / "PointCloudLibrary_pcl" / "table_scene_mug_stereo_textured.pcd"


@pytest.fixture(scope="module")
def synthetic_scene():
    return make_synthetic_scene(spacing=0.01, noise=0.002, seed=0)


# ------------------------------------------------------------------ automatic segmentation


@pytest.mark.parametrize("up_axis", ["y", "z"])
def test_synthetic_scene_objects_are_found_and_floor_and_wall_are_background(synthetic_scene, up_axis):
    points, truth = synthetic_scene
    if up_axis == "z":  # the same scene with Z up: the gravity axis must follow
        points = standing_z_up(points)
    labels = segment_scene(points, up_axis)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    ious = [best_iou(labels, truth == i) for i in range(len(OBJECTS))]
    assert min(ious) >= 0.9, ious
    assert len(np.unique(labels[labels >= 0])) == len(OBJECTS)  # nothing else is called an object
    background = truth < 0
    assert (labels[background] == -1).mean() >= 0.99
    # Objects are numbered 0..K-1 by decreasing size.
    sizes = np.bincount(labels[labels >= 0])
    assert (np.diff(sizes) <= 0).all()


def test_segmentation_without_gravity_axis_finds_the_planes_by_ransac(synthetic_scene):
    points, truth = synthetic_scene
    labels = segment_scene(points, None)
    assert min(best_iou(labels, truth == i) for i in range(len(OBJECTS))) >= 0.9
    assert (labels[truth < 0] == -1).mean() >= 0.99


def test_segmentation_is_deterministic_and_the_size_filters_apply(synthetic_scene):
    points, truth = synthetic_scene
    small = segment_scene(points, "y", max_size=0.33, seed=3)
    np.testing.assert_array_equal(small, segment_scene(points, "y", max_size=0.33, seed=3))
    # Only the ball (0.25 m), the bunny and the bottle (0.30 m) are at most 0.33 m in every direction:
    # they are found whole; the larger ones are split into parts no larger than max_size, never kept whole.
    assert {i for i, spec in enumerate(OBJECTS) if spec[2] <= 0.33} == {3, 4, 5}
    assert min(best_iou(small, truth == i) for i in (3, 4, 5)) >= 0.9
    for label in np.unique(small[small >= 0]):
        assert np.ptp(points[small == label], axis=0).max() <= 0.33
    ball = np.random.default_rng(0).normal(size=(3000, 3))
    ball *= 0.1 / np.linalg.norm(ball, axis=1, keepdims=True)  # a sphere of 0.2 m, about 6 mm between points
    assert (segment_scene(ball, "y") == 0).all()
    assert (segment_scene(ball, "y", min_points=3001) == -1).all()
    assert (segment_scene(ball, "y", min_size=0.25) == -1).all()
    # Larger than max_size: never kept whole (split where it frays, or background).
    too_small_a_limit = segment_scene(ball, "y", max_size=0.15)
    assert all(np.ptp(ball[too_small_a_limit == label], axis=0).max() <= 0.15 for label in range(too_small_a_limit.max() + 1))
    with pytest.warns(UserWarning, match="apart.*pass voxel_size"):  # voxels far finer than the scan
        segment_scene(ball, "y", voxel_size=0.001)


def test_the_mug_on_the_table_of_the_pcl_scan_is_an_object():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the organised cloud's NaN points are dropped with a warning
        points = load_points(MUG_SCENE)
    labels = segment_scene(points, "y")
    # The mug stands on the near table at x 0..0.14, y 0.01..0.14, z 0.71..0.82 (camera frame, by eye).
    mug_region = np.all((points[:, :3] > [0.0, 0.0, 0.70]) & (points[:, :3] < [0.15, 0.15, 0.83]), axis=1)
    mug = np.bincount(labels[mug_region & (labels >= 0)]).argmax()
    assert (labels[mug_region] == mug).mean() > 0.6  # the rest of the box is table
    assert mug_region[labels == mug].all()  # and the mug takes nothing outside it
    # The near table (z < 1.1 m) is background but for the mug.
    near = points[:, 2] < 1.1
    assert set(np.unique(labels[near])) == {-1, mug}
    assert (labels[near] == -1).sum() > 50000


def test_segmentation_rejects_bad_input():
    points = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match="voxel_size"):
        segment_scene(points, voxel_size=0)
    with pytest.raises(ValueError, match="up_axis"):
        segment_scene(points, "w")
    with pytest.raises(ValueError, match="NaN"):
        segment_scene(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        segment_scene(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="metres"):
        segment_scene(points * 1e18)


# --------------------------------------------------------------------------- given labels


def test_given_labels_win_over_the_segmentation():
    points = np.random.default_rng(0).normal(size=(6, 3))
    labels = segment_scene(points, labels=np.array([3, 3, -1, -5, 7, 0]))
    np.testing.assert_array_equal(labels, [3, 3, -1, -1, 7, 0])
    np.testing.assert_array_equal(segment_scene(points, labels=np.array([1.0, 2, 2, -1, 0, 0])), [1, 2, 2, -1, 0, 0])
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        segment_scene(points, labels=np.zeros(5))
    with pytest.raises(ValueError, match="integers"):
        segment_scene(points, labels=np.full(6, 0.5))


def test_given_labels_beyond_int64_are_refused_not_wrapped_to_background():
    points = np.random.default_rng(0).normal(size=(4, 3))
    wide = np.array([2**63, 2**63, 5, 2**64 - 1], dtype=np.uint64)  # int64 would read 2**63 as -2**63
    with pytest.raises(ValueError, match=r"fit in int64: the largest given is 18446744073709551615; renumber"):
        segment_scene(points, labels=wide)
    np.testing.assert_array_equal(segment_scene(points, labels=np.array([2**63 - 1, 0, 5, 5], np.uint64)),
                                  [2**63 - 1, 0, 5, 5])


def pcd_header(fields: str, sizes: str, types: str, count: int, data: str) -> bytes:
    return (
        f"VERSION 0.7\nFIELDS {fields}\nSIZE {sizes}\nTYPE {types}\nCOUNT {' '.join('1' * len(fields.split()))}\n"
        f"WIDTH {count}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {count}\nDATA {data}\n"
    ).encode()


def test_load_scene_reads_labels_from_ply_and_pcd_aligned_with_the_points(tmp_path):
    xyz = np.arange(15, dtype=np.float32).reshape(5, 3)
    xyz[2, 1] = np.nan  # dropped by load_points: its label must go too
    labels = np.array([4, 4, 9, -1, 2])
    expected_points, expected_labels = np.delete(xyz, 2, axis=0), np.array([4, 4, -1, 2])

    write_labelled_ply(tmp_path / "a.ply", xyz, labels)
    (tmp_path / "b.pcd").write_bytes(
        pcd_header("x y z label", "4 4 4 4", "F F F I", 5, "ascii")
        + "\n".join(" ".join(map(str, [*p, l])) for p, l in zip(xyz.tolist(), labels)).encode()
    )
    binary = np.empty(5, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("objectId", "<u2")])
    binary["x"], binary["y"], binary["z"] = xyz.T
    binary["objectId"] = [4, 4, 9, 65535, 2]
    (tmp_path / "c.pcd").write_bytes(pcd_header("x y z objectId", "4 4 4 2", "F F F U", 5, "binary") + binary.tobytes())
    field_major = b"".join(binary[name].tobytes() for name in binary.dtype.names)
    packed = lzf.compress(field_major)
    (tmp_path / "d.pcd").write_bytes(
        pcd_header("x y z objectId", "4 4 4 2", "F F F U", 5, "binary_compressed")
        + np.array([len(packed), len(field_major)], "<u4").tobytes()
        + packed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("a.ply", "b.pcd"):
            points, found = load_scene(tmp_path / name)
            np.testing.assert_array_equal(points, expected_points)
            np.testing.assert_array_equal(found, expected_labels)
        for name in ("c.pcd", "d.pcd"):
            points, found = load_scene(tmp_path / name)
            np.testing.assert_array_equal(points, expected_points)
            np.testing.assert_array_equal(found, [4, 4, 65535, 2])  # unsigned: no background
        assert load_scene(tmp_path / "a.ply", labels=None)[1] is None
        with pytest.raises(ValueError, match="no property 'segment'.*instance"):
            load_scene(tmp_path / "a.ply", labels="segment")


def test_load_scene_without_labels(tmp_path):
    write_labelled_ply(tmp_path / "a.ply", np.eye(3, dtype=np.float32), np.zeros(3, int), name="intensity")
    assert load_scene(tmp_path / "a.ply")[1] is None
    np.save(tmp_path / "b.npy", np.eye(3))
    assert load_scene(tmp_path / "b.npy")[1] is None
    with pytest.raises(ValueError, match=".ply and .pcd"):
        load_scene(tmp_path / "b.npy", labels="instance")


def test_a_stack_of_clouds_is_refused_as_a_scan_with_what_to_do_instead(tmp_path):
    """A scan is one cloud; a stack of shapes (ModelNet-style HDF5 or .npy) is scored, not segmented."""
    np.save(tmp_path / "stack.npy", np.zeros((4, 100, 3)))
    with pytest.raises(ValueError, match=r"stack of 4 clouds, not one scan: score them as shapes .*openshape-ood score"):
        load_scene(tmp_path / "stack.npy")


# ------------------------------------------------------------------------------- scoring


def test_score_scene_against_hand_made_embeddings():
    points, labels = toy_scene()
    rows = {0: unit(1, 0, 0), 1: unit(0.6, 0.8, 0), 2: unit(0, 0, 1)}
    encoder = HandMadeEncoder(rows)
    known = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # text embeddings of two known classes
    detector = fit_detector(known, threshold=-0.5)
    result = score_scene(points, detector=detector, encoder=encoder, segmentation=labels, up_axis="z", seed=7)

    # Each object went to the encoder cut out whole, colours included, with the scan's up axis and seed.
    clouds, up_axis, seed = encoder.calls[0]
    assert (up_axis, seed) == ("z", 7)
    for i, cloud in enumerate(clouds):
        np.testing.assert_array_equal(cloud, points[labels == i])
    # max_cosine by hand: object 0 is class 0 (cos 1), object 1 class 1 (cos 0.8), object 2 neither (cos 0).
    assert [o.id for o in result.objects] == [0, 1, 2]
    assert [o.points for o in result.objects] == [10, 20, 30]
    assert [o.class_ for o in result.objects] == ["0", "1", "0"]
    np.testing.assert_allclose([o.similarity for o in result.objects], [1.0, 0.8, 0.0], atol=1e-6)
    np.testing.assert_allclose([o.novelty for o in result.objects], [-1.0, -0.8, 0.0], atol=1e-6)
    assert [o.verdict for o in result.objects] == ["known", "known", "novel"]
    assert all(o.p_value is None for o in result.objects)
    np.testing.assert_allclose(result.objects[2].centroid, points[labels == 2, :3].mean(axis=0))
    np.testing.assert_allclose(result.objects[1].bbox_min, points[labels == 1, :3].min(axis=0))
    np.testing.assert_allclose(result.objects[1].bbox_max, points[labels == 1, :3].max(axis=0))
    # Per point: the object's novelty, NaN for the background.
    np.testing.assert_array_equal(result.labels, labels)
    np.testing.assert_allclose(result.novelty[labels >= 0], np.array([-1.0, -0.8, 0.0])[labels[labels >= 0]], atol=1e-6)
    assert np.isnan(result.novelty[labels < 0]).all()
    row = json.loads(json.dumps(result.objects[1].to_dict()))
    assert row["bbox_min"] == list(result.objects[1].bbox_min) and row["class"] == "1" and "looks_like" not in row
    assert result.settings is None and result.up_axis == "z"  # the labels were given


def test_score_scene_calibrates_the_threshold_on_known_shapes():
    points, labels = toy_scene()
    encoder = HandMadeEncoder({0: unit(1, 0, 0), 1: unit(0.6, 0.8, 0), 2: unit(0, 0, 1)})
    known = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    calibration = np.array([unit(1, 0, 0), unit(0.9, 0.1, 0.3), unit(0.5, 0.5, 0.7), unit(0.2, 0, 1)])
    detector = fit_detector(known).calibrate(calibration, tpr=0.75)
    result = score_scene(points, detector=detector, encoder=encoder, segmentation=labels)
    # Novelty of the calibration shapes by hand: -max cosine; 3 of 4 accepted -> the third smallest.
    novelty = -np.max(calibration @ known.T, axis=1)
    assert result.threshold == pytest.approx(np.sort(novelty)[2])
    assert [o.verdict for o in result.objects] == ["known", "known", "novel"]
    # p-values by hand: (1 + calibration shapes at least as novel) / 5; novelty -1, -0.8, 0 of the objects.
    np.testing.assert_allclose([o.p_value for o in result.objects], [5 / 5, 3 / 5, 1 / 5])


def test_score_scene_with_reference_shapes_and_class_names():
    points, labels = toy_scene()
    encoder = HandMadeEncoder({0: unit(1, 0, 0), 1: unit(0.6, 0.8, 0), 2: unit(0, 0, 1)})
    reference = {"cup": np.array([unit(1, 0.1, 0), unit(1, 0, 0)]), "box": np.array([unit(0, 1, 0)])}
    result = score_scene(points, detector=fit_detector(reference, "knn"), encoder=encoder, segmentation=labels)
    assert [o.class_ for o in result.objects] == ["cup", "box", "cup"]
    np.testing.assert_allclose([o.similarity for o in result.objects], [1.0, 0.8, 0.0], atol=1e-6)
    np.testing.assert_allclose(result.objects[1].novelty, np.linalg.norm(unit(0.6, 0.8, 0) - unit(0, 1, 0)))
    assert all(o.verdict is None for o in result.objects) and result.threshold is None

    class NamedText:  # a text encoder: each name's embedding by hand
        embed_dim = 3
        table = {"mug": unit(1, 0, 0), "cup": unit(0.8, 0.6, 0), "crate": unit(0, 1, 0)}

        def embed_classes(self, names, templates):
            return np.stack([self.table[name] for name in names]).astype(np.float32)

    detector = fit_detector([("mug", "cup"), "crate"], text_encoder=NamedText())
    result = score_scene(points, detector=detector, encoder=encoder, segmentation=labels)
    assert [o.class_ for o in result.objects] == ["mug / cup", "mug / cup", "mug / cup"]
    # Object 1 (0.6, 0.8, 0): cup 0.96 beats mug 0.6 and crate 0.8; the class takes its best name.
    np.testing.assert_allclose([o.similarity for o in result.objects], [1.0, 0.96, 0.0], atol=1e-6)


def test_score_scene_without_objects_embeds_nothing():
    points, _ = toy_scene()
    encoder = HandMadeEncoder({})
    background = np.full(len(points), -1)
    result = score_scene(points, detector=fit_detector(np.eye(3)), encoder=encoder, segmentation=background)
    assert result.objects == [] and np.isnan(result.novelty).all() and encoder.calls == []


# ------------------------------------------------------------------------------- outputs


def test_scene_ply_is_read_back_by_load_points_and_plyfile(tmp_path):
    points, labels = toy_scene()
    encoder = HandMadeEncoder({0: unit(1, 0, 0), 1: unit(0.6, 0.8, 0), 2: unit(0, 0, 1)})
    result = score_scene(points, detector=fit_detector(np.eye(3)[:2]), encoder=encoder, segmentation=labels)
    path = write_scene_ply(tmp_path / "out.ply", points, result)

    vertex = plyfile.PlyData.read(str(path))["vertex"]
    names = [p.name for p in vertex.properties]
    assert names == ["x", "y", "z", "red", "green", "blue", "instance", "novelty"]
    np.testing.assert_allclose(np.stack([vertex[a] for a in "xyz"], axis=1), points[:, :3], rtol=1e-6)
    np.testing.assert_array_equal(vertex["instance"], labels)
    np.testing.assert_allclose(vertex["novelty"], result.novelty.astype(np.float32))
    rgb = np.stack([vertex[c] for c in ("red", "green", "blue")], axis=1)
    assert (rgb[labels < 0] == round(BACKGROUND_GREY * 255)).all()
    # Colours follow novelty on the colour map: the least and the most novel object at its two ends.
    np.testing.assert_array_equal(rgb[labels >= 0], np.round(novelty_colours(result.novelty)[labels >= 0] * 255))
    assert len({tuple(c) for c in rgb[labels >= 0]}) == 3

    loaded = load_points(path)
    np.testing.assert_allclose(loaded[:, :3], points[:, :3], rtol=1e-6)
    np.testing.assert_allclose(loaded[:, 3:], rgb / 255, atol=1e-6)
    figure = plot_scene(points, result, view=("x", "-y"), title="toy")
    assert len(figure.axes[0].patches) == 3  # one box per object
    with pytest.raises(ValueError, match="view axes"):
        plot_scene(points, result, view=("x", "w"))


def test_novelty_colours_use_the_range_and_grey_for_background():
    colours = novelty_colours(np.array([np.nan, 0.0, 1.0, 2.0]))
    assert (colours[0] == BACKGROUND_GREY).all()
    import matplotlib

    np.testing.assert_allclose(colours[1:], matplotlib.colormaps["viridis"]([0.0, 0.5, 1.0])[:, :3])


# ---------------------------------------------------------------------------- command line


def test_scene_command_prints_the_table_and_json_and_writes_ply_and_png(tiny_registry, tmp_path, capsys):
    points, truth = make_synthetic_scene(spacing=0.015, seed=1)
    scan = tmp_path / "scan.ply"
    write_labelled_ply(scan, points, truth, name="objectId")
    out = tmp_path / "out.ply"
    code = main(["scene", str(scan), "--known", "duck,rabbit", "--model", "vitb32", "--threshold", "-0.1",
                 "--out", str(out), "--png", str(tmp_path / "view.png"), "-q"])  # fmt: skip
    assert code == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["id", "points", "class", "similarity", "novelty", "verdict", "centroid", "size"]
    assert [int(row.split()[0]) for row in rows] == list(range(len(OBJECTS)))  # the file's labels won

    # The oracle: the library on the same labels, with the same encoder.
    encoder = ShapeEncoder.from_pretrained("vitb32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector = fit_detector(["duck", "rabbit"], model=encoder, threshold=-0.1, progress=False)
        expected = score_scene(points, detector=detector, encoder=encoder, segmentation=truth, progress=False)
    for row, obj in zip(rows, expected.objects):
        cells = row.split()
        assert int(cells[1]) == obj.points and cells[2] == obj.class_ and cells[5] == obj.verdict
        assert float(cells[4]) == pytest.approx(obj.novelty, abs=1e-4)
        np.testing.assert_allclose([float(v) for v in cells[6:9]], obj.centroid, atol=0.005)  # metres, 2 decimals
        size = np.subtract(obj.bbox_max, obj.bbox_min)
        np.testing.assert_allclose([float(v) for v in cells[9].split("x")], size, atol=0.005)

    vertex = plyfile.PlyData.read(str(out))["vertex"]
    np.testing.assert_array_equal(vertex["instance"], truth)
    np.testing.assert_allclose(vertex["novelty"], expected.novelty.astype(np.float32), atol=1e-5)
    assert load_points(out).shape == (len(points), 6)
    assert (tmp_path / "view.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    code = main(["scene", str(scan), "--known", "duck,rabbit", "--model", "vitb32", "--labels", "none",
                 "--out", str(out), "--json", "-q"])  # fmt: skip
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["objects_from"] == "segmentation" and document["threshold"] is None
    assert len(document["objects"]) == len(OBJECTS)
    assert set(document["objects"][0]) == {
        "id", "points", "bbox_min", "bbox_max", "centroid", "class",
        "similarity", "novelty", "verdict", "p_value",
    }  # fmt: skip
    vertex = plyfile.PlyData.read(str(out))["vertex"]
    assert sorted(np.unique(vertex["instance"])) == list(range(-1, len(OBJECTS)))


def test_scene_command_usage_errors(tiny_registry, tmp_path, capsys):
    scan = tmp_path / "scan.ply"
    write_labelled_ply(scan, np.eye(3, dtype=np.float32), np.array([0, 0, 1]))
    common = [str(scan), "--known", "duck", "--out", str(tmp_path / "o.ply")]
    assert main(["scene", *common, "--view", "x,w"]) == 2
    assert main(["scene", *common, "--voxel-size", "0.02"]) == 2  # the file's labels replace the segmentation
    assert "--labels none" in capsys.readouterr().err
    assert main(["scene", *common, "--labels", "segment"]) == 1
    assert "no property 'segment'" in capsys.readouterr().err


def test_scene_command_writes_only_the_html_asked_for_naming_the_scans_map_origin(tiny_registry, tmp_path, capsys):
    # A scan in map coordinates (float64, 512 km east): read relative to the whole metres below its minimum.
    points, truth = make_synthetic_scene(spacing=0.015, seed=1)
    corner = np.array([512000.25, 5403000.5, 0.0])
    vertex = np.empty(len(points), dtype=[("x", "f8"), ("y", "f8"), ("z", "f8"), ("objectId", "i4")])
    vertex["x"], vertex["y"], vertex["z"] = (points[:, :3].astype(np.float64) - points[:, :3].min(axis=0) + corner).T
    vertex["objectId"] = truth
    folder = tmp_path / "survey"
    folder.mkdir()
    scan = folder / "map.ply"
    plyfile.PlyData([plyfile.PlyElement.describe(vertex, "vertex")]).write(str(scan))
    common = [str(scan), "--known", "duck", "--model", "vitb32", "-q"]
    assert main(["scene", *common]) == 2  # no output named
    assert "name at least one output: --out OUT.ply, --png OUT.png or --html OUT.html" in capsys.readouterr().err
    assert main(["scene", *common, "--html", str(folder / "map.html")]) == 0
    page = (folder / "map.html").read_text(encoding="utf-8")
    assert '"text":"x - 512000 (m)"' in page and '"text":"y - 5403000 (m)"' in page and '"text":"z (m)"' in page
    assert sorted(path.name for path in folder.iterdir()) == ["map.html", "map.ply"]  # no output PLY written


def test_scene_command_shows_and_takes_the_segmentation_settings(tiny_registry, tmp_path, capsys):
    points, _ = make_synthetic_scene(spacing=0.015, seed=1)
    scan = tmp_path / "scan.ply"
    write_labelled_ply(scan, points, np.zeros(len(points), dtype=np.int32), name="intensity")  # no label property
    code = main(["scene", str(scan), "--known", "duck", "--model", "vitb32", "--out", str(tmp_path / "o.ply"),
                 "--json", "--verbose", "--min-points", "30", "--convexity", "off"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    settings = document["segmentation"]
    assert settings["min_points"] == 30 and settings["convexity"] is False
    assert settings["source"]["min_points"] == settings["source"]["convexity"] == "given"
    # The floor (3.2 x 1.55 m, less the objects' footprints) and the wall (3.2 x 1.5 m) are nearly as large:
    # without an up axis either may be the support, and the objects stand clear of both.
    assert settings["source"]["voxel_size"] == "chosen" and settings["up_axis"] in {"y", "z"}
    assert len(document["objects"]) == len(OBJECTS)
    assert f"settings: up_axis {settings['up_axis']}" in captured.err and "min_points 30 (given)" in captured.err


def test_a_street_too_large_for_one_piece_is_cut_into_tiles_and_no_car_is_cut(monkeypatch):
    points, owner = make_street(24, seed=0)
    whole = segment_scene(points, "z")
    # A cap of fewer voxels than this scan has even at three times their size: it is segmented in tiles.
    pieces = []
    segment_voxels = segmentation.pipeline._segment_voxels
    monkeypatch.setattr(
        segmentation.pipeline, "_segment_voxels", lambda voxels, *args: pieces.append(len(voxels)) or segment_voxels(voxels, *args)
    )
    monkeypatch.setattr("openshape_ood.segmentation.settings.MAX_VOXELS", 10_000)
    tiled, settings = segment_scene(points, "z", return_settings=True)
    assert settings.ground == "grid" and len(pieces) >= 3, pieces
    for labels in (whole, tiled):
        assert len(np.unique(labels[labels >= 0])) == 24
        for car in range(24):
            ids, hits = np.unique(labels[owner == car], return_counts=True)
            assert ids[hits.argmax()] >= 0 and hits.max() >= 0.95 * hits.sum()  # whole (less its lowest 6 cm, ground): none is cut at a border
            assert (labels == ids[hits.argmax()]).sum() <= 1.01 * hits.sum()
        assert (labels[owner == -1] == -1).mean() > 0.99
    # Numbered by decreasing point count over the whole scan, as without tiles.
    sizes = np.bincount(tiled[tiled >= 0])
    assert (np.diff(sizes) <= 0).all()
