"""Running under ``torchrun``: joining its process group, a rank's device, and what ranks exchange.

Only file lists, counts and errors travel between ranks (gloo, pickled Python objects from rank 0
or every rank); embeddings go to each rank's own chunk files (see
:func:`~openshape_ood.corpus.embed.embed_to_file`). Outside ``torchrun`` every function here is the
single-process identity.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import torch
import torch.distributed as dist

from ..device import resolve_device

__all__ = ["from_rank0", "gather_counts", "is_distributed", "process_group", "rank_and_world_size", "rank_device"]


def is_distributed() -> bool:
    """Whether this process is one rank of an initialised ``torch.distributed`` process group."""
    return dist.is_available() and dist.is_initialized()


def rank_and_world_size() -> tuple[int, int]:
    """``(rank, world size)`` of this process; ``(0, 1)`` when not distributed."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def from_rank0(value):
    """``value`` of rank 0, on every rank (itself when not distributed)."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_counts(added: int, failed: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Files added and failed summed over the ranks (after every rank has saved its chunks)."""
    if not is_distributed():
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
