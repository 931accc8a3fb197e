"""The ``openshape-ood`` command line: score shape files for novelty, embed them, list the models.

Run ``openshape-ood --help`` (or ``python -m openshape_ood --help``) for the commands:

* ``score PATH... --known chair,table``: one line per file with the nearest known class,
  the cosine similarity to it, the novelty score (higher = more novel) and, given a
  threshold, the verdict ``known`` or ``novel``;
* ``embed PATH... --out embeddings.h5``: embeddings in an HDF5 file, resumable;
* ``models``: the registered shape encoders and whether their checkpoints are cached.

PATH arguments are files, directories (searched recursively for files with a suffix
:func:`load_points` reads) or glob patterns (``**`` recurses). A file that cannot be read
is reported on stderr and skipped; the run goes on with the others and exits with 1.

Exit codes: 0 success, 1 an error (any file that could not be read included), 2 a usage
error, 130 interrupted. Progress bars and notes go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
)
from tqdm import tqdm

from . import __version__
from .checkpoint import CheckpointError, fetch_checkpoint, file_sha256
from .detector import TEXT_METHODS, NoveltyDetector
from .embedding_file import ResumableEmbeddingWriter
from .encoder import ShapeEncoder, resolve_device
from .io import SUPPORTED_SUFFIXES, is_shape_file, load_points
from .prepare import check_seed, validate_cloud
from .registry import (
    REGISTRY_ENV,
    HubSource,
    ModelEntry,
    get_entry,
    load_registry,
    registry_path,
)
from .text import TEMPLATE_SETS, check_class_names

PROG = "openshape-ood"
DEFAULT_MODEL = "vitl14"
#: Points sampled from each mesh surface (point clouds are read whole).
MESH_SAMPLES = 10000
USAGE_ERROR = 2
INTERRUPTED = 130


class UsageError(Exception):
    """A command-line value is wrong; reported with the usage line and exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help, --version and usage errors
        return int(exit_.code or 0)
    hub_bars = not are_progress_bars_disabled()
    if args.quiet:
        disable_progress_bars()
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except UsageError as exc:
            args.subparser.print_usage(sys.stderr)
            print(f"{args.subparser.prog}: error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except KeyboardInterrupt:
            _error("interrupted" + ("; run the same command again to resume" if args.command == "embed" else ""))
            return INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - one line per error for users; the traceback on request
            if args.debug:
                traceback.print_exc()
            expected = isinstance(exc, (OSError, ValueError, KeyError, CheckpointError))
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            _error(message if expected else f"{type(exc).__name__}: {message} (rerun with --debug for the traceback)")
            return 1
        finally:
            if hub_bars:
                enable_progress_bars()


# ------------------------------------------------------------------------------ parser


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Zero-shot, open-vocabulary novelty detection on 3D shape files with OpenShape encoders.",
        epilog="Exit codes: 0 success, 1 error (including any unreadable file), 2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes on stderr")
    common.add_argument("--debug", action="store_true", help="print the traceback of an error")

    shapes = argparse.ArgumentParser(add_help=False)
    shapes.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="shape files, directories (searched recursively) or glob patterns; suffixes: "
        + " ".join(SUPPORTED_SUFFIXES),
    )
    shapes.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"registered shape encoder (see '{PROG} models'; default {DEFAULT_MODEL})"
    )
    shapes.add_argument(
        "--up", default="y", choices=("x", "y", "z"), help="gravity axis of your files (default y); turned onto the model's"
    )
    shapes.add_argument(
        "--seed", type=int, default=0, help="seed of mesh surface sampling and point resampling (default 0)"
    )
    shapes.add_argument(
        "--device", default=None, help="torch device, e.g. cpu or cuda:0 (default: cuda when available, else cpu)"
    )
    shapes.add_argument(
        "--batch-size", type=int, default=16, help="shapes per forward pass (default 16); results do not depend on it"
    )

    score = commands.add_parser(
        "score",
        parents=[common, shapes],
        help="novelty of each shape file against known class names",
        description="Score each shape file against the known classes: nearest class, its cosine similarity, "
        "the novelty score (higher = more novel) and, with --threshold or --calibrate, the verdict "
        "known/novel (novel when the novelty score is above the threshold). Without either, scores are "
        "printed without a verdict, for you to rank or threshold.",
    )
    score.add_argument(
        "--known",
        required=True,
        help="known class names, comma-separated (chair,table,sofa), or @FILE with one name per line",
    )
    score.add_argument(
        "--method",
        default="max_cosine",
        choices=TEXT_METHODS,
        help="novelty score (default max_cosine: minus the highest cosine to a known class)",
    )
    score.add_argument(
        "--templates",
        default="openshape64",
        choices=tuple(TEMPLATE_SETS),
        help="prompts for the class names: the 64 OpenShape templates or the bare name (default openshape64)",
    )
    decision = score.add_mutually_exclusive_group()
    decision.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="call a shape novel when its novelty score is above T (max_cosine: -0.2 means cosine below 0.2)",
    )
    decision.add_argument(
        "--calibrate",
        metavar="DIR",
        help="shape files of the known classes: the threshold accepts --tpr of them as known",
    )
    score.add_argument(
        "--tpr", type=float, default=None, help="with --calibrate: share of known shapes accepted (default 0.95)"
    )
    score.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    score.set_defaults(run=_score, subparser=score)

    embed = commands.add_parser(
        "embed",
        parents=[common, shapes],
        help="embed shape files into an HDF5 file (resumable)",
        description="Write L2-normalised embeddings of shape files to an HDF5 file: datasets 'embeddings' "
        "(N, D) float32 and 'files' (N,), attributes with the model and preparation settings. Files are "
        "stored as named on the command line. Rerunning the command (after an interruption, or with more "
        "files) embeds only the files not yet in the output; the output file is only ever replaced whole. "
        "Settings that differ from those of an existing output are refused.",
    )
    embed.add_argument("--out", required=True, metavar="FILE.h5", help="output HDF5 file")
    embed.add_argument(
        "--chunk-size",
        type=int,
        default=64,
        metavar="N",
        help="files per progress chunk saved to FILE.h5.partial/ (default 64): what an interruption can lose",
    )
    embed.set_defaults(run=_embed, subparser=embed)

    models = commands.add_parser(
        "models",
        parents=[common],
        help="list the registered shape encoders",
        description=f"List the checkpoint registry (${REGISTRY_ENV} or the packaged one): name, embedding "
        "width, gravity axis, paired CLIP text tower, where the checkpoint comes from and whether it is "
        "already on this machine (Hub cache or local file).",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of the table")
    models.set_defaults(run=_models, subparser=models)
    return parser


# ------------------------------------------------------------------------------ score


def _score(args: argparse.Namespace) -> int:
    known = _known_names(args.known)
    if args.tpr is not None and args.calibrate is None:
        raise UsageError("--tpr applies only with --calibrate DIR")
    if args.threshold is not None and not np.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    tpr = 0.95 if args.tpr is None else args.tpr
    if not 0.0 < tpr <= 1.0:
        raise UsageError(f"--tpr must be in (0, 1], got {tpr}")
    _check_shape_options(args)
    files, failed = _expand(args.paths)
    if not files:
        raise ValueError("no shape files to score")
    encoder = ShapeEncoder.from_pretrained(args.model, device=resolve_device(args.device))
    detector = NoveltyDetector(
        args.method, model=encoder, templates=args.templates, threshold=args.threshold, progress=not args.quiet
    ).fit(known=known)

    if args.calibrate is not None:
        reference, reference_failed = _expand([args.calibrate])
        calibration = dict(_embed_files(encoder, reference, args, "Calibrating", reference_failed))
        if reference_failed or not calibration:
            raise ValueError(
                f"calibration needs every file of {args.calibrate} to load, and at least one; "
                f"fix or remove the {len(reference_failed)} file(s) reported above"
            )
        detector.calibrate(np.stack(list(calibration.values())), tpr=tpr)
        _note(args, f"threshold {detector.threshold_:.4f}: accepts {tpr:.0%} of the {len(calibration)} shapes in {args.calibrate}")
    elif args.threshold is None:
        _note(args, "no --threshold or --calibrate given: scores without a known/novel verdict")

    embedded = dict(_embed_files(encoder, files, args, "Scoring", failed))
    results = []
    if embedded:
        embeddings = np.stack(list(embedded.values()))
        novelty = detector.score_samples(embeddings)
        nearest = detector.classify(embeddings)
        similarity = np.einsum("nd,nd->n", embeddings, detector.text_embeddings_[nearest])
        novel = detector.predict(embeddings) == -1 if detector.threshold_ is not None else None
        for i, name in enumerate(embedded):
            verdict = None if novel is None else ("novel" if novel[i] else "known")
            results.append(
                {
                    "file": name,
                    "class": str(detector.classes_[nearest[i]]),
                    "similarity": float(similarity[i]),
                    "novelty": float(novelty[i]),
                    "verdict": verdict,
                }
            )
    if args.json:
        document = {
            "model": args.model,
            "method": args.method,
            "known": known,
            "threshold": detector.threshold_,
            "tpr": tpr if args.calibrate is not None else None,
            "results": results,
            "errors": [{"file": name, "error": message} for name, message in failed.items()],
        }
        print(json.dumps(document, indent=2))
    else:
        columns = ["file", "class", "similarity", "novelty"] + (["verdict"] if detector.threshold_ is not None else [])
        rows = [
            [r["file"], r["class"], f"{r['similarity']:.4f}", f"{r['novelty']:.4f}", r["verdict"]][: len(columns)]
            for r in results
        ]
        _print_table(columns, rows, numeric={"similarity", "novelty"})
    return _finish(failed)


def _known_names(value: str) -> list[str]:
    """``--known``: comma-separated names, or ``@FILE`` with one name per line (``#`` comments)."""
    if value.startswith("@"):
        try:
            lines = Path(value[1:]).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read the class names file {value[1:]}: {exc.strerror or exc}") from None
        names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    else:
        names = [name.strip() for name in value.split(",")]
    try:
        return check_class_names(names, "--known class names")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# ------------------------------------------------------------------------------ embed


def _embed(args: argparse.Namespace) -> int:
    if args.chunk_size < 1:
        raise UsageError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    entry = _check_shape_options(args)
    files, failed = _expand(args.paths)
    # An output inside an input folder must not become an input: it and its chunks are .h5/.npz.
    out = Path(args.out).resolve()
    partial = out.with_name(out.name + ".partial")
    files = [name for name in files if Path(name).resolve() != out and partial not in Path(name).resolve().parents]
    if not files:
        raise ValueError("no shape files to embed")
    encoder = ShapeEncoder.from_pretrained(args.model, device=resolve_device(args.device))
    settings = {
        "model": entry.name,
        "checkpoint_sha256": entry.sha256 or file_sha256(fetch_checkpoint(entry)),
        "embed_dim": encoder.embed_dim,
        "model_up_axis": encoder.up_axis,
        "up_axis": args.up,
        "seed": args.seed,
        "num_points": encoder.num_points,
        "mesh_samples": MESH_SAMPLES,
    }
    writer = ResumableEmbeddingWriter(args.out, settings, version=__version__, chunk_size=args.chunk_size)
    todo = [name for name in files if name not in writer.done]
    if len(todo) < len(files):
        _note(args, f"{len(files) - len(todo)} of {len(files)} files were embedded into {args.out} before; skipping them")
    added = 0
    try:
        for name, embedding in _embed_files(encoder, todo, args, "Embedding", failed):
            writer.add(name, embedding)
            added += 1
    finally:  # keep what was embedded before an interruption or error, for the next run
        writer.flush()
    count = writer.finish(order=files)
    _note(args, f"{args.out}: {count} embeddings, {added} new")
    return _finish(failed)


# ----------------------------------------------------------------------------- models


def _models(args: argparse.Namespace) -> int:
    registry = load_registry()
    rows = []
    for entry in registry.values():
        source = entry.source
        if isinstance(source, HubSource):
            where = f"hf://{source.repo_id}/{source.filename}"
            cached = isinstance(try_to_load_from_cache(source.repo_id, source.filename, revision=source.revision), str)
        else:
            where, cached = str(source.path), source.path.is_file()
        rows.append(
            {
                "name": entry.name,
                "embed_dim": entry.embed_dim,
                "up_axis": entry.up_axis,
                "text_model": entry.text_model,
                "text_pretrained": entry.text_pretrained,
                "source": where,
                "cached": cached,
            }
        )
    if args.json:
        print(json.dumps({"registry": str(registry_path()), "models": rows}, indent=2))
    else:
        table = [
            [
                r["name"],
                str(r["embed_dim"]),
                r["up_axis"],
                # Local text weights are absolute paths: their file name is enough here.
                f"{r['text_model']} / {Path(r['text_pretrained']).name}",
                "yes" if r["cached"] else "no",
                r["source"],
            ]
            for r in rows
        ]
        _print_table(["name", "dim", "up", "text tower", "cached", "source"], table, numeric={"dim"})
        _note(args, f"registry: {registry_path()}")
    return 0


# ----------------------------------------------------------------------------- shared


def _check_shape_options(args: argparse.Namespace) -> ModelEntry:
    """Check ``--seed`` and ``--batch-size``; return the registry entry of ``--model`` (a usage error lists the names)."""
    try:
        check_seed(args.seed, "--seed")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    try:
        return get_entry(args.model)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def _expand(patterns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Files named by PATH arguments, in order without repeats, and ``{argument: error}`` for the others.

    Files are kept as named (any suffix: reading reports the unsupported ones);
    directories and glob matches contribute the files with a supported suffix.
    """
    files: dict[str, None] = {}
    failed: dict[str, str] = {}
    for pattern in patterns:
        path = Path(pattern)
        if path.is_file():
            files[os.path.normpath(pattern)] = None
            continue
        if path.is_dir():
            found = _shape_files(path)
            what = f"no shape files in directory {pattern}"
        elif glob.has_magic(pattern):
            found = [f for match in sorted(glob.glob(pattern, recursive=True)) for f in _matched(Path(match))]
            what = f"no shape files match {pattern}"
        else:
            _fail(failed, pattern, f"no such file or directory: {pattern}")
            continue
        if not found:
            _fail(failed, pattern, f"{what} (suffixes read: {' '.join(SUPPORTED_SUFFIXES)})")
        files.update(dict.fromkeys(found))
    return list(files), failed


def _shape_files(directory: Path) -> list[str]:
    return sorted(str(path) for path in directory.rglob("*") if is_shape_file(path))


def _matched(path: Path) -> list[str]:
    if path.is_dir():
        return _shape_files(path)
    return [str(path)] if is_shape_file(path) else []


def _embed_files(
    encoder: ShapeEncoder, files: Sequence[str], args: argparse.Namespace, label: str, failed: dict[str, str]
) -> Iterator[tuple[str, np.ndarray]]:
    """Load each file and embed them in batches, yielding ``(file, embedding (D,))``; failures go to ``failed``.

    Every cloud is resampled with its own generator seeded by ``--seed``, so a file's
    embedding depends only on the file and the settings: not on the other files, their
    order, the batch size, or a resumed run.
    """
    batch: list[tuple[str, np.ndarray]] = []
    for name in tqdm(files, desc=label, unit="file", disable=args.quiet or not files, file=sys.stderr):
        try:
            points = load_points(name, num_samples=MESH_SAMPLES, seed=args.seed)
        except (OSError, ValueError) as exc:  # the message names the file
            _fail(failed, name, str(exc))
            continue
        try:
            validate_cloud(points, name=name)  # here, so that one bad file does not sink its batch
        except ValueError as exc:
            _fail(failed, name, str(exc))
            continue
        batch.append((name, points))
        if len(batch) == args.batch_size:
            yield from _embed_batch(encoder, batch, args)
            batch = []
    yield from _embed_batch(encoder, batch, args)


def _embed_batch(
    encoder: ShapeEncoder, batch: list[tuple[str, np.ndarray]], args: argparse.Namespace
) -> Iterator[tuple[str, np.ndarray]]:
    if batch:
        embeddings = encoder.embed(
            [points for _, points in batch], up_axis=args.up, seed=args.seed, batch_size=len(batch), progress=False
        )
        yield from zip((name for name, _ in batch), embeddings)


def _fail(failed: dict[str, str], name: str, message: str) -> None:
    """Record that ``name`` failed and say so on stderr at once (above any progress bar)."""
    failed[name] = message
    tqdm.write(f"{PROG}: error: {message}", file=sys.stderr)


def _finish(failed: dict[str, str]) -> int:
    if not failed:
        return 0
    _error(f"{len(failed)} input(s) failed (see above)")
    return 1


def _print_table(columns: list[str], rows: list[list[str]], numeric: set[str]) -> None:
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


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {message}", file=sys.stderr)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    tqdm.write(f"{PROG}: warning: {message}", file=sys.stderr)
