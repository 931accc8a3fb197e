"""A reference bank: labelled known shapes in an embeddings file (what ``openshape-ood embed`` writes),
searched where they lie on disk, with approximate indexes saved beside the file.

:class:`ReferenceBank` opens the file without loading its rows: exact search reads them in blocks
(:func:`openshape_ood.methods.search.exact_search`), and the candidates of an approximate index are read
row by row from a memory map. Each row's class is the name of the folder its file is in
(``refs/chair/a.ply`` -> ``chair``, as for a ``--reference`` folder with one subfolder per class), or given.

Beside ``refs.h5`` the bank keeps, each written atomically:

* ``refs.h5.bank.json``: the SHA-256 of the rows, their count and width, and the file's size and
  modification time; the rows are hashed (and checked: finite, L2-normalised) once per version of the file;
* ``refs.h5.<kind>-<metric>.index.npz``: an approximate index (faiss, ``pip install "openshape-ood[scale]"``)
  with its settings and the SHA-256 of the rows it indexes. An index of other rows (the file changed), of
  another width or not written by this library is refused with an error naming it; one missing is built;
* ``refs.h5.<kind>-<metric>.partial.npz`` while an index is built: a build that is interrupted resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from ..atomic import replacing, write_bytes
from ..io import split_item
from ..methods.search import BLOCK_BYTES, INDEXES, ApproximateIndex, ExactSearch, check_index
from ..progress import progress_bar
from .embedding_file import _read

__all__ = ["ReferenceBank", "StaleIndexError"]

_MANIFEST_FORMAT = "openshape-ood reference bank v1"
_INDEX_FORMAT = "openshape-ood reference index v1"
_NORM_TOLERANCE = 1e-3  # as scores.as_embeddings
CHECKPOINT_SECONDS = 60.0  # an interrupted index build loses at most this much work


class StaleIndexError(ValueError):
    """A saved index does not index the rows the embeddings file holds now (or was not written by this library)."""


class EmbeddingRows:
    """The ``embeddings`` dataset of an HDF5 file as a read-only array: ``rows[a:b]`` reads a block (h5py),
    ``rows[indices]`` (increasing) gathers rows, from a memory map when the dataset is stored contiguously."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = h5py.File(self.path, "r")
        self._dataset = self._file["embeddings"]
        self.shape = tuple(self._dataset.shape)
        self.dtype = np.dtype(np.float32)
        offset = self._dataset.id.get_offset()
        plain = self._dataset.chunks is None and self._dataset.compression is None and offset is not None
        self._map = (
            np.memmap(self.path, dtype=self._dataset.dtype, mode="r", offset=offset, shape=self.shape) if plain else None
        )

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            return np.asarray(self._dataset[rows], dtype=np.float32)
        rows = np.asarray(rows)
        if self._map is not None:
            return np.asarray(self._map[rows], dtype=np.float32)
        return np.asarray(self._dataset[rows], dtype=np.float32) if len(rows) else np.empty((0, self.shape[1]), np.float32)

    def close(self) -> None:
        """Close the file (and drop the memory map)."""
        self._map = None
        self._file.close()


