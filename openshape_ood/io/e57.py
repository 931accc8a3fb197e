"""E57 (ASTM E2807) through pye57, the Python bindings of libE57Format, read scan by scan in chunks.

Why pye57: it binds libE57Format, the reference implementation, which checks every page's
CRC (the damaged sample ``corrupt_crc.e57`` is refused, as its authors intend) and gives
the low-level compressed-vector reader, so a scan is read a chunk at a time into buffers
of any integer width (16-bit colour included). The alternative, the ``e57`` package
(bindings of the Rust crate, 0.2.3), was compared on the E57 samples of
real_samples_survey: both give the same points and colours for the three readable files
and both refuse ``corrupt_crc.e57``, but its one entry point, ``read_points``, reads a
whole file into memory at once, with no chunked or per-scan access, so a big scan could
not be read with bounded memory.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .chunks import CHUNK_POINTS, HELD_BYTES, ChunkedCloud
from .common import Cloud, Request, check_declared_bytes
from .formats import Format, register

if TYPE_CHECKING:
    import pye57

_CARTESIAN = ("cartesianX", "cartesianY", "cartesianZ")
_SPHERICAL = ("sphericalRange", "sphericalAzimuth", "sphericalElevation")
_COLOUR = ("colorRed", "colorGreen", "colorBlue")

def read_e57(path: Path, request: Request) -> Cloud:
    """Every scan of an E57 file, its pose applied, invalid points dropped (a warning counts them).

    Coordinates are cartesian or spherical (range, azimuth, elevation); colour is scaled
    by the scan's ``colorLimits`` or, without them, the colour fields' declared range
    (8- or 16-bit); intensity is kept as the ``intensity`` field. A file whose scans do
    not all have colour has none.
    """
    import pye57  # the [survey] extra: imported when an E57 file is read

    try:
        e57 = pye57.E57(str(path))
    except Exception as exc:  # libE57Format raises E57Exception and RuntimeError
        raise ValueError(f"could not read {path}: not a readable E57 file ({exc})") from None
    try:
        scans = [e57.get_header(i) for i in range(e57.scan_count)]
        total = sum(int(scan.point_count) for scan in scans)
        if total == 0:
            raise ValueError(f"{path} holds no points")
        check_declared_bytes(path, "its scans", total * HELD_BYTES)
        colour = all(set(_COLOUR) <= set(scan.point_fields) for scan in scans)
        intensity = all("intensity" in scan.point_fields for scan in scans)
        fields = {"intensity": np.dtype(np.float32)} if intensity else {}
        chunks = ChunkedCloud(path, total, request, colour, fields)
        dropped = sum(_read_scan(e57, path, scan, chunks, colour, intensity) for scan in scans)
    finally:
        e57.close()
    if dropped:
        warnings.warn(f"{path}: dropped {dropped} of {total} points marked invalid by the scanner", stacklevel=4)
    return chunks.cloud()


def _read_scan(e57: pye57.E57, path: Path, scan, chunks: ChunkedCloud, colour: bool, intensity: bool) -> int:
    """Read one scan into ``chunks``; returns how many invalid points it dropped."""
    from pye57 import libe57
    from pye57.utils import convert_spherical_to_cartesian

    names = set(scan.point_fields)
    if set(_CARTESIAN) <= names:
        coordinates, state = _CARTESIAN, "cartesianInvalidState"
    elif set(_SPHERICAL) <= names:
        coordinates, state = _SPHERICAL, "sphericalInvalidState"
    else:
        raise ValueError(f"{path}: a scan has neither cartesian nor spherical coordinates (fields {sorted(names)})")
    wanted = {name: "d" for name in coordinates}
    if colour:
        wanted.update({name: "H" for name in _COLOUR})  # 16 bits hold 8-bit colour too
    if intensity:
        wanted["intensity"] = "f"
    if state in names:
        wanted[state] = "b"
    capacity = min(CHUNK_POINTS, max(int(scan.point_count), 1))
    arrays = {name: np.empty(capacity, dtype) for name, dtype in wanted.items()}
    buffers = libe57.VectorSourceDestBuffer()
    for name, array in arrays.items():
        buffers.append(libe57.SourceDestBuffer(e57.image_file, name, array, capacity, True, True))
    low, high = _colour_range(scan) if colour else (0.0, 1.0)
    rotation, translation = (scan.rotation_matrix, scan.translation) if scan.has_pose() else (None, None)
    dropped = 0
    reader = scan.points.reader(buffers)
    try:
        while True:
            count = reader.read()
            if count == 0:
                break
            xyz = np.stack([arrays[name][:count] for name in coordinates], axis=1)
            if coordinates is _SPHERICAL:
                xyz = convert_spherical_to_cartesian(xyz)
            valid = arrays[state][:count] == 0 if state in arrays else np.ones(count, dtype=bool)
            dropped += int(count - valid.sum())
            xyz = xyz[valid]
            if rotation is not None:
                xyz = xyz @ np.asarray(rotation).T + np.asarray(translation, dtype=np.float64)
            rgb = None
            if colour:
                raw = np.stack([arrays[name][:count][valid] for name in _COLOUR], axis=1).astype(np.float64)
                rgb = (raw - low) / (high - low)
            fields = {"intensity": arrays["intensity"][:count][valid]} if intensity else {}
            chunks.add(xyz, rgb, fields, rows=count)
    finally:
        reader.close()
    return dropped


def _colour_range(scan) -> tuple[float, float]:
    """The range colour values span: the scan's ``colorLimits`` or else the red field's declared range."""
    from pye57 import libe57
    from pye57.utils import get_node

    if scan.node.isDefined("colorLimits"):
        limits = scan.node["colorLimits"]
        low, high = limits["colorRedMinimum"].value(), limits["colorRedMaximum"].value()
    else:
        node = get_node(libe57.StructureNode(scan.points.prototype()), "colorRed")
        low, high = node.minimum(), node.maximum()
    if not high > low:
        return 0.0, 255.0
    return float(low), float(high)


register(Format(
    "E57", (".e57",), read_e57,
    "every scan, its pose applied; cartesian or spherical coordinates; invalid points dropped with a warning that "
    "counts them; 8- or 16-bit colour; intensity kept (intensity-only files have no colour); read in chunks "
    "(`max_points`, `voxel_size`)",
    "files failing libE57Format's checksum or structure checks; scans without coordinates",
    frozenset({"max_points", "voxel_size"}),
    needs=("pye57",),
))
