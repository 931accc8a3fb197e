"""What the commands share: exit codes, option groups, argument checks, file expansion and printers.

The scoring commands' own shared part (options, the detector, the results table) is in :mod:`.scoring`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..classnames import check_class_names
from ..config import DTYPE_ENV, DTYPES, UP_AXES
from ..encoders._registry import ModelEntry, UnknownModelError, get_entry

if TYPE_CHECKING:
    import numpy as np

    import torch

    from ..encoders.shape import ShapeEncoder

PROG = "openshape-ood"
DEFAULT_MODEL = "vitl14"
USAGE_ERROR = 2
INTERRUPTED = 130


class UsageError(Exception):
    """A command-line value is wrong; reported with the usage line and exit code 2."""


# ----------------------------------------------------------------------------- options


def common_options() -> argparse.ArgumentParser:
    """``--quiet``, ``--progress`` and ``--debug``: every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes on stderr")
    common.add_argument(
        "--progress", action="store_true", help="progress bars even when stderr is not a terminal (default: only on one)"
    )
    common.add_argument("--debug", action="store_true", help="print the traceback of an error")
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also say on stderr what was chosen for you (the dtype and why; scene: the segmentation settings)",
    )
    return common


def path_options() -> argparse.ArgumentParser:
    """The PATH arguments of the commands that read shape files."""
    from ..io import SUPPORTED_SUFFIXES  # the reader table: only when a command reads files

    shapes = argparse.ArgumentParser(add_help=False)
    shapes.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="shape files, directories (searched recursively) or glob patterns; suffixes: "
        + " ".join(SUPPORTED_SUFFIXES),
    )
    return shapes


def encoding_options() -> argparse.ArgumentParser:
    """The shape encoder and how files are prepared for it: the commands that encode."""
    encoding = argparse.ArgumentParser(add_help=False)
    encoding.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"registered shape encoder (see '{PROG} models'; default {DEFAULT_MODEL})"
    )
    encoding.add_argument(
        "--up", default="y", choices=UP_AXES, help="gravity axis of your files (default y); turned onto the model's"
    )
    encoding.add_argument(
        "--seed", type=int, default=0, help="seed of mesh surface sampling and point resampling (default 0)"
    )
    encoding.add_argument(
        "--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cuda when available, else cpu)"
    )
    encoding.add_argument(
        "--batch-size", type=int, default=16, help="shapes per forward pass (default 16); results do not depend on it"
    )
    encoding.add_argument(
        "--dtype",
        default="auto",
        choices=DTYPES,
        help=f"what the encoder computes in (default auto: bfloat16 where the device computes it natively, a GPU "
        f"or a CPU with AVX512-BF16 or AMX, else float32; ${DTYPE_ENV} overrides auto); float32 is upstream's "
        "arithmetic, bfloat16 is within cosine 0.9999 of it; files and caches never mix them",
    )
    return encoding


# ------------------------------------------------------------------------------ checks


