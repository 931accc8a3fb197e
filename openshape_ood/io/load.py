"""The entry points: :func:`read_cloud` and :func:`load_points`, over the reader table."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..extras import require
from .contract import MESH_SAMPLES, check_seed
from .common import LOCAL_ORIGIN_BOUND, MAX_POINTS, Cloud, Request, is_int, local_origin, sample_surfaces
from .formats import OPTIONS, format_for, supported_suffixes

__all__ = ["LOCAL_ORIGIN_BOUND", "PointCloud", "load_points", "read_cloud"]

@dataclass
class PointCloud:
    """What :func:`read_cloud` returns.

    Attributes:
        points: ``(N, 3)`` or ``(N, 6)`` float32, xyz relative to ``origin`` then rgb in [0, 1]:
            what :func:`load_points` returns.
        origin: ``(3,)`` float64; the file's coordinates are ``points[:, :3] + origin``. Zero
            unless the cloud lies far from zero (see :data:`LOCAL_ORIGIN_BOUND`).
        fields: other per-point values of a point-cloud file by name, aligned with ``points``
            (``intensity``, LAS ``classification``, PLY/PCD properties such as ``instance``,
            SemanticKITTI ``instance``/``semantic`` labels); empty for meshes.
        sampled: ``True`` when the points were sampled from a mesh's surface.
    """

    points: np.ndarray
    origin: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    sampled: bool = False


def load_points(
    path: str | os.PathLike,
    *,
    num_samples: int = MESH_SAMPLES,
    seed: int | None = 0,
    dataset: str | None = None,
    index: int | None = None,
    layout: str | None = None,
    max_points: int | None = None,
    voxel_size: float | None = None,
) -> np.ndarray:
    """Load one point cloud, or sample one from a mesh's surface: :func:`read_cloud`'s ``points``.

    Takes the arguments of :func:`read_cloud` and raises what it raises. Coordinates far
    from zero come back relative to a local origin (see :data:`LOCAL_ORIGIN_BOUND`), which
    :func:`read_cloud` returns.
    """
    return read_cloud(
        path, num_samples=num_samples, seed=seed, dataset=dataset, index=index,
        layout=layout, max_points=max_points, voxel_size=voxel_size,
    ).points


def read_cloud(
    path: str | os.PathLike,
    *,
    num_samples: int = MESH_SAMPLES,
    seed: int | None = 0,
    dataset: str | None = None,
    index: int | None = None,
    layout: str | None = None,
    max_points: int | None = None,
    voxel_size: float | None = None,
) -> PointCloud:
    """Read one point cloud, or sample one from a mesh's surface, with its origin and per-point fields.

    The format is chosen by suffix from the reader table (``openshape_ood.io.formats``;
    the README lists what each format reads and refuses). Point clouds come back whole,
    minus points with non-finite coordinates; meshes are sampled uniformly on their surface.

    Args:
        path: one file whose name ends in a suffix of :data:`SUPPORTED_SUFFIXES` (case
            ignored). A folder is refused: list its files with :func:`find_shape_files`.
        num_samples: points sampled from a mesh's surface, area-weighted over all its
            triangles (at most :data:`MAX_POINTS`). Point clouds ignore it.
        seed: seed of the surface sampling and of ``max_points`` thinning; ``None`` draws
            fresh entropy. The same seed gives the same points for the same file.
        dataset: name of the array to read in an ``.npz`` (needed when it holds more
            than one) or of the dataset in an HDF5 file (default ``"data"``).
        index: which cloud of a stacked ``[n, N, C]`` array to return; required for
            stacked arrays, refused for anything else.
        layout: the float32 columns of a raw LiDAR ``.bin`` dump, one letter each, with
            ``x``, ``y`` and ``z`` among them: ``"xyzi"`` (KITTI, the default for ``.bin``),
            ``"xyzir"`` (nuScenes, the default for ``.pcd.bin``), ...
        max_points: LAS/LAZ, E57 and ``.bin``: keep at most this many points, a uniform
            random choice (seeded by ``seed``) made chunk by chunk while reading, so a
            file of any size is read in bounded memory.
        voxel_size: LAS/LAZ, E57 and ``.bin``: keep the first point read in each cube of
            this side (the file's unit), decided chunk by chunk while reading.

    Returns:
        :class:`PointCloud`: ``points`` float32 ``(N, 3)`` (xyz) or ``(N, 6)`` (xyz, rgb in
        [0, 1]), finite everywhere, relative to ``origin``. Points with a coordinate not
        finite as float32 are dropped with a :class:`UserWarning` naming the file and
        the count.

        Colours: rgb columns of arrays and text files are used when every value lies in
        [0, 255] (divided by 255 when any exceeds 1); other columns (normals, intensity)
        are not colours. Integer colour fields of LAS, E57, PCD are scaled by the depth
        their values use (8-bit values in 16-bit fields are common). Mesh colours come
        from a texture, a material's colour, vertex colours or face colours; a mesh of
        several parts has colour only when every part has.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the path is a folder, the suffix is not supported, the file is empty,
            unreadable, truncated or malformed (its counts disagree with its contents, it
            declares more data than it can hold), holds no finite point, the mesh has no
            triangle of non-zero area, or an argument is invalid or does not apply to this
            file. The message names the file and what is wrong; no other exception type
            escapes for a bad file.
        MissingExtraError: the format needs an optional library that is not installed
            (LAS/LAZ and E57: ``pip install "openshape-ood[survey]"``); a ``ValueError`` too,
            so that a run over many files reports it as a bad file and goes on.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{path} is a folder; load_points reads one file. To load a folder, list its shape files with "
            f"openshape_ood.io.find_shape_files([{os.fspath(path)!r}]) and load each one "
            "(the command line takes folders as they are)"
        )
    found = format_for(path)
    if found is None:
        raise ValueError(
            f"cannot read {path}: unknown suffix {path.suffix!r}; "
            f"supported suffixes are {', '.join(supported_suffixes())}"
        )
    fmt, _ = found
    request = Request(num_samples, seed, dataset, index, layout, max_points, voxel_size)
    _check_request(path, fmt.options, request)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")
    for module in fmt.needs:
        require(module, f"reading {path}")  # one line naming the file and the pip install, not a parser's error
    try:
        geometry = fmt.reader(path, request)
        if isinstance(geometry, Cloud):
            return _finish(path, geometry, sampled=False)
        xyz, rgb = sample_surfaces(path, geometry, num_samples, seed)
        return _finish(path, Cloud(xyz, rgb), sampled=True)
    except (ValueError, OSError) as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"could not read {path}: {type(exc).__name__}: {exc}") from exc
    except MemoryError:
        raise
    except Exception as exc:  # parsers raise KeyError, IndexError, struct.error, library errors, ...
        raise ValueError(f"could not read {path}: {type(exc).__name__}: {exc}") from exc