class ReferenceBank:
    """Labelled reference shape embeddings in an embeddings file, searched on disk (see the module docstring).

    Pass it as ``reference=`` of :class:`~openshape_ood.NoveltyDetector` (or in
    :class:`~openshape_ood.methods.KnownClasses`): :class:`~openshape_ood.methods.KNN` searches it where it lies,
    exactly or with the index named by its ``index`` parameter; other methods load its rows.

    Args:
        path: an embeddings file written by ``openshape-ood embed`` (:mod:`openshape_ood.corpus.embedding_file`).
        labels: the class of each row: ``None`` for the name of the folder each row's file is in, a sequence of
            one class name per row, or a mapping from the file names stored in the file to class names.

    Attributes:
        path: the embeddings file.
        files: the file of each row.
        labels: ``(R,)`` int class of each row, in ``0..C-1``.
        classes: ``(C,)`` class names.
        settings: the file's attributes (model, preparation).
        embeddings: the rows, read where they lie (:class:`EmbeddingRows`).
        shape: ``(R, D)``.
    """

    def __init__(self, path: str | os.PathLike, labels: Sequence[str] | Mapping[str, str] | None = None):
        self.path = Path(path)
        _, self.files, self.settings = _read(self.path, with_embeddings=False)
        self.embeddings = EmbeddingRows(self.path)
        self.shape = self.embeddings.shape
        if not self.shape[0]:
            raise ValueError(f"the embeddings file {self.path} holds no rows; embed reference shapes into it first")
        names = self._class_names(labels)
        self.classes, self.labels = np.unique(np.asarray(names, dtype=str), return_inverse=True)
        self._checksum: str | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ReferenceBank({str(self.path)!r}: {self.shape[0]} x {self.shape[1]}, {len(self.classes)} classes)"

    def load(self) -> np.ndarray:
        """Every row in memory, float64 ``(R, D)`` (for the methods that do not search the bank in place)."""
        return np.asarray(self.embeddings[: len(self)], dtype=np.float64)

    # ------------------------------------------------------------------ checksum

    def checksum(self, progress: bool | None = False) -> str:
        """SHA-256 of the rows; computed (and the rows checked) once per version of the file, then read from
        ``<file>.bank.json``. Rows that are not finite L2-normalised vectors raise a ``ValueError`` naming them."""
        if self._checksum is None:
            manifest_path = self.path.with_name(self.path.name + ".bank.json")
            identity = _file_identity(self.path)
            manifest = _read_json(manifest_path)
            if manifest.get("format") == _MANIFEST_FORMAT and manifest.get("identity") == identity:
                self._checksum = manifest["checksum"]
            else:
                self._checksum = self._hash_rows(progress)
                document = {"format": _MANIFEST_FORMAT, "identity": identity, "rows": self.shape[0],
                            "dim": self.shape[1], "checksum": self._checksum}  # fmt: skip
                try:
                    write_bytes(manifest_path, json.dumps(document, indent=1).encode())
                except OSError as exc:  # a read-only folder: hash again next time
                    warnings.warn(f"cannot write {manifest_path} ({exc}); the rows are hashed again next time",
                                  RuntimeWarning, stacklevel=2)  # fmt: skip
        return self._checksum

    def _hash_rows(self, progress: bool | None) -> str:
        digest = hashlib.sha256(json.dumps(list(self.shape)).encode())
        rows = _block_rows(self.shape[1])
        for start in progress_bar(range(0, len(self), rows), desc="checking references", unit="block", progress=progress):
            block = self.embeddings[start : start + rows]
            norms = np.linalg.norm(block, axis=1)
            bad = np.flatnonzero(~np.isfinite(norms) | (np.abs(norms - 1.0) > _NORM_TOLERANCE))
            if bad.size:
                raise ValueError(
                    f"row {start + bad[0]} of {self.path} ({self.files[start + bad[0]]}) is not a finite L2-normalised "
                    "embedding; embed that file again"
                )
            digest.update(np.ascontiguousarray(block).tobytes())
        return digest.hexdigest()

    # ------------------------------------------------------------------ indexes

    def index_path(self, kind: str, metric: str, partial: bool = False) -> Path:
        """Where the ``kind`` index for ``metric`` is saved (``partial``: its checkpoint while building)."""
        return self.path.with_name(f"{self.path.name}.{kind}-{metric}.{'partial' if partial else 'index'}.npz")

    def neighbour_search(self, kind: str = "exact", metric: str = "euclidean", options: Mapping | None = None,
                         progress: bool | None = False):  # fmt: skip
        """The search of :class:`~openshape_ood.methods.KNN`: exact over the rows on disk, or the saved ``kind``
        index (built and saved when there is none; a stale one is refused)."""
        check_index(kind, options, str(self.path))
        if kind == "exact":
            return ExactSearch(self.embeddings, metric)
        if self.index_path(kind, metric).exists():
            return self.load_index(kind, metric, options, progress=progress)
        return self.build_index(kind, metric, options, progress=progress)

    def load_index(self, kind: str, metric: str = "euclidean", options: Mapping | None = None, *,
                   progress: bool | None = False) -> ApproximateIndex:  # fmt: skip
        """The saved ``kind`` index, its search settings from ``options``.

        Raises:
            FileNotFoundError: none is saved (build it: :meth:`build_index`, ``openshape-ood index``).
            StaleIndexError: it indexes other rows than the file holds now, has another width, or is not an index
                of this library; rebuild it.
            ValueError: ``options`` name build settings other than the index was built with.
        """
        path = self.index_path(kind, metric)
        rebuild = f"rebuild it: openshape-ood index {self.path} --approximate {kind}" + (
            f" --metric {metric}" if metric != "euclidean" else "")
        if not path.is_file():
            raise FileNotFoundError(f"no {kind} index for {self.path}: build it with openshape-ood index {self.path} "
                                    f"--approximate {kind}")  # fmt: skip
        data, meta = _read_index_file(path, rebuild)
        if meta.get("kind") != kind or meta.get("metric") != metric:
            raise StaleIndexError(f"{path} holds a {meta.get('kind')} index for {meta.get('metric')}, not {kind} for "
                                  f"{metric}; delete it or {rebuild}")  # fmt: skip
        if meta.get("dim") != self.shape[1] or meta.get("rows") != self.shape[0]:
            raise StaleIndexError(
                f"{path} indexes {meta.get('rows')} references of dimension {meta.get('dim')}, but {self.path} holds "
                f"{self.shape[0]} of dimension {self.shape[1]}; {rebuild}"
            )
        if meta.get("checksum") != self.checksum(progress):
            raise StaleIndexError(f"{path} indexes other references than {self.path} holds now (the file changed "
                                  f"since it was built); {rebuild}")  # fmt: skip
        index = self._new_index(kind, metric, {**meta["build_options"], **_search_options(kind, options)})
        _check_build_options(index, meta["build_options"], options, path, rebuild)
        return index.load_bytes(data).attach(self.embeddings)

    def build_index(self, kind: str, metric: str = "euclidean", options: Mapping | None = None, *,
                    progress: bool | None = False, seed: int = 0) -> ApproximateIndex:  # fmt: skip
        """Build the ``kind`` index over the rows and save it beside the file; resumes an interrupted build.

        The quantisers are trained on ``train_size`` rows drawn with ``seed``; then every row is added, in blocks,
        with a checkpoint (``<file>.<kind>-<metric>.partial.npz``) every :data:`CHECKPOINT_SECONDS`.
        """
        checksum = self.checksum(progress)
        index = self._new_index(kind, metric, options)
        partial = self.index_path(kind, metric, partial=True)
        meta = {"format": _INDEX_FORMAT, "kind": kind, "metric": metric, "rows": self.shape[0], "dim": self.shape[1],
                "checksum": checksum, "build_options": index.build_options, "seed": seed}  # fmt: skip
        if partial.is_file():
            try:
                data, saved = _read_index_file(partial, "")
                if {key: saved.get(key) for key in meta} == meta:
                    index.load_bytes(data)
                else:
                    warnings.warn(f"{partial} was started with other settings or rows; building afresh", stacklevel=2)
            except StaleIndexError:
                warnings.warn(f"{partial} cannot be read; building afresh", stacklevel=2)
        if index.size == 0 and index._index is None:
            index.train(index.training_sample(self.embeddings, seed))
            _write_index_file(partial, index, meta)
        rows = _block_rows(self.shape[1])
        last = time.monotonic()
        with progress_bar(desc=f"{kind} index of {self.path.name}", unit="row", total=len(self), initial=index.size,
                          progress=progress) as bar:  # fmt: skip
            for start in range(index.size, len(self), rows):
                index.add(self.embeddings[start : start + rows])
                bar.update(index.size - bar.n)
                if time.monotonic() - last > CHECKPOINT_SECONDS and index.size < len(self):
                    _write_index_file(partial, index, meta)
                    last = time.monotonic()
        _write_index_file(self.index_path(kind, metric), index, meta)
        partial.unlink(missing_ok=True)
        return index.attach(self.embeddings)

    def _new_index(self, kind: str, metric: str, options: Mapping | None) -> ApproximateIndex:
        if kind not in INDEXES or kind == "exact":
            raise ValueError(f"unknown approximate index {kind!r}; use one of {[k for k in INDEXES if k != 'exact']}")
        return ApproximateIndex(kind, metric, options, *self.shape)

    def _class_names(self, labels) -> list[str]:
        if labels is None:
            names = [Path(split_item(file)[0]).parent.name for file in self.files]
            unnamed = [file for file, name in zip(self.files, names) if not name]
            if unnamed:
                raise ValueError(f"{self.path}: {unnamed[0]} is in no folder, so it has no class; embed files from "
                                 "one folder per class, or pass labels=")  # fmt: skip
            return names
        if isinstance(labels, Mapping):
            missing = [file for file in self.files if file not in labels]
            if missing:
                raise ValueError(f"labels give no class for {missing[0]} of {self.path} ({len(missing)} rows without)")
            return [str(labels[file]) for file in self.files]
        if len(labels) != len(self.files):
            raise ValueError(f"{len(labels)} labels for the {len(self.files)} rows of {self.path}; give one per row")
        return [str(label) for label in labels]


