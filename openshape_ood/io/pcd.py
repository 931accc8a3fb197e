"""PCD, the Point Cloud Library's format (v0.5-0.7): ascii, binary and binary_compressed (LZF)."""

from __future__ import annotations

import os
from pathlib import Path

import lzf  # python-neo-lzf (or python-lzf): liblzf bindings for binary_compressed PCD
import numpy as np

from .contract import rgb_to_unit
from .common import MAX_POINTS, Cloud, Request, check_declared, unit_colours
from .formats import Format, register

_PCD_KINDS = {"F": "f", "U": "u", "I": "i"}
_PCD_SIZES = {"F": (4, 8), "U": (1, 2, 4, 8), "I": (1, 2, 4, 8)}


def read_pcd_fields(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, str]]:
    """Every field of a PCD file (PCL's format, v0.5-0.7): ``{name: (first value per point, TYPE letter)}``.

    Field names are as written (PDAL writes upper-case ``X Y Z``). The header is checked as PCL checks it (declared counts, sizes, encodings); a repeated
    field name keeps its first field. :func:`load_points` reads xyz and colour from it;
    other fields (per-point instance labels, say) are there too.

    Raises:
        ValueError: the file is not a valid PCD file; the message names it.
    """
    path = Path(path)
    raw = path.read_bytes()
    header: dict[str, list[str]] = {}
    offset = 0
    while "DATA" not in header:
        end = raw.find(b"\n", offset)
        if end < 0:
            raise ValueError(f"could not read {path}: the PCD header has no DATA line")
        line = raw[offset:end].decode("ascii", errors="replace").strip()
        offset = end + 1
        if line and not line.startswith("#"):
            key, *values = line.split()
            header[key.upper()] = values

    fields = header.get("FIELDS", [])
    sizes, types = header.get("SIZE", []), header.get("TYPE", [])
    counts = header.get("COUNT", ["1"] * len(fields))
    if not {"x", "y", "z"} <= {name.lower() for name in fields}:
        raise ValueError(f"could not read {path}: the PCD fields {fields} lack x, y or z")
    if not len(fields) == len(sizes) == len(types) == len(counts) or not all(
        t in _PCD_KINDS for t in types
    ):
        raise ValueError(f"could not read {path}: PCD header FIELDS/SIZE/TYPE/COUNT do not agree")
    sizes, counts = _pcd_integers(path, "SIZE", sizes), _pcd_integers(path, "COUNT", counts)
    for name, size, kind, count in zip(fields, sizes, types, counts):
        if size not in _PCD_SIZES[kind]:
            raise ValueError(f"{path}: PCD field {name!r} has TYPE {kind} with an invalid SIZE {size}")
        if count < 1:
            raise ValueError(f"{path}: PCD field {name!r} has COUNT {count}; counts must be at least 1")
    num_points = _pcd_num_points(path, header)
    bases = [np.dtype(f"<{_PCD_KINDS[t]}{s}") for t, s in zip(types, sizes)]

    data_line = " ".join(header["DATA"])
    body = raw[offset:]
    # PCL picks the encoding by prefix; what follows "ascii" on that line is the first row.
    if data_line.lower().startswith("binary_compressed"):
        columns = _pcd_compressed(path, body, bases, counts, num_points)
    elif data_line.lower() == "binary":
        columns = _pcd_binary(path, body, bases, counts, num_points)
    elif data_line.lower().startswith("ascii"):
        columns = _pcd_ascii(path, data_line[5:].encode(), body, counts, num_points)
    else:
        raise ValueError(f"could not read {path}: unknown PCD DATA encoding {data_line!r}")
    # First value of each field with its TYPE letter; a repeated name keeps its first field.
    by_name: dict[str, tuple[np.ndarray, str]] = {}
    for name, column, kind in zip(fields, columns, types):
        by_name.setdefault(name, (column, kind))
    return by_name


def read_pcd(path: Path, request: Request) -> Cloud:
    """xyz, colour (packed ``rgb``/``rgba`` or separate ``red green blue`` fields) and the other fields."""
    by_name = read_pcd_fields(path)
    lower = {name.lower(): name for name in reversed(list(by_name))}  # the first of a repeated name wins
    axes = [lower[axis] for axis in "xyz"]
    xyz = np.stack([by_name[axis][0] for axis in axes], axis=1).astype(np.float64)
    packed = next((lower[n] for n in ("rgb", "rgba") if n in lower), None)
    channels = next((c for c in (("red", "green", "blue"), ("r", "g", "b")) if set(c) <= set(lower)), None)
    used = set(axes)
    rgb = None
    if packed is not None:
        rgb = _unpack_rgb(*by_name[packed])
        used.add(packed)
    elif channels is not None:
        names = [lower[c] for c in channels]
        used.update(names)
        values = np.stack([by_name[n][0] for n in names], axis=1)
        if all(by_name[n][1] in "UI" for n in names) and values.min() >= 0:
            rgb = unit_colours(values, "its red/green/blue fields", path)  # PDAL writes 8-bit values as U2
        else:
            rgb = rgb_to_unit(values.astype(np.float64))
    fields = {name: column for name, (column, _) in by_name.items() if name not in used}
    return Cloud(xyz, rgb, fields)


