"""``openshape-ood embed``: embeddings of shape files in an HDF5 file, resumable, under torchrun too."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    UsageError,
    check_shape_options,
    common_options,
    encoding_options,
    expand,
    fail,
    finish,
    note,
    path_options,
    progress,
)

if TYPE_CHECKING:
    import torch


def add_parser(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser(
        "embed",
        parents=[common_options(), path_options(), encoding_options()],
        help="embed shape files into an HDF5 file (resumable)",
        description="Write L2-normalised embeddings of shape files to an HDF5 file: datasets 'embeddings' "
        "(N, D) float32 and 'files' (N,), attributes with the model and preparation settings. Files are "
        "stored as named on the command line. Rerunning the command (after an interruption, or with more "
        "files) embeds only the files not yet in the output; the output file is only ever replaced whole. "
        "Settings that differ from those of an existing output are refused. One run at a time writes an "
        "output (FILE.h5.lock). Under torchrun (torchrun --nproc_per_node=K -m openshape_ood embed ...) the "
        "files are split between the processes, each on its own GPU (LOCAL_RANK) or on CPU, and FILE.h5 is "
        "written once all are done; a rerun resumes with any number of processes.",
    )
    embed.add_argument("--out", required=True, metavar="FILE.h5", help="output HDF5 file")
    embed.add_argument(
        "--chunk-size",
        type=int,
        default=64,
        metavar="N",
        help="files per progress chunk saved to FILE.h5.partial/ (default 64): what an interruption can lose",
    )
    embed.add_argument(
        "--num-workers",
        type=int,
        default=0,
        metavar="N",
        help="loader processes that read, sample and prepare files while the model runs (default 0: none); "
        "per process under torchrun",
    )
    embed.set_defaults(run=run, subparser=embed)


def run(args: argparse.Namespace) -> int:
    if args.chunk_size < 1:
        raise UsageError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.num_workers < 0:
        raise UsageError(f"--num-workers must be a non-negative integer, got {args.num_workers}")
    entry = check_shape_options(args)
    # torch: only for the commands that encode
    from ..corpus import embed_to_file
    from ..dataset import split_item
    from ..encoder import ShapeEncoder
    from ..prepare import MESH_SAMPLES

    with _process_group() as (rank, local_rank):
        if rank:  # rank 0 speaks for the run; every rank names the files it fails on
            args.quiet = True
        # Rank 0 expands the paths and hands the list to the others.
        files, failed = expand(args.paths) if rank == 0 else ([], {})
        files = [name for name in files if not _belongs_to_output(Path(split_item(name)[0]), Path(args.out))]
        encoder = ShapeEncoder.from_pretrained(entry.name, device=_rank_device(args.device, local_rank))
        # An error that stops the run (a refused output, say) is raised, and reported, on every rank.
        report = embed_to_file(
            encoder,
            files,
            args.out,
            up_axis=args.up,
            seed=args.seed,
            mesh_samples=MESH_SAMPLES,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            chunk_size=args.chunk_size,
            progress=progress(args),
            on_error=lambda name, message: fail(failed, name, message),
        )
    if report.skipped:
        note(args, f"{report.skipped} of {len(files)} files were embedded into {args.out} before; skipped them")
    note(args, f"{args.out}: {report.rows} embeddings, {report.added} new")
    failed.update(report.failed)
    # Rank 0 reports failed files and exits 1; the others exit 0 so that torchrun waits for it to say so.
    return finish(failed) if rank == 0 else 0


def _belongs_to_output(path: Path, out: Path) -> bool:
    """Whether ``path`` is the output or one of its chunks (``OUT.partial/``, or one being deleted).

    An output inside an input folder must not become an input: it and its chunks are .h5/.npz.
    """
    try:
        first = path.resolve().relative_to(out.resolve().parent).parts[0]
    except (ValueError, IndexError):
        return False
    return first == out.name or first.lstrip(".").startswith(f"{out.name}.partial")


@contextmanager
def _process_group() -> Iterator[tuple[int, int]]:
    """Under torchrun, join its process group (gloo: only file lists and counts travel); yield (rank, local rank)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        yield 0, 0
        return
    import torch.distributed  # only under torchrun
    # Ranks wait for each other at the end: give a rank with a slow share of files a day.
    torch.distributed.init_process_group("gloo", timeout=timedelta(days=1))
    try:
        yield torch.distributed.get_rank(), int(os.environ.get("LOCAL_RANK", 0))
    finally:
        torch.distributed.destroy_process_group()


def _rank_device(requested: str | None, local_rank: int) -> torch.device:
    """``--device``, with this process's own GPU (``LOCAL_RANK``) for ``cuda`` without an index or by default."""
    import torch

    from ..device import resolve_device

    if requested is None and torch.cuda.is_available() or requested == "cuda":
        return resolve_device(f"cuda:{local_rank}")
    return resolve_device(requested)
