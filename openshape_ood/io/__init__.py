"""Read point clouds and meshes from disk as ``(N, 3)`` or ``(N, 6)`` float32 arrays.

:func:`load_points` (and :func:`read_cloud`, which adds the local origin and per-point
fields) is the one entry point. Each format is one module that registers its suffixes in
the reader table of :mod:`openshape_ood.io.formats`; the README's format table is
rendered from it. Point clouds come back whole, minus points with non-finite
coordinates; meshes are sampled uniformly on their surface. Every reader checks the
counts a file declares against what it holds and refuses, before allocating, sizes far
beyond the file's own or beyond :data:`MAX_POINTS`.

Modules: ``arrays`` (npy, npz, HDF5), ``text`` (xyz, txt, pts), ``pcd``, ``ply`` (the one
PLY reader and writer), ``off``, ``meshes`` (OBJ, STL, glTF via trimesh), ``las``
(LAS/LAZ/COPC via laspy), ``e57`` (pye57), ``lidar_bin`` (KITTI, nuScenes); ``discovery``
finds shape files in folders and globs and expands stacked files (``file.h5#row``);
``contract`` holds what every reader keeps (colours in [0, 1], mesh samples, seeds).
laspy and pye57 are the ``[survey]`` extra, imported only when such a file is read.
"""

from __future__ import annotations

# Registration order is the README table's order.
from . import arrays, pcd, ply, text, off, meshes, las, e57, lidar_bin  # noqa: F401, I001  (they register)
from .common import LOCAL_ORIGIN_BOUND, MAX_POINTS, local_origin
from .discovery import expand_stacks, find_shape_files, is_shape_file, split_item, stack_size
from .formats import FORMATS, format_table, supported_suffixes
from .load import PointCloud, load_points, read_cloud
from .pcd import read_pcd_fields
from .ply import write_ply

#: Suffixes :func:`load_points` reads (lower case; matching ignores case), from the reader table.
SUPPORTED_SUFFIXES: tuple[str, ...] = supported_suffixes()

__all__ = [
    "FORMATS",
    "LOCAL_ORIGIN_BOUND",
    "MAX_POINTS",
    "SUPPORTED_SUFFIXES",
    "PointCloud",
    "expand_stacks",
    "find_shape_files",
    "format_table",
    "is_shape_file",
    "load_points",
    "local_origin",
    "read_cloud",
    "read_pcd_fields",
    "split_item",
    "stack_size",
    "write_ply",
]
