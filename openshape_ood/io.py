"""Read point clouds and meshes from disk as ``(N, 3)`` or ``(N, 6)`` float32 arrays.

:func:`load_points` is the one entry point. Point clouds (``.npy``, ``.npz``, ``.h5``,
``.pcd``, ``.xyz``/``.txt``/``.pts``, vertex-only ``.ply``) come back whole, minus points
with non-finite coordinates; meshes (``.obj``, ``.off``, ``.stl``, ``.glb``/``.gltf``,
``.ply`` with faces) are sampled uniformly on their surface. Columns are ``x, y, z`` and,
when the file has colour, ``r, g, b`` in ``[0, 1]``.

Meshes and PLY files are parsed by trimesh; PCD and the text formats, which trimesh does
not read (or reads only in part), are parsed here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import lzf  # python-neo-lzf (or python-lzf): liblzf bindings for binary_compressed PCD
import numpy as np
import trimesh
from trimesh.visual.color import to_rgba, uv_to_interpolated_color
from trimesh.visual.material import PBRMaterial
from trimesh.visual.texture import TextureVisuals

from .prepare import MESH_SAMPLES, rgb_to_unit

__all__ = ["SUPPORTED_SUFFIXES", "is_shape_file", "load_points"]

_ARRAY_SUFFIXES = (".npy", ".npz", ".h5", ".hdf5")
_TEXT_SUFFIXES = (".xyz", ".txt", ".pts")
_MESH_SUFFIXES = (".obj", ".off", ".stl", ".glb", ".gltf")

#: File suffixes :func:`load_points` reads (lower case; matching ignores case).
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    _ARRAY_SUFFIXES + (".pcd", ".ply") + _TEXT_SUFFIXES + _MESH_SUFFIXES
)

_DATASET_SUFFIXES = (".npz", ".h5", ".hdf5")
_DEFAULT_H5_DATASET = "data"
_PCD_KINDS = {"F": "f", "U": "u", "I": "i"}


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
              ignored. Pickled arrays are refused.
            * ``.pcd``: ``DATA ascii``, ``binary`` or ``binary_compressed`` (LZF), fields
              ``x y z`` plus optional ``rgb``/``rgba`` packed into a 4-byte ``U``, ``I``
              or ``F`` field; organized clouds are flattened. Binary data are read
              little-endian as PCL writes them; ``VIEWPOINT`` is ignored.
            * ``.xyz`` / ``.txt``: one point per line, columns separated by whitespace
              or commas, ``#`` and ``//`` comment lines skipped; columns 0-2 are xyz,
              columns 3-5 rgb, further columns (alpha, intensity) ignored.
            * ``.pts``: the same, but lines holding a single number (the point counts
              that start each block) are skipped and 7-column lines are read as
              ``x y z intensity r g b``.
            * ``.ply``: vertex-only files are point clouds (uchar or float colours,
              alpha ignored); files with faces are meshes.
            * ``.obj`` / ``.off`` / ``.stl`` / ``.glb`` / ``.gltf`` and ``.ply`` with
              faces: meshes. Scenes are flattened with their node transforms applied.

        num_samples: points sampled from a mesh's surface, area-weighted over all its
            triangles. Point clouds ignore it and come back whole: subsampling them to a
            model's input size is the caller's step.
        seed: seed of the surface sampling; ``None`` draws fresh entropy. The same seed
            gives the same points for the same file.
        dataset: name of the array to read in an ``.npz`` (needed when it holds more
            than one) or of the dataset in an HDF5 file (default ``"data"``, the
            PointNet/ModelNet40/ScanObjectNN layout). Not allowed for other suffixes.
        index: which cloud of a stacked ``[n, N, C]`` array to return (``0 <= index <
            n``); required for stacked arrays, refused for anything else.

    Returns:
        float32 array of shape ``(N, 3)`` (xyz) or ``(N, 6)`` (xyz, rgb in ``[0, 1]``)
        with finite coordinates only. Points with a non-finite coordinate are dropped
        with a :class:`UserWarning` naming the file and the count.

        Colours: rgb columns of arrays and text files are used when every value lies
        in ``[0, 255]``; they are divided by 255 when any exceeds 1 and taken as
        already in ``[0, 1]`` otherwise. Columns outside that range (for example the
        normals of ModelNet's ``x,y,z,nx,ny,nz`` text files) are not colours and are
        dropped. Mesh colours come, in this order, from a texture (sampled bilinearly
        at each point's UV coordinates; glTF textures multiplied by their
        ``baseColorFactor``), a material's single colour, interpolated vertex
        colours, or face colours. A mesh made of several parts has colour only when
        every part has. A PLY whose texture file is missing falls back to its vertex
        or face colours with a warning.

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a file.
        ValueError: the suffix is not supported, the file is empty, unreadable or
            malformed, holds no points (or only non-finite ones), the mesh has zero
            surface area, or ``num_samples``/``seed``/``dataset``/``index`` are invalid
            or do not apply to this file. The message names the file and the fix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    _check_arguments(path, suffix, num_samples, seed, dataset, index)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")

    if suffix in _ARRAY_SUFFIXES:
        xyz, rgb = _split_columns(_read_array(path, suffix, dataset, index), rgb_start=3)
    elif suffix in _TEXT_SUFFIXES:
        xyz, rgb = _read_text(path, suffix)
    elif suffix == ".pcd":
        xyz, rgb = _read_pcd(path)
    else:
        parts = _read_ply(path) if suffix == ".ply" else _read_trimesh(path)
        xyz, rgb = _points_from_geometry(path, parts, num_samples, seed)
    return _finite_points(path, xyz, rgb)


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
    if not _is_int(num_samples) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    if dataset is not None and suffix not in _DATASET_SUFFIXES:
        raise ValueError(f"dataset= applies to .npz and HDF5 files only; drop it to read {path}")
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


@contextmanager
def _parse_errors(path: Path) -> Iterator[None]:
    """Re-raise whatever a parser throws on a malformed file as a ValueError naming it."""
    try:
        yield
    except Exception as exc:  # parsers raise KeyError, IndexError, struct.error, ...
        raise ValueError(f"could not read {path}: {type(exc).__name__}: {exc}") from exc


# ----------------------------------------------------------------------------- arrays


def _read_array(path: Path, suffix: str, dataset: str | None, index: int | None) -> np.ndarray:
    """The ``[N, C]`` table of an .npy/.npz/HDF5 file, picking ``index`` from a stack."""
    if suffix == ".npy":
        with _parse_errors(path):
            array = np.load(path, allow_pickle=False)
        return _pick_cloud(path, "the array", array, index)
    if suffix == ".npz":
        with _parse_errors(path), np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if dataset is None and len(names) != 1:
                raise ValueError(
                    f"{path} holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                    "pass dataset= to name the one to read"
                )
            name = names[0] if dataset is None else dataset
            if name not in names:
                raise ValueError(f"{path} has no array {name!r}; it holds: {', '.join(names)}")
            array = archive[name]
        return _pick_cloud(path, f"array {name!r}", array, index)
    name = _DEFAULT_H5_DATASET if dataset is None else dataset
    with _parse_errors(path), h5py.File(path, "r") as h5:
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
        # Index the h5py dataset itself so only the chosen cloud is read from disk.
        return _pick_cloud(path, f"dataset {name!r}", node, index)


def _pick_cloud(path: Path, what: str, array, index: int | None) -> np.ndarray:
    """Return ``array`` as one float64 ``[N, C]`` cloud, indexing a ``[n, N, C]`` stack."""
    shape = tuple(array.shape)
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
        array = array[index]
    elif len(shape) == 2:
        if index is not None:
            raise ValueError(f"{what} in {path} is a single cloud; drop index=")
        array = array[()]
    else:
        raise ValueError(
            f"{what} in {path} has shape {shape}; expected [N, C] or [n, N, C] with C >= 3"
        )
    if array.shape[-1] < 3:
        raise ValueError(f"{what} in {path} has {array.shape[-1]} columns; need at least 3 (xyz)")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{what} in {path} has non-numeric dtype {array.dtype}")
    return np.asarray(array, dtype=np.float64)


def _split_columns(table: np.ndarray, rgb_start: int) -> tuple[np.ndarray, np.ndarray | None]:
    """xyz from columns 0-2 and, when they are colours, rgb from ``rgb_start``..+3."""
    xyz = table[:, :3]
    if table.shape[1] < rgb_start + 3:
        return xyz, None
    return xyz, rgb_to_unit(table[:, rgb_start : rgb_start + 3])  # None for normals, intensities, ...


# ------------------------------------------------------------------------------- text


def _read_text(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    with _parse_errors(path):
        lines = path.read_text(encoding="utf-8").replace(",", " ").splitlines()
    rows = [
        line
        for line in lines
        if line.strip()
        and not line.lstrip().startswith(("#", "//"))
        # .pts blocks start with a line holding just their point count.
        and not (suffix == ".pts" and len(line.split()) == 1)
    ]
    if not rows:
        raise ValueError(f"{path} holds no points")
    with _parse_errors(path):
        table = np.loadtxt(rows, dtype=np.float64, ndmin=2)
    if table.shape[1] < 3:
        raise ValueError(f"{path} has {table.shape[1]} columns; need at least 3 (x y z)")
    rgb_start = 4 if suffix == ".pts" and table.shape[1] >= 7 else 3
    return _split_columns(table, rgb_start)


# -------------------------------------------------------------------------------- PCD


def _read_pcd(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a PCD file (PCL's format, v0.5-0.7) into xyz and optional rgb."""
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
    with _parse_errors(path):
        num_points = (
            int(header["POINTS"][0])
            if "POINTS" in header
            else (int(header["WIDTH"][0]) * int(header["HEIGHT"][0]))
        )
        bases = [np.dtype(f"<{_PCD_KINDS[t]}{s}") for t, s in zip(types, sizes)]
        counts = [int(c) for c in counts]
    if num_points == 0:
        raise ValueError(f"{path} holds no points")

    encoding = header["DATA"][0].lower() if header["DATA"] else ""
    if encoding == "ascii":
        columns = _pcd_ascii(path, raw[offset:], counts, num_points)
    elif encoding == "binary":
        columns = _pcd_binary(path, raw[offset:], bases, counts, num_points)
    elif encoding == "binary_compressed":
        columns = _pcd_compressed(path, raw[offset:], bases, counts, num_points)
    else:
        raise ValueError(f"could not read {path}: unknown PCD DATA encoding {encoding!r}")
    # First value of each field with its TYPE letter; a repeated name keeps its first field.
    by_name: dict[str, tuple[np.ndarray, str]] = {}
    for name, column, kind in zip(fields, columns, types):
        by_name.setdefault(name, (column, kind))

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


