"""Command-line options shared by every benchmark entry point, so that they all read alike.

``-q/--quiet`` turns progress bars and progress messages off, ``--progress`` turns them on
even when stderr is not a terminal (a log file, CI); by default they show only on a
terminal. Errors are printed as ``<program>: error: <message>``, one line.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_progress_options", "error", "progress_wanted"]


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
