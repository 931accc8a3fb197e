"""Read point clouds and meshes from disk as ``(N, 3)`` or ``(N, 6)`` float32 arrays.

:func:`load_points` is the one entry point. Point clouds (``.npy``, ``.npz``, ``.h5``,
``.pcd``, ``.xyz``/``.txt``/``.pts``, vertex-only ``.ply`` and ``.off``) come back whole,
minus points with non-finite coordinates; meshes (``.obj``, ``.off``, ``.stl``,
``.glb``/``.gltf``, ``.ply`` with faces) are sampled uniformly on their surface. Columns
are ``x, y, z`` and, when the file has colour, ``r, g, b`` in ``[0, 1]``.

PLY bodies are parsed by ``plyfile``, OBJ/STL/glTF by trimesh; PCD, OFF and the text
formats, which trimesh does not read (or reads only in part), are parsed here. Every
reader checks the counts a file declares against what it holds and refuses, before
allocating, sizes far beyond the file's own or beyond :data:`MAX_POINTS`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import lzf  # python-neo-lzf (or python-lzf): liblzf bindings for binary_compressed PCD
import numpy as np
import PIL.Image
import plyfile
import trimesh
from trimesh.visual.color import to_rgba, uv_to_interpolated_color
from trimesh.visual.material import PBRMaterial
from trimesh.visual.texture import TextureVisuals

from .prepare import MESH_SAMPLES, check_seed, rgb_to_unit

__all__ = ["MAX_POINTS", "SUPPORTED_SUFFIXES", "is_shape_file", "load_points", "read_pcd_fields"]

_ARRAY_SUFFIXES = (".npy", ".npz", ".h5", ".hdf5")
_TEXT_SUFFIXES = (".xyz", ".txt", ".pts")
_MESH_SUFFIXES = (".obj", ".off", ".stl", ".glb", ".gltf")

#: File suffixes :func:`load_points` reads (lower case; matching ignores case).
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    _ARRAY_SUFFIXES + (".pcd", ".ply") + _TEXT_SUFFIXES + _MESH_SUFFIXES
)

#: Most points one cloud (or one ``num_samples``) may have; larger declarations are refused.
MAX_POINTS = 50_000_000

# A file may declare at most 16 MiB plus 100 times its own size of (float64) point data:
# real point data compress by far less, so more means a damaged or hostile header.
_EXPANSION_FLOOR = 16 * 2**20
_MAX_EXPANSION = 100

_DATASET_SUFFIXES = (".npz", ".h5", ".hdf5")
_DEFAULT_H5_DATASET = "data"
_PCD_KINDS = {"F": "f", "U": "u", "I": "i"}
_PCD_SIZES = {"F": (4, 8), "U": (1, 2, 4, 8), "I": (1, 2, 4, 8)}


def is_shape_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an existing regular file with a suffix in :data:`SUPPORTED_SUFFIXES`.

    Meant for expanding directories and glob patterns into the files :func:`load_points`
    can read; the suffix comparison ignores case.
    """
    path = Path(path)
    return path.suffix.lower() in SUPPORTED_SUFFIXES and path.is_file()


