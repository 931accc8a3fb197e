"""HDF5 files of shape embeddings, written so that an interrupted run can resume.

An embeddings file (what ``openshape-ood embed`` writes) holds:

* ``embeddings``: ``(N, D)`` float32, L2-normalised, one row per file;
* ``files``: ``(N,)`` UTF-8 strings, the file each row came from (``file.h5#row`` for a
  row of a stacked file);
* attributes: the settings the embeddings were made with (every key the writer was given,
  at least :data:`SETTING_KEYS`), the library version and ``world_size``, the number of
  processes of the run that wrote it.

:class:`ResumableEmbeddingWriter` never leaves that file half-written. Embeddings are
saved in chunks to a folder beside it, ``<file>.partial/``, each chunk written to a
temporary name and renamed into place, so a killed run loses at most the chunks it was
filling. Several processes (the ranks of a ``torchrun`` job) may save chunks into the
same folder; one of them, the primary, holds the lock ``<file>.lock`` so that no second
run writes the same output, and :meth:`ResumableEmbeddingWriter.finish` gathers the
existing file and every chunk into a temporary file, renames it over the final name and
discards the folder (renamed away first, so that a kill while deleting it leaves nothing
a later run trips over). Reopening the same path with the same settings resumes:
:attr:`~ResumableEmbeddingWriter.done` lists what is already embedded, whoever embedded
it. Different settings are refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import filelock
import h5py
import numpy as np

from ..atomic import replacing, write_bytes

__all__ = ["SETTING_KEYS", "OutputInUseError", "ResumableEmbeddingWriter", "read_embeddings"]

FORMAT = "openshape-ood embeddings v1"
#: The settings every embeddings file records, so that it always names its model and preparation. The
#: settings themselves are produced in one place, :func:`openshape_ood.corpus.embed.embedding_settings`; the writer
#: records and checks every key it is given (a key added there is recorded and compared with no change here).
SETTING_KEYS: tuple[str, ...] = (
    "model",
    "checkpoint",  # openshape_ood.encoders._checkpoint.checkpoint_identity
    "embed_dim",
    # openshape_ood.prepare.preparation_settings:
    "up_axis",
    "model_up_axis",
    "seed",
    "num_points",
    "rgb",
    "fps_start",
    "mesh_samples",
    "dtype",  # what the encoder computed in: float32 and bfloat16 embeddings never share a file
)
#: Attributes of the file that are not settings: written by the writer itself.
_METADATA = ("format", "openshape_ood_version", "world_size")
#: Settings that files written before they were recorded hold implicitly.
LEGACY_SETTINGS = {"dtype": "float32"}
_SETTINGS_FILE = "settings.json"
_CHUNK_GLOB = "chunk-*.npz"
_DISCARDED = ".discarded-"
_COPY_ROWS = 65536  # rows of an existing output copied at a time


class OutputInUseError(BlockingIOError):
    """Another run holds the lock of the embeddings file: two runs must not write one output."""


def read_embeddings(path: str | os.PathLike) -> tuple[np.ndarray, list[str], dict]:
    """Read an embeddings file written by ``openshape-ood embed``.

    Returns:
        ``(embeddings (N, D) float32, files (N,) as written, attributes)``; the attributes
        hold :data:`SETTING_KEYS`, ``format``, ``openshape_ood_version`` and (in files
        from version 0.1 on) ``world_size``; a file written before ``dtype`` was recorded
        reads as ``dtype="float32"``, what the encoder then always computed in.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not an embeddings file of this format, or is unreadable.
    """
    return _read(Path(path), with_embeddings=True)


class ResumableEmbeddingWriter:
    """Collects embeddings for an HDF5 file in crash-safe chunks; see the module docstring.

    Use it as a context manager (or call :meth:`close`) to release the lock.

    Args:
        path: the final embeddings file.
        settings: the settings of the embeddings (JSON-serialisable values), at least every key
            of :data:`SETTING_KEYS`; ``embed_dim`` is the embedding width. Every key is recorded,
            and an existing output whose settings differ in any key (one missing included) is refused;
            ``format``, ``openshape_ood_version`` and ``world_size`` are the file's own, not settings.
        version: library version, recorded in the file.
        chunk_size: files per chunk saved to ``<path>.partial/``; what a killed run can lose.
        primary: this writer locks the output, reads what earlier runs left (its
            :attr:`done`), clears what a killed run left half-written, and may
            :meth:`finish`. The other processes of a multi-process run pass ``False``:
            they only save chunks, and must start after the primary has opened.

    Raises:
        OutputInUseError: another primary writer (another run) holds the lock.
        ValueError: ``path`` or its partial folder holds embeddings made with other
            settings, or ``path`` exists and is not an embeddings file.

    Attributes:
        done: the files already embedded, in the final file or in saved chunks (for a
            primary; a secondary writer knows only its own).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        settings: dict,
        *,
        version: str,
        chunk_size: int = 64,
        primary: bool = True,
    ):
        missing = [key for key in SETTING_KEYS if key not in settings]
        if missing:
            raise ValueError(f"settings lack {missing}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.path = Path(path)
        _check_output_path(self.path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        # The file's own bookkeeping (as in read_embeddings' attributes) is not a setting: it is written afresh.
        self.settings = {key: value for key, value in settings.items() if key not in _METADATA}
        self.version = version
        self.chunk_size = chunk_size
        self.primary = primary
        self.done: set[str] = set()
        self._pending_files: list[str] = []
        self._pending: list[np.ndarray] = []
        self._lock: filelock.BaseFileLock | None = None
        if primary:
            self._lock = _acquire(self.path)
            try:
                self._open()
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> "ResumableEmbeddingWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release the output's lock (a primary writer); queued embeddings not flushed are dropped."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def add(self, file: str, embedding: np.ndarray) -> None:
        """Queue one file's embedding ``(D,)``; a full chunk is saved at once."""
        embedding = np.asarray(embedding, dtype=np.float32)
        if embedding.shape != (self.settings["embed_dim"],):
            raise ValueError(f"embedding of {file} has shape {embedding.shape}; expected ({self.settings['embed_dim']},)")
        self._pending_files.append(file)
        self._pending.append(embedding)
        self.done.add(file)
        if len(self._pending) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        """Save the queued embeddings as one chunk (renamed into place when complete)."""
        if not self._pending:
            return
        self._ensure_partial()
        with replacing(self.partial / f"chunk-{uuid.uuid4().hex}.npz") as temporary, open(temporary, "wb") as stream:
            np.savez(stream, files=np.array(self._pending_files, dtype=str), embeddings=np.stack(self._pending))
        self._pending_files, self._pending = [], []

    def finish(self, order: Sequence[str] = (), *, world_size: int = 1) -> int:
        """Flush, write the final file atomically, discard the partial folder; return its row count.

        Call it on the primary writer once every process has flushed its chunks. Rows keep
        the order of an existing final file; new rows follow in ``order`` (the files of
        this run), then any others from the chunks sorted by name. With nothing new to add
        the existing file is left untouched. ``world_size`` (the processes of this run) is
        recorded in a file that is written.
        """
        if not self.primary:
            raise RuntimeError("only the primary writer finishes the output; the others only flush")
        self.flush()
        saved = _read(self.path, with_embeddings=False)[1] if self.path.exists() else []
        known = set(saved)
        chunks = self._read_chunks()
        new: dict[str, tuple[int, int]] = {}  # file -> (chunk, row): the first chunk that has it
        for number, (_, files) in enumerate(chunks):
            for row, name in enumerate(files):
                if name not in known:
                    new.setdefault(name, (number, row))
        position = {name: i for i, name in enumerate(order)}
        ranked = sorted(new, key=lambda name: (name not in position, position.get(name, 0), name))
        if new or not self.path.exists():
            self._write_final(saved, ranked, new, chunks, world_size)
        self._discard_partial()
        self.done = known | set(new)
        return len(saved) + len(new)

    # ------------------------------------------------------------------ private

    def _open(self) -> None:
        """As primary, under the lock: clear leftovers of killed runs, check settings, learn what is done."""
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):  # a final write that was killed
            leftover.unlink(missing_ok=True)
        for discarded in self.path.parent.glob(f".{self.partial.name}{_DISCARDED}*"):  # a killed clean-up
            shutil.rmtree(discarded, ignore_errors=True)
        if self.path.exists():
            _, files, attributes = _read(self.path, with_embeddings=False)
            recorded = {key: value for key, value in attributes.items() if key not in _METADATA}
            self._check_settings(recorded, self.path, "delete it")
            self.done.update(files)
        if self.partial.is_dir():
            self._check_partial_settings()
            for leftover in self.partial.glob("*.tmp"):  # chunks a killed run was still writing
                leftover.unlink(missing_ok=True)
            self.done.update(name for _, files in self._read_chunks() for name in files)

    def _check_partial_settings(self) -> None:
        settings_file = self.partial / _SETTINGS_FILE
        if not settings_file.is_file():
            if any(self.partial.glob(_CHUNK_GLOB)):
                raise ValueError(f"{self.partial} holds chunks but no {_SETTINGS_FILE}; delete the folder to start over")
            return
        try:
            recorded = {**LEGACY_SETTINGS, **json.loads(settings_file.read_text(encoding="utf-8"))}
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"cannot read {settings_file} ({exc}); delete {self.partial} to start over") from None
        self._check_settings(recorded, self.partial, "delete that folder")

    def _read_chunks(self) -> list[tuple[Path, list[str]]]:
        """The readable chunks in the partial folder, with the files each holds; damaged ones are removed.

        Called only while no other process writes chunks (opening, finishing).
        """
        chunks = []
        for chunk_path in sorted(self.partial.glob(_CHUNK_GLOB)):
            try:
                files, embeddings = _load_chunk(chunk_path)
                if embeddings.shape != (len(files), self.settings["embed_dim"]):
                    raise ValueError(f"embeddings of shape {embeddings.shape} for {len(files)} files")
            except (OSError, ValueError, KeyError) as exc:
                warnings.warn(f"removed damaged chunk {chunk_path} ({exc}); its files are embedded again", stacklevel=3)
                chunk_path.unlink(missing_ok=True)
                continue
            chunks.append((chunk_path, files))
        return chunks

    def _write_final(
        self,
        saved: list[str],
        ranked: list[str],
        new: dict[str, tuple[int, int]],
        chunks: list[tuple[Path, list[str]]],
        world_size: int,
    ) -> None:
        """Existing rows, then new ones, streamed chunk by chunk (never all embeddings in memory)."""
        total, width = len(saved) + len(ranked), self.settings["embed_dim"]
        slot = {name: len(saved) + i for i, name in enumerate(ranked)}
        with replacing(self.path) as temporary, h5py.File(temporary, "w") as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["openshape_ood_version"] = self.version
            h5.attrs["world_size"] = world_size
            for key, value in self.settings.items():
                h5.attrs[key] = value
            output = h5.create_dataset("embeddings", shape=(total, width), dtype=np.float32)
            if saved:
                with h5py.File(self.path, "r") as existing:
                    for start in range(0, len(saved), _COPY_ROWS):
                        stop = min(start + _COPY_ROWS, len(saved))
                        output[start:stop] = existing["embeddings"][start:stop]
            for number, (chunk_path, files) in enumerate(chunks):
                rows = sorted((slot[name], row) for row, name in enumerate(files) if new.get(name) == (number, row))
                if rows:
                    embeddings = _load_chunk(chunk_path)[1]
                    output[[target for target, _ in rows]] = embeddings[[row for _, row in rows]]
            h5.create_dataset(
                "files", data=np.array(saved + ranked, dtype=object), dtype=h5py.string_dtype("utf-8")
            )

    def _discard_partial(self) -> None:
        """Rename the partial folder away (atomic), then delete it: a kill never leaves half a folder."""
        if not self.partial.exists():
            return
        discarded = self.partial.with_name(f".{self.partial.name}{_DISCARDED}{uuid.uuid4().hex}")
        os.replace(self.partial, discarded)
        shutil.rmtree(discarded)

    def _ensure_partial(self) -> None:
        settings_file = self.partial / _SETTINGS_FILE
        if settings_file.is_file():
            return
        write_bytes(settings_file, json.dumps(self.settings).encode())

    def _check_settings(self, recorded: dict, where: Path, remedy: str) -> None:
        """Refuse ``recorded`` settings that differ from these in any key, one missing on either side included."""
        absent = object()
        differences = [
            f"{key}={_shown(recorded.get(key, absent))} there, {_shown(self.settings.get(key, absent))} now"
            for key in [*self.settings, *(key for key in recorded if key not in self.settings)]
            if not _same(recorded.get(key, absent), self.settings.get(key, absent))
        ]
        if differences:
            raise ValueError(
                f"{where} holds embeddings made with other settings ({'; '.join(differences)}); mixing them "
                f"would make the file inconsistent: write to another output file, or {remedy} to start over"
            )


