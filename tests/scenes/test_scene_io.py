"""The scene reads and writes through the io readers: one PLY reader and writer, the origin written back; format fixes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import laspy
import numpy as np
import plyfile
import pytest

from openshape_ood import load_points, read_cloud
from openshape_ood.cli import main
from openshape_ood.scenes.scene import load_scene

from ..helpers.data import SURVEY, WILD

UTM = np.array([493000.0, 4877000.0, 120.0])


def _blender_ply(path: Path, xyz: np.ndarray, instance: np.ndarray) -> None:
    """An ascii PLY with Blender 2.4's bare 'Created by' header line (no 'comment' keyword)."""
    header = (
        "ply\nformat ascii 1.0\nCreated by Blender 2.47 - www.blender.org\n"
        f"element vertex {len(xyz)}\nproperty double x\nproperty double y\nproperty double z\n"
        "property int instance\nend_header\n"
    )
    rows = "".join(f"{x!r} {y!r} {z!r} {i}\n" for (x, y, z), i in zip(xyz.tolist(), instance.tolist()))
    path.write_text(header + rows)


def _two_objects() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    xyz = np.concatenate([rng.random((120, 3)) * 0.3, rng.random((120, 3)) * 0.3 + [1.0, 0, 0], rng.random((40, 3)) * 3])
    instance = np.repeat([0, 1, -1], [120, 120, 40])
    return xyz + UTM, instance  # survey coordinates: millimetres lost in plain float32


def test_created_by_ply_loads_in_load_scene_with_its_origin(tmp_path):
    xyz, instance = _two_objects()
    _blender_ply(tmp_path / "scan.ply", xyz, instance)
    points, labels, origin = load_scene(tmp_path / "scan.ply", return_origin=True)
    np.testing.assert_array_equal(labels, instance)
    np.testing.assert_array_equal(origin, np.floor(xyz.min(axis=0)) * [1, 1, 0])
    np.testing.assert_allclose(points.astype(np.float64) + origin, xyz, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(points, load_points(tmp_path / "scan.ply"))  # the same reader


def test_scene_command_reads_a_created_by_ply_and_writes_the_origin_back(tiny_registry, tmp_path, capsys):
    xyz, instance = _two_objects()
    _blender_ply(tmp_path / "scan.ply", xyz, instance)
    out = tmp_path / "out.ply"
    assert main(["scene", str(tmp_path / "scan.ply"), "--known", "chair,table", "--out", str(out), "--json", "-q"]) == 0
    document = json.loads(capsys.readouterr().out)
    origin = np.array(document["origin"])
    np.testing.assert_array_equal(origin, np.floor(xyz.min(axis=0)) * [1, 1, 0])
    assert len(document["objects"]) == 2
    # The output overlays the source scan: double x y z in the scan's own coordinates, the origin in a comment.
    ply = plyfile.PlyData.read(str(out))
    vertex = ply["vertex"]
    assert vertex["x"].dtype == np.float64
    np.testing.assert_allclose(np.stack([vertex[a] for a in "xyz"], axis=1), xyz, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(vertex["instance"], instance)
    assert any(re.fullmatch(r"origin 493\d+ 4877\d+ 0 .*", c) for c in ply.comments)
    # And it reads back through the same reader, with the same origin.
    cloud = read_cloud(out)
    np.testing.assert_array_equal(cloud.origin, origin)
    np.testing.assert_array_equal(cloud.fields["instance"], instance)


def test_las_classification_reaches_load_scene_by_name():
    path = SURVEY / "PDAL_PDAL/autzen-utm.las"
    _, classes = load_scene(path, labels="classification")
    # Every point keeps its own class, in the file's order (1 unclassified, 2 ground), as laspy reads it.
    np.testing.assert_array_equal(classes, np.asarray(laspy.read(path).classification))
    assert load_scene(path)[1] is None  # classes are not instances


def test_pdal_pcd_with_upper_case_xyz_and_separate_colours_matches_its_las_twin():
    # PDAL wrote the same autzen points as LAS and as PCD (double X Y Z, ushort Red Green Blue).
    pcd = read_cloud(WILD / "PDAL_PDAL/autzen-utm.pcd")
    las = read_cloud(SURVEY / "PDAL_PDAL/autzen-utm.las")
    np.testing.assert_array_equal(pcd.origin, las.origin)
    np.testing.assert_allclose(pcd.points[:, :3], las.points[:, :3], atol=1e-3, rtol=0)
    np.testing.assert_array_equal(pcd.points[:, 3:], las.points[:, 3:])  # 8-bit values in 16-bit fields: / 255


def _pcd_ascii(data_line: str, rows: str, points: int) -> bytes:
    return (
        f"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {points}\nHEIGHT 1\n"
        f"POINTS {points}\n{data_line}\n{rows}"
    ).encode()


def test_pcd_text_glued_to_data_ascii_reads_exactly_the_rows_that_follow(tmp_path):
    # PCL ignores what follows 'ascii': with all declared rows after the line, the glued text is not a row.
    (tmp_path / "full.pcd").write_bytes(_pcd_ascii("DATA ascii9 9 9", "1 2 3\n4 5 6\n7 8 9\n", 3))
    np.testing.assert_array_equal(load_points(tmp_path / "full.pcd"), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    (tmp_path / "short.pcd").write_bytes(_pcd_ascii("DATA ascii1 2 3", "4 5 6\n7 8 9\n", 3))
    np.testing.assert_array_equal(load_points(tmp_path / "short.pcd"), [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_off_face_with_a_bad_colour_warns_and_the_others_keep_theirs(tmp_path):
    (tmp_path / "faces.off").write_text(
        "OFF\n9 3 0\n0 0 0\n1 0 0\n0 1 0\n2 0 0\n3 0 0\n2 1 0\n4 0 0\n5 0 0\n4 1 0\n"
        "3 0 1 2 255 0 0\n3 3 4 5\n3 6 7 8 0 0 255\n"
    )
    with pytest.warns(UserWarning, match=r"faces.off: 1 of 3 faces have a missing or short colour \(first: face 1\)"):
        points = load_points(tmp_path / "faces.off", num_samples=600)
    first, second, third = points[:, 0] < 1.5, (points[:, 0] > 1.5) & (points[:, 0] < 3.5), points[:, 0] > 3.5
    assert first.any() and second.any() and third.any()
    np.testing.assert_allclose(points[first, 3:], [[1, 0, 0]] * first.sum())
    np.testing.assert_allclose(points[third, 3:], [[0, 0, 1]] * third.sum())
    np.testing.assert_allclose(points[second, 3:], 0.4, atol=1e-6)  # DEFAULT_RGB grey, as faces without colour
