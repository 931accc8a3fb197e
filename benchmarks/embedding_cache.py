"""Disk cache of shape embeddings, so that a benchmark run with other methods encodes nothing.

An entry holds the L2-normalised embeddings ``(n, D)`` float32 of one dataset file (or
group of files) by one shape encoder with one preparation and seed. Its key, stored in
the file and hashed into its name, names everything the embeddings depend on:

- the model: registry name and checkpoint identity (the registry's SHA-256, or path,
  size and modification time for a local entry without one) and embedding width;
- the data: each file's resolved path, and its content fingerprint (:func:`content_fingerprint`);
- the preparation settings and the seed (whatever the caller puts in ``preparation``).

The entry's file name hashes everything but the fingerprints, which are stored in the
entry and compared on every read: a file replaced by other data (even of the same size
and with its old modification time restored, as ``cp -p``, ``rsync -a`` or ``tar -x``
leave it) finds its old entry, sees another fingerprint and is encoded again, with a
one-line note.

Files are safetensors (no pickle), written atomically with a checksum of their tensors; an
entry that cannot be read, was written for another key, fails its checksum or holds anything
but ``n`` finite unit vectors of width ``D`` is ignored with a warning and rebuilt, never
trusted. A cache folder that cannot be written means a warning and no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
from openshape_ood.encoders._cache import default_cache_dir, embedding_problem, keyed_cache_path, read_cache_file, save_tensors
from openshape_ood.encoders._checkpoint import checkpoint_identity
from openshape_ood.encoders._registry import ModelEntry

__all__ = ["cached_embeddings", "content_fingerprint", "default_embedding_cache_dir"]

_KEY = "embeddings"
#: Files up to this size are hashed whole; larger ones by their small datasets and sampled rows.
WHOLE_FILE_BYTES = 64 << 20
#: Rows of each large HDF5 dataset that enter its fingerprint (evenly spaced, first and last included).
SAMPLED_ROWS = 64
_SMALL_DATASET_BYTES = 1 << 20  # datasets up to this size (a release file's labels) are hashed whole


def default_embedding_cache_dir() -> Path:
    """``$OPENSHAPE_OOD_CACHE/embeddings``, or ``~/.cache/openshape_ood/embeddings``."""
    return default_cache_dir() / "embeddings"


def content_fingerprint(path: str | os.PathLike) -> str:
    """A SHA-256 of what a data file holds, cheap enough to compute on every run.

    Files up to :data:`WHOLE_FILE_BYTES` are hashed whole (``sha256:...``). A larger HDF5
    file is hashed by the names, dtypes and shapes of its datasets, every dataset of up to
    1 MiB whole (the ``label`` of a release file) and :data:`SAMPLED_ROWS` evenly spaced
    rows of each larger one (``h5rows:...``); any other large file whole.
    """
    path = Path(path)
    if path.stat().st_size <= WHOLE_FILE_BYTES or not h5py.is_hdf5(path):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return f"sha256:{digest.hexdigest()}"
    digest = hashlib.sha256()
    with h5py.File(path, "r") as handle:
        datasets: list[tuple[str, h5py.Dataset]] = []
        handle.visititems(lambda name, item: datasets.append((name, item)) if isinstance(item, h5py.Dataset) else None)
        for name, dataset in sorted(datasets, key=lambda pair: pair[0]):
            digest.update(f"{name}:{dataset.dtype.str}:{dataset.shape}\n".encode())
            if dataset.nbytes <= _SMALL_DATASET_BYTES or not dataset.shape:
                values = dataset[()]
            else:
                rows = np.unique(np.linspace(0, dataset.shape[0] - 1, SAMPLED_ROWS).round().astype(np.int64))
                values = dataset[rows]
            digest.update(np.ascontiguousarray(values).tobytes())
    return f"h5rows:{digest.hexdigest()}"


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
    files = [Path(path).expanduser().resolve() for path in files]
    key = {
        "model": entry.name,
        "checkpoint": checkpoint_identity(entry),
        "embed_dim": entry.embed_dim,
        "files": [str(path) for path in files],
        "preparation": dict(preparation),
    }
    path = keyed_cache_path(directory, f"{entry.name}-{label}", key)
    text = json.dumps(key, sort_keys=True)
    fingerprints = json.dumps([content_fingerprint(file) for file in files])
    found = _read(path, text, fingerprints, rows, entry.embed_dim)
    if found is not None:
        return found, True
    embeddings = np.ascontiguousarray(compute(), dtype=np.float32)
    problem = embedding_problem(embeddings, (rows, entry.embed_dim))
    if problem:
        raise ValueError(f"the encoder returned embeddings that {problem}; they are not cached")
    save_tensors(path, {_KEY: embeddings}, {"key": text, "fingerprints": fingerprints}, "embedding cache")
    return embeddings, False


def _read(path: Path, key: str, fingerprints: str, rows: int, dim: int) -> np.ndarray | None:
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
        inputs={"fingerprints": fingerprints},
    )
    return None if tensors is None else tensors[_KEY]