def _check_output_path(path: Path) -> None:
    """Refuse an output path that is a folder or another non-file (a device such as /dev/full), or lies under a
    file, before any lock."""
    if path.is_dir():
        raise ValueError(f"the output {path} is a folder; name an embeddings file to write, e.g. {path / 'embeddings.h5'}")
    if path.exists() and not path.is_file():
        raise ValueError(
            f"the output {path} is not a regular file (a device or a pipe?); name an embeddings file (.h5) to write"
        )
    # A file where a folder of the path should be: creating the folders would fail with a bare "[Errno 17] File exists".
    folder = next((parent for parent in path.parents if parent.exists()), None)
    if folder is not None and not folder.is_dir():
        raise ValueError(f"the output {path} cannot be written: {folder} is a file, not a folder; choose another output path")


def _same(recorded, current) -> bool:
    """Equal settings values; HDF5 gives sequences back as arrays, JSON as lists."""
    if isinstance(recorded, (np.ndarray, list, tuple)) or isinstance(current, (np.ndarray, list, tuple)):
        try:
            return np.array_equal(np.asarray(recorded), np.asarray(current))
        except (TypeError, ValueError):
            return False
    return bool(recorded == current)


def _shown(value) -> str:
    return repr(value) if type(value) is not object else "(missing)"


