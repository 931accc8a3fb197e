"""HDF5 files of shape embeddings, written so that an interrupted run can resume.

An embeddings file (what ``openshape-ood embed`` writes) holds:

* ``embeddings``: ``(N, D)`` float32, L2-normalised, one row per file;
* ``files``: ``(N,)`` UTF-8 strings, the file each row came from;
* attributes: the settings the embeddings were made with (see :data:`SETTING_KEYS`) and
  the library version.

:class:`ResumableEmbeddingWriter` never leaves that file half-written. Embeddings are
saved in chunks to a folder beside it, ``<file>.partial/``, each chunk written to a
temporary name and renamed into place, so a killed run loses at most the chunk it was
filling. :meth:`ResumableEmbeddingWriter.finish` gathers the existing file and the chunks
into a temporary file in the same directory, renames it over the final name and removes
the folder. Reopening the same path with the same settings resumes: :attr:`done` lists
what is already embedded. Different settings are refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from .atomic import replacing, write_bytes

__all__ = ["SETTING_KEYS", "ResumableEmbeddingWriter", "read_embeddings"]

FORMAT = "openshape-ood embeddings v1"
#: Settings that must agree for embeddings to share a file: model, checkpoint and preparation.
SETTING_KEYS: tuple[str, ...] = (
    "model",
    "checkpoint",  # openshape_ood.checkpoint.checkpoint_identity
    "embed_dim",
    # openshape_ood.prepare.preparation_settings:
    "up_axis",
    "model_up_axis",
    "seed",
    "num_points",
    "rgb",
    "fps_start",
    "mesh_samples",
)
_SETTINGS_FILE = "settings.json"
_CHUNK_GLOB = "chunk-*.npz"


def read_embeddings(path: str | os.PathLike) -> tuple[np.ndarray, list[str], dict]:
    """Read an embeddings file written by ``openshape-ood embed``.

    Returns:
        ``(embeddings (N, D) float32, files (N,) as written, attributes)``; the attributes
        hold :data:`SETTING_KEYS`, ``format`` and ``openshape_ood_version``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not an embeddings file of this format, or is unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such embeddings file: {path}")
    try:
        with h5py.File(path, "r") as h5:
            attributes = {key: _plain(value) for key, value in h5.attrs.items()}
            if attributes.get("format") != FORMAT:
                raise ValueError(f"{path} is not an openshape-ood embeddings file (no format attribute {FORMAT!r})")
            embeddings = np.asarray(h5["embeddings"][()], dtype=np.float32)
            files = list(h5["files"].asstr()[()])
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable openshape-ood embeddings file: {exc}") from None
    if embeddings.ndim != 2 or len(embeddings) != len(files):
        raise ValueError(f"{path} is damaged: {embeddings.shape} embeddings for {len(files)} files")
    return embeddings, files, attributes