def _check_request(path: Path, accepted: frozenset[str], request: Request) -> None:
    num_samples = request.num_samples
    if not is_int(num_samples) or not 1 <= num_samples <= MAX_POINTS:
        raise ValueError(
            f"num_samples must be a positive integer of at most {MAX_POINTS}, got {num_samples!r}"
        )
    check_seed(request.seed)
    for option, scope in OPTIONS.items():
        if getattr(request, option) is not None and option not in accepted:
            raise ValueError(f"{option}= applies to {scope}; drop it to read {path}")
    if request.dataset is not None and not isinstance(request.dataset, str):
        raise ValueError(f"dataset must be a string naming an array, got {request.dataset!r}")
    if request.index is not None and not is_int(request.index):
        raise ValueError(f"index must be an integer, got {request.index!r}")
    if request.max_points is not None and (not is_int(request.max_points) or request.max_points < 1):
        raise ValueError(f"max_points must be a positive integer, got {request.max_points!r}")
    voxel = request.voxel_size
    if voxel is not None and (
        isinstance(voxel, bool) or not isinstance(voxel, (int, float)) or not math.isfinite(voxel) or voxel <= 0
    ):
        raise ValueError(f"voxel_size must be a positive finite number, got {voxel!r}")


def _finish(path: Path, cloud: Cloud, sampled: bool) -> PointCloud:
    """Shift to the local origin, cast to float32, drop points not finite once float32."""
    xyz, rgb = cloud.xyz, cloud.rgb
    if len(xyz) == 0:
        raise ValueError(f"{path} holds no points")
    if cloud.origin is None:
        origin = local_origin(np.asarray(xyz, dtype=np.float64))
        if origin.any():
            xyz = np.asarray(xyz, dtype=np.float64) - origin  # in float64, before the float32 cast
    else:
        origin = np.asarray(cloud.origin, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        xyz = xyz.astype(np.float32, copy=False)  # 1e39 is finite as float64 but inf as float32
    finite = np.isfinite(xyz).all(axis=1)
    kept = int(finite.sum())
    if kept == 0:
        raise ValueError(f"{path}: all {len(xyz)} points have non-finite (NaN or inf) coordinates")
    fields = cloud.fields
    if kept < len(xyz):
        warnings.warn(
            f"{path}: dropped {len(xyz) - kept} of {len(xyz)} points with non-finite coordinates",
            stacklevel=4,
        )
        xyz = xyz[finite]
        rgb = None if rgb is None else rgb[finite]
        fields = {name: values[finite] for name, values in fields.items()}
    if cloud.table is not None and kept == len(cloud.table):
        points = cloud.table  # xyz and rgb are views of it (big files: no copy)
        if rgb is not None:
            np.clip(points[:, 3:], 0.0, 1.0, out=points[:, 3:])
    elif rgb is None:
        points = np.ascontiguousarray(xyz)
    else:
        # Interpolation can step a rounding error outside [0, 1].
        points = np.ascontiguousarray(np.concatenate([xyz, np.clip(rgb, 0.0, 1.0).astype(np.float32)], axis=1))
    return PointCloud(points, origin, fields, sampled)
