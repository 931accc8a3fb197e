"""Download the parts of the 3DOS release that the SR benchmark reads.

    python -m benchmarks.download --data-root 3D_OS_release_data [--only scanobjectnn|modelnet] [-q]

Each release tarball (2.6 GB and 7.6 GB) is fetched into ``<data root>/<name>.tar.part``,
resumed with an HTTP Range request after an interruption (within one run, and by
running the command again), renamed to ``<name>.tar`` once its size matches, and then
only the HDF5 files listed in :data:`RELEASES` are extracted, each through a temporary
file in its final folder and an atomic rename: a file at its final path is always
complete. The tarball is deleted once every file is in place; a finished release is
skipped without any network access.

The release table below is the one place that knows URLs and sizes; tests (or a mirror)
pass their own table through the ``releases`` argument of :func:`download`.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import posixpath
import re
import shutil
import socket
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from benchmarks.data import DEFAULT_DATA_ROOT, MODELNET_FILES, SCANOBJECTNN_FILES
from benchmarks.options import add_progress_options, error, progress_wanted
from openshape_ood.atomic import replacing

__all__ = ["RELEASES", "DownloadError", "Release", "download", "extract_members", "fetch", "main"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Release:
    """One release tarball.

    Attributes:
        url: where to fetch it (HTTP or HTTPS; redirects are followed).
        size: its exact size in bytes.
        archive: file name it is saved under in the data root while it is needed.
        members: the paths, inside the archive and relative to the data root alike, of
            the files the benchmark reads; nothing else is extracted.
    """

    url: str
    size: int
    archive: str
    members: tuple[str, ...]


RELEASES: Mapping[str, Release] = {
    "scanobjectnn": Release(
        url="https://www.dropbox.com/s/gu0p3rych1k26b7/ScanObjectNN.tar?dl=1",
        size=2_623_662_080,
        archive="ScanObjectNN.tar",
        members=SCANOBJECTNN_FILES,
    ),
    "modelnet": Release(
        url="https://www.dropbox.com/s/c2x3h59nxprjs21/modelnet40_normal_resampled.tar?dl=1",
        size=7_599_001_600,
        archive="modelnet40_normal_resampled.tar",
        members=MODELNET_FILES,
    ),
}

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download or extraction that cannot succeed by simply trying again."""


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _content_range(header: str | None) -> tuple[int, int | None]:
    """Start offset and total size from ``Content-Range: bytes START-END/TOTAL``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", header or "")
    if match is None:
        raise DownloadError(f"unreadable Content-Range header {header!r} in a 206 response")
    total = match.group(2)
    return int(match.group(1)), None if total == "*" else int(total)


def _transfer(url: str, part: Path, size: int, progress: bool, timeout: float) -> None:
    """One request: append to ``part`` from its current size, or rewrite it from zero."""
    have = _size(part)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status == 206 and have:
            start, total = _content_range(response.headers.get("Content-Range"))
            if start != have:
                raise DownloadError(f"{url} answered a request for byte {have} from byte {start}")
            mode = "ab"
        elif response.status == 200:
            # Fresh start, or a server that ignores Range and sends everything again.
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            mode, have = "wb", 0
        else:
            raise DownloadError(f"{url} answered with unexpected HTTP status {response.status}")
        if total is not None and total != size:
            raise DownloadError(
                f"{url} serves {total} bytes but the release table expects {size}; the release "
                "changed or the URL is wrong: check it, or pass an updated table to download()"
            )
        with open(part, mode) as out, tqdm(
            total=size, initial=have, unit="B", unit_scale=True, desc=part.name, disable=not progress
        ) as bar:
            while chunk := response.read(CHUNK):
                if have + len(chunk) > size:
                    out.close()
                    part.unlink()
                    raise DownloadError(
                        f"{url} sent more than the {size} bytes the release table expects; "
                        "the release changed or the URL is wrong"
                    )
                out.write(chunk)
                have += len(chunk)
                bar.update(len(chunk))


def fetch(
    url: str,
    destination: str | Path,
    size: int,
    *,
    progress: bool = True,
    retries: int = 5,
    retry_wait: float = 5.0,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``destination``, resumably, and check that it has ``size`` bytes.

    Bytes go to ``destination + ".part"``, which is renamed to ``destination`` only when
    complete. An interrupted transfer is resumed with a Range request, up to ``retries``
    times here (waiting ``retry_wait`` seconds, doubling) and again on a later call; a
    server that ignores Range and answers 200 is read from the start instead.

    Raises:
        DownloadError: the server reports or sends a size other than ``size``, answers
            with a client error, its host name cannot be resolved (not retried: no
            network, or a wrong URL), the disk is too full, or the retries ran out (the
            partial file is kept so that the next call resumes).
    """
    destination = Path(destination)
    part = destination.with_name(destination.name + ".part")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if _size(part) > size:
        part.unlink()  # longer than the release: not a prefix of it
    free = shutil.disk_usage(destination.parent).free
    if free < size - _size(part):
        raise DownloadError(
            f"{destination.parent} has {free} bytes free but {size - _size(part)} more are "
            "needed; free some space or choose another data root"
        )
    attempts = 0
    while _size(part) != size and attempts <= retries:
        if attempts:
            time.sleep(retry_wait * 2 ** (attempts - 1))
        attempts += 1
        try:
            _transfer(url, part, size, progress, timeout)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 416:  # the part file is not a prefix the server can extend
                part.unlink(missing_ok=True)
            elif 400 <= error.code < 500 and error.code not in (408, 429):
                raise DownloadError(f"{url} answered HTTP {error.code} {error.reason}") from error
            logger.warning("%s: HTTP %s (attempt %d of %d)", url, error.code, attempts, retries + 1)
        except urllib.error.URLError as error:
            if isinstance(error.reason, socket.gaierror):  # waiting does not bring a network back
                raise DownloadError(
                    f"cannot resolve the host of {url} ({error.reason.strerror}); check the network "
                    "connection (or proxy settings) and run the same command again"
                ) from error
            logger.warning("%s: %s (attempt %d of %d)", url, error.reason, attempts, retries + 1)
        except (OSError, http.client.HTTPException) as error:
            logger.warning("%s: transfer interrupted at %d bytes (%r; attempt %d of %d)",
                           url, _size(part), error, attempts, retries + 1)  # fmt: skip
    if _size(part) != size:
        kept = f"{part} ({_size(part)} bytes) is kept: " if part.exists() else ""
        raise DownloadError(
            f"downloading {url} stopped at {_size(part)} of {size} bytes after {attempts} "
            f"attempt(s); {kept}run the same command again to resume"
        )
    os.replace(part, destination)
    return destination


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, progress: bool) -> None:
    with replacing(target) as temporary, tar.extractfile(member) as source, open(temporary, "wb") as out, tqdm(
        total=member.size, unit="B", unit_scale=True, desc=target.name, disable=not progress
    ) as bar:
        while chunk := source.read(CHUNK):
            out.write(chunk)
            bar.update(len(chunk))