class ResumableEmbeddingWriter:
    """Collects embeddings for an HDF5 file in crash-safe chunks; see the module docstring.

    Args:
        path: the final embeddings file.
        settings: a value for every key of :data:`SETTING_KEYS` (JSON-serialisable);
            ``embed_dim`` is the embedding width.
        version: library version, recorded in the file.
        chunk_size: files per chunk saved to ``<path>.partial/``; what a killed run can lose.

    Raises:
        ValueError: ``path`` or its partial folder holds embeddings made with other
            settings, or ``path`` exists and is not an embeddings file.

    Attributes:
        done: the files already embedded, in the final file or in saved chunks.
    """

    def __init__(self, path: str | os.PathLike, settings: dict, *, version: str, chunk_size: int = 64):
        missing = [key for key in SETTING_KEYS if key not in settings]
        if missing:
            raise ValueError(f"settings lack {missing}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.settings = {key: settings[key] for key in SETTING_KEYS}
        self.version = version
        self.chunk_size = chunk_size
        self._saved: dict[str, np.ndarray] = {}
        if self.path.exists():
            embeddings, files, attributes = read_embeddings(self.path)
            self._check_settings(attributes, self.path, "delete it")
            self._saved.update(zip(files, embeddings))
        self._chunks = self._read_partial()
        self.done: set[str] = set(self._saved) | {name for chunk in self._chunks for name in chunk}
        self._pending_files: list[str] = []
        self._pending: list[np.ndarray] = []

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
        files = np.array(self._pending_files, dtype=str)
        embeddings = np.stack(self._pending)
        self._ensure_partial()
        with replacing(self.partial / f"chunk-{uuid.uuid4().hex}.npz") as temporary, open(temporary, "wb") as stream:
            np.savez(stream, files=files, embeddings=embeddings)
        self._chunks.append(dict(zip(files.tolist(), embeddings)))
        self._pending_files, self._pending = [], []

    def finish(self, order: Sequence[str] = ()) -> int:
        """Flush, write the final file atomically, remove the partial folder; return its row count.

        Rows keep the order of an existing final file; new rows follow in ``order`` (the
        files of this run), then any others from the chunks sorted by name. With nothing
        new to add the existing file is left untouched.
        """
        self.flush()
        new: dict[str, np.ndarray] = {}
        for chunk in self._chunks:
            for name, embedding in chunk.items():
                if name not in self._saved:
                    new.setdefault(name, embedding)
        position = {name: i for i, name in enumerate(order)}
        ranked = sorted(new, key=lambda name: (name not in position, position.get(name, 0), name))
        rows = {**self._saved, **{name: new[name] for name in ranked}}
        if new or not self.path.exists():
            self._write_final(list(rows), np.stack(list(rows.values())) if rows else None)
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self._saved, self._chunks = rows, []
        return len(rows)

    def _write_final(self, files: list[str], embeddings: np.ndarray | None) -> None:
        with replacing(self.path) as temporary, h5py.File(temporary, "w") as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["openshape_ood_version"] = self.version
            for key, value in self.settings.items():
                h5.attrs[key] = value
            if embeddings is None:
                embeddings = np.zeros((0, self.settings["embed_dim"]), dtype=np.float32)
            h5.create_dataset("embeddings", data=embeddings, dtype=np.float32)
            h5.create_dataset("files", data=np.array(files, dtype=object), dtype=h5py.string_dtype("utf-8"))

    def _read_partial(self) -> list[dict[str, np.ndarray]]:
        """The saved chunks of an earlier, interrupted run (none when there was none)."""
        if not self.partial.is_dir():
            return []
        settings_file = self.partial / _SETTINGS_FILE
        chunk_paths = sorted(self.partial.glob(_CHUNK_GLOB))
        if not settings_file.is_file():
            if chunk_paths:
                raise ValueError(f"{self.partial} holds chunks but no {_SETTINGS_FILE}; delete the folder to start over")
            return []
        try:
            recorded = json.loads(settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read {settings_file} ({exc}); delete {self.partial} to start over") from None
        self._check_settings(recorded, self.partial, "delete that folder")
        for leftover in self.partial.glob("*.tmp"):  # chunks a killed run was still writing
            leftover.unlink()
        chunks = []
        for chunk_path in chunk_paths:
            try:
                with np.load(chunk_path, allow_pickle=False) as data:
                    files, embeddings = data["files"].tolist(), np.asarray(data["embeddings"], dtype=np.float32)
            except (OSError, ValueError, KeyError) as exc:
                warnings.warn(f"ignoring unreadable chunk {chunk_path} ({exc}); its files are embedded again", stacklevel=3)
                continue
            if embeddings.shape != (len(files), self.settings["embed_dim"]):
                warnings.warn(f"ignoring chunk {chunk_path} with embeddings of shape {embeddings.shape}", stacklevel=3)
                continue
            chunks.append(dict(zip(files, embeddings)))
        return chunks

    def _ensure_partial(self) -> None:
        settings_file = self.partial / _SETTINGS_FILE
        if settings_file.is_file():
            return
        write_bytes(settings_file, json.dumps(self.settings).encode())

    def _check_settings(self, recorded: dict, where: Path, remedy: str) -> None:
        differences = [
            f"{key}={recorded.get(key)!r} there, {value!r} now"
            for key, value in self.settings.items()
            if recorded.get(key) != value
        ]
        if differences:
            raise ValueError(
                f"{where} holds embeddings made with other settings ({'; '.join(differences)}); mixing them "
                f"would make the file inconsistent: write to another output file, or {remedy} to start over"
            )


def _plain(value):
    """HDF5 attribute values as plain Python (numpy scalars -> int/float, bytes -> str)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value.item() if isinstance(value, np.generic) else value


