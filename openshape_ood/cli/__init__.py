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
* ``index FILE.h5 [--approximate ivfpq]``: check a reference bank (an embeddings file) and build an
  approximate nearest-neighbour index beside it, for ``score --reference FILE.h5``;
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

Each command's module is imported only when that command runs, and torch and open_clip only
by the commands that encode (``score``, ``embed``, ``scene``), so ``--help``, ``--version``
and ``models`` answer at once.

One module per command (``score``, ``embed``, ``index``, ``scene``, ``models``, ``download``), each
holding its options beside its handler; :mod:`.common` holds the options, checks and printers they share,
:mod:`.scoring` what ``score`` and ``scene`` share. Each handler parses, calls the library
and prints; JSON comes from the library's result objects.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from collections.abc import Iterable, Iterator, Sequence
from importlib import import_module

from .. import __version__
from .common import INTERRUPTED, PROG, USAGE_ERROR, UsageError, error, show_warning

__all__ = ["COMMANDS", "build_parser", "main"]

#: Every command and its one-line help. Each is a module of this package with
#: ``add_parser(commands)`` (its options beside its handler), imported only when its command
#: runs, so that ``--help``, ``--version`` and ``models`` answer without numpy, torch or trimesh.
COMMANDS: dict[str, str] = {
    "score": "novelty of each shape file against the known classes",
    "embed": "embed shape files into an HDF5 file (resumable)",
    "index": "check a reference bank (an embed file) and build its approximate index (resumable)",
    "scene": "find the objects in a scan and score each one for novelty",
    "models": "list the registered shape encoders",
    "download": "download and verify models' checkpoints (and text towers) into the Hub cache",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in argv if not word.startswith("-")), None)  # options come after it
    parser = build_parser([command] if command in COMMANDS else [])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help, --version and usage errors
        return int(exit_.code or 0)
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    hub_bars = not are_progress_bars_disabled()
    if args.quiet:
        disable_progress_bars()
    with warnings.catch_warnings(), _rust_backtraces(args.debug):
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
            from ..encoders._checkpoint import CheckpointError
            from ..encoders._registry import UnknownModelError

            expected = isinstance(exc, (OSError, ValueError, UnknownModelError, CheckpointError))
            error(str(exc) if expected else f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
            return 1
        finally:
            if hub_bars:
                enable_progress_bars()


@contextlib.contextmanager
def _rust_backtraces(shown: bool) -> Iterator[None]:
    """Rust extensions print a backtrace of a panic (lazrs on a damaged LAZ file, which the reader reports as one
    error line) when ``RUST_BACKTRACE`` is set: only with ``--debug``, as for Python tracebacks."""
    before = os.environ.get("RUST_BACKTRACE")
    if not shown:
        os.environ["RUST_BACKTRACE"] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RUST_BACKTRACE", None)
        else:
            os.environ["RUST_BACKTRACE"] = before


def build_parser(commands: Iterable[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The ``openshape-ood`` parser, with the options of ``commands`` (default: all).

    The other commands get a stand-in that lists them in ``--help`` without importing their
    modules; :func:`main` builds only the command it runs.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Zero-shot, open-vocabulary novelty detection on 3D shape files with OpenShape encoders.",
        epilog="Exit codes: 0 success, 1 error (including any unreadable file), 2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    built = set(commands)
    for name, summary in COMMANDS.items():
        if name in built:
            import_module(f"{__name__}.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser
