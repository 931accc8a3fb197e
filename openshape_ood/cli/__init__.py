"""The ``openshape-ood`` command line: score shape files for novelty, embed them, list the models.

Run ``openshape-ood --help`` (or ``python -m openshape_ood --help``) for the commands:

* ``score PATH... --known chair,table``: one line per file with the nearest known class,
  the cosine similarity to it, the novelty score (higher = more novel) and, given a
  threshold, the verdict ``known`` or ``novel``;
* ``embed PATH... --out embeddings.h5``: embeddings in an HDF5 file, resumable; under
  ``torchrun --nproc_per_node=K -m openshape_ood embed ...`` the files are split between
  K processes (one GPU each, or CPU), and machines with ``--nnodes``;
* ``scene SCAN --known chair,table --out objects.ply``: the objects of a scan, each scored
  as ``score`` scores a file;
* ``models``: the registered shape encoders and whether their checkpoints and paired text
  towers are cached;
* ``download MODEL... [--text]``: fetch and verify models' files into the Hub cache, to
  carry to a machine without network.

PATH arguments are files, directories (searched recursively for files with a suffix
:func:`load_points` reads) or glob patterns (``**`` recurses). A stacked file (an HDF5
``data`` dataset or ``.npy`` array of shape ``[n, N, C]``) stands for its n clouds, named
``file.h5#0`` ... ``file.h5#(n-1)``; one of them can be named that way, too. A file that
cannot be read or is degenerate is reported on stderr by name and skipped; the run goes
on with the others and exits with 1.

Exit codes: 0 success, 1 an error (any file that could not be read included), 2 a usage
error, 130 interrupted. Progress bars and notes go to stderr, results to stdout.

torch and open_clip are imported by the commands that encode (``score``, ``embed``, ``scene``),
so ``--help``, ``--version`` and ``models`` answer at once.

One module per command (``score``, ``embed``, ``scene``, ``models``, ``download``), each holding its
options beside its handler; :mod:`.common` holds the options, checks and printers they share.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Sequence

from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

from .. import __version__
from ..checkpoint import CheckpointError
from ..registry import UnknownModelError
from . import download, embed, models, scene, score
from .common import INTERRUPTED, PROG, USAGE_ERROR, UsageError, error, show_warning

__all__ = ["main"]

#: One module per command, each with ``add_parser(commands)`` (its options beside its handler).
COMMANDS = (score, embed, scene, models, download)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help, --version and usage errors
        return int(exit_.code or 0)
    hub_bars = not are_progress_bars_disabled()
    if args.quiet:
        disable_progress_bars()
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return args.run(args)
        except UsageError as exc:
            args.subparser.print_usage(sys.stderr)
            print(f"{args.subparser.prog}: error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except KeyboardInterrupt:
            error("interrupted" + ("; run the same command again to resume" if args.command == "embed" else ""))
            return INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - one line per error for users; the traceback on request
            if args.debug:
                traceback.print_exc()
            expected = isinstance(exc, (OSError, ValueError, UnknownModelError, CheckpointError))
            error(str(exc) if expected else f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
            return 1
        finally:
            if hub_bars:
                enable_progress_bars()


def build_parser() -> argparse.ArgumentParser:
    """The ``openshape-ood`` parser: one sub-command per module of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Zero-shot, open-vocabulary novelty detection on 3D shape files with OpenShape encoders.",
        epilog="Exit codes: 0 success, 1 error (including any unreadable file), 2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser
