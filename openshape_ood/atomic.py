"""Writing files so that a reader never sees a half-written one.

Every cache and output file of the library and the benchmarks goes through
:func:`replacing`: the content is written to a temporary file in the same folder, synced,
and renamed over the target with ``os.replace`` (atomic on POSIX and Windows). An
interrupted write leaves the previous file, or none, never a truncated one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "write_bytes"]


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block succeeds.

    The folder is created if needed. On an exception (or interruption) the temporary file
    is removed and ``path`` is left as it was. Writers that append their own suffix to a
    file name (``np.savez``) should be given an open file instead of the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as written:  # on disk before the rename makes it visible
            os.fsync(written.fileno())
        os.chmod(temporary, _new_file_mode())  # mkstemp makes it private; the result is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`replacing`); returns ``path`` as a Path."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def _new_file_mode() -> int:
    """The permissions ``open()`` would give a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
