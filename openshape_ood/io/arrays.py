"""NumPy (``.npy``, ``.npz``) and HDF5 arrays: ``[N, C]`` clouds or ``[n, N, C]`` stacks."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np

from .common import Cloud, Request, check_declared, split_columns
from .formats import Format, register

#: The HDF5 dataset read when none is named (also what file.h5#row stacks count).
DEFAULT_H5_DATASET = "data"


def read_array_file(path: Path, request: Request) -> Cloud:
    xyz, rgb = split_columns(_read_array(path, path.suffix.lower(), request.dataset, request.index), rgb_start=3)
    return Cloud(xyz, rgb)


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
    import h5py  # only when an HDF5 file is read: --help needs the reader table, not h5py

    name = DEFAULT_H5_DATASET if dataset is None else dataset
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
    check_declared(path, f"array {name!r}", int(np.prod(shape, dtype=np.float64)) * dtype.itemsize, points)


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
    check_declared(path, what, cloud_shape[0] * cloud_shape[1] * 8, cloud_shape[0])
    cloud = array[index] if len(shape) == 3 else array[()]
    return np.array(cloud, dtype=np.float64)


_ARRAY_NOTE = (
    "integer or float `[N, C]` arrays, `C >= 3` (xyz, then rgb); stacks `[n, N, C]` with `index=` (`file.h5#row` on "
    "the command line); `dataset=` names the npz array or HDF5 dataset (default `data`); only the chosen cloud is read"
)
register(Format("NumPy", (".npy", ".npz"), read_array_file, _ARRAY_NOTE,
                "pickled, complex, bool, datetime or string arrays; an `.npz` renamed `.npy`; shapes beyond the file",
                frozenset({"dataset", "index"})))
register(Format("HDF5", (".h5", ".hdf5"), read_array_file, _ARRAY_NOTE,
                "non-numeric datasets; datasets declared but never written", frozenset({"dataset", "index"})))
