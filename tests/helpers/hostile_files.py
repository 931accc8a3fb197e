"""Tiny hostile survey files for the tests: real-looking LAS written by laspy, then bytes patched."""

from __future__ import annotations

import struct
from pathlib import Path

import laspy
import numpy as np

#: Byte offsets in the LAS public header block (ASPRS LAS 1.4 R15, table 3).
VLR_COUNT_AT = 100
BOUNDS_AT = 179  # max x, min x, max y, min y, max z, min z: six float64
EVLR_START_AT = 235
EVLR_COUNT_AT = 243


def survey_points(count: int = 999, seed: int = 0) -> np.ndarray:
    """``(count, 3)`` float64 points in UTM-like coordinates, on a 1 mm grid, 498.678 x 103.104 m wide."""
    rng = np.random.default_rng(seed)
    low = np.array([512_345.678, 5_403_210.987, 310.5])
    span = np.array([498.678, 103.104, 21.3])
    xyz = low + np.round(rng.random((count, 3)) * span, 3)
    xyz[0], xyz[1] = low, low + span  # the extent is exactly span
    return xyz


def write_las(path: Path, xyz: np.ndarray, *, version: str = "1.2", point_format: int = 1, scale: float = 0.001) -> Path:
    """``xyz`` written by laspy (a LAS or, for a ``.laz`` path, LAZ file) with ``scale``, offsets whole kilometres."""
    header = laspy.LasHeader(point_format=point_format, version=version)
    header.scales = np.full(3, scale)
    header.offsets = np.floor(xyz.min(axis=0) / 1000) * 1000
    las = laspy.LasData(header)
    las.x, las.y, las.z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    las.write(str(path))
    return path


def patch(path: Path, at: int, fmt: str, *values) -> Path:
    """Overwrite the bytes at ``at`` with ``struct.pack(fmt, *values)``."""
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, at, *values)
    path.write_bytes(bytes(data))
    return path


def raw_bounds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The points' bounds as raw unscaled record integers, as a real Leica ALS LAS 1.3 header stores them."""
    las = laspy.read(str(path))
    raw = np.stack([las.X, las.Y, las.Z], axis=1).astype(np.float64)
    return raw.min(axis=0), raw.max(axis=0)


def set_bounds(path: Path, low, high) -> Path:
    """Write ``low``/``high`` as the header's bounds (max then min per axis, as LAS stores them)."""
    return patch(path, BOUNDS_AT, "<6d", high[0], low[0], high[1], low[1], high[2], low[2])
