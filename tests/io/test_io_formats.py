"""The reader table and the survey/LiDAR formats: LAS/LAZ, E57, KITTI/nuScenes .bin, thinning, the local origin."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import laspy
import numpy as np
import pytest
from pye57 import libe57

import pye57
from openshape_ood import load_points, read_cloud
from openshape_ood.io import FORMATS, LOCAL_ORIGIN_BOUND, MAX_POINTS, find_shape_files, format_table, is_shape_file
from openshape_ood.io.formats import format_for

from ..helpers.data import ROOT

README = ROOT / "README.md"


def _refused(path: Path, message: str, **kwargs) -> None:
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        load_points(path, **kwargs)


# ------------------------------------------------------------------------------ the table


def test_readme_format_table_is_the_registry():
    text = README.read_text()
    start = text.index("| format | suffixes |")
    end = text.index("\n\n", start)
    assert text[start : end + 1] == format_table()


def test_every_suffix_belongs_to_one_format_and_the_longest_wins(tmp_path):
    suffixes = [s for fmt in FORMATS for s in fmt.suffixes]
    assert len(suffixes) == len(set(suffixes))
    assert format_for("a/scan.PCD.BIN")[1] == ".pcd.bin"
    assert format_for("a/scan.bin")[1] == ".bin"
    assert format_for("a/scan.pcd")[1] == ".pcd"
    assert format_for(".bin") is None  # a bare suffix is a hidden file's name, not a suffix


def test_folder_is_refused_with_how_to_load_a_folder(tmp_path):
    (tmp_path / "scans").mkdir()
    with pytest.raises(ValueError, match=r"scans is a folder; load_points reads one file.*find_shape_files"):
        load_points(tmp_path / "scans")


def test_find_shape_files_leaves_gltf_buffers_and_reports_patterns(tmp_path):
    np.zeros((4, 4), "<f4").tofile(tmp_path / "scan.bin")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.gltf").write_text("{}")
    np.zeros((4, 4), "<f4").tofile(tmp_path / "model" / "model0.bin")  # the glTF's buffer
    (tmp_path / "odd.bin").write_bytes(b"123")  # not whole rows
    assert is_shape_file(tmp_path / "scan.bin") and not is_shape_file(tmp_path / "model" / "model0.bin")
    errors = []
    found = find_shape_files([tmp_path, tmp_path / "missing.ply"], on_error=lambda p, m: errors.append((p, m)))
    assert found == [str(tmp_path / "model" / "model.gltf"), str(tmp_path / "scan.bin")]
    assert errors == [(str(tmp_path / "missing.ply"), f"no such file or directory: {tmp_path / 'missing.ply'}")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no shape files in directory"):
        find_shape_files([tmp_path / "empty"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layout": "xyzi"}, "layout= applies to raw LiDAR dumps"),
        ({"max_points": 10}, "max_points= applies to LAS/LAZ, E57 and raw LiDAR"),
        ({"voxel_size": 0.1}, "voxel_size= applies to LAS/LAZ, E57 and raw LiDAR"),
    ],
)
def test_reader_options_apply_to_their_formats_only(tmp_path, kwargs, message):
    np.save(tmp_path / "a.npy", np.eye(3))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_points(tmp_path / "a.npy", **kwargs)


# -------------------------------------------------------------------------------- LAS/LAZ


def _las(path: Path, point_format: int, version: str, xyz: np.ndarray, rgb: np.ndarray | None = None, **extra) -> None:
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.floor(xyz.min(axis=0))
    for name, dtype in extra.items():
        header.add_extra_dim(laspy.ExtraBytesParams(name=name, type=dtype))
    las = laspy.LasData(header)
    las.x, las.y, las.z = xyz.T
    las.classification = np.arange(len(xyz)) % 7
    if rgb is not None:
        las.red, las.green, las.blue = rgb.T
    for name in extra:
        las[name] = np.arange(len(xyz))
    las.write(path)


UTM = np.array([[500000.0, 6000000.0, 10.0], [500000.001, 6000000.002, 10.003], [500012.345, 6000100.5, 55.5]])


@pytest.mark.parametrize("point_format", range(11))
@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_point_formats_keep_millimetres_far_from_the_origin(tmp_path, point_format, suffix):
    version = "1.2" if point_format <= 3 else "1.3" if point_format <= 5 else "1.4"  # the first to define it
    colour = point_format in (2, 3, 5, 7, 8, 10)
    rgb = np.array([[65535, 0, 0], [0, 32768, 0], [0, 0, 65535]]) if colour else None
    path = tmp_path / f"f{point_format}{suffix}"
    _las(path, point_format, version, UTM, rgb)
    cloud = read_cloud(path)
    assert cloud.points.shape == (3, 6 if colour else 3)
    # Oracle: the written coordinates; the local origin is whole metres below the minimum (z is near zero).
    np.testing.assert_array_equal(cloud.origin, [500000, 6000000, 0])
    np.testing.assert_allclose(cloud.points[:, :3] + cloud.origin, UTM, atol=1e-5, rtol=0)
    assert cloud.points[1, 1] - cloud.points[0, 1] == pytest.approx(0.002, abs=1e-6)  # float32 straight: 0.5 m steps
    if colour:  # 16-bit colours: divided by 65535
        np.testing.assert_allclose(cloud.points[:, 3:], rgb / 65535, atol=1e-7)
    np.testing.assert_array_equal(cloud.fields["classification"], [0, 1, 2])


def test_las_eight_bit_colour_in_sixteen_bit_fields_extra_bytes_and_vlrs(tmp_path):
    rgb = np.array([[255, 0, 0], [0, 128, 0], [0, 0, 249]])
    path = tmp_path / "eight.las"
    header = laspy.LasHeader(point_format=7, version="1.4")
    header.add_extra_dim(laspy.ExtraBytesParams(name="height_above_ground", type=np.float32))
    # A WKT CRS record and an EVLR: neither stops a read.
    header.vlrs.append(laspy.VLR("LASF_Projection", 2112, "wkt", b'PROJCS["WGS 84 / UTM zone 32N"]\x00'))
    las = laspy.LasData(header)
    las.x, las.y, las.z = UTM.T
    las.red, las.green, las.blue = rgb.T
    las.height_above_ground = [1.5, 2.5, 3.5]
    las.evlrs = laspy.vlrs.vlrlist.VLRList([laspy.VLR("openshape", 1, "evlr", b"\x00" * 64)])
    las.write(path)
    np.testing.assert_allclose(load_points(path)[:, 3:], rgb / 255, atol=1e-7)


def test_las_truncated_bombed_and_damaged_are_refused_before_allocating(tmp_path):
    xyz = np.random.default_rng(0).random((500, 3)) * 100
    _las(tmp_path / "ok.las", 1, "1.2", xyz)
    _las(tmp_path / "ok.laz", 1, "1.2", xyz)
    raw = (tmp_path / "ok.las").read_bytes()
    (tmp_path / "cut.las").write_bytes(raw[: len(raw) - 100])
    _refused(tmp_path / "cut.las", "the LAS header declares 500 points of 28 bytes")
    bomb = bytearray(raw)
    bomb[107:111] = (2**31).to_bytes(4, "little")  # legacy point count of LAS 1.2
    (tmp_path / "bomb.las").write_bytes(bytes(bomb))
    _refused(tmp_path / "bomb.las", "declares 2147483648 points")
    laz = (tmp_path / "ok.laz").read_bytes()
    (tmp_path / "cut.laz").write_bytes(laz[: len(laz) // 2])
    _refused(tmp_path / "cut.laz", "")
    bomb = bytearray(laz)
    bomb[107:111] = (MAX_POINTS - 1).to_bytes(4, "little")
    (tmp_path / "bomb.laz").write_bytes(bytes(bomb))
    _refused(tmp_path / "bomb.laz", "far more than a file of")
    (tmp_path / "junk.las").write_bytes(b"LASF" + b"\x00" * 50)
    _refused(tmp_path / "junk.las", "")


def test_max_points_and_voxel_size_thin_while_reading(tmp_path, monkeypatch):
    import openshape_ood.io.las as las_module

    monkeypatch.setattr(las_module, "CHUNK_POINTS", 97)  # many chunks
    rng = np.random.default_rng(1)
    xyz = np.round(rng.random((1000, 3)) * 10, 3)
    _las(tmp_path / "a.laz", 1, "1.2", xyz)
    full = load_points(tmp_path / "a.laz")
    np.testing.assert_allclose(full, xyz, atol=1e-6)
    some = load_points(tmp_path / "a.laz", max_points=250, seed=3)
    assert some.shape == (250, 3)
    rows = {tuple(p) for p in full.tolist()}
    assert all(tuple(p) in rows for p in some.tolist())
    np.testing.assert_array_equal(some, load_points(tmp_path / "a.laz", max_points=250, seed=3))
    voxels = load_points(tmp_path / "a.laz", voxel_size=2.5)
    # Oracle: the first point (in file order) of every occupied 2.5 m cube.
    keys = np.floor(full.astype(np.float64) / 2.5)
    _, first = np.unique(keys, axis=0, return_index=True)
    np.testing.assert_array_equal(voxels, full[np.sort(first)])


# ------------------------------------------------------------------------------------ E57


def _write_e57(path: Path, scans: list[dict]) -> None:
    """Scans written with libE57Format: cartesian or spherical, colour of any depth, invalid states, poses."""
    e57 = pye57.E57(str(path), mode="w")
    imf = e57.image_file
    for scan in scans:
        node = libe57.StructureNode(imf)
        node.set("guid", libe57.StringNode(imf, "{%s}" % uuid.uuid4()))
        prototype = libe57.StructureNode(imf)
        for name, values in scan["fields"].items():
            if values.dtype.kind == "f":
                prototype.set(name, libe57.FloatNode(imf, 0.0, libe57.E57_DOUBLE, -1e9, 1e9))
            else:
                prototype.set(name, libe57.IntegerNode(imf, 0, 0, scan.get("max", {}).get(name, 255)))
        if "pose" in scan:
            rotation, translation = scan["pose"]
            pose = libe57.StructureNode(imf)
            r = libe57.StructureNode(imf)
            for key, value in zip("wxyz", rotation):
                r.set(key, libe57.FloatNode(imf, float(value)))
            t = libe57.StructureNode(imf)
            for key, value in zip("xyz", translation):
                t.set(key, libe57.FloatNode(imf, float(value)))
            pose.set("rotation", r)
            pose.set("translation", t)
            node.set("pose", pose)
        points = libe57.CompressedVectorNode(imf, prototype, libe57.VectorNode(imf, True))
        node.set("points", points)
        e57.data3d.append(node)
        count = len(next(iter(scan["fields"].values())))
        buffers = libe57.VectorSourceDestBuffer()
        arrays = {}
        for name, values in scan["fields"].items():
            arrays[name] = np.ascontiguousarray(values)
            buffers.append(libe57.SourceDestBuffer(imf, name, arrays[name], count, True, True))
        writer = points.writer(buffers)
        writer.write(count)
        writer.close()
    e57.close()


def test_e57_scans_poses_spherical_invalid_and_sixteen_bit_colour(tmp_path):
    xyz = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    quarter_turn = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]  # 90 degrees about z
    rae = np.array([[2.0, 0.0, 0.0], [1.0, np.pi / 2, 0.0], [4.0, 0.0, np.pi / 2]])
    colour16 = np.array([[65535, 0, 0], [0, 65535, 0], [0, 0, 65535]], dtype=np.uint16)
    _write_e57(tmp_path / "scans.e57", [
        {"fields": {"cartesianX": xyz[:, 0], "cartesianY": xyz[:, 1], "cartesianZ": xyz[:, 2],
                    "colorRed": colour16[:, 0], "colorGreen": colour16[:, 1], "colorBlue": colour16[:, 2],
                    "cartesianInvalidState": np.array([0, 2, 0], dtype=np.int8)},
         "max": {"colorRed": 65535, "colorGreen": 65535, "colorBlue": 65535, "cartesianInvalidState": 2},
         "pose": (quarter_turn, [10.0, 20.0, 30.0])},
        {"fields": {"sphericalRange": rae[:, 0], "sphericalAzimuth": rae[:, 1], "sphericalElevation": rae[:, 2],
                    "colorRed": colour16[:, 0], "colorGreen": colour16[:, 1], "colorBlue": colour16[:, 2]},
         "max": {"colorRed": 65535, "colorGreen": 65535, "colorBlue": 65535}},
    ])
    with pytest.warns(UserWarning, match=r"dropped 1 of 6 points marked invalid"):
        points = load_points(tmp_path / "scans.e57")
    # Oracle: the pose by hand, (x, y) -> (-y, x) plus the translation; spherical by the E57 definition.
    expected = np.array([[10, 21, 30], [10, 20, 33], [2, 0, 0], [0, 1, 0], [0, 0, 4]], dtype=np.float64)
    np.testing.assert_allclose(points[:, :3], expected, atol=1e-5)
    np.testing.assert_allclose(points[:, 3:], np.eye(3)[[0, 2, 0, 1, 2]], atol=1e-6)


def test_e57_intensity_only_and_damaged(tmp_path):
    xyz = np.arange(12, dtype=np.float64).reshape(4, 3)
    _write_e57(tmp_path / "i.e57", [{"fields": {"cartesianX": xyz[:, 0], "cartesianY": xyz[:, 1],
                                                "cartesianZ": xyz[:, 2], "intensity": np.linspace(0, 1, 4)}}])
    cloud = read_cloud(tmp_path / "i.e57")
    np.testing.assert_array_equal(cloud.points, xyz.astype(np.float32))
    np.testing.assert_allclose(cloud.fields["intensity"], np.linspace(0, 1, 4), atol=1e-7)
    raw = (tmp_path / "i.e57").read_bytes()
    (tmp_path / "cut.e57").write_bytes(raw[: len(raw) // 2])
    _refused(tmp_path / "cut.e57", "")
    (tmp_path / "junk.e57").write_bytes(b"ASTM-E57" + b"\x01" * 2000)
    _refused(tmp_path / "junk.e57", "")


# ------------------------------------------------------------------------------ LiDAR .bin


def test_kitti_and_nuscenes_layouts_by_suffix_and_size(tmp_path):
    rng = np.random.default_rng(0)
    kitti = np.concatenate([rng.normal(0, 20, (9, 3)), rng.random((9, 1))], axis=1).astype("<f4")
    kitti.tofile(tmp_path / "000001.bin")
    cloud = read_cloud(tmp_path / "000001.bin")
    np.testing.assert_array_equal(cloud.points, kitti[:, :3])
    np.testing.assert_array_equal(cloud.fields["intensity"], kitti[:, 3])
    nuscenes = np.concatenate([kitti, np.arange(9)[:, None] % 32], axis=1).astype("<f4")
    nuscenes.tofile(tmp_path / "sweep.pcd.bin")
    cloud = read_cloud(tmp_path / "sweep.pcd.bin")
    np.testing.assert_array_equal(cloud.points, kitti[:, :3])
    np.testing.assert_array_equal(cloud.fields["ring"], np.arange(9) % 32)
    # The nuScenes file named .bin: 9 rows of 20 bytes are not whole 16-byte rows.
    nuscenes.tofile(tmp_path / "sweep.bin")
    _refused(tmp_path / "sweep.bin", r"180 bytes is not a whole number of 4-column float32 rows.*layout='xyzir'")
    np.testing.assert_array_equal(load_points(tmp_path / "sweep.bin", layout="xyzir"), kitti[:, :3])
    (tmp_path / "cut.bin").write_bytes(kitti.tobytes()[:-3])
    _refused(tmp_path / "cut.bin", "not a whole number")


def test_bin_whose_size_fits_both_layouts_is_refused_when_its_values_are_the_other_ones(tmp_path):
    rng = np.random.default_rng(2)
    rows = np.concatenate([rng.normal(0, 20, (16, 3)), rng.random((16, 1)) * 255, (np.arange(16) % 32)[:, None]], 1)
    rows.astype("<f4").tofile(tmp_path / "ambiguous.bin")  # 16 x 20 bytes = 20 x 16 bytes
    _refused(tmp_path / "ambiguous.bin", "fits both KITTI's 4 float32 columns and nuScenes' 5.*layout=")
    assert load_points(tmp_path / "ambiguous.bin", layout="xyzir").shape == (16, 3)
    with pytest.raises(ValueError, match="layout must name"):
        load_points(tmp_path / "ambiguous.bin", layout="xyq")


def test_semantic_kitti_labels_beside_the_bin_reach_load_scene(tmp_path):
    from openshape_ood.scenes.scene import load_scene

    (tmp_path / "velodyne").mkdir()
    (tmp_path / "labels").mkdir()
    xyz = np.arange(24, dtype="<f4").reshape(6, 4)
    xyz.tofile(tmp_path / "velodyne" / "000000.bin")
    semantic = np.array([10, 10, 40, 10, 30, 40], dtype=np.uint32)
    instance = np.array([1, 1, 0, 2, 1, 0], dtype=np.uint32)
    (semantic | instance << 16).astype("<u4").tofile(tmp_path / "labels" / "000000.label")
    points, labels = load_scene(tmp_path / "velodyne" / "000000.bin")
    np.testing.assert_array_equal(points, xyz[:, :3])
    # Objects: (class 10, instance 1), (class 10, instance 2), (class 30, instance 1); instance 0 is background.
    assert (labels[[2, 5]] == -1).all()
    assert labels[0] == labels[1] and len({labels[0], labels[3], labels[4]}) == 3
    _, classes = load_scene(tmp_path / "velodyne" / "000000.bin", labels="semantic")
    np.testing.assert_array_equal(classes, semantic)


# ------------------------------------------------------------------------------ the origin


def test_local_origin_only_for_clouds_far_from_zero(tmp_path):
    near = np.array([[0.0, 0.0, 0.0], [LOCAL_ORIGIN_BOUND * 2, 1.0, 1.0]])
    np.save(tmp_path / "near.npy", near)
    assert not read_cloud(tmp_path / "near.npy").origin.any()
    far = near + [0.0, 6e6, 0.0]
    np.save(tmp_path / "far.npy", far)
    cloud = read_cloud(tmp_path / "far.npy")
    np.testing.assert_array_equal(cloud.origin, [0, 6e6, 0])
    stray = np.array([[0.0, 1.0, 2.0], [-1e30, 1.0, 2.0]])  # one damaged record far away shifts nothing
    np.save(tmp_path / "stray.npy", stray)
    assert not read_cloud(tmp_path / "stray.npy").origin.any()


@pytest.mark.parametrize("minor", [0, 1])
def test_las_1_0_and_1_1_headers(tmp_path, minor):
    # laspy writes 1.1 at the oldest; LAS 1.0 has the same header layout, told apart by the minor version byte.
    _las(tmp_path / "old.las", 1, "1.1", UTM)
    raw = bytearray((tmp_path / "old.las").read_bytes())
    raw[25] = minor
    (tmp_path / "old.las").write_bytes(bytes(raw))
    cloud = read_cloud(tmp_path / "old.las")
    np.testing.assert_allclose(cloud.points[:, :3] + cloud.origin, UTM, atol=1e-5, rtol=0)


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_a_file_over_the_point_limit_reads_with_max_points_whatever_its_compression(tmp_path, monkeypatch, suffix):
    """The limit is on what is kept: LAZ, like LAS, may declare more when max_points= thins it."""
    import openshape_ood.io.chunks as chunks_module
    import openshape_ood.io.common as common_module

    for module in (chunks_module, common_module):
        monkeypatch.setattr(module, "MAX_POINTS", 500)
    xyz = np.round(np.random.default_rng(2).random((1000, 3)) * 10, 3)
    _las(tmp_path / f"a{suffix}", 1, "1.2", xyz)
    with pytest.raises(ValueError, match="more than the limit of 500; pass max_points= or voxel_size="):
        load_points(tmp_path / f"a{suffix}")
    assert load_points(tmp_path / f"a{suffix}", max_points=100).shape == (100, 3)
