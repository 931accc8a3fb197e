"""What the commands share: exit codes, option groups, argument checks, file expansion and printers."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from ..classnames import TEMPLATE_SETS, check_class_names
from ..config import UP_AXES
from ..io import SUPPORTED_SUFFIXES, is_shape_file
from ..methods import METHODS
from ..prepare import check_seed
from ..registry import ModelEntry, UnknownModelError, get_entry

if TYPE_CHECKING:
    from ..encoder import ShapeEncoder

PROG = "openshape-ood"
DEFAULT_MODEL = "vitl14"
#: The --method choices: the methods that need only class names.
TEXT_METHODS = tuple(name for name, method in METHODS.items() if method.needs == ("known",))
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
    return common


def path_options() -> argparse.ArgumentParser:
    """The PATH arguments of the commands that read shape files."""
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
    return encoding


def scoring_options() -> argparse.ArgumentParser:
    """The known classes, the method and the threshold: the commands that score."""
    scoring = argparse.ArgumentParser(add_help=False)
    scoring.add_argument(
        "--known",
        required=True,
        help="known class names, comma-separated (chair,table,sofa), or @FILE with one name per line",
    )
    scoring.add_argument(
        "--method",
        default="max_cosine",
        choices=TEXT_METHODS,
        help="novelty score (default max_cosine: minus the highest cosine to a known class)",
    )
    scoring.add_argument(
        "--templates",
        default="openshape64",
        choices=tuple(TEMPLATE_SETS),
        help="prompts for the class names: the 64 OpenShape templates or the bare name (default openshape64)",
    )
    decision = scoring.add_mutually_exclusive_group()
    decision.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="call a shape novel when its novelty score is above T (max_cosine: -0.2 means cosine below 0.2)",
    )
    decision.add_argument(
        "--calibrate",
        metavar="DIR",
        help="shape files of the known classes, not among those scored: sets the threshold (--tpr, --alpha) "
        "or the selection (--fdr), and adds each shape's conformal p-value (small = novel)",
    )
    scoring.add_argument(
        "--tpr", type=float, default=None, help="with --calibrate: share of known shapes accepted (default 0.95)"
    )
    scoring.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    return scoring


# ------------------------------------------------------------------------------ checks


def check_tpr(args: argparse.Namespace) -> float:
    """``--tpr``, checked: only with ``--calibrate``, in (0, 1], 0.95 by default; ``--threshold`` finite."""
    if args.threshold is not None and not np.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    if args.tpr is not None and args.calibrate is None:
        raise UsageError("--tpr applies only with --calibrate DIR")
    tpr = 0.95 if args.tpr is None else args.tpr
    if not 0.0 < tpr <= 1.0:
        raise UsageError(f"--tpr must be in (0, 1], got {tpr}")
    return tpr


def class_names(value: str, what: str = "--known class names") -> list[str]:
    """``--known`` or ``--vocabulary``: comma-separated names, or ``@FILE``, one name a line (``#`` comments)."""
    if value.startswith("@"):
        try:
            lines = Path(value[1:]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read the class names file {value[1:]}: {exc.strerror or exc}") from None
        names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    else:
        names = [name.strip() for name in value.split(",")]
    try:
        return check_class_names(names, what)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_shape_options(args: argparse.Namespace) -> ModelEntry:
    """Check ``--seed`` and ``--batch-size``; return the registry entry of ``--model`` (a usage error lists the names)."""
    try:
        check_seed(args.seed, "--seed")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        return get_entry(args.model)
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None


# ------------------------------------------------------------------------ files, encoding


def expand(patterns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Items named by PATH arguments, in order without repeats, and ``{argument: error}`` for the others.

    Files are kept as named (any suffix: reading reports the unsupported ones);
    directories and glob matches contribute the files with a supported suffix. Stacked
    files become one ``file#row`` item per cloud; ``file#row`` arguments name one row.
    """
    from ..dataset import expand_stacks, split_item  # torch: only for the commands that encode

    files: dict[str, None] = {}
    failed: dict[str, str] = {}
    for pattern in patterns:
        path = Path(pattern)
        stack, row = split_item(pattern)
        if row is not None and not path.exists() and Path(stack).is_file():
            files[f"{os.path.normpath(stack)}#{row}"] = None
            continue
        if path.is_file():
            files.update(dict.fromkeys(expand_stacks([os.path.normpath(pattern)])))
            continue
        if path.is_dir():
            found = _shape_files(path)
            what = f"no shape files in directory {pattern}"
        elif glob.has_magic(pattern):
            found = [f for match in sorted(glob.glob(pattern, recursive=True)) for f in _matched(Path(match))]
            what = f"no shape files match {pattern}"
        else:
            fail(failed, pattern, f"no such file or directory: {pattern}")
            continue
        if not found:
            fail(failed, pattern, f"{what} (suffixes read: {' '.join(SUPPORTED_SUFFIXES)})")
        files.update(dict.fromkeys(expand_stacks(found)))
    return list(files), failed


def _shape_files(directory: Path) -> list[str]:
    return sorted(str(path) for path in directory.rglob("*") if is_shape_file(path))


def _matched(path: Path) -> list[str]:
    if path.is_dir():
        return _shape_files(path)
    return [str(path)] if is_shape_file(path) else []


def load_encoder(args: argparse.Namespace) -> ShapeEncoder:
    from ..device import resolve_device
    from ..encoder import ShapeEncoder

    return ShapeEncoder.from_pretrained(args.model, device=resolve_device(args.device))


def embed_files(
    encoder: ShapeEncoder, files: Sequence[str], args: argparse.Namespace, failed: dict[str, str]
) -> dict[str, np.ndarray]:
    """Embed the files in batches: ``{file: embedding (D,)}``; failures go to ``failed`` and stderr.

    Every file is sampled and resampled with its own generator seeded by ``--seed``, so a
    file's embedding depends only on the file and the settings: not on the other files,
    their order, the batch size, or a resumed run.
    """
    from ..corpus import embed_files as embed_corpus
    from ..prepare import MESH_SAMPLES

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


def calibration_embeddings(encoder: ShapeEncoder, args: argparse.Namespace) -> np.ndarray:
    """Embeddings ``(n, D)`` of the shape files of ``--calibrate``, all of which must load."""
    reference, reference_failed = expand([args.calibrate])
    calibration = embed_files(encoder, reference, args, reference_failed)
    if reference_failed or not calibration:
        raise ValueError(
            f"calibration needs every file of {args.calibrate} to load, and at least one; "
            f"fix or remove the {len(reference_failed)} file(s) reported above"
        )
    return np.stack(list(calibration.values()))


# ----------------------------------------------------------------------------- printing


def fail(failed: dict[str, str], name: str, message: str) -> None:
    """Record that ``name`` failed and say so on stderr at once (above any progress bar)."""
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
    tqdm.write(f"{PROG}: warning: {message}", file=sys.stderr)
