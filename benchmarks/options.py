"""Command-line options shared by every benchmark entry point, so that they all read alike.

``--dtype`` picks what the shape encoder computes in. ``-q/--quiet`` turns progress bars
and progress messages off, ``--progress`` turns them on even when stderr is not a terminal
(a log file, CI); by default they show only on a terminal. Errors are printed as ``<program>: error: <message>``, one line.
"""

from __future__ import annotations

import argparse
import sys

from openshape_ood.config import DTYPE_ENV, DTYPES

__all__ = ["add_dtype_option", "add_progress_options", "error", "progress_wanted"]


def add_dtype_option(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    """Add ``--dtype`` (one of :data:`~openshape_ood.config.DTYPES`): what the shape encoder computes in."""
    auto = f"bfloat16 where the device computes it natively, else float32; ${DTYPE_ENV} overrides it"
    parser.add_argument(
        "--dtype", choices=DTYPES, default=default,
        help=f"what the shape encoder computes in (default {default}; auto: {auto})",
    )  # fmt: skip


def add_progress_options(parser: argparse.ArgumentParser) -> None:
    """Add ``-q/--quiet`` and ``--progress`` (mutually exclusive) to ``parser``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars or progress messages")
    group.add_argument(
        "--progress", action="store_true",
        help="progress bars even when stderr is not a terminal (default: only on a terminal)",
    )  # fmt: skip


def progress_wanted(args: argparse.Namespace) -> bool:
    """Whether to show progress: ``--progress``, else not ``-q`` and stderr is a terminal."""
    return args.progress or (not args.quiet and sys.stderr.isatty())


def error(parser: argparse.ArgumentParser, message: object) -> None:
    """Print ``<program>: error: <message>`` on stderr."""
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
