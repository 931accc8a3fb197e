"""load_points on files written by other tools, each checked against expected.json.

The files (tests/data/real_samples_wild, with SOURCES.md and LICENSES.md) come from assimp's
test models, hapPLY, PDAL and a LiDAR SLAM project; none was used to write the loaders.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings

import numpy as np
import pytest

from openshape_ood.io import load_points

from ..helpers.data import WILD, sources_and_shape_files

EXPECTED = json.loads((WILD / "expected.json").read_text())
SAMPLES = 10000  # expected.json's meshes are sampled to 10000 points
CHROMATIC = 0.1  # max - min over r, g, b above this: a point with a hue, not a grey


def test_files_match_sources_md():
    listed, on_disk = sources_and_shape_files(WILD)
    assert set(listed) == set(EXPECTED) == on_disk and len(listed) == 17
    for name, digest in listed.items():
        assert hashlib.sha256((WILD / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_wild_file(name):
    expected = EXPECTED[name]
    path = WILD / name
    if expected.get("expect_error"):
        with pytest.raises(ValueError, match=re.escape(str(path))):
            load_points(path)
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # none of these files should warn
            points = load_points(path, num_samples=SAMPLES)
    except ValueError as exc:
        assert expected.get("error_ok"), f"{name} is claimed by the README: {exc}"
        assert str(path) in str(exc)
        return
    rows = SAMPLES if expected["sampled"] else expected["points"] - expected.get("nan_points", 0)
    assert points.shape == (rows, 6 if expected["has_colour"] else 3)
    assert points.dtype == np.float32 and np.isfinite(points).all()
    if expected["has_colour"]:
        rgb = points[:, 3:]
        assert rgb.min() >= 0 and rgb.max() <= 1
        if "min_distinct_colours" in expected:
            assert len(np.unique(rgb, axis=0)) >= expected["min_distinct_colours"]
            chromatic = (rgb.max(axis=1) - rgb.min(axis=1)) > CHROMATIC
            assert chromatic.mean() >= expected["min_chromatic_fraction"]


def test_pond_ply_values_match_raw_bytes():
    # Oracle: the header's record layout read with numpy, independent of the PLY parser.
    raw = (WILD / "assimp_assimp/pond.0.ply").read_bytes()
    body = raw[raw.index(b"end_header\n") + len(b"end_header\n") :]
    record = np.dtype(
        [("xyz", "<f4", (3,)), ("normal", "<f4", (3,)), ("rgb", "u1", (3,)), ("psz", "<f4")]
    )
    expected = np.frombuffer(body, dtype=record, count=70051)
    points = load_points(WILD / "assimp_assimp/pond.0.ply")
    np.testing.assert_array_equal(points[:, :3], expected["xyz"])
    np.testing.assert_allclose(points[:, 3:], expected["rgb"] / 255.0, atol=1e-7)


def test_ascii_values_as_written():
    # PDAL's signed 'char blue' 64 is the same byte as uchar 64.
    points = load_points(WILD / "PDAL_PDAL/text_extradim.ply")
    np.testing.assert_allclose(points, [[-2.64944, -13.0955, 0.00640115, 63 / 255, 200 / 255, 64 / 255]], rtol=1e-6)
    points = load_points(WILD / "PDAL_PDAL/test.pts")
    np.testing.assert_allclose(points[0], [3.980972, -2.006119, -0.010086, 97 / 255, 59 / 255, 38 / 255], rtol=1e-6)


def test_mixed_polygon_ply_samples_lie_on_its_fanned_faces():
    # Oracle: the big-endian body read with numpy by hand (faces are "uchar n, n x uint").
    raw = (WILD / "nmwsharp_happly/platonic_shelf_big_endian.ply").read_bytes()
    body = raw[raw.index(b"end_header\n") + len(b"end_header\n") :]
    vertices = np.frombuffer(body, dtype=">f8", count=150).reshape(50, 3)
    offset, triangles = 150 * 8, []
    for _ in range(50):
        n = body[offset]
        corners = np.frombuffer(body, dtype=">u4", count=n, offset=offset + 1)
        triangles += [[corners[0], corners[i], corners[i + 1]] for i in range(1, n - 1)]
        offset += 1 + 4 * n
    assert offset == len(body)
    points = load_points(WILD / "nmwsharp_happly/platonic_shelf_big_endian.ply", num_samples=300)
    corners = vertices[np.array(triangles)]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # Each point lies in the plane of some triangle (all faces are planar polygons).
    distance = np.abs(points.astype(np.float64) @ normals.T - (normals * corners[:, 0]).sum(1))
    assert distance.min(axis=1).max() < 1e-5
