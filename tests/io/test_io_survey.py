"""load_points on real LiDAR and survey files (LAS/LAZ/COPC, E57, KITTI .bin), each checked against expected.json.

tests/data/real_samples_survey holds the files whose licence allows a copy; the full set,
with the GPL and non-commercial files, is read from ``../shared/data`` beside the repository
(or $OPENSHAPE_OOD_SHARED_DATA) when it is there. Besides counts and colour, survey files
must keep their extent and millimetre detail: a loader that casts UTM coordinates straight
to float32 loses both.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from openshape_ood.io import read_cloud

from ..helpers.data import SAMPLES, SHARED, SURVEY, WILD, sources_and_shape_files

MILLIMETRE = 1e-3


def _cases() -> list[tuple[Path, str]]:
    folders = [SURVEY] + ([SHARED / "real_samples_survey"] if (SHARED / "real_samples_survey").is_dir() else [])
    return [(folder, name) for folder in folders for name in sorted(json.loads((folder / "expected.json").read_text()))]


def test_files_match_sources_md():
    listed, on_disk = sources_and_shape_files(SURVEY)
    expected = json.loads((SURVEY / "expected.json").read_text())
    assert set(listed) == set(expected) == on_disk and len(listed) == 11
    for name, digest in listed.items():
        assert hashlib.sha256((SURVEY / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("folder, name", _cases(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_survey_file(folder, name):
    expected = json.loads((folder / "expected.json").read_text())[name]
    path = folder / name
    if expected.get("expect_error"):
        with pytest.raises(ValueError, match=re.escape(str(path))):
            read_cloud(path)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these files should warn
        cloud = read_cloud(path)
    points = cloud.points
    assert points.shape == (expected["points"], 6 if expected["has_colour"] else 3)
    assert points.dtype == np.float32 and np.isfinite(points).all()
    xyz = points[:, :3].astype(np.float64) + cloud.origin
    np.testing.assert_allclose(xyz.max(axis=0) - xyz.min(axis=0), expected["extent"], atol=MILLIMETRE)
    local = points[:, :3].astype(np.float64)
    millimetres = np.round((local - local.min(axis=0)) / MILLIMETRE)
    assert len(np.unique(millimetres, axis=0)) == expected["distinct_mm"]
    if expected["has_colour"]:
        rgb = points[:, 3:]
        assert rgb.min() >= 0 and rgb.max() <= 1
        assert len(np.unique(rgb, axis=0)) >= expected.get("min_distinct_colours", 2)
        assert rgb.max() > 0.5  # 8-bit values in 16-bit fields are not divided by 65535


def test_shared_folders_load_as_expected():
    """Every file of the shared real_samples and real_samples_wild folders, when they are there."""
    for folder, local in (("real_samples_wild", WILD), ("real_samples", SAMPLES)):
        if not (SHARED / folder).is_dir():
            pytest.skip(f"{SHARED / folder} is not there")
        shared, _ = sources_and_shape_files(SHARED / folder)
        ours, _ = sources_and_shape_files(local)
        assert shared == ours  # the same files, so the tests of the copies cover them


def test_las_matches_laspy_values():
    # Oracle: laspy's own scaled coordinates in float64, and the raw colour bytes.
    import laspy

    path = SURVEY / "PDAL_PDAL/autzen-utm.las"
    las = laspy.read(path)
    cloud = read_cloud(path)
    xyz = np.stack([las.x, las.y, las.z], axis=1)
    np.testing.assert_allclose(cloud.points[:, :3] + cloud.origin, xyz, atol=1e-4, rtol=0)
    assert (cloud.origin == [493994, 4877429, 0]).all()  # whole metres below the minimum of x and y
    np.testing.assert_array_equal(cloud.points[:, 3:], (np.stack([las.red, las.green, las.blue], 1) / 255).astype(np.float32))
    np.testing.assert_array_equal(cloud.fields["classification"], las.classification)