def _pcd_ascii(path: Path, body: bytes, counts: list[int], num_points: int) -> list[np.ndarray]:
    rows = [line for line in body.decode("ascii", errors="replace").splitlines() if line.strip()]
    with _parse_errors(path):
        table = np.loadtxt(rows, dtype=np.float64, ndmin=2)
    if table.shape != (num_points, sum(counts)):
        raise ValueError(
            f"could not read {path}: the PCD data are {table.shape[0]} rows of "
            f"{table.shape[1]} values, the header declares {num_points} of {sum(counts)}"
        )
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
    compressed_size, size = np.frombuffer(body[:8], dtype="<u4")
    expected = num_points * sum(base.itemsize * count for base, count in zip(bases, counts))
    with _parse_errors(path):
        data = lzf.decompress(body[8 : 8 + int(compressed_size)], int(size))
    if data is None or len(data) != size or size != expected:
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


# ------------------------------------------------------------------ meshes and PLY


def _read_trimesh(path: Path) -> list:
    with _parse_errors(path):
        loaded = trimesh.load(path, process=False)
    # dump() bakes each node's transform into a copy of its geometry.
    return loaded.dump() if isinstance(loaded, trimesh.Scene) else [loaded]


def _read_ply(path: Path) -> list:
    """Load a PLY with trimesh, keeping vertex/face colours when its texture is missing.

    trimesh replaces a texture it cannot find with a grey placeholder that hides the
    file's own colours; reading without materials (and without splitting vertices per
    UV, so vertex colours stay aligned) keeps them.
    """
    texture = _ply_texture_name(path)
    has_texture = texture is not None and (path.parent / texture).is_file()
    with _parse_errors(path), open(path, "rb") as stream:
        kwargs = trimesh.exchange.ply.load_ply(
            stream,
            resolver=trimesh.resolvers.FilePathResolver(path),
            fix_texture=has_texture,
            skip_materials=not has_texture,
        )
    if not has_texture:
        kwargs.pop("visual", None)
        if texture is not None:
            warnings.warn(
                f"{path} names texture {texture!r}, which is not next to it; "
                "using the file's vertex or face colours instead",
                stacklevel=3,
            )
    faces = kwargs.get("faces")
    with _parse_errors(path):
        if faces is None or len(faces) == 0:
            vertices = kwargs.get("vertices", np.empty((0, 3)))
            return [trimesh.PointCloud(vertices, colors=kwargs.get("vertex_colors"))]
        return [trimesh.Trimesh(**kwargs, process=False)]