def _acquire(path: Path) -> filelock.BaseFileLock:
    """Take ``<path>.lock`` without waiting. The OS drops it when its process dies, so a crash never blocks a rerun."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise OutputInUseError(
            f"{path} is being written by another run (it holds {lock_path}); wait for that run to end, "
            f"or write to another output file"
        ) from None
    return lock


def _read(path: Path, *, with_embeddings: bool) -> tuple[np.ndarray | None, list[str], dict]:
    """``(embeddings or None, files, attributes)`` of an embeddings file, checked."""
    if not path.is_file():
        raise FileNotFoundError(f"no such embeddings file: {path}")
    try:
        with h5py.File(path, "r") as h5:
            attributes = {**LEGACY_SETTINGS, **{key: _plain(value) for key, value in h5.attrs.items()}}
            if attributes.get("format") != FORMAT:
                raise ValueError(f"{path} is not an openshape-ood embeddings file (no format attribute {FORMAT!r})")
            shape = h5["embeddings"].shape
            embeddings = np.asarray(h5["embeddings"][()], dtype=np.float32) if with_embeddings else None
            files = list(h5["files"].asstr()[()])
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable openshape-ood embeddings file: {exc}") from None
    if len(shape) != 2 or shape[0] != len(files):
        raise ValueError(f"{path} is damaged: {shape} embeddings for {len(files)} files")
    return embeddings, files, attributes


def _load_chunk(chunk_path: Path) -> tuple[list[str], np.ndarray]:
    with np.load(chunk_path, allow_pickle=False) as data:
        return data["files"].tolist(), np.asarray(data["embeddings"], dtype=np.float32)


def _plain(value):
    """HDF5 attribute values as plain Python (numpy scalars -> int/float, bytes -> str)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value.item() if isinstance(value, np.generic) else value
