"""LAS and LAZ (ASPRS LAS 1.0-1.4, point formats 0-10, COPC) through laspy with its lazrs backend.

COPC files are LAZ 1.4 files whose chunks are ordered as an octree: read as LAZ, whole.
Extra bytes, waveform packets, EVLRs and CRS records are left to laspy, which skips what it
does not need; only xyz, colour, intensity and classification are read, chunk by chunk.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .chunks import CHUNK_POINTS, HELD_BYTES, ChunkedCloud
from .common import Cloud, Request, check_declared_bytes, colour_scale
from .formats import Format, register


class _CappedFile(io.FileIO):
    """A file whose ``read(n)`` never asks for more than is left in it.

    laspy reads VLR and EVLR bodies with ``read(length)`` as the header declares them, and
    Python allocates ``length`` bytes before reading: a damaged length would allocate
    gigabytes for a small file.
    """

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(os.fstat(self.fileno()).st_size - self.tell(), 0))
        return super().read(size)


def read_las(path: Path, request: Request) -> Cloud:
    """Points of a LAS/LAZ file: scaled and offset xyz, rgb by its depth, ``intensity`` and ``classification``.

    The ``classification`` field (ASPRS classes: 2 ground, 6 building, ...) reaches
    :func:`~openshape_ood.scenes.scene.load_scene` as labels with ``labels="classification"``.
    """
    import laspy  # the [survey] extra: imported when a LAS file is read

    size = path.stat().st_size
    stream = _CappedFile(path)
    try:
        reader = laspy.open(stream, closefd=True)
    except laspy.errors.LaspyException as exc:
        stream.close()
        raise ValueError(f"could not read {path}: not a readable LAS/LAZ file ({exc})") from None
    except BaseException:
        stream.close()
        raise
    with reader:
        header = reader.header
        count = int(header.point_count)
        record = header.point_format.size
        if count == 0:
            raise ValueError(f"{path} holds no points")
        if header.are_points_compressed:
            check_declared_bytes(path, "the LAZ header", count * HELD_BYTES)
        elif header.offset_to_point_data + count * record > size:
            raise ValueError(
                f"{path}: the LAS header declares {count} points of {record} bytes from byte "
                f"{header.offset_to_point_data}, but the file has {size} bytes; it is truncated or damaged"
            )
        names = set(header.point_format.dimension_names)
        colour = {"red", "green", "blue"} <= names
        chunks = ChunkedCloud(
            path,
            count,
            request,
            colour,
            {"intensity": np.dtype(np.uint16), "classification": np.dtype(np.uint8)},
            bounds=(np.asarray(header.mins), np.asarray(header.maxs)),
        )
        for points in reader.chunk_iterator(CHUNK_POINTS):
            xyz = np.stack([np.asarray(points.x), np.asarray(points.y), np.asarray(points.z)], axis=1)
            # Raw 16-bit values, exact in float32: the depth is known only once all are read.
            rgb = np.stack([points.red, points.green, points.blue], axis=1) if colour else None
            fields = {"intensity": np.asarray(points.intensity), "classification": np.asarray(points.classification)}
            chunks.add(xyz, rgb, fields)
    cloud = chunks.cloud()
    if cloud.rgb is not None:
        cloud.rgb /= colour_scale(cloud.rgb, "its red/green/blue fields", path)  # in place: no float64 copy
    return cloud


register(Format(
    "LAS/LAZ", (".las", ".laz"), read_las,
    "LAS 1.0-1.4, point formats 0-10, LAZ and COPC (lazrs); scale and offset applied, far coordinates kept to the "
    "millimetre (local origin); RGB by the depth used (8-bit values in 16-bit fields); `intensity`, "
    "`classification` kept; extra bytes, waveforms, EVLRs, CRS skipped; read in chunks (`max_points`, `voxel_size`)",
    "truncated or damaged files; headers declaring more points than the file holds",
    frozenset({"max_points", "voxel_size"}),
    needs=("laspy", "lazrs"),
))