def load_points(
    path: str | os.PathLike,
    *,
    num_samples: int = MESH_SAMPLES,
    seed: int | None = 0,
    dataset: str | None = None,
    index: int | None = None,
) -> np.ndarray:
    """Load one point cloud, or sample one from a mesh's surface.

    Args:
        path: file with a suffix in :data:`SUPPORTED_SUFFIXES` (case-insensitive):

            * ``.npy`` / ``.npz`` / ``.h5`` / ``.hdf5``: an ``[N, C]`` array, or a stack
              ``[n, N, C]`` of clouds from which ``index`` picks one. ``C >= 3``: columns
              0-2 are xyz, columns 3-5 rgb (see colours below), further columns are
              ignored. Integer or float dtypes only; pickled arrays are refused.
            * ``.pcd``: ``DATA ascii``, ``binary`` or ``binary_compressed`` (LZF, matched
              by prefix as PCL does: a first row glued to ``DATA ascii`` is read), fields
              ``x y z`` plus optional ``rgb``/``rgba`` packed into a 4-byte ``U``, ``I``
              or ``F`` field; organized clouds are flattened. Binary data are read
              little-endian as PCL writes them; ``VIEWPOINT`` is ignored.
            * ``.xyz`` / ``.txt``: one point per line, columns separated by whitespace
              or commas, ``#`` and ``//`` comment lines skipped; columns 0-2 are xyz,
              columns 3-5 rgb, further columns (alpha, intensity) ignored.
            * ``.pts``: the same, but a line holding a single number starts a block and
              must equal the number of points in it; 7-column lines are read as
              ``x y z intensity r g b``.
            * ``.ply``: ascii and binary, any line ends in the header. Vertex-only files
              are point clouds; ``face`` polygons and ``tristrips`` are triangulated and
              sampled. Colours: ``red/green/blue`` (also ``r/g/b`` and
              ``diffuse_red/...``) of vertices or faces, or a ``TextureFile`` with
              per-vertex or per-face texture coordinates.
            * ``.off``: ``OFF``/``COFF``/``NOFF``/``STOFF`` with vertex or face colours;
              polygons are triangulated; without faces it is a point cloud.
            * ``.obj`` / ``.stl`` / ``.glb`` / ``.gltf``: meshes. Scenes are flattened
              with their node transforms applied. Text files need not be UTF-8.

        num_samples: points sampled from a mesh's surface, area-weighted over all its
            triangles (at most :data:`MAX_POINTS`). Point clouds ignore it and come
            back whole: subsampling them to a model's input size is the caller's step.
        seed: seed of the surface sampling; ``None`` draws fresh entropy. The same seed
            gives the same points for the same file.
        dataset: name of the array to read in an ``.npz`` (needed when it holds more
            than one) or of the dataset in an HDF5 file (default ``"data"``, the
            PointNet/ModelNet40/ScanObjectNN layout). Not allowed for other suffixes.
        index: which cloud of a stacked ``[n, N, C]`` array to return (``0 <= index <
            n``); required for stacked arrays, refused for anything else.

    Returns:
        float32 array of shape ``(N, 3)`` (xyz) or ``(N, 6)`` (xyz, rgb in ``[0, 1]``),
        finite everywhere. Points with a coordinate that is not finite as float32
        (NaN, inf, or beyond float32's range) are dropped with a :class:`UserWarning`
        naming the file and the count.

        Colours: rgb columns of arrays and text files are used when every value lies
        in ``[0, 255]``; they are divided by 255 when any exceeds 1 and taken as
        already in ``[0, 1]`` otherwise. Columns outside that range (for example the
        normals of ModelNet's ``x,y,z,nx,ny,nz`` text files) are not colours and are
        dropped. Mesh colours come, in this order, from a texture (sampled bilinearly
        at each point's UV coordinates; glTF textures multiplied by their
        ``baseColorFactor``; palette and greyscale images included), a material's
        single colour, interpolated vertex colours, or face colours. A mesh made of
        several parts has colour only when every part has; a file without colour
        gives ``(N, 3)``. A texture or material file that cannot be found warns and
        the file's other colours, if any, are used.

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a file.
        ValueError: the suffix is not supported, the file is empty, unreadable or
            malformed (its counts disagree with its contents, it declares more data
            than it can hold, a texture in it is damaged), holds no points (or only
            non-finite ones), the mesh has no triangle of finite non-zero area, or
            ``num_samples``/``seed``/``dataset``/``index`` are invalid or do not apply
            to this file. The message names the file and what is wrong; no other
            exception type escapes for a bad file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    _check_arguments(path, suffix, num_samples, seed, dataset, index)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")
    try:
        xyz, rgb = _read_points(path, suffix, num_samples, seed, dataset, index)
        return _finite_points(path, xyz, rgb)
    except (ValueError, OSError) as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"could not read {path}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # parsers raise KeyError, IndexError, struct.error, ...
        raise ValueError(f"could not read {path}: {type(exc).__name__}: {exc}") from exc


def _read_points(
    path: Path, suffix: str, num_samples: int, seed: int | None, dataset: str | None, index: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """xyz (float64) and rgb in [0, 1] or None, as the file's format gives them."""
    if suffix in _ARRAY_SUFFIXES:
        return _split_columns(_read_array(path, suffix, dataset, index), rgb_start=3)
    if suffix in _TEXT_SUFFIXES:
        return _read_text(path, suffix)
    if suffix == ".pcd":
        return _read_pcd(path)
    if suffix == ".ply":
        geometry = _read_ply(path)
    elif suffix == ".off":
        geometry = _read_off(path)
    else:
        geometry = _read_trimesh(path, suffix)
    if isinstance(geometry, _Cloud):
        return geometry.xyz, geometry.rgb
    return _sample_surfaces(path, geometry, num_samples, seed)


