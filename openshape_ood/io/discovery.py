"""Which files are shape files: folder and glob expansion, and stacked files' rows (``file.h5#row``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .arrays import DEFAULT_H5_DATASET
from .formats import format_for, supported_suffixes

__all__ = ["expand_stacks", "find_shape_files", "is_shape_file", "split_item", "stack_size"]

_ROW_SEPARATOR = "#"
# Stacks are expanded from HDF5 files (their default dataset) and .npy files: both
# give the array's shape without reading it.
_STACK_SUFFIXES = (".h5", ".hdf5", ".npy")


def is_shape_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an existing regular file that :func:`load_points` reads.

    Its name must end in a registered suffix (case ignored); formats whose suffix other
    tools use too (``.bin``: also glTF buffers) take only the files that are theirs.
    """
    path = Path(path)
    found = format_for(path)
    if found is None or not path.is_file():
        return False
    fmt, _ = found
    return fmt.discover is None or fmt.discover(path)


def split_item(name: str) -> tuple[str, int | None]:
    """``"scans.h5#12"`` -> ``("scans.h5", 12)``; a name without a row -> ``(name, None)``.

    A row is recognised after a stack suffix (``.h5``, ``.hdf5``, ``.npy``) only, so
    other names containing ``#`` are left whole.
    """
    path, separator, row = name.rpartition(_ROW_SEPARATOR)
    if separator and row.isascii() and row.isdigit() and Path(path).suffix.lower() in _STACK_SUFFIXES:
        return path, int(row)
    return name, None


def stack_size(path: str | os.PathLike) -> int | None:
    """The number of clouds in a stacked ``[n, N, C]`` file, or ``None`` when it is not a stack.

    Looks at HDF5 files (their ``data`` dataset, as :func:`load_points` reads by default)
    and ``.npy`` files without reading their data. A file that cannot be inspected is
    reported as no stack: loading it then says what is wrong.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _STACK_SUFFIXES:
        return None
    try:
        if suffix == ".npy":
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        else:
            import h5py  # only for an HDF5 file

            with h5py.File(path, "r") as h5:
                node = h5.get(DEFAULT_H5_DATASET)
                shape = node.shape if isinstance(node, h5py.Dataset) else ()
    except Exception:  # noqa: BLE001 - any damage: load_points, reading the file for real, names it
        return None
    return shape[0] if len(shape) == 3 else None


def expand_stacks(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Item names for ``paths``: a stack file becomes ``path#0`` ... ``path#(n-1)``, other paths stay as given."""
    items = []
    for path in paths:
        count = stack_size(path)
        name = os.fspath(path)
        items.extend([name] if count is None else [f"{name}{_ROW_SEPARATOR}{row}" for row in range(count)])
    return items


def find_shape_files(
    patterns: Sequence[str | os.PathLike], on_error: Callable[[str, str], None] | None = None
) -> list[str]:
    """Items named by paths, folders and glob patterns, in order without repeats.

    Files are kept as named (any suffix: reading reports the unsupported ones); folders
    (searched recursively) and glob matches contribute their shape files
    (:func:`is_shape_file`). Stacked files become one ``file#row`` item per cloud;
    ``file#row`` names one row.

    Args:
        patterns: file paths, folders, glob patterns (``**`` recursive) or ``file#row``.
        on_error: called as ``on_error(pattern, message)`` for a pattern that names
            nothing (a missing path, a folder or pattern without shape files), after which
            the others are expanded; ``None`` raises a ``ValueError`` with the message.
    """

    def failed(pattern: str, message: str) -> None:
        if on_error is None:
            raise ValueError(message)
        on_error(pattern, message)

    files: dict[str, None] = {}
    for pattern in map(os.fspath, patterns):
        path = Path(pattern)
        stack, row = split_item(pattern)
        if row is not None and not path.exists() and Path(stack).is_file():
            files[f"{os.path.normpath(stack)}{_ROW_SEPARATOR}{row}"] = None
            continue
        if path.is_file():
            files.update(dict.fromkeys(expand_stacks([os.path.normpath(pattern)])))
            continue
        if path.is_dir():
            found = _shape_files(path)
            what = f"no shape files in directory {pattern}"
        elif glob.has_magic(pattern):
            found = [f for match in sorted(glob.glob(pattern, recursive=True)) for f in _matched(Path(match))]
            what = f"no shape files match {pattern}"
        else:
            failed(pattern, f"no such file or directory: {pattern}")
            continue
        if not found:
            failed(pattern, f"{what} (suffixes read: {' '.join(supported_suffixes())})")
        files.update(dict.fromkeys(expand_stacks(found)))
    return list(files)


def _shape_files(directory: Path) -> list[str]:
    return sorted(str(path) for path in directory.rglob("*") if is_shape_file(path))


def _matched(path: Path) -> list[str]:
    if path.is_dir():
        return _shape_files(path)
    return [str(path)] if is_shape_file(path) else []
