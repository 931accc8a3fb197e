"""On-disk caches: where they live, how their files are named, what their contents must be.

Shared by the text-embedding cache (:mod:`openshape_ood.text`) and the benchmark's
shape-embedding cache, so that both key files the same way and trust the same things.
Files themselves are written with :func:`openshape_ood.atomic.replacing`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["CACHE_ENV", "default_cache_dir", "embedding_problem", "file_identity", "keyed_cache_path"]

CACHE_ENV = "OPENSHAPE_OOD_CACHE"


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
