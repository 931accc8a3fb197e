"""Fetching and reading encoder checkpoints: Hub download, integrity checks, safe loading.

Order of operations, for every file: locate (Hub cache or local path) -> check size and
SHA-256 when known -> ``torch.load(weights_only=True)`` -> take the container and strip
the key prefix -> load strictly into the model. Every failure raises
:class:`CheckpointError` naming the file and what to do.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

from ._cache import file_identity
from ._hub import OFFLINE_ADVICE, HubUnavailableError, cached_file, ensure_reachable, file_sha256, hub_file
from ..progress import bar_class
from ._registry import HubSource, LocalSource, ModelEntry

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "CheckpointError",
    "checkpoint_identity",
    "check_checkpoint_obtainable",
    "fetch_checkpoint",
    "file_sha256",
    "load_weights_strict",
    "read_encoder_state_dict",
    "verify_checkpoint",
    "zip_problem",
]

FLAT = "flat"
AUTO_PREFIXES = ("pc_encoder.", "module.")
AUTO_CONTAINERS = ("state_dict", "module")


class CheckpointError(RuntimeError):
    """A checkpoint could not be fetched, verified or loaded."""


def checkpoint_identity(entry: ModelEntry) -> str:
    """What identifies a registered checkpoint's weights: ``sha256:<hex>``, else its local file's path, size and mtime.

    The one definition behind the command line's HDF5 attributes and the benchmark's
    embedding-cache key. A Hub entry always has a SHA-256 (the registry requires one).
    """
    if entry.sha256:
        return f"sha256:{entry.sha256}"
    if isinstance(entry.source, LocalSource):
        return file_identity(entry.source.path)
    raise ValueError(f"registry entry [{entry.name}] has no sha256; add one to identify its weights")


def fetch_checkpoint(
    entry: ModelEntry,
    *,
    cache_dir: str | os.PathLike | None = None,
    revision: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Path of the checkpoint file for ``entry``, downloading it into the Hub cache if needed.

    Hub files go through :func:`openshape_ood.encoders._hub.hub_file`: the Hub cache first
    (``HF_HUB_CACHE``), then one quick check that the Hub answers, so that without network
    (or with ``HF_HUB_OFFLINE``) this fails at once with a
    :class:`CheckpointError` naming the file and what to do.
    ``revision`` overrides the registry's revision (a branch, tag or commit hash).
    ``progress``: the download's bar, labelled with the model, as for
    :func:`openshape_ood.progress.show_progress`.
    """
    source = entry.source
    if isinstance(source, LocalSource):
        return _local_checkpoint(entry, source)
    assert isinstance(source, HubSource)
    try:
        return hub_file(
            source.repo_id,
            source.filename,
            revision=revision or source.revision,
            cache_dir=cache_dir,
            what=f"checkpoint for {entry.name!r}",
            advice=OFFLINE_ADVICE.format(model=entry.name),
            tqdm_class=bar_class(f"{entry.name} checkpoint", progress),
        )
    except HubUnavailableError as exc:
        raise CheckpointError(str(exc)) from None
    except (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError) as exc:
        where = f"{source.repo_id}/{source.filename} (revision {revision or source.revision or 'main'})"
        raise CheckpointError(f"could not download {where} for {entry.name!r}: {exc}") from exc


def check_checkpoint_obtainable(
    entry: ModelEntry, *, cache_dir: str | os.PathLike | None = None, revision: str | None = None
) -> None:
    """Raise :class:`CheckpointError` now when ``entry``'s checkpoint is neither on this machine nor downloadable.

    The same look-ups as :func:`fetch_checkpoint` (the local path, the Hub cache, then
    ``HF_HUB_OFFLINE`` and the one reachability probe) without downloading and without
    torch: a command that will fail for want of the weights says so in a second, before
    importing torch and open_clip (about 6 s on a 2-core machine).
    """
    source = entry.source
    if isinstance(source, LocalSource):
        _local_checkpoint(entry, source)
        return
    revision = revision or source.revision
    if cached_file(source.repo_id, [source.filename], revision=revision, cache_dir=cache_dir) is not None:
        return
    try:
        ensure_reachable(
            f"checkpoint for {entry.name!r}",
            f"{source.repo_id}/{source.filename} (revision {revision or 'main'})",
            OFFLINE_ADVICE.format(model=entry.name),
            cache_dir,
        )
    except HubUnavailableError as exc:
        raise CheckpointError(str(exc)) from None


def _local_checkpoint(entry: ModelEntry, source: LocalSource) -> Path:
    if not source.path.is_file():
        raise CheckpointError(
            f"checkpoint for {entry.name!r} not found at {source.path}; fix the 'path' of [{entry.name}] in the registry"
        )
    return source.path


