"""PLY (Stanford): the one PLY reader and writer of the package, for clouds, meshes and the scene output."""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import plyfile

from ..atomic import replacing
from .contract import rgb_to_unit
from .common import (
    Cloud,
    Colouring,
    Request,
    Surface,
    check_indices,
    face_colouring,
    fan,
    fan_owner,
    find_companion,
    open_image,
    texture_colouring,
    vertex_colouring,
)
from .formats import Format, register

_PLY_SIZES = {
    "char": 1, "int8": 1, "uchar": 1, "uint8": 1, "short": 2, "int16": 2, "ushort": 2,
    "uint16": 2, "int": 4, "int32": 4, "uint": 4, "uint32": 4, "float": 4, "float32": 4,
    "double": 8, "float64": 8,
}  # fmt: skip
# Bytes within which a PLY header must end (real ones take a few hundred).
_MAX_HEADER = 1 << 20
_PLY_KEYWORDS = ("format", "comment", "obj_info", "element", "property", "end_header")
_RGB_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
_UV_NAMES = (("s", "t"), ("u", "v"), ("texture_u", "texture_v"), ("texture_s", "texture_t"))


def read_ply(path: Path, request: Request) -> Cloud | list[Surface]:
    """A PLY file, parsed by plyfile after its header is made strict."""
    raw_header, body_start = _read_header(path)
    header = _ply_header(path, raw_header, path.stat().st_size - body_start)
    # A header plyfile accepts as written lets it memory-map the file (fast for big clouds, and
    # never read whole into memory); another is replaced by its strict form in a copy.
    if raw_header.startswith(header):
        source = str(path)
    else:
        with open(path, "rb") as handle:
            handle.seek(body_start)
            source = io.BytesIO(header + handle.read())
    try:
        ply = plyfile.PlyData.read(source)
    except plyfile.PlyParseError as exc:
        raise ValueError(f"could not read {path}: {exc}") from None
    if "vertex" not in ply or len(ply["vertex"].data) == 0:
        raise ValueError(f"{path} holds no triangles and no points")
    vertex = ply["vertex"].data
    names = vertex.dtype.names
    if not {"x", "y", "z"} <= set(names):
        raise ValueError(f"{path}: its vertices have no x, y, z properties (they have {', '.join(names)})")
    xyz = np.stack([vertex[a].astype(np.float64) for a in "xyz"], axis=1)
    vertex_rgb = _ply_rgb(ply["vertex"])

    polygons = _ply_polygons(path, ply)
    if not polygons:
        used = {"x", "y", "z", *next((c for c in _RGB_NAMES if set(c) <= set(names)), ())}
        fields = {name: vertex[name] for name in names if name not in used and vertex[name].ndim == 1}
        return Cloud(xyz, vertex_rgb, fields)
    triangles = fan(polygons)
    owner = fan_owner(polygons)
    check_indices(path, triangles, len(xyz))

    texture = _ply_texture(path, ply, triangles, owner, polygons)
    if texture is not None:
        colour = texture
    elif vertex_rgb is not None:
        colour = vertex_colouring(triangles, vertex_rgb)
    else:
        face_rgb = _ply_rgb(ply["face"]) if "face" in ply else None
        colour = None if face_rgb is None else face_colouring(face_rgb[owner])
    return [Surface(xyz, triangles, colour)]


def _read_header(path: Path) -> tuple[bytes, int]:
    """The bytes of a PLY file up to and with its ``end_header`` line, and where its body starts."""
    raw = b""
    with open(path, "rb") as handle:
        # Up to the end of the header and the two bytes after it (its line end), read in blocks.
        while (end := raw.find(b"end_header")) < 0 or len(raw) < end + len(b"end_header") + 2:
            block = handle.read(1 << 16)
            if not block or (end < 0 and len(raw) > _MAX_HEADER):
                break
            raw += block
    if not raw.startswith(b"ply") or end < 0:
        raise ValueError(f"could not read {path}: not a PLY file (no 'ply' ... 'end_header' header)")
    body_start = end + len(b"end_header")
    body_start += 2 if raw[body_start : body_start + 2] == b"\r\n" else 1
    return raw[:body_start], body_start