def class_names(value: str, what: str = "--known class names") -> list[str]:
    """``--known`` or ``--vocabulary``: comma-separated names, or ``@FILE``, one name a line (``#`` comments)."""
    if value.startswith("@"):
        try:
            lines = Path(value[1:]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read the class names file {value[1:]}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"the class names file {value[1:]} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    else:
        names = [name.strip() for name in value.split(",")]
    try:
        return check_class_names(names, what)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_shape_options(args: argparse.Namespace) -> ModelEntry:
    """Check ``--seed`` and ``--batch-size``; return the registry entry of ``--model`` (a usage error lists the names).

    Its checkpoint must be on this machine or downloadable (:class:`CheckpointError` otherwise), checked
    without importing torch.
    """
    from ..io.contract import check_seed

    try:
        check_seed(args.seed, "--seed")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        entry = get_entry(args.model)
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None
    from ..encoders._checkpoint import check_checkpoint_obtainable

    check_checkpoint_obtainable(entry)  # before torch and open_clip are imported: an offline first run fails at once
    return entry


# ------------------------------------------------------------------------ files, encoding


def expand(patterns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Items named by PATH arguments (:func:`~openshape_ood.io.find_shape_files`) and ``{argument: error}`` for the others."""
    from ..io import find_shape_files

    failed: dict[str, str] = {}
    files = find_shape_files(patterns, on_error=lambda pattern, message: fail(failed, pattern, message))
    return files, failed


def load_encoder(args: argparse.Namespace, device: str | torch.device | None = None) -> ShapeEncoder:
    """The encoder of ``--model`` on ``device`` (default ``--device``) in ``--dtype``; ``--verbose`` names the dtype."""
    from ..device import dtype_name, resolve_device
    from ..encoders.shape import ShapeEncoder

    with device_usage():
        device = resolve_device(args.device if device is None else device)
    encoder = ShapeEncoder.from_pretrained(args.model, device=device, dtype=args.dtype)
    if args.verbose:
        note(args, f"{args.model} on {device} computes in {dtype_name(encoder.dtype)} ({encoder.dtype_reason})")
    return encoder


@contextlib.contextmanager
def device_usage() -> Iterator[None]:
    """A ``--device`` that is no torch device at all is a usage error (exit 2); a missing GPU stays an error (1)."""
    from ..device import InvalidDeviceError

    try:
        yield
    except InvalidDeviceError as exc:
        raise UsageError(f"--device: {exc}") from None


def embed_files(
    encoder: ShapeEncoder, files: Sequence[str], args: argparse.Namespace, failed: dict[str, str]
) -> dict[str, np.ndarray]:
    """Embed the files in batches: ``{file: embedding (D,)}``; failures go to ``failed`` and stderr.

    Every file is sampled and resampled with its own generator seeded by ``--seed``, so a
    file's embedding depends only on the file and the settings: not on the other files,
    their order, the batch size, or a resumed run.
    """
    from ..corpus.embed import embed_files as embed_corpus
    from ..io.contract import MESH_SAMPLES

    embedded = embed_corpus(
        encoder,
        files,
        up_axis=args.up,
        seed=args.seed,
        mesh_samples=MESH_SAMPLES,
        batch_size=args.batch_size,
        progress=progress(args),
        on_error=lambda name, message: fail(failed, name, message),
    )
    return dict(zip(embedded.files, embedded.embeddings))


# ----------------------------------------------------------------------------- printing


def fail(failed: dict[str, str], name: str, message: str) -> None:
    """Record that ``name`` failed and say so on stderr at once (above any progress bar)."""
    from tqdm import tqdm  # imported by the commands that read files anyway

    failed[name] = message
    tqdm.write(f"{PROG}: error: {message}", file=sys.stderr)


def finish(failed: dict[str, str]) -> int:
    """The exit code of a run over many inputs: 1 when any failed (each was reported when it did)."""
    if not failed:
        return 0
    error(f"{len(failed)} input(s) failed (see above)")
    return 1


def print_table(columns: list[str], rows: list[list[str]], numeric: set[str]) -> None:
    """Print aligned columns to stdout: ``numeric`` ones right-aligned."""
    widths = [max([len(column)] + [len(row[i]) for row in rows]) for i, column in enumerate(columns)]

    def line(cells: list[str]) -> str:
        parts = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, cell, width in zip(columns, cells, widths)
        ]
        return "  ".join(parts).rstrip()

    print(line(columns))
    for row in rows:
        print(line(row))


def progress(args: argparse.Namespace) -> bool | None:
    """The ``progress`` argument of the library: off with ``--quiet``, on with ``--progress``, else on a terminal."""
    return False if args.quiet else (True if args.progress else None)


def note(args: argparse.Namespace, message: str) -> None:
    """A note on stderr, unless ``--quiet``."""
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the command line: one line on stderr, above any progress bar."""
    from tqdm import tqdm

    tqdm.write(f"{PROG}: warning: {message}", file=sys.stderr)
