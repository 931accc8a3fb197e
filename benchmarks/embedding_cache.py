"""Disk cache of shape embeddings, so that a benchmark run with other methods encodes nothing.

An entry holds the L2-normalised embeddings ``(n, D)`` float32 of one dataset file (or
group of files) by one shape encoder with one preparation and seed. Its key, stored in
the file and hashed into its name, names everything the embeddings depend on:

- the model: registry name and checkpoint identity (the registry's SHA-256, or path,
  size and modification time for a local entry without one) and embedding width;
- the data: each file's resolved path, size and modification time;
- the preparation settings and the seed (whatever the caller puts in ``preparation``).

Files are safetensors (no pickle), written atomically; an entry that cannot be read, was
written for another key or holds anything but ``n`` finite unit vectors of width ``D`` is
ignored with a warning and rebuilt, never trusted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import save

from openshape_ood.atomic import write_bytes
from openshape_ood.cache import default_cache_dir, embedding_problem, file_identity, keyed_cache_path, read_cache_file
from openshape_ood.checkpoint import checkpoint_identity
from openshape_ood.registry import ModelEntry

__all__ = ["cached_embeddings", "default_embedding_cache_dir"]

_KEY = "embeddings"


def default_embedding_cache_dir() -> Path:
    """``$OPENSHAPE_OOD_CACHE/embeddings``, or ``~/.cache/openshape_ood/embeddings``."""
    return default_cache_dir() / "embeddings"


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
    write_bytes(path, save({_KEY: embeddings}, metadata={"key": text}))
    return embeddings, False


def _read(path: Path, key: str, rows: int, dim: int) -> np.ndarray | None:
    def check(name: str, tensor: np.ndarray) -> str | None:
        problem = embedding_problem(tensor, (rows, dim)) if name == _KEY else None
        return problem and f"it holds embeddings that {problem}"

    tensors = read_cache_file(
        path,
        what="embedding cache",
        metadata={"key": key},
        mismatch="it was written for another model, data file or preparation",
        check=check,
        required=(_KEY,),
    )
    return None if tensors is None else tensors[_KEY]
