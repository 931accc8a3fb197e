"""On-disk caches: where they live, how their files are named, what their contents must be.

Shared by the text-embedding cache (:mod:`openshape_ood.encoders.text`) and the benchmark's
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from ..atomic import write_bytes

__all__ = [
    "CACHE_ENV",
    "CHECKSUM_KEY",
    "checksum_problem",
    "default_cache_dir",
    "embedding_problem",
    "file_identity",
    "keyed_cache_path",
    "read_cache_file",
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


def read_cache_file(
    path: str | os.PathLike,
    *,
    what: str,
    metadata: Mapping[str, str],
    mismatch: str,
    check: Callable[[str, np.ndarray], str | None],
    required: Sequence[str] = (),
    inputs: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray] | None:
    """The tensors of a safetensors cache file, or ``None`` when it is absent or cannot be trusted.

    The one reader of every cache. A file is trusted when it reads, its metadata holds
    ``metadata`` (what the content was made from), it has the ``required`` tensors and
    ``check(name, tensor)`` finds no problem in any tensor (it returns what is wrong, or
    ``None``) and the tensors match the checksum :func:`save_tensors` stored with them
    (a flipped sign bit passes every other check). Otherwise a ``RuntimeWarning`` names the file ``what`` and why, and the
    caller rebuilds it. Files are never unpickled.

    Args:
        path: the cache file.
        what: what the file is, for the warning (``"text embedding cache"``).
        metadata: the metadata entries the file must carry.
        mismatch: why a file with other metadata is refused, for the warning.
        check: validates each tensor by name.
        required: tensor names the file must hold.
        inputs: fingerprints of the content the file was computed from (data files): a
            file whose ``metadata`` matches but whose inputs differ is stale, not
            untrusted, and is rebuilt after a one-line ``RuntimeWarning`` saying so.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as handle:
            found = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError) as error:
        return _distrust(path, what, f"unreadable: {error}")
    if {key: found.get(key) for key in metadata} != dict(metadata):
        return _distrust(path, what, mismatch)
    if inputs is not None and {key: found.get(key) for key in inputs} != dict(inputs):
        warnings.warn(
            f"{what} {path.name}: the data files changed since it was written (other content fingerprint); "
            "encoding them again",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    for name in required:
        if name not in tensors:
            return _distrust(path, what, f"it holds no {name!r} tensor")
    for name, tensor in tensors.items():
        problem = check(name, tensor)
        if problem:
            return _distrust(path, what, problem)
    problem = checksum_problem(tensors, found)
    return _distrust(path, what, problem) if problem else tensors


def _distrust(path: Path, what: str, reason: str) -> None:
    warnings.warn(f"{what} {path} cannot be trusted ({reason}); rebuilding it", RuntimeWarning, stacklevel=3)
