"""What the format readers share: the request, the cloud and surface types, size checks, surface sampling."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image

from .contract import rgb_to_unit

#: Most points one cloud (or one ``num_samples``) may have; larger declarations are refused.
MAX_POINTS = 50_000_000

#: Coordinates at least this far from zero (metres, or the file's unit) are shifted to a local
#: origin before the float32 cast: float32 keeps about 1 mm at 2**13 = 8192 and only 0.5 m at
#: 6e6 (a UTM northing). Survey files (LAS, E57, PLY in UTM) keep their millimetres this way.
LOCAL_ORIGIN_BOUND = 2.0**13

_FLOAT32_MAX = float(np.finfo(np.float32).max)


# A file may declare at most 16 MiB plus 100 times its own size of (float64) point data:
# real point data compress by far less, so more means a damaged or hostile header.
_EXPANSION_FLOOR = 16 * 2**20
_MAX_EXPANSION = 100


@dataclass(frozen=True)
class Request:
    """What :func:`load_points` was asked for, handed to every reader (each uses what applies)."""

    num_samples: int
    seed: int | None
    dataset: str | None = None
    index: int | None = None
    layout: str | None = None
    max_points: int | None = None
    voxel_size: float | None = None


@dataclass
class Cloud:
    """Points read from a file with no surface.

    Attributes:
        xyz: ``(N, 3)`` coordinates (float64, or float32 when ``origin`` is set).
        rgb: ``(N, 3)`` colours in [0, 1], or ``None``.
        fields: other per-point values by name (``intensity``, ``classification``, a PLY
            ``instance`` property, ...), each ``(N,)``.
        origin: set by readers that shift coordinates themselves while reading (big
            files): ``xyz`` is then relative to it. ``None``: the loader decides.
        table: float32 ``(N, 3)`` or ``(N, 6)`` of which ``xyz`` and ``rgb`` are views, when
            the reader filled one (big files): returned as it is, without a copy.
    """

    xyz: np.ndarray
    rgb: np.ndarray | None
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    origin: np.ndarray | None = None
    table: np.ndarray | None = None


# Colour at sampled points: (face indices, barycentric weights [n, 3]) -> rgb [n, 3] in [0, 1].
Colouring = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Surface:
    """Triangles to sample: vertices ``[V, 3]``, triangles ``[F, 3]``, and how to colour."""

    vertices: np.ndarray
    triangles: np.ndarray
    colour: Colouring | None


def is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_declared(path: Path, what: str, declared_bytes: int, points: int) -> None:
    """Refuse, before allocating, more than :data:`MAX_POINTS` points, or a declaration no honest file of this size makes."""
    if points > MAX_POINTS:
        raise ValueError(
            f"{path}: {what} declares {points} points, more than the limit of {MAX_POINTS}"
        )
    check_declared_bytes(path, what, declared_bytes)


def check_declared_bytes(path: Path, what: str, declared_bytes: int) -> None:
    """Refuse, before allocating, a declaration no honest file of this size makes.

    Chunked readers call this alone: their point limit depends on the thinning asked for,
    and :class:`~openshape_ood.io.chunks.ChunkedCloud` checks it.
    """
    allowed = _EXPANSION_FLOOR + _MAX_EXPANSION * os.stat(path).st_size
    if declared_bytes > allowed:
        raise ValueError(
            f"{path}: {what} declares {declared_bytes} bytes of data, far more than a file of "
            f"{os.stat(path).st_size} bytes can hold; the file is damaged"
        )


def decode_text(raw: bytes) -> str:
    """UTF-8 text, or Latin-1 for the many exporters that write cp1252/Latin-1 names."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # never fails; numbers and keywords are ASCII either way


def split_columns(table: np.ndarray, rgb_start: int) -> tuple[np.ndarray, np.ndarray | None]:
    """xyz from columns 0-2 and, when they are colours, rgb from ``rgb_start``..+3."""
    xyz = table[:, :3]
    if table.shape[1] < rgb_start + 3:
        return xyz, None
    return xyz, rgb_to_unit(table[:, rgb_start : rgb_start + 3])  # None for normals, intensities, ...


def colour_scale(rgb: np.ndarray, what: str, path: Path) -> float:
    """What integer colours are divided by to lie in [0, 1]: the depth the values actually use.

    Many writers store 8-bit values in 16-bit fields (LAS, E57, PDAL's PCD): dividing those
    by 65535 would make every point nearly black. Values that all fit in 8 bits are 8-bit
    colours.
    """
    top = float(rgb.max()) if rgb.size else 0.0
    if top <= 255:
        return 255.0
    if top <= 65535:
        return 65535.0
    raise ValueError(f"{path}: {what} holds colour values up to {top:.0f}, beyond 16 bits")


