"""Embedding a corpus of shape files, in memory or into a resumable HDF5 file.

:func:`embed_files` returns the embeddings of a list of files; :func:`embed_to_file`
writes them to an embeddings file (see :mod:`openshape_ood.corpus.embedding_file`) that a rerun
completes, with the same semantics as ``openshape-ood embed``. Both read, sample and
prepare files in ``num_workers`` loader processes while the encoder runs, and report a
file that cannot be read or prepared through ``on_error`` instead of stopping.

Under ``torchrun`` (once ``torch.distributed`` is initialised) :func:`embed_to_file`
splits the files that are not yet embedded between the ranks, each embedding its share
on its own device and saving its own chunks; rank 0 holds the output's lock and writes
the one output file once every rank is done. Which rank embedded a file does not change
its embedding, so a run resumes with any number of processes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist

from .. import __version__
from ..encoders._checkpoint import checkpoint_identity
from .dataset import ShapeFileDataset, shape_loader
from ..device import dtype_name, resolve_device
from ..io import expand_stacks, split_item
from .embedding_file import ResumableEmbeddingWriter
from ..encoders.shape import ShapeEncoder
from ..prepare import MESH_SAMPLES, preparation_settings
from ..progress import progress_bar

__all__ = [
    "EmbeddedShapes",
    "EmbedReport",
    "embed_files",
    "embed_to_file",
    "embedding_settings",
    "outside_output",
    "process_group",
    "rank_device",
]

#: ``on_error(name, message)``: called for each file that cannot be embedded.
ErrorHandler = Callable[[str, str], None]
ShapeItems = Sequence[str | os.PathLike] | ShapeFileDataset


class EmbeddedShapes(NamedTuple):
    """What :func:`embed_files` returns.

    Attributes:
        embeddings: ``(N, D)`` float32, L2-normalised, one row per file that loaded.
        files: the names of those rows, in input order.
        failed: ``{name: message}`` of the files that did not load.
    """

    embeddings: np.ndarray
    files: list[str]
    failed: dict[str, str]


class EmbedReport(NamedTuple):
    """What :func:`embed_to_file` did (the same on every rank).

    Attributes:
        rows: rows of the output file.
        added: files embedded by this run (all ranks).
        skipped: files of this run found in the output or its chunks already.
        failed: ``{name: message}`` of the files that did not load (all ranks).
    """

    rows: int
    added: int
    skipped: int
    failed: dict[str, str]


def embedding_settings(
    encoder: ShapeEncoder,
    *,
    up_axis: str = "y",
    seed: int = 0,
    mesh_samples: int = MESH_SAMPLES,
    checkpoint: str | None = None,
) -> dict:
    """The settings recorded in, and checked against, an embeddings file: the one list of them (add a key here).

    ``checkpoint`` defaults to :func:`~openshape_ood.encoders._checkpoint.checkpoint_identity` of the
    encoder's registry entry; pass it (``"sha256:<hex>"`` of the file) for an encoder
    loaded with :meth:`ShapeEncoder.from_checkpoint`.
    """
    if checkpoint is None:
        if encoder.entry is None:
            raise ValueError(
                "the encoder has no registry entry to name its checkpoint; pass checkpoint='sha256:<hex>' "
                "(openshape_ood.encoders._checkpoint.file_sha256(path) of the checkpoint you loaded)"
            )
        checkpoint = checkpoint_identity(encoder.entry)
    return {
        "model": encoder.name or "unregistered",
        "checkpoint": checkpoint,
        "embed_dim": encoder.embed_dim,
        **preparation_settings(
            up_axis=up_axis, model_up_axis=encoder.model_up_axis, seed=seed, num_points=encoder.num_points
        ),
        "mesh_samples": mesh_samples,
        "dtype": dtype_name(encoder.dtype),
    }


def embed_files(
    encoder: ShapeEncoder,
    items: ShapeItems,
    *,
    up_axis: str = "y",
    seed: int = 0,
    mesh_samples: int = MESH_SAMPLES,
    batch_size: int = 16,
    num_workers: int = 0,
    progress: bool | None = False,
    on_error: ErrorHandler | None = None,
) -> EmbeddedShapes:
    """Embed shape files in memory.

    Args:
        encoder: the shape encoder (on the device to run on).
        items: file paths (stacked HDF5/.npy files are expanded into ``file#row``
            items) or a :class:`ShapeFileDataset` made for this encoder.
        up_axis: the gravity axis of the files.
        seed: seeds each file's mesh sampling and resampling: a file's embedding depends
            only on the file and the settings, not on the batch, order or workers.
        mesh_samples: points sampled from each mesh surface.
        batch_size: shapes per forward pass.
        num_workers: loader processes that read and prepare files (0: this process).
        progress: show a progress bar on stderr; ``None``: when stderr is a terminal (or in Jupyter).
        on_error: called with ``(name, message)`` for each file that fails, as it fails.

    Returns:
        :class:`EmbeddedShapes`; a file that fails is listed in ``failed``, not raised.
    """
    dataset = _dataset(encoder, items, up_axis=up_axis, seed=seed, mesh_samples=mesh_samples)
    failed: dict[str, str] = {}
    pairs = list(
        _embeddings(encoder, dataset, batch_size, num_workers, progress, _recorder(failed, on_error), len(dataset))
    )
    embeddings = np.stack([embedding for _, embedding in pairs]) if pairs else np.zeros((0, encoder.embed_dim), np.float32)
    return EmbeddedShapes(embeddings, [name for name, _ in pairs], failed)


def embed_to_file(
    encoder: ShapeEncoder,
    items: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    up_axis: str = "y",
    seed: int = 0,
    mesh_samples: int = MESH_SAMPLES,
    batch_size: int = 16,
    num_workers: int = 0,
    chunk_size: int = 64,
    checkpoint: str | None = None,
    progress: bool | None = False,
    on_error: ErrorHandler | None = None,
) -> EmbedReport:
    """Embed the files not yet in ``out`` and write ``out`` (resumable, one writer at a time).

    Rows of an existing ``out`` are kept; new ones follow in the order of ``items``. An
    interrupted call leaves its progress in ``<out>.partial/``, and calling again with the
    same settings embeds only what is missing, with any number of processes. Settings that
    differ from those ``out`` was made with are refused.

    Under ``torchrun`` (``torch.distributed`` initialised) call it on every rank with the
    same arguments: the files are split between the ranks, each embeds on its
    ``encoder``'s device, and ``out`` (which must be on a filesystem every rank can
    reach) is written by rank 0 once all are done, with the attribute ``world_size``.

    Args:
        encoder, up_axis, seed, mesh_samples, batch_size, num_workers, on_error: as for
            :func:`embed_files`.
        items: file paths (stacked files are expanded into ``file#row`` items); under
            torchrun those of rank 0 count.
        out: the embeddings file.
        chunk_size: files per chunk saved while running: what a kill can lose.
        checkpoint: see :func:`embedding_settings`.
        progress: show a progress bar on stderr (rank 0 only, over its share); ``None``: when stderr is a
            terminal (or in Jupyter).

    Returns:
        :class:`EmbedReport`.

    Raises:
        OutputInUseError: another run is writing ``out``.
        ValueError: no items, or ``out`` holds embeddings made with other settings, or is
            no embeddings file.
    """
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if _distributed() else (0, 1)
    settings = embedding_settings(
        encoder, up_axis=up_axis, seed=seed, mesh_samples=mesh_samples, checkpoint=checkpoint
    )
    names = expand_stacks(items) if rank == 0 else None
    writer = None
    try:
        if rank == 0:
            # Rank 0 alone reads what is done, so every rank gets the same list to split.
            try:
                if not names:
                    raise ValueError("no shape files to embed")
                writer = ResumableEmbeddingWriter(out, settings, version=__version__, chunk_size=chunk_size)
                plan = (names, [name for name in names if name not in writer.done], None)
            except Exception as exc:  # handed to the other ranks, then raised everywhere
                plan = (None, None, exc)
        names, todo, error = _from_rank0(plan if rank == 0 else None)
        if error is not None:
            raise error
        if rank != 0:
            writer = ResumableEmbeddingWriter(
                out, settings, version=__version__, chunk_size=chunk_size, primary=False
            )
        failed: dict[str, str] = {}
        share = todo[rank::world_size]
        dataset = _dataset(encoder, share, up_axis=up_axis, seed=seed, mesh_samples=mesh_samples)
        added = 0
        try:
            shown = progress if rank == 0 else False
            stream = _embeddings(encoder, dataset, batch_size, num_workers, shown, _recorder(failed, on_error), len(share))
            for name, embedding in stream:
                writer.add(name, embedding)
                added += 1
        finally:  # keep what was embedded before an interruption or error, for the next run
            writer.flush()
        added, failed = _gather_counts(added, failed)
        result = None
        if rank == 0:
            try:
                rows = writer.finish(order=names, world_size=world_size)
                missing = [name for name in todo if name not in failed and name not in writer.done]
                if missing:
                    raise OSError(
                        f"{len(missing)} embedded files (e.g. {missing[0]}) never reached {writer.partial}: "
                        f"with several machines, the output must be on a filesystem all of them share"
                    )
                result = (rows, None)
            except Exception as exc:
                result = (None, exc)
        rows, error = _from_rank0(result)
        if error is not None:
            raise error
        return EmbedReport(rows, added, len(names) - len(todo), failed)
    finally:
        if writer is not None:
            writer.close()


def _dataset(encoder: ShapeEncoder, items: ShapeItems, *, up_axis: str, seed: int, mesh_samples: int) -> ShapeFileDataset:
    if isinstance(items, ShapeFileDataset):
        if (items.num_points, items.model_up_axis) != (encoder.num_points, encoder.model_up_axis):
            raise ValueError(
                f"the dataset prepares {items.num_points} points with up axis {items.model_up_axis!r}, "
                f"the encoder takes {encoder.num_points} with {encoder.model_up_axis!r}; make the dataset for this encoder"
            )
        return items
    return ShapeFileDataset(
        expand_stacks(items),
        num_points=encoder.num_points,
        up_axis=up_axis,
        model_up_axis=encoder.model_up_axis,
        seed=seed,
        mesh_samples=mesh_samples,
    )


def _embeddings(
    encoder: ShapeEncoder,
    dataset: ShapeFileDataset,
    batch_size: int,
    num_workers: int,
    progress: bool | None,
    on_error: ErrorHandler,
    total: int,
) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, embedding (D,))`` for each item that loads, in dataset order; failures go to ``on_error``."""
    on_gpu = encoder.device.type == "cuda"
    loader = shape_loader(dataset, batch_size=batch_size, num_workers=num_workers, pin_memory=on_gpu)
    with progress_bar(total=total, desc="Embedding shapes", unit="shape", progress=progress, disable=not total) as bar:
        for batch in loader:
            for message in batch.warnings:
                warnings.warn(message, stacklevel=2)
            for name, message in batch.failed:
                on_error(name, message)
            if batch.names:
                raw = encoder.encode_prepared(batch.points.to(encoder.device, non_blocking=on_gpu))
                embeddings = torch.nn.functional.normalize(raw.float(), dim=-1).cpu().numpy()
                yield from zip(batch.names, embeddings)
            bar.update(len(batch.names) + len(batch.failed))


def _recorder(failed: dict[str, str], on_error: ErrorHandler | None) -> ErrorHandler:
    def record(name: str, message: str) -> None:
        failed[name] = message
        if on_error is not None:
            on_error(name, message)

    return record


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _from_rank0(value):
    """``value`` of rank 0, on every rank (itself when not distributed)."""
    if not _distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _gather_counts(added: int, failed: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Files added and failed summed over the ranks (after every rank has saved its chunks)."""
    if not _distributed():
        return added, failed
    reports: list = [None] * dist.get_world_size()
    dist.all_gather_object(reports, (added, failed))
    return sum(count for count, _ in reports), {name: message for _, part in reports for name, message in part.items()}


@contextmanager
def process_group() -> Iterator[tuple[int, int]]:
    """Under torchrun, join its process group (gloo: only file lists and counts travel); yield (rank, local rank).

    Outside torchrun (no ``RANK``/``WORLD_SIZE`` in the environment) it yields ``(0, 0)`` and does nothing.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        yield 0, 0
        return
    # Ranks wait for each other at the end: give a rank with a slow share of files a day.
    dist.init_process_group("gloo", timeout=timedelta(days=1))
    try:
        yield dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0))
    finally:
        dist.destroy_process_group()


def rank_device(requested: str | None, local_rank: int) -> torch.device:
    """The device of this process: ``requested``, with its own GPU (``LOCAL_RANK``) for ``cuda`` without an index
    or by default (see :func:`~openshape_ood.device.resolve_device`)."""
    if requested is None and torch.cuda.is_available() or requested == "cuda":
        return resolve_device(f"cuda:{local_rank}")
    return resolve_device(requested)


def outside_output(items: Sequence[str], out: str | os.PathLike) -> list[str]:
    """``items`` less the output ``out`` and its chunks (``OUT.partial/``, or one being deleted).

    An output inside an input folder must not become an input: it and its chunks are .h5/.npz.
    """
    out = Path(out)

    def belongs(path: Path) -> bool:
        try:
            first = path.resolve().relative_to(out.resolve().parent).parts[0]
        except (ValueError, IndexError):
            return False
        return first == out.name or first.lstrip(".").startswith(f"{out.name}.partial")

    return [item for item in items if not belongs(Path(split_item(item)[0]))]