def _unpack_rgb(packed: np.ndarray, kind: str) -> np.ndarray:
    """PCL packs 0x(AA)RRGGBB into 4 bytes, stored as an integer or reinterpreted float."""
    if kind == "F":
        packed = packed.astype(np.float32).view(np.uint32)
    else:
        packed = (packed.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    return np.stack([(packed >> shift) & 0xFF for shift in (16, 8, 0)], axis=1) / 255.0


def _pcd_integers(path: Path, key: str, values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ValueError(f"{path}: PCD {key} values {values} are not whole numbers") from None


def _pcd_num_points(path: Path, header: dict[str, list[str]]) -> int:
    width = _pcd_integers(path, "WIDTH", header.get("WIDTH", [])[:1])
    height = _pcd_integers(path, "HEIGHT", header.get("HEIGHT", [])[:1])
    points = _pcd_integers(path, "POINTS", header.get("POINTS", [])[:1])
    if width and height and points and width[0] * height[0] != points[0]:
        raise ValueError(
            f"{path}: PCD WIDTH {width[0]} x HEIGHT {height[0]} does not equal POINTS {points[0]}"
        )
    if points:
        num_points = points[0]
    elif width and height:
        num_points = width[0] * height[0]
    else:
        raise ValueError(f"{path}: the PCD header gives neither POINTS nor WIDTH and HEIGHT")
    if num_points < 0:
        raise ValueError(f"{path}: the PCD header declares {num_points} points")
    if num_points == 0:
        raise ValueError(f"{path} holds no points")
    if num_points > MAX_POINTS:
        raise ValueError(f"{path}: the PCD header declares {num_points} points, more than {MAX_POINTS}")
    return num_points


def _pcd_ascii(path: Path, glued: bytes, body: bytes, counts: list[int], num_points: int) -> list[np.ndarray]:
    """The rows after the DATA line; text glued to ``DATA ascii`` is a row only when the rows fall one short.

    PCL reads the lines after the header and ignores what follows ``ascii``; some writers
    glue the first row there instead, which the count tells apart.
    """
    rows = [line for line in body.decode("ascii", errors="replace").splitlines() if line.strip()]
    if glued.strip() and len(rows) == num_points - 1:
        rows.insert(0, glued.decode("ascii", errors="replace"))
    # Checked before parsing: a ragged table would be a loadtxt error that names no count.
    widths = {len(row.split()) for row in rows}
    if len(rows) != num_points or widths != {sum(counts)}:
        raise ValueError(
            f"could not read {path}: the PCD data are {len(rows)} rows of "
            f"{'/'.join(map(str, sorted(widths)))} values, the header declares "
            f"{num_points} of {sum(counts)}"
        )
    try:
        table = np.loadtxt(rows, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"could not read {path}: {exc}") from None
    starts = np.cumsum([0] + counts[:-1])
    return [table[:, start] for start in starts]


def _pcd_binary(
    path: Path, body: bytes, bases: list[np.dtype], counts: list[int], num_points: int
) -> list[np.ndarray]:
    # Point-major records; positional names because PCD allows repeated field names ("_").
    record = np.dtype(
        [(f"f{i}", base, (count,)) for i, (base, count) in enumerate(zip(bases, counts))]
    )
    if len(body) < num_points * record.itemsize:
        raise ValueError(
            f"could not read {path}: binary PCD data is truncated "
            f"({len(body)} bytes for {num_points} points of {record.itemsize} bytes)"
        )
    table = np.frombuffer(body, dtype=record, count=num_points)
    return [table[f"f{i}"][:, 0] for i in range(len(bases))]


def _pcd_compressed(
    path: Path, body: bytes, bases: list[np.dtype], counts: list[int], num_points: int
) -> list[np.ndarray]:
    if len(body) < 8:
        raise ValueError(f"could not read {path}: binary_compressed PCD data is truncated")
    compressed_size, size = (int(v) for v in np.frombuffer(body[:8], dtype="<u4"))
    expected = num_points * sum(base.itemsize * count for base, count in zip(bases, counts))
    if size != expected or compressed_size > len(body) - 8:
        raise ValueError(
            f"could not read {path}: its LZF block declares {size} bytes from {compressed_size}, "
            f"the header needs {expected} and the file holds {len(body) - 8}"
        )
    check_declared(path, "the binary_compressed PCD data", size, num_points)
    data = lzf.decompress(body[8 : 8 + compressed_size], size)
    if data is None or len(data) != size:
        raise ValueError(
            f"could not read {path}: LZF data do not decompress to the "
            f"{expected} bytes its header declares"
        )
    # Field-major: all points' values of field 0, then of field 1, ...
    columns, start = [], 0
    for base, count in zip(bases, counts):
        block = np.frombuffer(data, dtype=base, count=num_points * count, offset=start)
        columns.append(block.reshape(num_points, count)[:, 0])
        start += block.nbytes
    return columns


register(Format(
    "PCD", (".pcd",), read_pcd,
    "ascii, binary, binary_compressed (LZF), encoding matched by prefix as PCL does (text glued to `DATA ascii` is a "
    "row only when the rows fall one short); fields `x y z` in any case (PDAL's `X Y Z`) with packed `rgb`/`rgba` or "
    "separate `red green blue` fields (8 or 16 bits); other fields kept for `load_scene`; organized clouds flattened",
    "`COUNT` 0 or negative, bad `SIZE`, `WIDTH x HEIGHT != POINTS`, rows or bytes other than declared; comma-separated "
    "rows",
))