def unit_colours(rgb: np.ndarray, what: str, path: Path) -> np.ndarray:
    """Integer colours in [0, 1] by their depth (:func:`colour_scale`)."""
    rgb = np.asarray(rgb)
    return rgb / colour_scale(rgb, what, path)


def find_companion(path: Path, name: str) -> Path | None:
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


def open_image(path: Path, image_path: Path) -> PIL.Image.Image:
    try:
        image = PIL.Image.open(image_path)
        image.load()
    except (OSError, ValueError, PIL.Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: its texture {image_path.name} is damaged ({exc})") from None
    return image


# ------------------------------------------------------------------------- surfaces

def vertex_colouring(triangles: np.ndarray, rgb: np.ndarray) -> Colouring:
    return lambda face, weights: np.einsum("nk,nkj->nj", weights, rgb[triangles[face]])


def face_colouring(rgb: np.ndarray) -> Colouring:
    return lambda face, weights: rgb[face]


def constant_colouring(rgb: np.ndarray) -> Colouring:
    return lambda face, weights: np.broadcast_to(rgb, (len(face), 3))


def texture_colouring(
    path: Path, corner_uv: np.ndarray, image: PIL.Image.Image, factor: np.ndarray
) -> Colouring:
    """Bilinear texture lookup at interpolated UVs (``corner_uv`` is ``[F, 3, 2]``) times ``factor``."""
    # trimesh (and scipy) only when a texture is read, not when the reader table is
    from trimesh.visual.color import uv_to_interpolated_color

    try:
        rgba = image.convert("RGBA")  # palette, greyscale and 16-bit images alike
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: its texture image is damaged ({exc})") from None
    corner_uv = np.nan_to_num(corner_uv, nan=0.0, posinf=0.0, neginf=0.0)

    def colour(face: np.ndarray, weights: np.ndarray) -> np.ndarray:
        uv = np.einsum("nk,nkj->nj", weights, corner_uv[face])
        return uv_to_interpolated_color(uv, rgba)[:, :3] / 255.0 * factor

    return colour


def triangle_areas(surface: Surface) -> np.ndarray:
    """Triangle areas, 0 for triangles touching non-finite vertices (or overflowing)."""
    corners = surface.vertices[surface.triangles]
    with np.errstate(all="ignore"):
        areas = 0.5 * np.linalg.norm(
            np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1
        )
    return np.where(np.isfinite(areas), areas, 0.0)


def sample_surfaces(
    path: Path, surfaces: list[Surface], num_samples: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Area-weighted uniform samples over all ``surfaces``, with colours when all have them.

    Barycentric weights are drawn directly (not recovered from the points), so colours
    stay finite on thin triangles.
    """
    rng = np.random.default_rng(seed)
    areas = [triangle_areas(s) for s in surfaces]
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


def fan(polygons: list[np.ndarray]) -> np.ndarray:
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


def fan_owner(polygons: list[np.ndarray]) -> np.ndarray:
    """For each triangle of :func:`fan` (same order), the index of its polygon."""
    by_length: dict[int, list[int]] = {}
    for i, polygon in enumerate(polygons):
        by_length.setdefault(len(polygon), []).append(i)
    owners = [np.empty(0, dtype=np.int64)]
    for length, indices in by_length.items():
        if length >= 3:
            owners.extend([np.asarray(indices, dtype=np.int64)] * (length - 2))
    return np.concatenate(owners)


def check_indices(path: Path, triangles: np.ndarray, num_vertices: int) -> None:
    if len(triangles) and (triangles.min() < 0 or triangles.max() >= num_vertices):
        bad = triangles[(triangles < 0) | (triangles >= num_vertices)][0]
        raise ValueError(
            f"{path}: a face refers to vertex {bad}, but the file has {num_vertices} vertices"
        )


def local_origin(xyz: np.ndarray) -> np.ndarray:
    """The origin :func:`read_cloud` shifts ``xyz`` (float64, ``(N, 3)``) to, per axis.

    An axis is shifted, to the whole unit below its minimum, when the cloud lies far from
    zero on it: its minimum is at least :data:`LOCAL_ORIGIN_BOUND` from zero and farther
    from zero than the cloud is long. A stray point far away (a damaged record) makes the
    cloud long and so shifts nothing.
    """
    usable = np.isfinite(xyz).all(axis=1) & (np.abs(xyz) <= _FLOAT32_MAX).all(axis=1)
    if not usable.any():
        return np.zeros(3)
    return origin_for_bounds(xyz[usable].min(axis=0), xyz[usable].max(axis=0))


def origin_for_bounds(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """:func:`local_origin` from the bounds of the points (never a header's: real headers state them wrong)."""
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    origin = np.zeros(3)
    far = np.isfinite(low) & np.isfinite(high) & (np.abs(low) >= LOCAL_ORIGIN_BOUND) & (high - low < np.abs(low))
    origin[far] = np.floor(low[far])
    return origin
