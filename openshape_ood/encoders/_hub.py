"""Files from the Hugging Face Hub: the local cache first, then one quick check that the Hub answers.

``huggingface_hub`` retries an unreachable Hub for tens of seconds, logging each attempt,
before it gives up (and checks the Hub for a newer revision even when the file is cached).
Every download of this package goes through :func:`hub_file` instead, which

1. returns the file from the Hub cache when it is there (no network at all);
2. fails at once with :class:`HubUnavailableError` when ``HF_HUB_OFFLINE`` is set;
3. checks, once per process and within :data:`PROBE_TIMEOUT` seconds, that the Hub's host
   (or the proxy in front of it) accepts a connection, and fails with one line naming the
   file and what to do when it does not;
4. only then downloads with :func:`huggingface_hub.hf_hub_download`.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from functools import lru_cache
from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache

from ._registry import HubSource, ModelEntry

__all__ = [
    "ModelStatus",
    "OFFLINE_ADVICE",
    "OPEN_CLIP_WEIGHTS",
    "PROBE_TIMEOUT",
    "TEXT_ADVICE",
    "HubUnavailableError",
    "cached_file",
    "ensure_reachable",
    "hub_file",
    "hub_reachable",
    "model_status",
]

#: Seconds the reachability check may take, name resolution included.
PROBE_TIMEOUT = 3.0
#: What to do when a model's file is neither cached nor downloadable (``{model}``: its registry name).
OFFLINE_ADVICE = (
    "Connect to the network (and unset HF_HUB_OFFLINE) to download it once; or run 'openshape-ood download "
    "{model}' on a machine with network and copy its Hub cache here (docs/offline.md: 'Offline machines'); or register "
    "a local copy in two lines of a user registry: [{model}] extends = \"{model}\", path = \"/your/copy.pt\"."
)

#: The same for an open_clip text tower.
TEXT_ADVICE = (
    "Connect to the network (and unset HF_HUB_OFFLINE) to download it once; or run 'openshape-ood download "
    "MODEL --text' (MODEL: the shape encoder it is paired with, see 'openshape-ood models') on a machine with "
    "network and copy its Hub cache here (docs/offline.md: 'Offline machines')."
)
#: The weight files open_clip fetches from a pretrained tag's Hub repository, safetensors first.
OPEN_CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


# The Hub cache names a large (LFS) file's blob by its SHA-256, a small git file's by a SHA-1.
_SHA256 = re.compile(r"[0-9a-f]{64}")


class HubUnavailableError(OSError):
    """A file is not in the local Hub cache and the Hub cannot be reached (or ``HF_HUB_OFFLINE`` is set).

    An ``OSError``: the command line prints its message as one line.
    """


def cached_file(
    repo_id: str, filenames: Sequence[str], *, revision: str | None = None, cache_dir: str | os.PathLike | None = None
) -> Path | None:
    """The first of ``filenames`` present in the local Hub cache for ``repo_id`` at ``revision``, or ``None``."""
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
        if isinstance(found, str):
            return Path(found)
    return None


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def verify_hub_blob(path: str | os.PathLike) -> str | None:
    """The SHA-256 of a file of the Hub cache, checked against the one the Hub stores it under.

    ``None`` when there is none to check against: a small file (named by a git SHA-1) or a
    file outside the cache.

    Raises:
        OSError: the file's content differs from its SHA-256: it is corrupt (says what to delete).
    """
    blob = Path(os.path.realpath(path))
    if not _SHA256.fullmatch(blob.name):
        return None
    actual = file_sha256(blob)
    if actual != blob.name:
        raise OSError(
            f"{path} has SHA-256 {actual} but the Hub stores it as {blob.name}: the file is corrupt. "
            f"Delete {blob} and download it again."
        )
    return actual


def hub_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    what: str,
    advice: str,
    tqdm_class: type | None = None,
) -> Path:
    """Path of ``repo_id/filename`` in the Hub cache, downloading it only when it is not there.

    Args:
        repo_id, filename, revision: the file on the Hub (``None`` revision: ``main``).
        cache_dir: the Hub cache; ``None`` for huggingface_hub's (``HF_HUB_CACHE``).
        what: what the file is, for the error (``"checkpoint for 'vitb32'"``).
        advice: what to do when it cannot be had, for the error.
        tqdm_class: progress bar class for the download (huggingface_hub's own when ``None``, or
            when huggingface_hub's bars are disabled).

    Raises:
        HubUnavailableError: not cached, and ``HF_HUB_OFFLINE`` is set or the Hub does not answer.
    """
    found = cached_file(repo_id, [filename], revision=revision, cache_dir=cache_dir)
    if found is not None:
        return found
    ensure_reachable(what, f"{repo_id}/{filename} (revision {revision or 'main'})", advice, cache_dir)
    from huggingface_hub import hf_hub_download  # imported here: the cached path needs none of it
    from huggingface_hub.utils import are_progress_bars_disabled

    # Bars turned off for huggingface_hub (HF_HUB_DISABLE_PROGRESS_BARS, the commands' --quiet) stay off.
    extra = {"tqdm_class": tqdm_class} if tqdm_class is not None and not are_progress_bars_disabled() else {}
    return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir, **extra))


def ensure_reachable(what: str, where: str, advice: str, cache_dir: str | os.PathLike | None = None) -> None:
    """Raise :class:`HubUnavailableError` (one line: ``what``, ``where`` on the Hub, why, ``advice``)
    unless a download can be tried: ``HF_HUB_OFFLINE`` is unset and the Hub answers.
    """
    if constants.HF_HUB_OFFLINE:
        reason = "HF_HUB_OFFLINE is set"
    elif not hub_reachable():
        reason = f"the Hugging Face Hub ({constants.ENDPOINT}) cannot be reached"
    else:
        return
    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    raise HubUnavailableError(f"{what} is not in the local Hub cache {cache}: {where}; {reason}. {advice}")


def hub_reachable() -> bool:
    """Whether the Hub's host, or the proxy in front of it, accepts a TCP connection.

    Checked once per process (and per endpoint): later calls answer at once.
    """
    return _reachable(constants.ENDPOINT)


@lru_cache(maxsize=None)
def _reachable(endpoint: str) -> bool:
    url = urllib.parse.urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_url.hostname or "", proxy_url.port or 80
    return _within(PROBE_TIMEOUT, lambda: socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close())


def _within(seconds: float, attempt: Callable[[], None]) -> bool:
    """Whether ``attempt`` returns without an ``OSError`` within ``seconds``.

    Run in a daemon thread, because name resolution ignores socket timeouts.
    """
    succeeded: list[bool] = []

    def run() -> None:
        try:
            attempt()
            succeeded.append(True)
        except OSError:
            succeeded.append(False)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return bool(succeeded and succeeded[0])


@dataclass(frozen=True)
class ModelStatus:
    """A registered shape encoder and whether its weights are on this machine (what ``openshape-ood models`` lists).

    Attributes:
        name, embed_dim, up_axis: the registry entry's name, embedding width and gravity axis.
        text_model, text_pretrained: the paired CLIP text tower.
        source: where the checkpoint comes from (``hf://repo/file`` or a local path).
        size, text_size: bytes to download of the checkpoint and of the text tower's weights
            (a local text tower: its file's size); ``None`` where the registry does not say.
        cached: whether the checkpoint is in the Hub cache or at its local path.
        text_cached: whether the text tower's weights are; ``None`` when the registry does not
            say where they come from.
        family: the encoder family (``"openshape-pointbert"``, ``"uni3d"``).
        licences: ``{"code", "code_source", "weights", "weights_source"}`` as the registry
            states them (``None`` where it does not).
    """

    name: str
    embed_dim: int
    up_axis: str
    text_model: str
    text_pretrained: str
    source: str
    size: int | None
    text_size: int | None
    cached: bool
    text_cached: bool | None
    family: str = "openshape-pointbert"
    licences: dict | None = None

    def to_dict(self) -> dict:
        """The fields as plain JSON-ready values."""
        return asdict(self)


def model_status(entry: ModelEntry) -> ModelStatus:
    """What of ``entry`` is on this machine; looks at the Hub cache and local files only, never the network."""
    source = entry.source
    if isinstance(source, HubSource):
        where = f"hf://{source.repo_id}/{source.filename}"
        cached = cached_file(source.repo_id, (source.filename,), revision=source.revision) is not None
    else:
        where, cached = str(source.path), source.path.is_file()
    text_size = entry.text_size
    if entry.text_is_file:
        text_file = Path(entry.text_pretrained)
        text_cached = text_file.is_file()
        text_size = text_file.stat().st_size if text_cached else None
    elif entry.text_hf_repo is None:
        text_cached = None
    else:
        text_cached = cached_file(entry.text_hf_repo, OPEN_CLIP_WEIGHTS) is not None
    return ModelStatus(
        entry.name, entry.embed_dim, entry.model_up_axis, entry.text_model, entry.text_pretrained, where,
        entry.size, text_size, cached, text_cached, entry.family, asdict(entry.licences),
    )  # fmt: skip
