"""Raw LiDAR dumps: KITTI ``.bin`` (float32 x y z intensity) and nuScenes ``.pcd.bin`` (x y z intensity ring).

These files have no header: the layout comes from the suffix (or ``layout=``) and is
checked against the file's size. A file whose size fits both layouts and whose values look
like the other one is refused, with how to state the layout. SemanticKITTI ``.label`` files
(uint32 per point: semantic class in the low 16 bits, instance in the high 16) found beside
the ``.bin`` (same stem, same folder or ``../labels/``) give the ``instance`` and
``semantic`` fields.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np

from .chunks import CHUNK_POINTS, ChunkedCloud
from .common import Cloud, Request
from .formats import Format, register

KITTI_LAYOUT = "xyzi"
NUSCENES_LAYOUT = "xyzir"
#: Field names of the layout letters other than x, y, z; ``_`` is a column to skip.
LAYOUT_FIELDS = {"i": "intensity", "r": "ring", "t": "time"}

# Rows looked at to tell the layouts apart, and the largest ring index of a real scanner (128 lasers and more).
_PROBE_ROWS = 4096
_MAX_RING = 1023


def _suffix_layout(path: Path) -> str:
    """The layout a ``.bin`` file's suffix stands for: nuScenes for ``.pcd.bin``, else KITTI."""
    return NUSCENES_LAYOUT if path.name.lower().endswith(".pcd.bin") else KITTI_LAYOUT


def _layout_of(path: Path, request: Request) -> str:
    layout = request.layout
    if layout is None:
        return _suffix_layout(path)
    letters = set(layout) if isinstance(layout, str) else set()
    if (
        not isinstance(layout, str)
        or not {"x", "y", "z"} <= letters
        or not letters <= {"x", "y", "z", "_", *LAYOUT_FIELDS}
        or any(layout.count(c) > 1 for c in letters - {"_"})
    ):
        raise ValueError(
            f"layout must name the float32 columns of {path} once each, with x, y and z among them "
            f"(i intensity, r ring, t time, _ skipped), e.g. 'xyzi' (KITTI) or 'xyzir' (nuScenes); got {layout!r}"
        )
    return layout


def _ring_like(values: np.ndarray) -> bool:
    return bool(len(values)) and bool(np.all((values == np.round(values)) & (values >= 0) & (values <= _MAX_RING)))


def _check_size(path: Path, size: int, layout: str, stated: bool, data: np.ndarray) -> None:
    row = 4 * len(layout)
    how = "pass layout= naming its float32 columns, e.g. layout='xyzi' (KITTI) or layout='xyzir' (nuScenes)"
    if size % row:
        raise ValueError(
            f"{path}: {size} bytes is not a whole number of {len(layout)}-column float32 rows ({' '.join(layout)}); "
            f"the file is truncated or has another layout: {how}"
        )
    if stated or layout not in (KITTI_LAYOUT, NUSCENES_LAYOUT):
        return
    other = NUSCENES_LAYOUT if layout == KITTI_LAYOUT else KITTI_LAYOUT
    if size % (4 * len(other)):
        return
    probe = data[: _PROBE_ROWS * 20 // 4]
    own = probe[: len(probe) // len(layout) * len(layout)].reshape(-1, len(layout))
    theirs = probe[: len(probe) // len(other) * len(other)].reshape(-1, len(other))
    five = theirs if other == NUSCENES_LAYOUT else own
    # nuScenes' last column is a ring index (small whole numbers); a wrong split of the rows never gives one.
    if _ring_like(five[:, -1]) != (layout == NUSCENES_LAYOUT):
        raise ValueError(
            f"{path}: its size fits both KITTI's 4 float32 columns and nuScenes' 5, and its values look like "
            f"the {len(other)}-column layout ({other}) rather than its suffix's ({layout}); {how}"
        )


def read_lidar_bin(path: Path, request: Request) -> Cloud:
    """Float32 rows of a headerless LiDAR dump, read in chunks; the layout's other columns become fields."""
    layout = _layout_of(path, request)
    size = path.stat().st_size
    data = np.memmap(path, dtype="<f4", mode="r", shape=(size // 4,))
    _check_size(path, size, layout, request.layout is not None, data)
    columns = len(layout)
    table = data[: size // 4 // columns * columns].reshape(-1, columns)
    count = len(table)
    names = {LAYOUT_FIELDS[c]: layout.index(c) for c in layout if c in LAYOUT_FIELDS}
    labels = _semantic_kitti_labels(path, count)
    dtypes = {name: np.dtype(np.float32) for name in names}
    if labels is not None:
        dtypes["label"] = np.dtype(np.uint32)
    chunks = ChunkedCloud(path, count, request, colour=False, fields=dtypes)
    axes = [layout.index(axis) for axis in "xyz"]
    for start in range(0, count, CHUNK_POINTS):
        block = np.asarray(table[start : start + CHUNK_POINTS])
        fields = {name: block[:, column] for name, column in names.items()}
        if labels is not None:
            fields["label"] = labels[start : start + CHUNK_POINTS]
        chunks.add(block[:, axes].astype(np.float64), None, fields)
    cloud = chunks.cloud()
    label = cloud.fields.pop("label", None)
    if label is not None:
        instance = label >> 16
        # An instance id is unique within its class: the whole label names the object.
        cloud.fields["instance"] = np.where(instance > 0, label.astype(np.int64), -1)
        cloud.fields["semantic"] = (label & 0xFFFF).astype(np.int64)
    return cloud


def _semantic_kitti_labels(path: Path, count: int) -> np.ndarray | None:
    """The uint32 labels of a SemanticKITTI ``.label`` file beside ``path``, or ``None``."""
    stem = path.name[: -len(".bin")]
    for candidate in (path.with_name(stem + ".label"), path.parent.parent / "labels" / (stem + ".label")):
        if candidate.is_file():
            if candidate.stat().st_size != 4 * count:
                warnings.warn(
                    f"{candidate} has {candidate.stat().st_size} bytes, not 4 per point of the {count} points of "
                    f"{path}; its labels are not used",
                    stacklevel=5,
                )
                return None
            return np.memmap(candidate, dtype="<u4", mode="r", shape=(count,))
    return None


def _is_lidar_dump(path: Path) -> bool:
    """A ``.bin`` found in a folder is a LiDAR dump unless a glTF beside it owns it (glTF buffers are ``.bin`` too)."""
    size = path.stat().st_size
    row = 4 * len(_suffix_layout(path))  # float32 columns
    return size > 0 and size % row == 0 and not _has_gltf(path.parent, path.parent.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _has_gltf(folder: Path, modified: int) -> bool:
    """Whether ``folder`` holds a ``.gltf``; cached by its modification time (a KITTI sequence has thousands of .bin)."""
    return any(entry.name.lower().endswith(".gltf") for entry in os.scandir(folder))


register(Format(
    "LiDAR dump", (".pcd.bin", ".bin"), read_lidar_bin,
    "headerless float32 rows: KITTI `.bin` (x y z intensity), nuScenes `.pcd.bin` (x y z intensity ring), or "
    "`layout=`; a SemanticKITTI `.label` beside it gives `instance`/`semantic` labels; in folders, `.bin` files "
    "beside a `.gltf` are its buffers, not clouds",
    "sizes that are not whole rows; a size fitting both layouts with values of the other one (state `layout=`)",
    frozenset({"layout", "max_points", "voxel_size"}),
    discover=_is_lidar_dump,
))
