"""Disk cache of shape embeddings, so that a benchmark run with other methods encodes nothing.

An entry holds the L2-normalised embeddings ``(n, D)`` float32 of one dataset file (or
group of files) by one shape encoder with one preparation and seed. Its key, stored in
the file and hashed into its name, names everything the embeddings depend on:

- the model: registry name and checkpoint identity (the registry's SHA-256, or path,
  size and modification time for a local entry without one) and embedding width;
- the data: each file's resolved path, size and modification time;
- the preparation settings and the seed (whatever the caller puts in ``preparation``).

Files are safetensors (no pickle), written atomically with a checksum of their tensors; an
entry that cannot be read, was written for another key, fails its checksum or holds anything
but ``n`` finite unit vectors of width ``D`` is ignored with a warning and rebuilt, never
trusted. A cache folder that cannot be written means a warning and no cache.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open

from openshape_ood.cache import (
    checksum_problem,
    default_cache_dir,
    embedding_problem,
    file_identity,
    keyed_cache_path,
    save_tensors,
)
from openshape_ood.registry import LocalSource, ModelEntry

__all__ = ["cached_embeddings", "checkpoint_identity", "default_embedding_cache_dir"]

_KEY = "embeddings"


def default_embedding_cache_dir() -> Path:
    """``$OPENSHAPE_OOD_CACHE/embeddings``, or ``~/.cache/openshape_ood/embeddings``."""
    return default_cache_dir() / "embeddings"


def checkpoint_identity(entry: ModelEntry) -> str:
    """What identifies a registered checkpoint's weights: its SHA-256, else its local file's path, size and mtime."""
    if entry.sha256:
        return f"sha256:{entry.sha256}"
    if isinstance(entry.source, LocalSource):
        return file_identity(entry.source.path)
    raise ValueError(f"registry entry [{entry.name}] has no sha256; add one so that its embeddings can be cached")


def cached_embeddings(
    directory: str | os.PathLike,
    entry: ModelEntry,
    label: str,
    files: Sequence[str | os.PathLike],
    preparation: Mapping[str, object],
    rows: int,
    compute: Callable[[], np.ndarray],
) -> tuple[np.ndarray, bool]:
    """The embeddings of ``files`` by ``entry``'s encoder: from the cache, or ``compute()`` and stored.

    Args:
        directory: cache folder.
        entry: the shape encoder's registry entry.
        label: a readable part of the file name, e.g. ``"scanobjectnn"``.
        files: the data files the embeddings are computed from.
        preparation: every setting the embeddings depend on besides model and files
            (points, up axis, seed, ...); JSON-serialisable.
        rows: number of embeddings expected.
        compute: returns the ``(rows, entry.embed_dim)`` L2-normalised embeddings on a miss.

    Returns:
        ``(embeddings float32 (rows, D), hit)``: ``hit`` is True when nothing was computed.
    """
    key = {
        "model": entry.name,
        "checkpoint": checkpoint_identity(entry),
        "embed_dim": entry.embed_dim,
        "files": [file_identity(path) for path in files],
        "preparation": dict(preparation),
    }
    text = json.dumps(key, sort_keys=True)
    path = keyed_cache_path(directory, f"{entry.name}-{label}", key)
    found = _read(path, text, rows, entry.embed_dim)
    if found is not None:
        return found, True
    embeddings = np.ascontiguousarray(compute(), dtype=np.float32)
    problem = embedding_problem(embeddings, (rows, entry.embed_dim))
    if problem:
        raise ValueError(f"the encoder returned embeddings that {problem}; they are not cached")
    save_tensors(path, {_KEY: embeddings}, {"key": text}, "embedding cache")
    return embeddings, False


def _read(path: Path, key: str, rows: int, dim: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            embeddings = handle.get_tensor(_KEY) if _KEY in handle.keys() else None  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as error:
        return _reject(path, f"unreadable: {error}")
    if metadata.get("key") != key:
        return _reject(path, "it was written for another model, data file or preparation")
    if embeddings is None:
        return _reject(path, f"it holds no {_KEY!r} tensor")
    problem = embedding_problem(embeddings, (rows, dim))
    if problem:
        return _reject(path, f"it holds embeddings that {problem}")
    checksum = checksum_problem({_KEY: embeddings}, metadata)  # a flipped sign passes the checks above
    return _reject(path, checksum) if checksum else embeddings


def _reject(path: Path, reason: str) -> None:
    warnings.warn(f"embedding cache {path} cannot be trusted ({reason}); rebuilding it", RuntimeWarning, stacklevel=3)