def verify_checkpoint(path: Path, *, sha256: str | None, size: int | None) -> None:
    """Check size, then SHA-256, of a file before anything unpickles it.

    A ``torch.save`` zip container is then checked against the CRC-32 of each of its members,
    which the container holds anyway (:func:`zip_problem`): with a SHA-256 too, since one
    registered from an already damaged file matches it.
    """
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise CheckpointError(
            f"{path} is {actual_size:,} bytes but {size:,} were expected: the file is truncated or "
            f"a different one. Delete it and download it again."
        )
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise CheckpointError(
                f"{path} has SHA-256 {actual} but the registry expects {sha256}: the file is corrupt "
                f"or a different version. Delete it and download it again, or update the registry "
                f"entry if you replaced the checkpoint on purpose."
            )
    # Also with a matching SHA-256: a registry entry may have been written from an already damaged file.
    if problem := zip_problem(path):
        raise CheckpointError(f"{path} {problem}")


_DAMAGED = ": the file is damaged. Delete it and download or copy it again."


def zip_problem(path: str | os.PathLike) -> str | None:
    """What is wrong with a zip container (``torch.save``'s format) at ``path`` and what to do, or ``None``.

    Every member is read and checked against the CRC-32 stored with it, so a flipped bit in
    the tensor data is caught without a SHA-256 to compare with. Files that are not zip
    containers (safetensors, legacy pickles) give ``None``: they are checked when read.
    """
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    # Nothing is unpickled: zipfile only reads the members to compare their CRC-32.
    except NotImplementedError as exc:  # a compression method this Python's zipfile lacks (deflate64, ...)
        return f"has zip members this Python cannot read ({exc}): save the weights again with torch.save"
    # zlib.error: a damaged deflated member (torch.save stores, other zip writers deflate). The file was
    # just opened by is_zipfile, so an OSError here is a seek past the end of a damaged one, not a permission.
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        return f"is a damaged zip container ({exc}){_DAMAGED}"
    return f"fails the CRC-32 check of its member {bad}{_DAMAGED}" if bad is not None else None


def read_encoder_state_dict(
    path: Path, *, container: str | None = None, prefix: str | None = None
) -> dict[str, torch.Tensor]:
    """Load a checkpoint with ``weights_only=True`` and return the encoder's weights.

    Every value must be a tensor, and every floating-point tensor finite.

    Args:
        path: the checkpoint file.
        container: ``"flat"`` when the weights sit at the top level, or the name of the
            top-level key that holds them; ``None`` detects it (``"state_dict"`` or, as in
            Uni3D's DeepSpeed files, ``"module"`` when the file has such a dict, else flat;
            the other top-level entries are bookkeeping and ignored).
        prefix: keep only keys starting with it, and strip it; ``None`` detects it
            (``"pc_encoder."`` or ``"module."`` when keys carry one, else none).
    """
    import torch  # here, not at the top: fetching and hashing a checkpoint need no torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"could not read {path} as a PyTorch checkpoint of tensors ({type(exc).__name__}: {exc}). "
            f"The file may be truncated, not a checkpoint, or contain arbitrary Python objects, which "
            f"are never unpickled."
        ) from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a dict of tensors")
    if container is None:
        container = next((key for key in AUTO_CONTAINERS if isinstance(checkpoint.get(key), dict)), FLAT)
    if container != FLAT:
        if not isinstance(checkpoint.get(container), dict):
            raise CheckpointError(
                f"{path} has no {container!r} dict; its top-level keys are {sorted(map(str, checkpoint))[:10]}"
            )
        checkpoint = checkpoint[container]
    if prefix is None:
        prefix = next((p for p in AUTO_PREFIXES if any(str(k).startswith(p) for k in checkpoint)), "")
    weights = {k[len(prefix):]: v for k, v in checkpoint.items() if isinstance(k, str) and k.startswith(prefix)}
    if not weights:
        raise CheckpointError(
            f"{path} has no keys starting with {prefix!r}; first keys: {sorted(map(str, checkpoint))[:5]}"
        )
    for key, value in weights.items():  # a damaged file would otherwise embed everything as NaN
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: {prefix}{key} is a {type(value).__name__}, not a tensor")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(
                f"{path}: tensor {prefix}{key} holds NaN or infinite values; the checkpoint is damaged. "
                f"Delete it and download it again."
            )
    return weights


def load_weights_strict(model: nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """``load_state_dict(strict=True)`` with an error that lists what does not match."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong_shape = [
        f"{k}: file {tuple(weights[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in weights and weights[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong_shape:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if items:  # enough to see the pattern of a layout that differs, and how many
                shown = ", ".join(items[:10]) + (f", ... ({len(items)} in all)" if len(items) > 10 else "")
                parts.append(f"{label} keys: {shown}")
        raise CheckpointError(
            f"{path} does not match the encoder architecture ({'; '.join(parts)}). Check that the "
            f"architecture, container and prefix given for this file are right."
        )
    model.load_state_dict(weights, strict=True)