def _ply_texture_name(path: Path) -> str | None:
    """The texture named by a ``comment TextureFile NAME`` header line, as trimesh reads it."""
    with open(path, "rb") as stream:
        for raw in stream:
            line = raw.decode("latin-1").strip()
            if line == "end_header":
                return None
            position = line.lower().find("texturefile")
            if line.startswith("comment") and position >= 0:
                return line[position + len("texturefile") :].strip() or None
    return None


def _points_from_geometry(
    path: Path, parts: list, num_samples: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sample the triangles of ``parts``; without triangles, return their points."""
    meshes = [p for p in parts if isinstance(p, trimesh.Trimesh) and len(p.faces)]
    if meshes:
        return _sample_surface(path, meshes, num_samples, seed)
    clouds = [p for p in parts if isinstance(p, (trimesh.PointCloud, trimesh.Trimesh))]
    if not clouds or not sum(len(c.vertices) for c in clouds):
        raise ValueError(f"{path} holds no triangles and no points")
    xyz = np.concatenate([np.asarray(c.vertices, dtype=np.float64) for c in clouds])
    colours = [_cloud_colours(c) for c in clouds]
    if any(c is None for c in colours):
        return xyz, None
    return xyz, np.concatenate(colours)[:, :3] / 255.0


def _cloud_colours(cloud) -> np.ndarray | None:
    colours = (
        cloud.colors
        if isinstance(cloud, trimesh.PointCloud)
        else (cloud.visual.vertex_colors if cloud.visual.kind == "vertex" else None)
    )
    if colours is None or len(colours) != len(cloud.vertices):
        return None
    return np.asarray(colours, dtype=np.float64)


def _sample_surface(
    path: Path, meshes: list[trimesh.Trimesh], num_samples: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Area-weighted uniform samples over all ``meshes``, with colours when all have them."""
    rng = np.random.default_rng(seed)
    # Triangles touching non-finite vertices get weight 0 instead of poisoning the sums.
    weights = [np.nan_to_num(m.area_faces, nan=0.0, posinf=0.0) for m in meshes]
    areas = np.array([w.sum() for w in weights])
    if not areas.sum() > 0:
        raise ValueError(
            f"{path}: the mesh has zero surface area (all triangles are degenerate), "
            "so no points can be sampled from it"
        )
    # One multinomial split then per-part sampling is the same distribution as
    # sampling the union of all triangles, and keeps each part's own colours.
    counts = rng.multinomial(num_samples, areas / areas.sum())
    xyz, rgb = [], []
    for mesh, weight, count in zip(meshes, weights, counts):
        if weight.sum() == 0:
            continue
        points, face_index = trimesh.sample.sample_surface(
            mesh, int(count), face_weight=weight, seed=rng
        )
        barycentric = trimesh.triangles.points_to_barycentric(mesh.triangles[face_index], points)
        xyz.append(np.asarray(points, dtype=np.float64))
        rgb.append(_surface_colours(mesh, face_index, barycentric))
    # Shuffle so point order does not group points by part.
    order = rng.permutation(num_samples)
    xyz_all = np.concatenate(xyz)[order]
    if any(c is None for c in rgb):
        return xyz_all, None
    return xyz_all, np.concatenate(rgb)[order, :3] / 255.0


def _surface_colours(
    mesh: trimesh.Trimesh, face_index: np.ndarray, barycentric: np.ndarray
) -> np.ndarray | None:
    """RGBA in 0-255 at sampled surface points, or None when the mesh has no colour."""
    visual = mesh.visual
    corners = mesh.faces[face_index]
    if isinstance(visual, TextureVisuals):
        material = visual.material
        if isinstance(material, PBRMaterial):
            image = material.baseColorTexture
            # glTF's default baseColorFactor is opaque white.
            factor = to_rgba(
                material.baseColorFactor
                if material.baseColorFactor is not None
                else [1.0, 1.0, 1.0, 1.0]
            )
        else:
            image, factor = getattr(material, "image", None), None
        if image is not None and visual.uv is not None:
            uv = np.einsum("nk,nkj->nj", barycentric, np.asarray(visual.uv)[corners])
            colours = uv_to_interpolated_color(uv, image).astype(np.float64)
            return colours if factor is None else colours * factor / 255.0
        base = factor if factor is not None else material.main_color
        return np.tile(np.asarray(base, dtype=np.float64), (len(face_index), 1))
    if visual.kind == "vertex":
        vertex_colours = np.asarray(visual.vertex_colors, dtype=np.float64)
        return np.einsum("nk,nkj->nj", barycentric, vertex_colours[corners])
    if visual.kind == "face":
        return np.asarray(visual.face_colors, dtype=np.float64)[face_index]
    return None


# ------------------------------------------------------------------------- common


def _finite_points(path: Path, xyz: np.ndarray, rgb: np.ndarray | None) -> np.ndarray:
    """Stack xyz and rgb into float32, dropping points whose coordinates are not finite."""
    if len(xyz) == 0:
        raise ValueError(f"{path} holds no points")
    finite = np.isfinite(xyz).all(axis=1)
    kept = int(finite.sum())
    if kept == 0:
        raise ValueError(f"{path}: all {len(xyz)} points have non-finite (NaN or inf) coordinates")
    if kept < len(xyz):
        warnings.warn(
            f"{path}: dropped {len(xyz) - kept} of {len(xyz)} points with non-finite coordinates",
            stacklevel=3,
        )
    columns = xyz[finite] if rgb is None else np.concatenate([xyz[finite], rgb[finite]], axis=1)
    return np.ascontiguousarray(columns, dtype=np.float32)