def _ply_header(path: Path, raw: bytes, body_size: int) -> bytes:
    """A strict header for plyfile from the file's own (``raw``, up to its ``end_header`` line), the
    declared sizes checked against the ``body_size`` bytes after it.

    Writers end header lines in LF, CRLF or CR alone and add lines without a keyword
    (Blender 2.4's "Created by ..."); those become comments.
    """
    end = raw.rfind(b"end_header")
    lines = re.split(r"\r\n|\r|\n", raw[:end].decode("latin-1"))[1:]
    clean = ["ply"]
    elements: list[tuple[str, int, list]] = []
    binary = True
    for line in lines:
        words = line.split()
        if not words:
            continue
        keyword = words[0]
        if keyword not in _PLY_KEYWORDS:
            clean.append(f"comment {line.strip()}")
            continue
        if keyword == "format":
            binary = len(words) > 1 and words[1] != "ascii"
        elif keyword == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise ValueError(f"could not read {path}: bad PLY header line {line.strip()!r}")
            elements.append((words[1], int(words[2]), []))
        elif keyword == "property" and elements:
            elements[-1][2].append(words[1:])
        clean.append(line.strip())
    clean.append("end_header")
    _check_ply_sizes(path, elements, binary, body_size)
    return ("\n".join(clean) + "\n").encode("latin-1")


def _check_ply_sizes(path: Path, elements: list[tuple[str, int, list]], binary: bool, body_size: int) -> None:
    """Refuse declared counts that the body cannot hold, before plyfile allocates them."""
    needed = 0
    for _, count, properties in elements:
        if binary:
            # A list costs at least its length field; unknown types are plyfile's to report.
            row = sum(_PLY_SIZES.get(p[1] if p[0] == "list" else p[0], 1) for p in properties if p)
        else:
            row = 2 * len(properties)  # at least one digit and a separator per value
        needed += count * max(row, 1)
    if needed > body_size:
        raise ValueError(
            f"{path}: the PLY header declares elements needing at least {needed} bytes, "
            f"but the file holds {body_size} after its header; the file is truncated or damaged"
        )


def _ply_rgb(element: plyfile.PlyElement) -> np.ndarray | None:
    """Colours of a PLY element in [0, 1]: integers scaled by their type's maximum."""
    data = element.data
    names = data.dtype.names or ()
    channels = next((c for c in _RGB_NAMES if set(c) <= set(names)), None)
    if channels is None or len(data) == 0:
        return None
    columns = []
    for channel in channels:
        values = data[channel]
        if values.dtype.kind in "iu":
            # Signed chars (PDAL's 'char blue') hold the same byte as an unsigned one would.
            unsigned = values.astype(values.dtype.str.replace("i", "u"))
            columns.append(unsigned / np.iinfo(unsigned.dtype).max)
        elif values.dtype.kind == "f":
            columns.append(values.astype(np.float64))
        else:
            return None
    return rgb_to_unit(np.stack(columns, axis=1))


def _ply_polygons(path: Path, ply: plyfile.PlyData) -> list[np.ndarray]:
    """Every polygon of the ``face`` element and every triangle of ``tristrips``."""
    polygons: list[np.ndarray] = []
    if "face" in ply and len(ply["face"].data):
        lists = [n for n in ply["face"].data.dtype.names if n.startswith("vertex_ind")]
        if not lists:
            raise ValueError(f"{path}: its faces have no vertex_indices property")
        polygons.extend(np.asarray(p, dtype=np.int64) for p in ply["face"].data[lists[0]])
    if "tristrips" in ply and len(ply["tristrips"].data):
        for strip in ply["tristrips"].data["vertex_indices"]:
            polygons.extend(_strip_triangles(np.asarray(strip, dtype=np.int64)))
    return polygons


