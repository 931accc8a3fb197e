"""LAS and LAZ (ASPRS LAS 1.0-1.4, point formats 0-10, COPC) through laspy with its lazrs backend.

COPC files are LAZ 1.4 files whose chunks are ordered as an octree: read as LAZ, whole.
Extra bytes, waveform packets, EVLRs and CRS records are left to laspy, which skips what it
does not need; only xyz, colour, intensity and classification are read, chunk by chunk.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
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
    size = path.stat().st_size
    with lazrs_panics(path):
        check_record_layout(path, size)
        return _read_las(path, request, size)


def _read_las(path: Path, request: Request, size: int) -> Cloud:
    import laspy  # the [survey] extra: imported when a LAS file is read

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
        )  # the origin comes from the first chunk's points: a header's bounds may be wrong (see HeaderBounds)
        stated = HeaderBounds(path, header.mins, header.maxs, header.scales)
        for points in reader.chunk_iterator(CHUNK_POINTS):
            xyz = np.stack([np.asarray(points.x), np.asarray(points.y), np.asarray(points.z)], axis=1)
            stated.add(xyz)
            # Raw 16-bit values, exact in float32: the depth is known only once all are read.
            rgb = np.stack([points.red, points.green, points.blue], axis=1) if colour else None
            fields = {"intensity": np.asarray(points.intensity), "classification": np.asarray(points.classification)}
            chunks.add(xyz, rgb, fields)
    cloud = chunks.cloud()
    stated.report()
    if cloud.rgb is not None:
        cloud.rgb /= colour_scale(cloud.rgb, "its red/green/blue fields", path)  # in place: no float64 copy
    return cloud


# ------------------------------------------------------------------ hostile headers
# Offsets and sizes of the LAS 1.0-1.4 public header block and its records (ASPRS LAS 1.4 R15, tables 3, 5, 7).
_HEADER = struct.Struct("<4s20xBB68xHII")  # signature, version major/minor, header size, offset to points, VLR count
_EVLR_FIELDS = struct.Struct("<QI")  # start of the first EVLR, EVLR count (LAS 1.4, at byte 235)
_EVLR_AT = 235
_VLR_HEADER = 54
_EVLR_HEADER = 60
_LAZ_TABLE = struct.Struct("<II")  # laszip chunk table: version, number of chunks
_LASZIP_VLR = (b"laszip encoded", 22204)  # user id and record id of the laszip VLR
_LASZIP_FIELDS = struct.Struct("<H30xH")  # compressor; number of items (at byte 32), then the items
_LASZIP_ITEM = struct.Struct("<HHH")  # type, size, version
_LAYERED = 3  # the compressor of LAS 1.4 point formats 6-10: each chunk's fields in separate layers
# Layers of each LAS 1.4 item type (POINT14, RGB14, RGBNIR14, WAVEPACKET14); BYTE14 (14) has one per byte.
_ITEM_LAYERS = {10: 9, 11: 1, 12: 2, 13: 1}


def check_record_layout(path: Path, size: int) -> None:
    """Refuse record counts and offsets that the file's bytes cannot hold, before laspy or lazrs sees them.

    laspy believes a header's VLR and EVLR counts: a 5 KB file declaring 2**32 - 1 of them
    keeps it reading empty records for hours. lazrs believes the laszip chunk table's
    count and offset: a damaged one makes it allocate tens of gigabytes, which aborts the
    whole process (a Rust allocation failure is no Python exception). Every record takes
    at least its fixed header (54 bytes a VLR, 60 an EVLR) and every LAZ chunk at least
    one byte, so counts beyond what the file's size allows are refused here with a
    ``ValueError`` naming the file. Files too short for a header, or not starting with
    ``LASF``, are left to laspy's own error.
    """
    with open(path, "rb") as handle:
        head = handle.read(_EVLR_AT + _EVLR_FIELDS.size)
        if len(head) < _HEADER.size:
            return
        signature, major, minor, header_size, point_offset, vlrs = _HEADER.unpack_from(head)
        if signature != b"LASF":
            return
        if header_size + vlrs * _VLR_HEADER > size or point_offset > size:
            raise ValueError(
                f"{path}: the LAS header declares {vlrs} variable-length records and point data from byte "
                f"{point_offset}, more than a file of {size} bytes can hold; the header is damaged"
            )
        if (major, minor) >= (1, 4) and len(head) == _EVLR_AT + _EVLR_FIELDS.size:
            evlr_start, evlrs = _EVLR_FIELDS.unpack_from(head, _EVLR_AT)
            if evlrs and evlr_start + evlrs * _EVLR_HEADER > size:
                raise ValueError(
                    f"{path}: the LAS header declares {evlrs} extended variable-length records from byte "
                    f"{evlr_start}, more than a file of {size} bytes can hold; the header is damaged"
                )
        if head[104:105] and head[104] & 0x80 and point_offset + 8 <= size:  # bit 7 of the point format: LAZ
            handle.seek(point_offset)
            (table_at,) = struct.unpack("<q", handle.read(8))
            if table_at == -1:
                return  # no chunk table (a writer that could not seek back): lazrs reads sequentially
            handle.seek(max(table_at, 0))
            table = handle.read(_LAZ_TABLE.size)
            chunks = _LAZ_TABLE.unpack(table)[1] if len(table) == _LAZ_TABLE.size else None
            inside = point_offset + 8 <= table_at <= size - _LAZ_TABLE.size and chunks is not None
            if not inside or chunks > size:
                declared = f"declares {chunks} chunks, more than the file can hold" if inside else "lies outside it"
                raise ValueError(
                    f"{path}: the LAZ chunk table at byte {table_at} {declared} (a file of {size} bytes, its points "
                    f"from byte {point_offset}); the file is damaged"
                )
            laszip = _laszip_record(handle, header_size, vlrs)
            if laszip is not None:
                _check_layered_chunks(path, handle, laszip, point_offset, table_at)


def _laszip_record(handle, header_size: int, vlrs: int) -> bytes | None:
    """The body of the laszip VLR, or ``None`` (laspy then says what is missing)."""
    at = header_size
    for _ in range(vlrs):
        head = _read_at(handle, at, _VLR_HEADER)
        if len(head) < _VLR_HEADER:
            return None
        user, record, length = head[2:18].rstrip(b"\0"), *struct.unpack_from("<HH", head, 18)
        if (user, record) == _LASZIP_VLR:
            return _read_at(handle, at + _VLR_HEADER, length)
        at += _VLR_HEADER + length
    return None


def _check_layered_chunks(path: Path, handle, laszip: bytes, point_offset: int, table_at: int) -> None:
    """Refuse a layered LAZ chunk (point formats 6-10, COPC) whose declared layer sizes its bytes cannot hold.

    Such a chunk starts with its first point raw, its point count and the byte size of each
    layer; lazrs allocates and zero-fills each layer's declared size before it reads it, so
    one damaged size (a flipped high byte: 4 GB) cost up to 21 s of a 33 KB file's read before
    the error (``python -m benchmarks.damaged_survey``). Each chunk's layer sizes are checked against the chunk table's byte count
    here: a few bytes read per chunk.
    """
    if len(laszip) < _LASZIP_FIELDS.size:
        return
    compressor, count = _LASZIP_FIELDS.unpack_from(laszip)
    items = [_LASZIP_ITEM.unpack_from(laszip, _LASZIP_FIELDS.size + 6 * i) for i in range(count)
             if _LASZIP_FIELDS.size + 6 * (i + 1) <= len(laszip)]  # fmt: skip
    if compressor != _LAYERED or len(items) != count or any(kind not in (*_ITEM_LAYERS, 14) for kind, _, _ in items):
        return  # laspy or lazrs refuses what it cannot read
    record = sum(item_size for _, item_size, _ in items)
    layers = sum(_ITEM_LAYERS.get(kind, item_size) for kind, item_size, _ in items)
    import lazrs  # the [survey] extra, with laspy

    handle.seek(point_offset)
    table = lazrs.read_chunk_table(handle, lazrs.LazVlr(laszip))
    sizes = struct.Struct(f"<I{layers}I")
    start = point_offset + 8
    for number, (_, chunk_bytes) in enumerate(table):
        head = _read_at(handle, start + record, sizes.size)
        if len(head) < sizes.size or start + chunk_bytes > table_at:
            raise ValueError(
                f"{path}: LAZ chunk {number} of {len(table)} (from byte {start}, {chunk_bytes} bytes by the chunk "
                f"table) ends beyond the chunk table at byte {table_at}; the file is damaged"
            )
        # The chunk's own point count is not checked: lazrs goes by the chunk table's (a damaged count reads fine).
        layer_bytes = sum(sizes.unpack(head)[1:])
        if record + sizes.size + layer_bytes > chunk_bytes:
            raise ValueError(
                f"{path}: LAZ chunk {number} of {len(table)} declares layers of {layer_bytes} bytes, but its chunk "
                f"table entry gives it {chunk_bytes} bytes (its first point, point count and layer sizes take "
                f"{record + sizes.size}); the file is damaged"
            )
        start += chunk_bytes


def _read_at(handle, at: int, length: int) -> bytes:
    handle.seek(at)
    return handle.read(length)


@contextlib.contextmanager
def lazrs_panics(path: Path) -> Iterator[None]:
    """Turn a panic of lazrs (the Rust LAZ decoder) into a ``ValueError`` naming the file, and only that.

    pyo3 raises Rust panics as ``pyo3_runtime.PanicException``, a ``BaseException``: it
    would pass every ``except Exception`` and stop a whole batch over one damaged laszip
    record (a real case: ``capacity overflow`` from a damaged chunk size). The class is
    created by pyo3 at run time, so it is recognised by name. Rust's panic hook writes its
    own report (three lines, more with ``RUST_BACKTRACE``) to file descriptor 2 before this
    runs, which Python cannot turn off: the block's stderr goes to a temporary file and is
    written back after it, less the panic's report, which the error repeats (kept where
    ``RUST_BACKTRACE`` asks for it, as ``--debug`` does).
    """
    with _stderr_held() as held:
        try:
            yield
        except (Exception, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            if type(exc).__name__ != "PanicException":
                raise
            held.panicked = os.environ.get("RUST_BACKTRACE", "0") == "0"
            raise ValueError(f"could not read {path}: its LAZ data are damaged (the decoder failed: {exc})") from None


def _flush_stderr() -> None:
    if sys.stderr is not None:  # None under pythonw
        sys.stderr.flush()


class _Held:
    panicked = False  # drop the Rust panic report from what is written back


_STDERR_LOCK = threading.Lock()  # file descriptor 2 is the process's: one thread holds it at a time


@contextlib.contextmanager
def _stderr_held() -> Iterator[_Held]:
    """File descriptor 2 sent to a temporary file for the block, then written back (less a Rust panic report).

    Python's own writes (warnings) come back in order; a thread finding it held by another
    reads without holding it.
    """
    held = _Held()
    if not _STDERR_LOCK.acquire(blocking=False):
        yield held
        return
    try:
        with tempfile.TemporaryFile() as capture:
            _flush_stderr()
            try:
                saved = os.dup(2)
            except OSError:  # no file descriptor 2: nothing to hold
                yield held
                return
            os.dup2(capture.fileno(), 2)
            try:
                yield held
            finally:
                _flush_stderr()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                text = capture.read()
                if held.panicked:
                    report = re.search(rb"\n?thread '[^\n]*' (\(\d+\) )?panicked at", text)
                    text = text if report is None else text[: report.start()]
                while text:  # os.write may write part of it
                    text = text[os.write(2, text) :]
    finally:
        _STDERR_LOCK.release()


class HeaderBounds:
    """Checks the bounds a LAS header states against the points read, chunk by chunk, in float64.

    The header's bounds are not trusted for anything: real files store them stale, as zero,
    or (a Leica ALS LAS 1.3 file) as raw unscaled integers. They are compared with the
    points' own bounds at the end; :meth:`report` warns, naming the file, when they differ
    by more than one scale step (writers may round bounds to the coordinate grid) and
    counts the points that lie far outside them (beyond the stated box grown by its own
    size on every side) when they are a minority: a few such points mean damaged records
    or a damaged scale, most of them mean wrong bounds.
    """

    def __init__(self, path: Path, low, high, scale):
        self.path = path
        self.low, self.high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        self.step = np.abs(np.asarray(scale, dtype=np.float64))
        extent = np.maximum(self.high - self.low, self.step)
        self.far_low, self.far_high = self.low - extent, self.high + extent
        self.seen_low = np.full(3, np.inf)
        self.seen_high = np.full(3, -np.inf)
        self.far = 0
        self.count = 0

    def add(self, xyz: np.ndarray) -> None:
        """One chunk of points, ``(n, 3)`` float64 as scaled from the records."""
        finite = xyz[np.isfinite(xyz).all(axis=1)]
        if len(finite):
            self.seen_low = np.minimum(self.seen_low, finite.min(axis=0))
            self.seen_high = np.maximum(self.seen_high, finite.max(axis=0))
        self.far += int(((finite < self.far_low) | (finite > self.far_high)).any(axis=1).sum())
        self.count += len(xyz)

    def report(self) -> None:
        """Warn when the stated bounds are off by more than a scale step; say how far and how many points are far out."""
        if not np.isfinite(self.seen_low).all():
            return
        off = np.maximum(np.abs(self.seen_low - self.low), np.abs(self.seen_high - self.high))
        with np.errstate(invalid="ignore"):
            wrong = ~(off <= self.step)  # NaN bounds in the header are wrong too
        if not wrong.any():
            return
        axes = ", ".join(f"{axis} by {value:.6g}" for axis, value, bad in zip("xyz", off, wrong) if bad)
        far = (
            f"; {self.far} of {self.count} points lie farther outside the stated bounds than their own size "
            "(a damaged scale factor or damaged point records?)"
            if 0 < 2 * self.far < self.count  # most points far out: the bounds are wrong, not the points
            else ""
        )
        warnings.warn(
            f"{self.path}: the bounds in its LAS header differ from its points' ({axes}, in the file's units){far}; "
            "the points were read from their records and the header's bounds ignored",
            stacklevel=5,
        )


register(Format(
    "LAS/LAZ", (".las", ".laz"), read_las,
    "LAS 1.0-1.4, point formats 0-10, LAZ and COPC (lazrs); scale and offset applied, far coordinates kept to the "
    "millimetre (local origin); RGB by the depth used (8-bit values in 16-bit fields); `intensity`, "
    "`classification` kept; extra bytes, waveforms, EVLRs, CRS skipped; read in chunks (`max_points`, `voxel_size`)",
    "truncated or damaged files; headers declaring more points than the file holds",
    frozenset({"max_points", "voxel_size"}),
    needs=("laspy", "lazrs"),
))