def _check_arguments(
    path: Path,
    suffix: str,
    num_samples: int,
    seed: int | None,
    dataset: str | None,
    index: int | None,
) -> None:
    if suffix not in SUPPORTED_SUFFIXES:
        raise ValueError(
            f"cannot read {path}: unknown suffix {path.suffix!r}; "
            f"supported suffixes are {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not _is_int(num_samples) or not 1 <= num_samples <= MAX_POINTS:
        raise ValueError(
            f"num_samples must be a positive integer of at most {MAX_POINTS}, got {num_samples!r}"
        )
    check_seed(seed)
    if dataset is not None and suffix not in _DATASET_SUFFIXES:
        raise ValueError(f"dataset= applies to .npz and HDF5 files only; drop it to read {path}")
    if dataset is not None and not isinstance(dataset, str):
        raise ValueError(f"dataset must be a string naming an array, got {dataset!r}")
    if index is not None:
        if suffix not in _ARRAY_SUFFIXES:
            raise ValueError(
                f"index= applies to stacked arrays in .npy/.npz/HDF5 files only; "
                f"drop it to read {path}"
            )
        if not _is_int(index):
            raise ValueError(f"index must be an integer, got {index!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_declared(path: Path, what: str, declared_bytes: int, points: int) -> None:
    """Refuse, before allocating, a declaration no honest file of this size makes."""
    if points > MAX_POINTS:
        raise ValueError(
            f"{path}: {what} declares {points} points, more than the limit of {MAX_POINTS}"
        )
    allowed = _EXPANSION_FLOOR + _MAX_EXPANSION * path.stat().st_size
    if declared_bytes > allowed:
        raise ValueError(
            f"{path}: {what} declares {declared_bytes} bytes of data, far more than a file of "
            f"{path.stat().st_size} bytes can hold; the file is damaged"
        )


def _decode_text(raw: bytes) -> str:
    """UTF-8 text, or Latin-1 for the many exporters that write cp1252/Latin-1 names."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # never fails; numbers and keywords are ASCII either way


# ----------------------------------------------------------------------------- arrays


def _read_array(path: Path, suffix: str, dataset: str | None, index: int | None) -> np.ndarray:
    """The ``[N, C]`` table of an .npy/.npz/HDF5 file, picking ``index`` from a stack."""
    if suffix == ".npy":
        if zipfile.is_zipfile(path):
            raise ValueError(f"{path} is an .npz archive, not an .npy array; rename it to .npz")
        with open(path, "rb") as stream:
            _npy_header(path, "the array", stream)
        # A memory map reads only the chosen cloud and refuses shapes beyond the file's size.
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        return _pick_cloud(path, "the array", array, index)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if dataset is None and len(names) != 1:
                raise ValueError(
                    f"{path} holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                    "pass dataset= to name the one to read"
                )
            name = names[0] if dataset is None else dataset
            if name not in names:
                raise ValueError(f"{path} has no array {name!r}; it holds: {', '.join(names)}")
            _check_npz_member(path, archive.zip, name)
            array = archive[name]
        return _pick_cloud(path, f"array {name!r}", array, index)
    name = _DEFAULT_H5_DATASET if dataset is None else dataset
    with h5py.File(path, "r") as h5:
        node = h5.get(name)
        if not isinstance(node, h5py.Dataset):
            found: list[str] = []
            h5.visititems(
                lambda key, obj: found.append(key) if isinstance(obj, h5py.Dataset) else None
            )
            raise ValueError(
                f"{path} has no dataset {name!r}; its datasets are "
                f"{', '.join(found) or 'none'}; pass dataset= to name one"
            )
        if node.size and node.id.get_storage_size() == 0:
            raise ValueError(
                f"{path}: dataset {name!r} declares shape {node.shape} but no data were written"
            )
        # Index the h5py dataset itself so only the chosen cloud is read from disk.
        return _pick_cloud(path, f"dataset {name!r}", node, index)


def _check_npz_member(path: Path, archive: zipfile.ZipFile, name: str) -> None:
    """Refuse an .npz member whose declared array would inflate far beyond the archive."""
    with archive.open(f"{name}.npy") as member:
        shape, dtype = _npy_header(path, f"array {name!r}", member)
    points = int(np.prod(shape[:-1], dtype=np.float64)) if len(shape) >= 2 else 0
    _check_declared(path, f"array {name!r}", int(np.prod(shape, dtype=np.float64)) * dtype.itemsize, points)


def _npy_header(path: Path, what: str, stream) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an .npy header; pickled object arrays are refused unread.

    The header's own length is checked first: a damaged one could ask for gigabytes.
    """
    prefix = stream.read(12)
    if prefix[:6] != b"\x93NUMPY" or len(prefix) < 12 or prefix[6] not in (1, 2, 3):
        raise ValueError(f"could not read {path}: {what} does not start with an .npy header")
    start = 10 if prefix[6] == 1 else 12
    length = struct.unpack("<H" if start == 10 else "<I", prefix[8:start])[0]
    if length > 2**16:
        raise ValueError(f"could not read {path}: {what} declares an .npy header of {length} bytes")
    header = io.BytesIO(prefix + stream.read(length - (12 - start)))
    version = np.lib.format.read_magic(header)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(header)
    if dtype.hasobject:
        raise ValueError(f"could not read {path}: {what} holds pickled Python objects, which are never loaded")
    return shape, dtype


def _pick_cloud(path: Path, what: str, array, index: int | None) -> np.ndarray:
    """Return ``array`` as one float64 ``[N, C]`` cloud, indexing a ``[n, N, C]`` stack."""
    shape = tuple(array.shape)
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"{what} in {path} has dtype {array.dtype}; expected integers or floats"
        )
    if len(shape) == 3:
        if index is None:
            raise ValueError(
                f"{what} in {path} is a stack of {shape[0]} clouds of shape {shape[1:]}; "
                f"pass index= (0 to {shape[0] - 1}) to pick one"
            )
        if not 0 <= index < shape[0]:
            raise ValueError(
                f"index={index} is out of range for the {shape[0]} clouds of {what} in {path}"
            )
        cloud_shape = shape[1:]
    elif len(shape) == 2:
        if index is not None:
            raise ValueError(f"{what} in {path} is a single cloud; drop index=")
        cloud_shape = shape
    else:
        raise ValueError(
            f"{what} in {path} has shape {shape}; expected [N, C] or [n, N, C] with C >= 3"
        )
    if cloud_shape[-1] < 3:
        raise ValueError(f"{what} in {path} has {cloud_shape[-1]} columns; need at least 3 (xyz)")
    _check_declared(path, what, cloud_shape[0] * cloud_shape[1] * 8, cloud_shape[0])
    cloud = array[index] if len(shape) == 3 else array[()]
    return np.array(cloud, dtype=np.float64)


def _split_columns(table: np.ndarray, rgb_start: int) -> tuple[np.ndarray, np.ndarray | None]:
    """xyz from columns 0-2 and, when they are colours, rgb from ``rgb_start``..+3."""
    xyz = table[:, :3]
    if table.shape[1] < rgb_start + 3:
        return xyz, None
    return xyz, rgb_to_unit(table[:, rgb_start : rgb_start + 3])  # None for normals, intensities, ...


# ------------------------------------------------------------------------------- text


def _read_text(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    lines = _decode_text(path.read_bytes()).replace(",", " ").splitlines()
    rows = [
        line
        for line in lines
        if line.strip() and not line.lstrip().startswith(("#", "//"))
    ]
    if suffix == ".pts":
        rows = _pts_rows(path, rows)
    if not rows:
        raise ValueError(f"{path} holds no points")
    try:
        table = np.loadtxt(rows, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"could not read {path}: {exc}") from None
    if table.shape[1] < 3:
        raise ValueError(f"{path} has {table.shape[1]} columns; need at least 3 (x y z)")
    rgb_start = 4 if suffix == ".pts" and table.shape[1] >= 7 else 3
    return _split_columns(table, rgb_start)


def _pts_rows(path: Path, rows: list[str]) -> list[str]:
    """The point rows of a .pts file, checking each block against its count line."""
    points: list[str] = []
    declared, start = None, 0
    for line in rows + ["end"]:
        fields = line.split()
        if len(fields) != 1:
            points.append(line)
            continue
        if declared is not None and len(points) - start != declared:
            raise ValueError(
                f"{path}: a .pts block declares {declared} points but holds {len(points) - start}"
            )
        if line == "end":
            break
        try:
            declared = int(fields[0])
        except ValueError:
            raise ValueError(f"{path}: .pts count line {fields[0]!r} is not a whole number") from None
        start = len(points)
    return points


# -------------------------------------------------------------------------------- PCD


def read_pcd_fields(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, str]]:
    """Every field of a PCD file (PCL's format, v0.5-0.7): ``{name: (first value per point, TYPE letter)}``.

    The header is checked as PCL checks it (declared counts, sizes, encodings); a repeated
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
    if not {"x", "y", "z"} <= set(fields):
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
        columns = _pcd_ascii(path, data_line[5:].encode() + b"\n" + body, counts, num_points)
    else:
        raise ValueError(f"could not read {path}: unknown PCD DATA encoding {data_line!r}")
    # First value of each field with its TYPE letter; a repeated name keeps its first field.
    by_name: dict[str, tuple[np.ndarray, str]] = {}
    for name, column, kind in zip(fields, columns, types):
        by_name.setdefault(name, (column, kind))
    return by_name


def _read_pcd(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a PCD file into xyz and optional rgb."""
    by_name = read_pcd_fields(path)
    xyz = np.stack([by_name[axis][0] for axis in "xyz"], axis=1).astype(np.float64)
    colour = next((by_name[n] for n in ("rgb", "rgba") if n in by_name), None)
    if colour is None:
        return xyz, None
    packed, kind = colour
    # PCL packs 0x(AA)RRGGBB into 4 bytes, stored as an integer or reinterpreted float.
    if kind == "F":
        packed = packed.astype(np.float32).view(np.uint32)
    else:
        packed = (packed.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    rgb = np.stack([(packed >> shift) & 0xFF for shift in (16, 8, 0)], axis=1)
    return xyz, rgb / 255.0


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


def _pcd_ascii(path: Path, body: bytes, counts: list[int], num_points: int) -> list[np.ndarray]:
    rows = [line for line in body.decode("ascii", errors="replace").splitlines() if line.strip()]
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
    _check_declared(path, "the binary_compressed PCD data", size, num_points)
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


# -------------------------------------------------------------- surfaces and clouds


@dataclass
class _Cloud:
    """Points read from a file with no surface: xyz and rgb in [0, 1] or None."""

    xyz: np.ndarray
    rgb: np.ndarray | None


# Colour at sampled points: (face indices, barycentric weights [n, 3]) -> rgb [n, 3] in [0, 1].
_Colouring = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class _Surface:
    """Triangles to sample: vertices ``[V, 3]``, triangles ``[F, 3]``, and how to colour."""

    vertices: np.ndarray
    triangles: np.ndarray
    colour: _Colouring | None


def _vertex_colouring(triangles: np.ndarray, rgb: np.ndarray) -> _Colouring:
    return lambda face, weights: np.einsum("nk,nkj->nj", weights, rgb[triangles[face]])


def _face_colouring(rgb: np.ndarray) -> _Colouring:
    return lambda face, weights: rgb[face]


def _constant_colouring(rgb: np.ndarray) -> _Colouring:
    return lambda face, weights: np.broadcast_to(rgb, (len(face), 3))


def _texture_colouring(
    path: Path, corner_uv: np.ndarray, image: PIL.Image.Image, factor: np.ndarray
) -> _Colouring:
    """Bilinear texture lookup at interpolated UVs (``corner_uv`` is ``[F, 3, 2]``) times ``factor``."""
    try:
        rgba = image.convert("RGBA")  # palette, greyscale and 16-bit images alike
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: its texture image is damaged ({exc})") from None
    corner_uv = np.nan_to_num(corner_uv, nan=0.0, posinf=0.0, neginf=0.0)

    def colour(face: np.ndarray, weights: np.ndarray) -> np.ndarray:
        uv = np.einsum("nk,nkj->nj", weights, corner_uv[face])
        return uv_to_interpolated_color(uv, rgba)[:, :3] / 255.0 * factor

    return colour


def _triangle_areas(surface: _Surface) -> np.ndarray:
    """Triangle areas, 0 for triangles touching non-finite vertices (or overflowing)."""
    corners = surface.vertices[surface.triangles]
    with np.errstate(all="ignore"):
        areas = 0.5 * np.linalg.norm(
            np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
        )
    return np.where(np.isfinite(areas), areas, 0.0)


def _sample_surfaces(
    path: Path, surfaces: list[_Surface], num_samples: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Area-weighted uniform samples over all ``surfaces``, with colours when all have them.

    Barycentric weights are drawn directly (not recovered from the points), so colours
    stay finite on thin triangles.
    """
    rng = np.random.default_rng(seed)
    areas = [_triangle_areas(s) for s in surfaces]
    totals = np.array([a.sum() for a in areas])
    if not (np.isfinite(totals.sum()) and totals.sum() > 0):
        raise ValueError(
            f"{path}: the mesh has zero surface area (no triangle has a finite, non-zero "
            "area), so no points can be sampled from it"
        )
    # One multinomial split then per-part sampling is the same distribution as
    # sampling the union of all triangles, and keeps each part's own colours.
    counts = rng.multinomial(num_samples, totals / totals.sum())
    coloured = all(s.colour is not None for s in surfaces)
    xyz, rgb = [], []
    for surface, area, count in zip(surfaces, areas, counts):
        if count == 0:
            continue
        cumulative = np.cumsum(area)
        face = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
        face = np.minimum(face, len(area) - 1)
        u, v = rng.random(count), rng.random(count)
        flip = u + v > 1  # fold the unit square onto the triangle
        u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
        weights = np.stack([1 - u - v, u, v], axis=1)
        xyz.append(np.einsum("nk,nkj->nj", weights, surface.vertices[surface.triangles[face]]))
        if coloured:
            rgb.append(surface.colour(face, weights))
    # Shuffle so point order does not group points by part.
    order = rng.permutation(num_samples)
    return np.concatenate(xyz)[order], np.concatenate(rgb)[order] if coloured else None


def _fan(polygons: list[np.ndarray]) -> np.ndarray:
    """Triangles ``[F, 3]`` fanning each polygon (an index array of length >= 3) from its first corner."""
    by_length: dict[int, list[np.ndarray]] = {}
    for polygon in polygons:
        by_length.setdefault(len(polygon), []).append(polygon)
    triangles = [np.empty((0, 3), dtype=np.int64)]
    for length, group in by_length.items():
        if length < 3:
            continue  # points and edges have no area
        block = np.asarray(group, dtype=np.int64)
        for i in range(1, length - 1):
            triangles.append(block[:, [0, i, i + 1]])
    return np.concatenate(triangles)


def _fan_owner(polygons: list[np.ndarray]) -> np.ndarray:
    """For each triangle of :func:`_fan` (same order), the index of its polygon."""
    by_length: dict[int, list[int]] = {}
    for i, polygon in enumerate(polygons):
        by_length.setdefault(len(polygon), []).append(i)
    owners = [np.empty(0, dtype=np.int64)]
    for length, indices in by_length.items():
        if length >= 3:
            owners.extend([np.asarray(indices, dtype=np.int64)] * (length - 2))
    return np.concatenate(owners)


def _check_indices(path: Path, triangles: np.ndarray, num_vertices: int) -> None:
    if len(triangles) and (triangles.min() < 0 or triangles.max() >= num_vertices):
        bad = triangles[(triangles < 0) | (triangles >= num_vertices)][0]
        raise ValueError(
            f"{path}: a face refers to vertex {bad}, but the file has {num_vertices} vertices"
        )


# -------------------------------------------------------------------------------- PLY

_PLY_SIZES = {
    "char": 1, "int8": 1, "uchar": 1, "uint8": 1, "short": 2, "int16": 2, "ushort": 2,
    "uint16": 2, "int": 4, "int32": 4, "uint": 4, "uint32": 4, "float": 4, "float32": 4,
    "double": 8, "float64": 8,
}  # fmt: skip
_PLY_KEYWORDS = ("format", "comment", "obj_info", "element", "property", "end_header")
_RGB_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
_UV_NAMES = (("s", "t"), ("u", "v"), ("texture_u", "texture_v"), ("texture_s", "texture_t"))


def _read_ply(path: Path) -> _Cloud | list[_Surface]:
    """A PLY file, parsed by plyfile after its header is made strict."""
    raw = path.read_bytes()
    header, body = _ply_header(path, raw)
    # A header plyfile accepts as written lets it memory-map the file (fast for big clouds);
    # another is replaced by its strict form in a copy read row by row.
    source = str(path) if raw.startswith(header) else io.BytesIO(header + body)
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
        return _Cloud(xyz, vertex_rgb)
    triangles = _fan(polygons)
    owner = _fan_owner(polygons)
    _check_indices(path, triangles, len(xyz))

    texture = _ply_texture(path, ply, triangles, owner, polygons)
    if texture is not None:
        colour = texture
    elif vertex_rgb is not None:
        colour = _vertex_colouring(triangles, vertex_rgb)
    else:
        face_rgb = _ply_rgb(ply["face"]) if "face" in ply else None
        colour = None if face_rgb is None else _face_colouring(face_rgb[owner])
    return [_Surface(xyz, triangles, colour)]


def _ply_header(path: Path, raw: bytes) -> tuple[bytes, bytes]:
    """A strict header for plyfile and the body, the declared sizes checked against it.

    Writers end header lines in LF, CRLF or CR alone and add lines without a keyword
    (Blender 2.4's "Created by ..."); those become comments.
    """
    end = raw.find(b"end_header")
    if not raw.startswith(b"ply") or end < 0:
        raise ValueError(f"could not read {path}: not a PLY file (no 'ply' ... 'end_header' header)")
    body_start = end + len(b"end_header")
    body_start += 2 if raw[body_start : body_start + 2] == b"\r\n" else 1
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
    body = raw[body_start:]
    _check_ply_sizes(path, elements, binary, len(body))
    return ("\n".join(clean) + "\n").encode("latin-1"), body


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
) -> _Colouring | None:
    """Colouring from a ``comment TextureFile`` and per-vertex or per-face texture coordinates."""
    name = next(
        (c.split(None, 1)[1].strip() for c in ply.comments if c.lower().startswith("texturefile") and " " in c),
        None,
    )
    if name is None:
        return None
    image = _find_companion(path, name)
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
    return _texture_colouring(path, corner_uv, _open_image(path, image), np.ones(3))


def _fan_texcoords(path: Path, texcoords: np.ndarray, polygons: list[np.ndarray], owner: np.ndarray) -> np.ndarray:
    """Per-face ``texcoord`` lists (u, v per corner) fanned like their polygons: ``[F, 3, 2]``."""
    if any(len(t) != 2 * len(p) for t, p in zip(texcoords, polygons)):
        raise ValueError(f"{path}: a face's texcoord list does not give one (u, v) per corner")
    corners = np.concatenate([np.asarray(t, dtype=np.float64) for t in texcoords]).reshape(-1, 2)
    first = np.cumsum([0] + [len(p) for p in polygons])[:-1]  # each polygon's first corner in `corners`
    positions = _fan([np.arange(len(p)) for p in polygons])  # corner positions, in the order of `triangles`
    return corners[first[owner][:, None] + positions]


# -------------------------------------------------------------------------------- OFF


def _read_off(path: Path) -> _Cloud | list[_Surface]:
    """An OFF file (Geomview's format) with optional vertex and face colours."""
    text = _decode_text(path.read_bytes())
    lines = [line.split("#", 1)[0].split() for line in text.splitlines()]
    lines = [words for words in lines if words]
    match = re.fullmatch(r"(ST)?(C)?(N)?(4)?(n)?OFF(.*)", " ".join(lines[0]) if lines else "")
    if match is None:
        raise ValueError(f"could not read {path}: it does not start with an OFF keyword")
    if match.group(4) or match.group(5):
        raise ValueError(f"{path}: 4D and nD OFF files are not supported")
    first = match.group(6).split()
    counts, rest = (first, lines[1:]) if first else (lines[1] if len(lines) > 1 else [], lines[2:])
    try:
        num_vertices, num_faces = int(counts[0]), int(counts[1])
    except (IndexError, ValueError):
        raise ValueError(f"{path}: the OFF counts line must give vertex and face counts") from None
    if num_vertices < 1 or num_faces < 0 or num_vertices + num_faces > len(rest):
        raise ValueError(
            f"{path}: the OFF header declares {num_vertices} vertices and {num_faces} faces, "
            f"but the file holds {len(rest)} data lines"
        )
    skip = 3 + 3 * bool(match.group(3))  # xyz, then normals
    try:
        vertex_rows = [[float(v) for v in words] for words in rest[:num_vertices]]
    except ValueError as exc:
        raise ValueError(f"could not read {path}: bad OFF vertex line ({exc})") from None
    if min(len(r) for r in vertex_rows) < 3:
        raise ValueError(f"{path}: an OFF vertex line has fewer than 3 coordinates")
    xyz = np.array([r[:3] for r in vertex_rows], dtype=np.float64)
    end = -2 if match.group(1) else None  # texture coordinates close an STOFF vertex line
    vertex_rgb = _off_colours([r[skip:end] for r in vertex_rows]) if match.group(2) else None

    polygons, face_colours = [], []
    for words in rest[num_vertices : num_vertices + num_faces]:
        try:
            size = int(words[0])
            polygons.append(np.array([int(w) for w in words[1 : 1 + size]], dtype=np.int64))
            face_colours.append([float(w) for w in words[1 + size :]])
        except ValueError as exc:
            raise ValueError(f"could not read {path}: bad OFF face line ({exc})") from None
        if len(polygons[-1]) != size:
            raise ValueError(f"{path}: an OFF face declares {size} corners but lists {len(polygons[-1])}")
    triangles = _fan(polygons)
    if not len(triangles):
        return _Cloud(xyz, vertex_rgb)
    _check_indices(path, triangles, len(xyz))
    face_rgb = _off_colours(face_colours)
    if face_rgb is not None:
        colour = _face_colouring(face_rgb[_fan_owner(polygons)])
    elif vertex_rgb is not None:
        colour = _vertex_colouring(triangles, vertex_rgb)
    else:
        colour = None
    return [_Surface(xyz, triangles, colour)]


def _off_colours(rows: list[list[float]]) -> np.ndarray | None:
    """RGB(A) rows as colours in [0, 1], or None unless every row has 3 or 4 values."""
    if not rows or any(len(r) not in (3, 4) for r in rows):
        return None
    return rgb_to_unit(np.array([r[:3] for r in rows], dtype=np.float64))


# -------------------------------------------------------- OBJ, STL and glTF (trimesh)


class _Resolver(trimesh.resolvers.FilePathResolver):
    """Finds a mesh's companion files as other tools do, and remembers what it could not find.

    Names written Windows-style (``.\\tex.jpg``) or in another case are matched to the
    files next to the mesh; MTL files are handed to trimesh as UTF-8.
    """

    def __init__(self, path: Path):
        super().__init__(str(path))
        self.mesh_path = path
        self.missing: list[str] = []
        self.damaged: list[str] = []

    def get(self, name: str) -> bytes:
        found = _find_companion(self.mesh_path, name)
        if found is None:
            self.missing.append(name)
            raise FileNotFoundError(name)
        data = found.read_bytes()
        if found.suffix.lower() == ".mtl":
            return _decode_text(data).encode("utf-8")
        if found.suffix.lower() in PIL.Image.registered_extensions():
            try:
                PIL.Image.open(io.BytesIO(data)).load()
            except (OSError, ValueError, PIL.Image.DecompressionBombError):
                self.damaged.append(name)  # trimesh would drop it silently
        return data

    __getitem__ = get


def _find_companion(path: Path, name: str) -> Path | None:
    """The file ``name`` next to ``path``: as written, with ``/`` for ``\\``, or ignoring case."""
    relative = Path(*[p for p in name.replace("\\", "/").split("/") if p not in ("", ".")])
    folder = path.parent.resolve()
    candidate = (folder / relative).resolve()
    if candidate.is_file() and folder in candidate.parents:
        return candidate
    wanted = relative.name.lower()
    for sibling in sorted(path.parent.iterdir()):
        if sibling.name.lower() == wanted and sibling.is_file():
            return sibling
    return None


def _open_image(path: Path, image_path: Path) -> PIL.Image.Image:
    try:
        image = PIL.Image.open(image_path)
        image.load()
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: its texture {image_path.name} is damaged ({exc})") from None
    return image


def _read_trimesh(path: Path, suffix: str) -> _Cloud | list[_Surface]:
    raw = path.read_bytes()
    if suffix == ".obj":
        text = _decode_text(raw)
        _check_obj_vertices(path, text)
        raw = text.encode("utf-8")
    elif suffix == ".stl" and not _is_binary_stl(raw):
        if not raw.lstrip().startswith(b"solid"):
            declared = struct.unpack("<I", raw[80:84])[0] if len(raw) >= 84 else 0
            raise ValueError(
                f"{path}: a binary STL of {declared} triangles needs {84 + 50 * declared} bytes, "
                f"the file has {len(raw)}; it is truncated or damaged"
            )
        raw = _decode_text(raw).encode("utf-8")
    elif suffix in (".gltf", ".glb"):
        raw = _prepare_gltf(path, raw, suffix)
    resolver = _Resolver(path)
    with np.errstate(all="ignore"):  # inf/NaN vertices are dealt with, by name, below
        loaded = trimesh.load(io.BytesIO(raw), file_type=suffix[1:], resolver=resolver, process=False)
        # dump() bakes each node's transform into a copy of its geometry.
        parts = loaded.dump() if isinstance(loaded, trimesh.Scene) else [loaded]
    if resolver.damaged:
        raise ValueError(f"{path}: its texture {resolver.damaged[0]!r} is damaged and cannot be decoded")
    for name in dict.fromkeys(resolver.missing):
        warnings.warn(
            f"{path} names {name!r}, which is not next to it; the colours it holds are lost",
            stacklevel=4,
        )
    meshes = [p for p in parts if isinstance(p, trimesh.Trimesh) and len(p.faces)]
    if meshes:
        surfaces = []
        for mesh in meshes:
            vertices = np.asarray(mesh.vertices, dtype=np.float64)
            triangles = np.asarray(mesh.faces, dtype=np.int64)
            if vertices.ndim != 2 or vertices.shape[1] != 3:
                raise ValueError(f"{path}: its vertices do not have 3 coordinates")
            _check_indices(path, triangles, len(vertices))
            surfaces.append(_Surface(vertices, triangles, _trimesh_colouring(path, mesh, triangles)))
        return surfaces
    clouds = [p for p in parts if isinstance(p, (trimesh.PointCloud, trimesh.Trimesh)) and len(p.vertices)]
    if not clouds:
        raise ValueError(f"{path} holds no triangles and no points")
    xyz = np.concatenate([np.asarray(c.vertices, dtype=np.float64) for c in clouds])
    colours = [_cloud_colours(c) for c in clouds]
    return _Cloud(xyz, None if any(c is None for c in colours) else np.concatenate(colours))


def _check_obj_vertices(path: Path, text: str) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(("v ", "v\t")) and len(line.split()) < 4:
            raise ValueError(f"{path}: OBJ line {number} gives a vertex with fewer than 3 coordinates")


def _is_binary_stl(raw: bytes) -> bool:
    return len(raw) >= 84 and len(raw) == 84 + 50 * struct.unpack("<I", raw[80:84])[0]


def _prepare_gltf(path: Path, raw: bytes, suffix: str) -> bytes:
    """Check a glTF's JSON and embedded images; read spec-gloss materials by their diffuse colour.

    trimesh converts ``KHR_materials_pbrSpecularGlossiness`` through a numpy array of the
    diffuse image, which turns palette indices into grey levels; the diffuse texture and
    factor are the material's base colour, so they are used as such.
    """
    binary = None
    if suffix == ".glb":
        tree_bytes, binary = _glb_chunks(path, raw)
    else:
        tree_bytes = raw
    try:
        tree = json.loads(_decode_text(tree_bytes))
    except ValueError as exc:
        raise ValueError(f"{path}: its glTF JSON is malformed ({exc})") from None
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: its glTF JSON is not an object")
    for material in tree.get("materials", []):
        gloss = material.get("extensions", {}).pop("KHR_materials_pbrSpecularGlossiness", None)
        if isinstance(gloss, dict):
            pbr = material.setdefault("pbrMetallicRoughness", {})
            if "diffuseTexture" in gloss:
                pbr["baseColorTexture"] = gloss["diffuseTexture"]
            if "diffuseFactor" in gloss:
                pbr["baseColorFactor"] = gloss["diffuseFactor"]
    _check_gltf_images(path, tree, binary)
    text = json.dumps(tree).encode("utf-8")
    if binary is None:
        return text
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text
    chunks += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def _glb_chunks(path: Path, raw: bytes) -> tuple[bytes, bytes]:
    """The JSON and BIN chunks of a GLB container, lengths checked."""
    if len(raw) < 20 or raw[:4] != b"glTF":
        raise ValueError(f"{path}: not a GLB file (no 'glTF' magic)")
    version, length = struct.unpack("<II", raw[4:12])
    if version != 2 or length > len(raw):
        raise ValueError(f"{path}: GLB header declares version {version} and {length} bytes; the file has {len(raw)}")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= length:
        size, kind = struct.unpack("<I4s", raw[offset : offset + 8])
        if offset + 8 + size > length:
            raise ValueError(f"{path}: a GLB chunk declares {size} bytes beyond the end of the file")
        chunks.setdefault(kind, raw[offset + 8 : offset + 8 + size])
        offset += 8 + size
    if b"JSON" not in chunks:
        raise ValueError(f"{path}: the GLB file has no JSON chunk")
    return chunks[b"JSON"], chunks.get(b"BIN\x00", b"")


def _check_gltf_images(path: Path, tree: dict, binary: bytes | None) -> None:
    """Decode every embedded image (GLB buffer view or data URI): a damaged one is an error."""
    views = tree.get("bufferViews", [])
    for number, image in enumerate(tree.get("images", [])):
        if "bufferView" in image and binary is not None:
            view = views[image["bufferView"]]
            start = view.get("byteOffset", 0)
            blob = binary[start : start + view["byteLength"]]
        elif str(image.get("uri", "")).startswith("data:"):
            blob = base64.b64decode(image["uri"].split(",", 1)[1])
        else:
            continue  # external files are checked as the resolver fetches them
        try:
            PIL.Image.open(io.BytesIO(blob)).load()
        except (OSError, ValueError, PIL.Image.DecompressionBombError) as exc:
            raise ValueError(f"{path}: its embedded image {number} is damaged ({exc})") from None


def _trimesh_colouring(path: Path, mesh: trimesh.Trimesh, triangles: np.ndarray) -> _Colouring | None:
    """How to colour a trimesh mesh: texture, material colour, vertex or face colours."""
    visual = mesh.visual
    if isinstance(visual, TextureVisuals):
        material = visual.material
        if isinstance(material, PBRMaterial):
            image = material.baseColorTexture
            # glTF's default baseColorFactor is opaque white.
            factor = to_rgba(
                material.baseColorFactor if material.baseColorFactor is not None else [1.0, 1.0, 1.0, 1.0]
            )[:3] / 255.0
        else:
            image = getattr(material, "image", None)
            # An MTL without Kd gets trimesh's default grey, which the file never had.
            has_kd = "kd" in getattr(material, "kwargs", {})
            factor = to_rgba(material.diffuse)[:3] / 255.0 if has_kd else None
        if image is not None and visual.uv is not None and len(visual.uv) == len(mesh.vertices):
            uv = np.asarray(visual.uv, dtype=np.float64)
            texture_factor = factor if isinstance(material, PBRMaterial) else np.ones(3)
            return _texture_colouring(path, uv[triangles], image, texture_factor)
        return None if factor is None else _constant_colouring(factor)
    if visual.kind == "vertex":
        return _vertex_colouring(triangles, np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0)
    if visual.kind == "face":
        return _face_colouring(np.asarray(visual.face_colors, dtype=np.float64)[:, :3] / 255.0)
    return None


def _cloud_colours(cloud) -> np.ndarray | None:
    colours = (
        cloud.colors
        if isinstance(cloud, trimesh.PointCloud)
        else (cloud.visual.vertex_colors if cloud.visual.kind == "vertex" else None)
    )
    if colours is None or len(colours) != len(cloud.vertices):
        return None
    return np.asarray(colours, dtype=np.float64)[:, :3] / 255.0


# ------------------------------------------------------------------------- common


def _finite_points(path: Path, xyz: np.ndarray, rgb: np.ndarray | None) -> np.ndarray:
    """Stack xyz and rgb into float32, dropping points not finite once they are float32."""
    if len(xyz) == 0:
        raise ValueError(f"{path} holds no points")
    with np.errstate(over="ignore", invalid="ignore"):
        xyz = xyz.astype(np.float32)  # 1e39 is finite as float64 but inf as float32
    finite = np.isfinite(xyz).all(axis=1)
    kept = int(finite.sum())
    if kept == 0:
        raise ValueError(f"{path}: all {len(xyz)} points have non-finite (NaN or inf) coordinates")
    if kept < len(xyz):
        warnings.warn(
            f"{path}: dropped {len(xyz) - kept} of {len(xyz)} points with non-finite coordinates",
            stacklevel=3,
        )
    if rgb is None:
        return np.ascontiguousarray(xyz[finite])
    # Interpolation can step a rounding error outside [0, 1].
    colours = np.clip(rgb[finite], 0.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(np.concatenate([xyz[finite], colours], axis=1))
