"""Fetch a registered model's files into the Hub cache ahead of use, and verify them.

On a machine with network, :func:`download_model` puts a shape encoder's checkpoint (and
with ``text=True`` its paired CLIP text tower) into the Hugging Face Hub cache, where
:meth:`ShapeEncoder.from_pretrained <openshape_ood.ShapeEncoder.from_pretrained>` and
:class:`~openshape_ood.encoders.text.TextEncoder` find them; copying that cache folder to another
machine makes them available there without network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.errors import EntryNotFoundError

from ._checkpoint import fetch_checkpoint, verify_checkpoint
from ._hub import OPEN_CLIP_WEIGHTS, TEXT_ADVICE, cached_file, file_sha256, hub_file, verify_hub_blob
from ..progress import bar_class
from ._registry import ModelEntry, model_entry

__all__ = ["FetchedFile", "download_model"]



@dataclass(frozen=True)
class FetchedFile:
    """One file of a model, on this machine and checked.

    Attributes:
        what: which file (``"vitb32 checkpoint"``, ``"vitb32 text tower (ViT-B-32, openai)"``).
        path: where it is (a Hub cache snapshot path, or a registered local file).
        size: its size in bytes.
        sha256: its SHA-256.
        checked_against: what its SHA-256 was compared with (``"the registry"``, ``"the
            Hub"``), or ``None`` when nothing states the expected hash.
    """

    what: str
    path: Path
    size: int
    sha256: str
    checked_against: str | None


def download_model(
    model: str | ModelEntry,
    *,
    text: bool = False,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> list[FetchedFile]:
    """Download (unless cached) and verify a registered model's checkpoint and, with ``text``, its text tower.

    The checkpoint is checked against the registry's size and SHA-256; a text tower from the
    Hub against the SHA-256 the Hub stores it under (its LFS object id). Progress bars are
    labelled with the model (``progress`` as for :func:`openshape_ood.progress.show_progress`).

    Raises:
        CheckpointError: the checkpoint cannot be had or fails its checks.
        OSError: the text tower cannot be had (:class:`~openshape_ood.encoders._hub.HubUnavailableError`
            without network) or fails its check.
        ValueError: the registry does not say where the text tower comes from.
    """
    entry = model_entry(model)
    path = fetch_checkpoint(entry, cache_dir=cache_dir, progress=progress)
    verify_checkpoint(path, sha256=entry.sha256, size=entry.size)
    files = [
        FetchedFile(
            f"{entry.name} checkpoint",
            path,
            path.stat().st_size,
            entry.sha256 or file_sha256(path),
            "the registry" if entry.sha256 else None,
        )
    ]
    if text:
        files.append(_text_tower(entry, cache_dir, progress))
    return files


def _text_tower(entry: ModelEntry, cache_dir: str | os.PathLike | None, progress: bool | None) -> FetchedFile:
    what = f"{entry.name} text tower ({entry.text_model}, {Path(entry.text_pretrained).name})"
    if entry.text_is_file:
        path = Path(entry.text_pretrained)
        if not path.is_file():
            raise FileNotFoundError(f"{what}: {path} does not exist; fix the 'path' of [{entry.name}.text]")
        return FetchedFile(what, path, path.stat().st_size, file_sha256(path), None)
    if entry.text_hf_repo is None:
        raise ValueError(
            f"the registry does not say which Hub repository holds {what}: add its hf_repo to [{entry.name}.text]"
        )
    path = _first_on_hub(entry.text_hf_repo, what, cache_dir, bar_class(what, progress))
    checked = verify_hub_blob(path)
    return FetchedFile(what, path, path.stat().st_size, checked or file_sha256(path), "the Hub" if checked else None)


def _first_on_hub(repo_id: str, what: str, cache_dir: str | os.PathLike | None, tqdm_class: type) -> Path:
    """The first of open_clip's weight files that ``repo_id`` holds (safetensors first, as open_clip looks)."""
    found = cached_file(repo_id, OPEN_CLIP_WEIGHTS, cache_dir=cache_dir)
    if found is not None:
        return found
    for filename in OPEN_CLIP_WEIGHTS:
        try:
            return hub_file(repo_id, filename, cache_dir=cache_dir, what=what, advice=TEXT_ADVICE, tqdm_class=tqdm_class)
        except EntryNotFoundError:
            continue
    raise FileNotFoundError(f"{repo_id} on the Hub holds none of {', '.join(OPEN_CLIP_WEIGHTS)} for {what}")