def extract_members(
    archive: str | Path, members: Sequence[str], data_root: str | Path, *, progress: bool = True
) -> list[Path]:
    """Extract the regular files ``members`` of ``archive`` to the same paths under ``data_root``.

    Archive names are only compared with ``members`` (after dropping a leading ``./``);
    output paths are built from ``members`` alone, so no entry of the archive can write
    outside ``data_root`` (no path traversal, links or devices). Members already present
    are left alone; each new one appears at its path only when complete.

    Raises:
        DownloadError: when the archive is damaged, or a member is missing from it or is
            not a regular file.
    """
    archive, data_root = Path(archive), Path(data_root)
    wanted = {name for name in members if not (data_root / name).is_file()}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if not wanted:
                    break
                name = posixpath.normpath(member.name)
                if name not in wanted:
                    continue
                if not member.isreg():
                    raise DownloadError(f"{archive}: {member.name} is not a regular file")
                _extract_one(tar, member, data_root / name, progress)
                wanted.discard(name)
    except tarfile.TarError as error:
        raise DownloadError(
            f"{archive} is damaged ({error}); delete it and run the download again"
        ) from error
    if wanted:
        raise DownloadError(
            f"{archive} lacks {', '.join(sorted(wanted))}; it is not the 3DOS release this "
            "code expects (delete it and download again, or check the release table)"
        )
    return [data_root / name for name in members]


def download(
    data_root: str | Path = DEFAULT_DATA_ROOT,
    only: str | None = None,
    *,
    releases: Mapping[str, Release] | None = None,
    progress: bool = True,
    retries: int = 5,
    retry_wait: float = 5.0,
    timeout: float = 60.0,
) -> list[Path]:
    """Make the benchmark's files of every release (or of ``only``) present under ``data_root``.

    Args:
        data_root: the 3DOS data root, created if needed.
        only: a key of ``releases`` (``"scanobjectnn"`` or ``"modelnet"``), or ``None`` for all.
        releases: the release table; :data:`RELEASES` when ``None``.
        progress: show tqdm progress bars.
        retries, retry_wait, timeout: see :func:`fetch`.

    Returns:
        Paths of the extracted benchmark files.

    Raises:
        ValueError: for an unknown ``only``.
        DownloadError: see :func:`fetch` and :func:`extract_members`.
    """
    releases = RELEASES if releases is None else releases
    if only is not None and only not in releases:
        raise ValueError(f"only must be one of {', '.join(map(repr, releases))}, got {only!r}")
    data_root = Path(data_root)
    paths: list[Path] = []
    for name in [only] if only is not None else list(releases):
        release = releases[name]
        targets = [data_root / member for member in release.members]
        if all(target.is_file() for target in targets):
            logger.info("%s: already present in %s", name, data_root)
        else:
            archive = data_root / release.archive
            if _size(archive) != release.size:
                fetch(
                    release.url, archive, release.size, progress=progress, retries=retries,
                    retry_wait=retry_wait, timeout=timeout,
                )  # fmt: skip
            extract_members(archive, release.members, data_root, progress=progress)
            archive.unlink()
            logger.info("%s: extracted %d files into %s", name, len(targets), data_root)
        paths.extend(targets)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.download",
        description="Download the ScanObjectNN and ModelNet40 files of the 3DOS release "
        "that the SR1/SR2 benchmark reads.",
    )
    parser.add_argument(
        "--data-root", type=Path, default=DEFAULT_DATA_ROOT,
        help=f"folder to fill (default: ./{DEFAULT_DATA_ROOT})",
    )  # fmt: skip
    parser.add_argument("--only", choices=sorted(RELEASES), help="fetch one release only")
    add_progress_options(parser)
    args = parser.parse_args(argv)
    progress = progress_wanted(args)
    logging.basicConfig(level=logging.INFO if progress else logging.WARNING, format=f"{parser.prog}: %(message)s")
    try:
        paths = download(args.data_root, args.only, progress=progress)
    except KeyboardInterrupt:
        error(parser, "interrupted; run the same command again to resume")
        return 130
    except (DownloadError, OSError) as failure:
        error(parser, failure)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
