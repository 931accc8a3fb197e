"""``openshape-ood embed``: embeddings of shape files in an HDF5 file, resumable, under torchrun too."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import COMMANDS
from .common import (
    UsageError,
    check_shape_options,
    common_options,
    device_usage,
    encoding_options,
    expand,
    fail,
    finish,
    load_encoder,
    note,
    path_options,
    progress,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser(
        "embed",
        parents=[common_options(), path_options(), encoding_options()],
        help=COMMANDS["embed"],
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
    check_shape_options(args)
    # torch: only for the commands that encode
    from ..corpus.distributed import process_group, rank_device
    from ..corpus.embed import embed_to_file, outside_output
    from ..io.contract import MESH_SAMPLES

    with _terminate_as_interrupt(), process_group() as (rank, local_rank):
        if rank:  # rank 0 speaks for the run; every rank names the files it fails on
            args.quiet = True
        # Rank 0 expands the paths and hands the list to the others.
        files, failed = expand(args.paths) if rank == 0 else ([], {})
        files = outside_output(files, args.out)
        with device_usage():
            device = rank_device(args.device, local_rank)
        encoder = load_encoder(args, device)
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


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's time limit, torchrun stopping the other ranks) ends the run as
    Ctrl-C does, so that the embeddings not yet in a chunk are saved for the next run."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
