"""Hostile and damaged survey files: read from their records, refused quickly by name, never a hang or a panic.

Each file is written by laspy and then patched by hand; the expectations are worked out
from the bytes patched (see tests/helpers/hostile_files.py for the offsets).
"""

from __future__ import annotations

import re
import shutil
import struct
import warnings
from pathlib import Path

import laspy
import numpy as np
import pytest

from openshape_ood.io import read_cloud

from ..helpers.hostile_files import (
    EVLR_COUNT_AT,
    EVLR_START_AT,
    VLR_COUNT_AT,
    patch,
    raw_bounds,
    set_bounds,
    survey_points,
    write_las,
)

SURVEY = Path(__file__).resolve().parents[1] / "data" / "real_samples_survey"
MILLIMETRE = 1e-3


def _read_warning(path: Path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cloud = read_cloud(path)
    return cloud, [str(w.message) for w in caught]


def _distinct_mm(xyz: np.ndarray) -> int:
    return len(np.unique(np.round((xyz - xyz.min(axis=0)) / MILLIMETRE), axis=0))


@pytest.mark.parametrize("bounds", ["raw integers", "zero", "stale"])
def test_wrong_header_bounds_keep_the_millimetres_and_warn(tmp_path, bounds):
    # A Leica ALS LAS 1.3 file stores its bounds as raw unscaled integers; other writers leave zeros or stale ones.
    xyz = survey_points()
    path = write_las(tmp_path / "als.las", xyz, version="1.3")
    low, high = {
        "raw integers": raw_bounds(path),
        "zero": (np.zeros(3), np.zeros(3)),
        "stale": (xyz.min(axis=0) - [2000.0, 0, 0], xyz.max(axis=0) - [2000.0, 0, 0]),
    }[bounds]
    set_bounds(path, low, high)
    cloud, messages = _read_warning(path)
    back = cloud.points[:, :3].astype(np.float64) + cloud.origin
    np.testing.assert_allclose(back.max(axis=0) - back.min(axis=0), [498.678, 103.104, 21.3], atol=MILLIMETRE)
    assert np.abs(back - xyz).max() < MILLIMETRE / 2
    assert _distinct_mm(back) == _distinct_mm(xyz) == 999
    assert len(messages) == 1 and str(path) in messages[0] and "differ from its points'" in messages[0]
    if bounds == "stale":  # off by exactly 2000 m on x alone
        assert "(x by 2000, in the file's units)" in messages[0] and "farther outside" not in messages[0]


def test_honest_header_reads_without_a_word(tmp_path):
    path = write_las(tmp_path / "fine.las", survey_points(), version="1.3")
    cloud, messages = _read_warning(path)
    assert messages == [] and len(cloud.points) == 999


def test_points_far_outside_the_bounds_are_counted(tmp_path):
    xyz = survey_points()
    path = write_las(tmp_path / "flipped.las", xyz)
    header = laspy.open(str(path)).header
    record = header.point_format.size
    # Record 5's X (the first int32 of the record) becomes 2**31 - 1: x = 512000 + 2147483.647 m.
    patch(path, header.offset_to_point_data + 5 * record, "<i", 2**31 - 1)
    cloud, messages = _read_warning(path)
    assert len(cloud.points) == 999  # reported, not dropped
    assert len(messages) == 1 and str(path) in messages[0]
    assert "1 of 999 points lie farther outside the stated bounds" in messages[0]
    assert f"x by {512_000 + 2147483.647 - (512_345.678 + 498.678):.6g}" in messages[0]


def _las14(tmp_path: Path, name: str) -> Path:
    return write_las(tmp_path / name, survey_points(50), version="1.4", point_format=6)


@pytest.mark.parametrize(
    "make, at, what",
    [
        (lambda t: write_las(t / "a.las", survey_points(50)), VLR_COUNT_AT, "variable-length records"),
        (lambda t: write_las(t / "a.laz", survey_points(50)), VLR_COUNT_AT, "variable-length records"),
        (lambda t: _las14(t, "a.las"), EVLR_COUNT_AT, "extended variable-length records"),
        (lambda t: shutil.copy(SURVEY / "laspy_laspy" / "simple.copc.laz", t / "a.copc.laz"), EVLR_COUNT_AT,
         "extended variable-length records"),
    ],
    ids=["las-vlr", "laz-vlr", "las14-evlr", "copc-evlr"],
)
def test_record_counts_beyond_the_file_are_refused_at_once(tmp_path, make, at, what):
    # 2**32 - 1 records of at least 54 (60) bytes each cannot fit in a few kilobytes; laspy would loop for hours.
    path = Path(make(tmp_path))
    assert path.stat().st_size < 40_000
    if at == EVLR_COUNT_AT:
        patch(path, EVLR_START_AT, "<Q", path.stat().st_size // 2)
    patch(path, at, "<I", 2**32 - 1)
    with pytest.raises(ValueError, match=re.escape(f"{path}: the LAS header declares 4294967295 {what}")):
        read_cloud(path)


def test_a_damaged_laz_chunk_table_count_is_refused_not_allocated(tmp_path):
    # lazrs would allocate 16 bytes per declared chunk (68 GB for 2**32 - 1) and abort the process.
    path = Path(shutil.copy(SURVEY / "laspy_laspy" / "simple.laz", tmp_path / "simple.laz"))
    data = path.read_bytes()
    table_at = struct.unpack_from("<q", data, struct.unpack_from("<I", data, 96)[0])[0]
    patch(path, table_at + 4, "<I", 2**32 - 1)
    with pytest.raises(ValueError, match=re.escape(f"{path}: the LAZ chunk table at byte {table_at} declares 4294967295")):
        read_cloud(path)


def test_a_layered_laz_chunk_declaring_layers_beyond_its_bytes_is_refused_at_once(tmp_path):
    # simple.copc.laz (point format 7: 36-byte records, 10 layers) has its points from byte 1709; its chunk table
    # says chunk 0 holds 17 points in 458 bytes: the table's offset (8 bytes), then the chunk: its first point raw
    # (36 bytes), its count (4) and its 10 layer sizes (40), 378 bytes of layers. A flipped high byte of the
    # first layer's size declares 0xFF000000 more: lazrs zero-filled 4 GB for 5-20 s before failing.
    path = Path(shutil.copy(SURVEY / "laspy_laspy" / "simple.copc.laz", tmp_path / "bad.copc.laz"))
    sizes_at = 1709 + 8 + 36 + 4
    assert sum(struct.unpack_from("<10I", path.read_bytes(), sizes_at)) == 458 - 36 - 4 - 40
    patch(path, sizes_at + 3, "<B", 0xFF)
    declared = 378 + 0xFF000000
    with pytest.raises(ValueError, match=re.escape(
        f"{path}: LAZ chunk 0 of 65 declares layers of {declared} bytes, but its chunk table entry gives it 458 bytes "
        "(its first point, point count and layer sizes take 80)"
    )):  # fmt: skip
        read_cloud(path)


def test_a_lazrs_panic_becomes_a_value_error_naming_the_file(tmp_path):
    # Byte 294 of simple.laz is the second byte of its laszip VLR's chunk size (50000 = 0xC350, from byte 293):
    # 0x0150 = 336 points a chunk for a table of one chunk, and lazrs panics with "capacity overflow"
    # (pyo3_runtime.PanicException, a BaseException that `except Exception` misses).
    path = Path(shutil.copy(SURVEY / "laspy_laspy" / "simple.laz", tmp_path / "bad.laz"))
    assert struct.unpack_from("<I", path.read_bytes(), 293)[0] == 50_000
    patch(path, 294, "<B", 0x01)
    with pytest.raises(ValueError, match=re.escape(f"could not read {path}: its LAZ data are damaged")) as info:
        read_cloud(path)
    assert "capacity overflow" in str(info.value)


def test_obj_with_vertex_colours_and_texture_coordinates_but_no_material_keeps_its_colours(tmp_path):
    # trimesh builds a blank grey texture for the vt lines; the colours are the vertices' own.
    path = tmp_path / "coloured.obj"
    path.write_text("v 0 0 0 1 0 0\nv 1 0 0 1 0 0\nv 0 1 0 1 0 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n")
    points = read_cloud(path, num_samples=500, seed=0).points
    np.testing.assert_allclose(points[:, 3:], np.tile([1.0, 0.0, 0.0], (500, 1)))
