"""On-disk caches: where they live, how their files are named, what their contents must be.

Shared by the text-embedding cache (:mod:`openshape_ood.text`) and the benchmark's
shape-embedding cache, so that both key files the same way and trust the same things.
Files are safetensors written atomically by :func:`save_tensors`, with a checksum of their
tensors in the metadata that readers check with :func:`checksum_problem`: a flipped bit
(a sign, say, which keeps a unit vector a unit vector) means a rebuild, not a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors.numpy import save

from .atomic import write_bytes

__all__ = [
    "CACHE_ENV",
    "CHECKSUM_KEY",
    "checksum_problem",
    "default_cache_dir",
    "embedding_problem",
    "file_identity",
    "keyed_cache_path",
    "save_tensors",
    "tensors_checksum",
]

CACHE_ENV = "OPENSHAPE_OOD_CACHE"
#: Metadata key of the tensors' checksum in every cache file.
CHECKSUM_KEY = "tensors_sha256"


def default_cache_dir() -> Path:
    """``$OPENSHAPE_OOD_CACHE`` or ``~/.cache/openshape_ood``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "openshape_ood").expanduser()


def file_identity(path: str | os.PathLike) -> str:
    """``file:<resolved path>:<size>:<mtime ns>``: changes when the file is replaced.

    Used instead of a content hash where hashing (gigabytes of weights or data) would cost
    more than the cache saves.
    """
    path = Path(path).expanduser().resolve()
    stat = path.stat()
    return f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}"


def keyed_cache_path(directory: str | os.PathLike, label: str, key: Mapping) -> Path:
    """``directory/<label>-<digest>.safetensors``, the digest hashing ``key`` (JSON, sorted keys).

    ``label`` only makes the name readable (unsafe characters become ``_``); ``key`` must
    name everything the cached content depends on.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return Path(directory).expanduser() / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', label)}-{digest}.safetensors"


def embedding_problem(embeddings: np.ndarray, shape: tuple[int, ...], tolerance: float = 1e-3) -> str | None:
    """What makes ``embeddings`` unfit to trust as float32 L2-normalised rows of ``shape``, or ``None``."""
    if embeddings.dtype != np.float32 or embeddings.shape != shape:
        return f"are {embeddings.dtype} {list(embeddings.shape)}, not float32 {list(shape)}"
    if not np.isfinite(embeddings).all():
        return "contain NaN or infinite values"
    if np.abs(np.linalg.norm(embeddings, axis=-1) - 1.0).max(initial=0.0) > tolerance:
        return "are not L2-normalised"
    return None


def tensors_checksum(tensors: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(json.dumps([name, array.dtype.str, list(array.shape)]).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def checksum_problem(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> str | None:
    """Why ``tensors`` do not match the checksum stored in ``metadata``, or ``None`` when they do."""
    stored = metadata.get(CHECKSUM_KEY)
    if stored is None:
        return "it stores no checksum of its tensors"
    if stored != tensors_checksum(tensors):
        return "its tensors do not match their checksum"
    return None


def save_tensors(
    path: str | os.PathLike, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str], what: str
) -> bool:
    """Write ``tensors`` as a safetensors cache file, atomically, with their checksum.

    A cache is an optimisation: when ``path`` cannot be written (read-only or full
    folder) this warns, naming ``what`` and the path, and returns ``False``; the caller
    goes on without the cache.
    """
    tensors = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    try:
        write_bytes(path, save(tensors, metadata={**metadata, CHECKSUM_KEY: tensors_checksum(tensors)}))
    except OSError as exc:
        warnings.warn(f"{what} {path} cannot be written ({exc}); going on without it", RuntimeWarning, stacklevel=3)
        return False
    return True