def _block_rows(width: int) -> int:
    return max(1, BLOCK_BYTES // (4 * width))


def _file_identity(path: Path) -> list:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _search_options(kind: str, options: Mapping | None) -> dict:
    return {name: value for name, value in (options or {}).items() if not INDEXES[kind][name].build}


def _check_build_options(index: ApproximateIndex, built: dict, options: Mapping | None, path: Path, rebuild: str):
    asked = {name: value for name, value in (options or {}).items() if value is not None and INDEXES[index.kind][name].build}
    differ = {name: value for name, value in asked.items() if built.get(name) != value}
    if differ:
        name = next(iter(differ))
        raise ValueError(f"{path} was built with {name}={built.get(name)}, not {differ[name]}; drop the option or "
                         f"{rebuild} --{name.replace('_', '-')} {differ[name]}")  # fmt: skip


def _write_index_file(path: Path, index: ApproximateIndex, meta: dict) -> None:
    with replacing(path) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, index=np.frombuffer(index.to_bytes(), dtype=np.uint8),
                 meta=np.array(json.dumps({**meta, "added": index.size})))  # fmt: skip


def _read_index_file(path: Path, rebuild: str) -> tuple[bytes, dict]:
    """``(faiss bytes, settings)`` of a saved index; anything else is a :class:`StaleIndexError` naming ``path``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            payload = data["index"].tobytes()
    except (OSError, ValueError, KeyError) as exc:
        raise StaleIndexError(f"{path} is not a readable openshape-ood index ({exc}); delete it or {rebuild}") from None
    if not isinstance(meta, dict) or meta.get("format") != _INDEX_FORMAT:
        raise StaleIndexError(f"{path} is not an openshape-ood index (no format {_INDEX_FORMAT!r}); delete it or {rebuild}")
    return payload, meta