def _strip_triangles(strip: np.ndarray) -> list[np.ndarray]:
    """Triangles of a triangle strip, restarting at -1 and alternating winding."""
    triangles = []
    for run in np.split(strip, np.flatnonzero(strip == -1)):
        run = run[run != -1]
        for i in range(len(run) - 2):
            a, b, c = run[i : i + 3]
            if len({a, b, c}) == 3:  # repeated corners only stitch strips together
                triangles.append(np.array([a, b, c] if i % 2 == 0 else [b, a, c]))
    return triangles


def _ply_texture(
    path: Path, ply: plyfile.PlyData, triangles: np.ndarray, owner: np.ndarray, polygons: list[np.ndarray]
) -> Colouring | None:
    """Colouring from a ``comment TextureFile`` and per-vertex or per-face texture coordinates."""
    name = next(
        (c.split(None, 1)[1].strip() for c in ply.comments if c.lower().startswith("texturefile") and " " in c),
        None,
    )
    if name is None:
        return None
    image = find_companion(path, name)
    if image is None:
        warnings.warn(
            f"{path} names texture {name!r}, which is not next to it; "
            "using the file's vertex or face colours instead",
            stacklevel=5,
        )
        return None
    vertex_names = ply["vertex"].data.dtype.names
    uv_names = next((pair for pair in _UV_NAMES if set(pair) <= set(vertex_names)), None)
    face_names = ply["face"].data.dtype.names if "face" in ply else ()
    if uv_names is not None:
        uv = np.stack([ply["vertex"].data[n].astype(np.float64) for n in uv_names], axis=1)
        corner_uv = uv[triangles]
    elif "texcoord" in face_names:
        corner_uv = _fan_texcoords(path, ply["face"].data["texcoord"], polygons, owner)
    else:
        return None
    return texture_colouring(path, corner_uv, open_image(path, image), np.ones(3))


def _fan_texcoords(path: Path, texcoords: np.ndarray, polygons: list[np.ndarray], owner: np.ndarray) -> np.ndarray:
    """Per-face ``texcoord`` lists (u, v per corner) fanned like their polygons: ``[F, 3, 2]``."""
    if any(len(t) != 2 * len(p) for t, p in zip(texcoords, polygons)):
        raise ValueError(f"{path}: a face's texcoord list does not give one (u, v) per corner")
    corners = np.concatenate([np.asarray(t, dtype=np.float64) for t in texcoords]).reshape(-1, 2)
    first = np.cumsum([0] + [len(p) for p in polygons])[:-1]  # each polygon's first corner in `corners`
    positions = fan([np.arange(len(p)) for p in polygons])  # corner positions, in the order of `triangles`
    return corners[first[owner][:, None] + positions]


def write_ply(path: str | os.PathLike, vertex: np.ndarray, comments: list[str]) -> Path:
    """Write a structured array as the ``vertex`` element of a binary little-endian PLY, atomically.

    Field dtypes become PLY property types (``<f8`` -> ``double``, ``u1`` -> ``uchar``, ...);
    :func:`read_ply` reads the file back, every field but xyz and colour as a per-point field.
    """
    document = plyfile.PlyData(
        [plyfile.PlyElement.describe(vertex, "vertex")], text=False, byte_order="<", comments=comments
    )
    with replacing(path) as temporary, open(temporary, "wb") as stream:
        document.write(stream)
    return Path(path)


register(Format(
    "PLY", (".ply",), read_ply,
    "ascii and binary (either endianness), header lines ending in LF, CRLF or CR, lines without a keyword (Blender's "
    "`Created by ...`) ignored; vertex-only files are point clouds (other vertex properties kept for `load_scene`); "
    "`face` polygons of any size and `tristrips` triangulated; colours `red/green/blue`, `r/g/b` or `diffuse_*` "
    "(vertex or face), or a `TextureFile`",
    "fewer rows or faces than the header declares; face indices out of range",
))
