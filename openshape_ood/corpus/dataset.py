"""Shape files as a ``torch.utils.data.Dataset``: one item per file (or per row of a stack), loaded and prepared.

The load and prepare stages of the pipeline, packaged for a ``DataLoader`` so that worker
processes read, sample and prepare files while the encoder runs::

    dataset = ShapeFileDataset(expand_stacks(files), num_points=encoder.num_points,
                               model_up_axis=encoder.model_up_axis)
    for batch in shape_loader(dataset, batch_size=16, num_workers=2):
        raw = encoder.encode_prepared(batch.points)   # batch.names name its rows
        ...                                           # batch.failed: (name, message) pairs

Every item is loaded with :func:`load_points` and prepared with its own generator seeded
by ``seed``, exactly as :meth:`ShapeEncoder.embed` prepares one cloud, so an item does
not depend on the worker that made it, the order, the batch or the number of processes.
A file that cannot be read or prepared (unreadable, all points identical, one point, no
finite point) does not raise: its item carries the error, and the batch lists it in
``failed``, so one bad file never stops a run over many.

Stacked clouds (``[n, N, C]`` arrays, as in ModelNet/ScanObjectNN HDF5 files) are items
named ``file.h5#row``: :func:`~openshape_ood.io.expand_stacks` turns a stack file into one
item per row, and :func:`~openshape_ood.io.split_item` turns such a name back into the path
and row (both live in :mod:`openshape_ood.io`, re-exported here).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..io import expand_stacks, load_points, split_item, stack_size  # re-exported: stacks are io's
from ..io.contract import DEFAULT_NUM_POINTS, MESH_SAMPLES
from ..prepare import prepare_cloud, validate_cloud

__all__ = [
    "PreparedBatch",
    "PreparedShape",
    "ShapeFileDataset",
    "collate_prepared",
    "expand_stacks",
    "shape_loader",
    "split_item",
    "stack_size",
]

class PreparedShape(NamedTuple):
    """One item of a :class:`ShapeFileDataset`.

    Attributes:
        name: the item's name (a path, or ``path#row`` for a row of a stack).
        points: ``(6, num_points)`` float32 encoder input, or ``None`` when it failed.
        error: why it failed (the message names the file), or ``None``.
        warnings: messages of the warnings raised while loading it (e.g. dropped points).
    """

    name: str
    points: torch.Tensor | None
    error: str | None
    warnings: tuple[str, ...]


class PreparedBatch(NamedTuple):
    """Items collated by :func:`collate_prepared`.

    Attributes:
        names: the names of the rows of ``points``.
        points: ``[B, 6, num_points]`` float32 encoder input of the items that loaded
            (``[0, 6, 0]`` when none did).
        failed: ``(name, message)`` of each item that did not load.
        warnings: messages of the warnings raised while loading the items.
    """

    names: list[str]
    points: torch.Tensor
    failed: list[tuple[str, str]]
    warnings: list[str]


class ShapeFileDataset(Dataset):
    """Shape files (or rows of stacks, ``file.h5#row``), each loaded and prepared as encoder input.

    Args:
        items: file paths and ``path#row`` names (see :func:`expand_stacks`).
        num_points: points per prepared cloud (the encoder's ``num_points``).
        up_axis: the gravity axis of the files; it is turned onto ``model_up_axis``.
        model_up_axis: the gravity axis of the encoder (its ``up_axis``).
        seed: seeds each item's mesh surface sampling and resampling; ``None`` draws
            fresh randomness. The same seed gives the same input for the same file
            wherever and whenever it is prepared.
        mesh_samples: points sampled from each mesh surface before resampling.

    Items are :class:`PreparedShape`; batch them with :func:`collate_prepared` (or use
    :func:`shape_loader`).
    """

    def __init__(
        self,
        items: Sequence[str | os.PathLike],
        *,
        num_points: int = DEFAULT_NUM_POINTS,
        up_axis: str = "y",
        model_up_axis: str = "y",
        seed: int | None = 0,
        mesh_samples: int = MESH_SAMPLES,
    ):
        self.items = [os.fspath(item) for item in items]
        self.num_points = num_points
        self.up_axis = up_axis
        self.model_up_axis = model_up_axis
        self.seed = seed
        self.mesh_samples = mesh_samples

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> PreparedShape:
        name = self.items[index]
        path, row = split_item(name)
        # Recorded and handed back, so that warnings from worker processes reach the caller.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                points = load_points(path, num_samples=self.mesh_samples, seed=self.seed, index=row)
            except (OSError, ValueError) as exc:  # the message names the file
                return PreparedShape(name, None, str(exc), _messages(caught))
            try:
                points = validate_cloud(points, name=name)  # degenerate clouds: one point, all identical, ...
            except ValueError as exc:  # the message names the file
                return PreparedShape(name, None, str(exc), _messages(caught))
            try:
                prepared = prepare_cloud(
                    points,
                    np.random.default_rng(self.seed),
                    up_axis=self.up_axis,
                    model_up_axis=self.model_up_axis,
                    num_points=self.num_points,
                )
            except ValueError as exc:
                return PreparedShape(name, None, f"{name}: {exc}", _messages(caught))
        return PreparedShape(name, torch.from_numpy(prepared), None, _messages(caught))


def collate_prepared(items: Sequence[PreparedShape]) -> PreparedBatch:
    """Stack the items that loaded into one ``[B, 6, N]`` tensor; list the others as failed."""
    loaded = [item for item in items if item.points is not None]
    return PreparedBatch(
        names=[item.name for item in loaded],
        points=torch.stack([item.points for item in loaded]) if loaded else torch.empty(0, 6, 0),
        failed=[(item.name, item.error) for item in items if item.points is None],
        warnings=[message for item in items for message in item.warnings],
    )


def shape_loader(
    dataset: ShapeFileDataset,
    *,
    batch_size: int = 16,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: int | None = None,
) -> DataLoader:
    """A ``DataLoader`` of :class:`PreparedBatch` in dataset order.

    Args:
        dataset: the items.
        batch_size: items per batch (failed items leave their batch smaller).
        num_workers: worker processes that load and prepare items (0: in this process).
        pin_memory: page-locked batches, for faster and asynchronous copies to a GPU.
        prefetch_factor: batches each worker prepares ahead (torch's default when ``None``).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_prepared,
        pin_memory=pin_memory,
        prefetch_factor=prefetch_factor if num_workers else None,
        persistent_workers=False,
    )


def _messages(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    return tuple(str(warning.message) for warning in caught)
