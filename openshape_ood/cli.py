"""The ``openshape-ood`` command line: score shape files for novelty, embed them, list the models.

Run ``openshape-ood --help`` (or ``python -m openshape_ood --help``) for the commands:

* ``score PATH... --known chair,table``: one line per file with the nearest known class,
  the cosine similarity to it, the novelty score (higher = more novel) and, given a
  threshold, the verdict ``known`` or ``novel``;
* ``embed PATH... --out embeddings.h5``: embeddings in an HDF5 file, resumable; under
  ``torchrun --nproc_per_node=K -m openshape_ood embed ...`` the files are split between
  K processes (one GPU each, or CPU), and machines with ``--nnodes``;
* ``models``: the registered shape encoders and whether their checkpoints and paired text
  towers are cached.

PATH arguments are files, directories (searched recursively for files with a suffix
:func:`load_points` reads) or glob patterns (``**`` recurses). A stacked file (an HDF5
``data`` dataset or ``.npy`` array of shape ``[n, N, C]``) stands for its n clouds, named
``file.h5#0`` ... ``file.h5#(n-1)``; one of them can be named that way, too. A file that
cannot be read or is degenerate is reported on stderr by name and skipped; the run goes
on with the others and exits with 1.

Exit codes: 0 success, 1 an error (any file that could not be read included), 2 a usage
error, 130 interrupted. Progress bars and notes go to stderr, results to stdout.

torch and open_clip are imported by the commands that encode (``score``, ``embed``), so
``--help``, ``--version`` and ``models`` answer at once.
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
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.utils import (
    are_progress_bars_disabled,
    disable_progress_bars,
    enable_progress_bars,
)
from tqdm import tqdm

from . import __version__
from .checkpoint import CheckpointError
from .classnames import TEMPLATE_SETS, check_class_names
from .config import UP_AXES
from .describe import format_description
from .io import SUPPORTED_SUFFIXES, is_shape_file
from .methods import METHODS
from .prepare import check_seed
from .registry import REGISTRY_ENV, HubSource, ModelEntry, UnknownModelError, get_entry, load_registry, registry_paths

if TYPE_CHECKING:
    import torch

    from .encoder import ShapeEncoder

__all__ = ["main"]

PROG = "openshape-ood"
DEFAULT_MODEL = "vitl14"
#: The --method choices: the methods that need only class names.
TEXT_METHODS = tuple(name for name, method in METHODS.items() if method.needs == ("known",))
# The files open_clip fetches from a pretrained tag's Hub repository, safetensors first.
_OPEN_CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
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
            expected = isinstance(exc, (OSError, ValueError, UnknownModelError, CheckpointError))
            _error(str(exc) if expected else f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
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

    score = commands.add_parser(
        "score",
        parents=[common, shapes, encoding, scoring],
        help="novelty of each shape file against known class names",
        description="Score each shape file against the known classes: nearest class, its cosine similarity, "
        "the novelty score (higher = more novel) and, with --threshold or --calibrate, the verdict "
        "known/novel (novel when the novelty score is above the threshold). Without either, scores are "
        "printed without a verdict, for you to rank or threshold.",
    )
    rule = score.add_mutually_exclusive_group()
    rule.add_argument(
        "--alpha",
        type=float,
        metavar="A",
        help="with --calibrate: the split-conformal threshold, which calls a new known shape novel with "
        "probability at most A (its calibration shapes and the known shapes scored must be alike)",
    )
    rule.add_argument(
        "--fdr",
        type=float,
        metavar="Q",
        help="with --calibrate: call novel the shapes Benjamini-Hochberg selects from the p-values of all files "
        "scored, so that at most a share Q of them is known, on average",
    )
    score.add_argument(
        "--describe",
        type=int,
        nargs="?",
        const=3,
        metavar="K",
        help="add each shape's K (default 3) nearest names in --vocabulary, with cosines",
    )
    score.add_argument(
        "--vocabulary",
        metavar="NAMES",
        help="with --describe: candidate names, comma-separated or @FILE (default: the 1,156 LVIS categories)",
    )
    score.set_defaults(run=_score, subparser=score)

    embed = commands.add_parser(
        "embed",
        parents=[common, shapes, encoding],
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
    embed.set_defaults(run=_embed, subparser=embed)

    scene = commands.add_parser(
        "scene",
        parents=[common, encoding, scoring],
        help="find the objects in a scan and score each one for novelty",
        description="Find the objects in a scan of a room or a table top (coordinates in metres) and score each "
        "against the known classes, as 'score' scores a file: one table row per object with its point count, "
        "centroid, size, nearest known class, similarity, novelty and, with a threshold, the verdict. Writes a "
        "PLY point cloud with the objects coloured by novelty and 'instance' and 'novelty' vertex properties. "
        "The objects come from the file's per-point instance labels when it has them (--labels), else from "
        "a geometric segmentation: large planes (floor, walls, table tops) removed, the rest clustered.",
    )
    scene.add_argument("scan", metavar="SCAN", help="the scan: a point cloud file, e.g. .ply or .pcd")
    scene.add_argument("--out", required=True, metavar="OUT.ply", help="output PLY point cloud")
    scene.add_argument("--png", metavar="OUT.png", help="also draw the scene with the objects' boxes and labels")
    scene.add_argument(
        "--view",
        metavar="H,V",
        help="axes drawn to the right and upwards in --png, each x, y or z, '-' to flip (default: x,UP; "
        "x,-y for a camera frame)",
    )
    scene.add_argument(
        "--labels",
        default="auto",
        metavar="PROPERTY",
        help="per-point instance labels of the file: auto (its instance, objectId, segment or label property, "
        "when it has one), a property name, or none to segment the scan (default auto)",
    )
    for option, help_text in (
        ("--voxel-size", "voxel size of the segmentation (default 0.01)"),
        ("--plane-distance", "distance of a point to a plane it belongs to (default 0.02)"),
        ("--min-plane-area", "area in m^2 from which a plane is background (default 0.1)"),
        ("--cluster-distance", "points closer than this are one object (default 0.03)"),
        ("--min-size", "objects whose largest side is shorter are background (default 0.03)"),
        ("--max-size", "objects whose largest side is longer are background (default 3.0)"),
    ):
        scene.add_argument(option, type=float, metavar="M", help=f"metres: {help_text}")
    scene.set_defaults(run=_scene, subparser=scene)

    models = commands.add_parser(
        "models",
        parents=[common],
        help="list the registered shape encoders",
        description=f"List the checkpoint registry (the packaged one and the files in ${REGISTRY_ENV}): name, "
        "embedding width, gravity axis, paired CLIP text tower, where the checkpoint comes from, and whether "
        "the checkpoint and the text tower's weights are already on this machine (Hub cache or local file; "
        "'?' when the registry does not say where the text tower comes from).",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of the table")
    models.set_defaults(run=_models, subparser=models)
    return parser


# ------------------------------------------------------------------------------ score


def _score(args: argparse.Namespace) -> int:
    known = _known_names(args.known)
    for option in ("alpha", "fdr"):
        if getattr(args, option) is not None and args.calibrate is None:
            raise UsageError(f"--{option} applies only with --calibrate DIR")
    if args.tpr is not None and (args.alpha is not None or args.fdr is not None):
        raise UsageError("--tpr, --alpha and --fdr are alternative rules: give one")
    tpr = _tpr(args) if args.alpha is None and args.fdr is None else None
    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.fdr is not None and not 0.0 < args.fdr <= 1.0:
        raise UsageError(f"--fdr must be in (0, 1], got {args.fdr}")
    if args.describe is not None and args.describe < 1:
        raise UsageError(f"--describe takes a number of names of at least 1, got {args.describe}")
    if args.vocabulary is not None and args.describe is None:
        raise UsageError("--vocabulary applies only with --describe")
    vocabulary = None if args.vocabulary is None else _known_names(args.vocabulary, "--vocabulary names")
    _check_shape_options(args)
    files, failed = _expand(args.paths)
    if not files:
        raise ValueError("no shape files to score")
    from .detector import NoveltyDetector  # torch and open_clip: only for the commands that encode

    encoder = _load_encoder(args)
    detector = NoveltyDetector(
        args.method, model=encoder, templates=args.templates, threshold=args.threshold, progress=not args.quiet
    ).fit(known=known)

    if args.calibrate is not None:
        calibration = _calibration_embeddings(encoder, args)
        detector.calibrate(calibration, tpr=tpr, alpha=args.alpha)
        shapes = f"the {len(calibration)} shapes in {args.calibrate}"
        if args.fdr is not None:
            _note(args, f"verdicts by Benjamini-Hochberg at FDR {args.fdr:g}, p-values from {shapes}")
        elif args.alpha is not None:
            _note(args, f"threshold {detector.threshold_:.4f}: false-alarm rate at most {args.alpha:g}, from {shapes}")
        else:
            _note(args, f"threshold {detector.threshold_:.4f}: accepts {tpr:.0%} of {shapes}")
    elif args.threshold is None:
        _note(args, "no --threshold or --calibrate given: scores without a known/novel verdict")

    embedded = _embed_files(encoder, files, args, failed)
    results = []
    if embedded:
        embeddings = np.stack(list(embedded.values()))
        novelty = detector.novelty(embeddings)
        nearest = detector.classify(embeddings)
        similarity = detector.similarity(embeddings)
        novel = detector.predict(embeddings) == -1 if detector.threshold_ is not None else None
        p_values = detector.p_values(embeddings) if args.calibrate is not None else None
        if args.fdr is not None:
            novel = detector.select_novel(embeddings, fdr=args.fdr)
        looks_like = detector.describe(embeddings, k=args.describe, vocabulary=vocabulary) if args.describe else None
        for i, name in enumerate(embedded):
            verdict = None if novel is None else ("novel" if novel[i] else "known")
            result = {
                "file": name,
                "class": str(detector.classes_[nearest[i]]),
                "similarity": float(similarity[i]),
                "novelty": float(novelty[i]),
                "p_value": None if p_values is None else float(p_values[i]),
                "verdict": verdict,
            }
            if looks_like is not None:
                result["looks_like"] = [
                    {"name": str(n), "cosine": float(c)} for n, c in zip(looks_like.names[i], looks_like.cosines[i])
                ]
            results.append(result)
    if args.json:
        document = {
            "model": args.model,
            "method": args.method,
            "known": known,
            "threshold": detector.threshold_,
            "tpr": tpr if args.calibrate is not None else None,
            "alpha": args.alpha,
            "fdr": args.fdr,
            "results": results,
            "errors": [{"file": name, "error": message} for name, message in failed.items()],
        }
        print(json.dumps(document, indent=2))
    else:
        cells = {
            "file": lambda r: r["file"],
            "class": lambda r: r["class"],
            "similarity": lambda r: f"{r['similarity']:.4f}",
            "novelty": lambda r: f"{r['novelty']:.4f}",
            "p_value": lambda r: f"{r['p_value']:.4f}",
            "verdict": lambda r: r["verdict"],
            "looks like": lambda r: format_description(
                [n["name"] for n in r["looks_like"]], [n["cosine"] for n in r["looks_like"]]
            ),
        }
        shown = {"p_value": args.calibrate is not None, "verdict": detector.threshold_ is not None}
        shown["looks like"] = bool(args.describe)
        columns = [column for column in cells if shown.get(column, True)]
        rows = [[cells[column](r) for column in columns] for r in results]
        _print_table(columns, rows, numeric={"similarity", "novelty", "p_value"})
    return _finish(failed)


def _tpr(args: argparse.Namespace) -> float:
    """``--tpr``, checked: only with ``--calibrate``, in (0, 1], 0.95 by default; ``--threshold`` finite."""
    if args.threshold is not None and not np.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    if args.tpr is not None and args.calibrate is None:
        raise UsageError("--tpr applies only with --calibrate DIR")
    tpr = 0.95 if args.tpr is None else args.tpr
    if not 0.0 < tpr <= 1.0:
        raise UsageError(f"--tpr must be in (0, 1], got {tpr}")
    return tpr


def _calibration_embeddings(encoder: ShapeEncoder, args: argparse.Namespace) -> np.ndarray:
    """Embeddings ``(n, D)`` of the shape files of ``--calibrate``, all of which must load."""
    reference, reference_failed = _expand([args.calibrate])
    calibration = _embed_files(encoder, reference, args, reference_failed)
    if reference_failed or not calibration:
        raise ValueError(
            f"calibration needs every file of {args.calibrate} to load, and at least one; "
            f"fix or remove the {len(reference_failed)} file(s) reported above"
        )
    return np.stack(list(calibration.values()))


def _known_names(value: str, what: str = "--known class names") -> list[str]:
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


# ------------------------------------------------------------------------------ embed


def _embed(args: argparse.Namespace) -> int:
    if args.chunk_size < 1:
        raise UsageError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.num_workers < 0:
        raise UsageError(f"--num-workers must be a non-negative integer, got {args.num_workers}")
    entry = _check_shape_options(args)
    # torch: only for the commands that encode
    from .corpus import embed_to_file
    from .dataset import split_item
    from .encoder import ShapeEncoder
    from .prepare import MESH_SAMPLES

    with _process_group() as (rank, local_rank):
        if rank:  # rank 0 speaks for the run; every rank names the files it fails on
            args.quiet = True
        # Rank 0 expands the paths and hands the list to the others.
        files, failed = _expand(args.paths) if rank == 0 else ([], {})
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
            progress=not args.quiet,
            on_error=lambda name, message: _fail(failed, name, message),
        )
    if report.skipped:
        _note(args, f"{report.skipped} of {len(files)} files were embedded into {args.out} before; skipped them")
    _note(args, f"{args.out}: {report.rows} embeddings, {report.added} new")
    failed.update(report.failed)
    # Rank 0 reports failed files and exits 1; the others exit 0 so that torchrun waits for it to say so.
    return _finish(failed) if rank == 0 else 0


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

    from .device import resolve_device

    if requested is None and torch.cuda.is_available() or requested == "cuda":
        return resolve_device(f"cuda:{local_rank}")
    return resolve_device(requested)


# ------------------------------------------------------------------------------ scene


def _scene(args: argparse.Namespace) -> int:
    from .atomic import replacing
    from .scene import load_scene, plot_scene, score_scene, segment_scene, write_scene_ply

    known = _known_names(args.known)
    tpr = _tpr(args)
    _check_shape_options(args)
    view = _view(args)
    sizes = {
        name: getattr(args, name)
        for name in ("voxel_size", "plane_distance", "min_plane_area", "cluster_distance", "min_size", "max_size")
        if getattr(args, name) is not None
    }
    points, labels = load_scene(args.scan, labels=None if args.labels.lower() == "none" else args.labels)
    if labels is not None:
        if sizes:
            options = ", ".join("--" + name.replace("_", "-") for name in sizes)
            raise UsageError(
                f"{args.scan} has per-point labels, which replace the segmentation: drop {options} or pass --labels none"
            )
        objects_from = f"the per-point labels of {args.scan}"
    else:
        labels = segment_scene(points, args.up, seed=args.seed, **sizes)
        objects_from = "segmentation"
    _note(args, f"{len(np.unique(labels[labels >= 0]))} objects among {len(points)} points, from {objects_from}")
    encoder = _load_encoder(args)
    calibration = _calibration_embeddings(encoder, args) if args.calibrate is not None else None
    result = score_scene(
        points,
        known,
        model=encoder,
        method=args.method,
        labels=labels,
        up_axis=args.up,
        threshold=args.threshold,
        calibration=calibration,
        tpr=tpr,
        seed=args.seed,
        batch_size=args.batch_size,
        progress=False if args.quiet else None,
        templates=args.templates,
    )
    if calibration is not None:
        accepted = f"accepts {tpr:.0%} of the {len(calibration)} shapes in {args.calibrate}"
        _note(args, f"threshold {result.threshold:.4f}: {accepted}")
    write_scene_ply(args.out, points, result)
    if args.png is not None:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        figure = plot_scene(points, result, view=view, title=Path(args.scan).name)
        with replacing(args.png) as temporary:
            figure.savefig(temporary, format="png", dpi=150, bbox_inches="tight")
    if args.json:
        document = {
            "scan": args.scan,
            "model": args.model,
            "method": args.method,
            "known": known,
            "threshold": result.threshold,
            "tpr": tpr if args.calibrate is not None else None,
            "objects_from": objects_from,
            "out": args.out,
            "png": args.png,
            "objects": [obj.as_dict() for obj in result.objects],
        }
        print(json.dumps(document, indent=2))
    else:
        verdicts = result.threshold is not None
        calibrated = calibration is not None
        columns = ["id", "points", "class", "similarity", "novelty"]
        columns += (["p_value"] if calibrated else []) + (["verdict"] if verdicts else []) + ["centroid", "size"]
        rows = []
        for obj in result.objects:
            size = np.subtract(obj.bbox_max, obj.bbox_min)
            row = [str(obj.id), str(obj.points), obj.nearest_class, f"{obj.similarity:.4f}", f"{obj.novelty:.4f}"]
            row += [f"{obj.p_value:.4f}"] if calibrated else []
            row += [obj.verdict] if verdicts else []
            row += [" ".join(f"{v:.2f}" for v in obj.centroid), "x".join(f"{v:.2f}" for v in size)]
            rows.append(row)
        _print_table(columns, rows, numeric={"id", "points", "similarity", "novelty", "p_value"})
    return 0


def _view(args: argparse.Namespace) -> tuple[str, str]:
    """``--view H,V``, or the default: the first horizontal axis to the right, up upwards."""
    if args.view is None:
        return (next(axis for axis in "xyz" if axis != args.up), args.up)
    parts = tuple(part.strip() for part in args.view.split(","))
    if len(parts) != 2 or any(part.lstrip("-") not in ("x", "y", "z") or part.count("-") > 1 for part in parts):
        raise UsageError(f"--view takes two axes H,V such as x,y or x,-y; got {args.view!r}")
    return parts


# ----------------------------------------------------------------------------- models


def _models(args: argparse.Namespace) -> int:
    registry = load_registry()
    rows = []
    for entry in registry.values():
        source = entry.source
        if isinstance(source, HubSource):
            where = f"hf://{source.repo_id}/{source.filename}"
            cached = _hub_cached(source.repo_id, (source.filename,), source.revision)
        else:
            where, cached = str(source.path), source.path.is_file()
        rows.append(
            {
                "name": entry.name,
                "embed_dim": entry.embed_dim,
                "up_axis": entry.model_up_axis,
                "text_model": entry.text_model,
                "text_pretrained": entry.text_pretrained,
                "source": where,
                "cached": cached,
                "text_cached": _text_tower_cached(entry),
            }
        )
    files = [str(path) for path in registry_paths()]
    if args.json:
        print(json.dumps({"registry": files, "models": rows}, indent=2))
    else:
        table = [
            [
                r["name"],
                str(r["embed_dim"]),
                r["up_axis"],
                # Local text weights are absolute paths: their file name is enough here.
                f"{r['text_model']} / {Path(r['text_pretrained']).name}",
                _yes_no(r["cached"]),
                _yes_no(r["text_cached"]),
                r["source"],
            ]
            for r in rows
        ]
        _print_table(["name", "dim", "up", "text tower", "cached", "text cached", "source"], table, numeric={"dim"})
        _note(args, f"registry: {os.pathsep.join(files)}")
    return 0


def _hub_cached(repo_id: str, filenames: Sequence[str], revision: str | None = None) -> bool:
    return any(isinstance(try_to_load_from_cache(repo_id, name, revision=revision), str) for name in filenames)


def _text_tower_cached(entry: ModelEntry) -> bool | None:
    """Whether the paired text tower's weights are on this machine; ``None``: unknown (no ``hf_repo`` in the registry)."""
    if entry.text_is_file:
        return Path(entry.text_pretrained).is_file()
    if entry.text_hf_repo is None:
        return None
    return _hub_cached(entry.text_hf_repo, _OPEN_CLIP_WEIGHTS)


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


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
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None


def _expand(patterns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Items named by PATH arguments, in order without repeats, and ``{argument: error}`` for the others.

    Files are kept as named (any suffix: reading reports the unsupported ones);
    directories and glob matches contribute the files with a supported suffix. Stacked
    files become one ``file#row`` item per cloud; ``file#row`` arguments name one row.
    """
    from .dataset import expand_stacks, split_item  # torch: only for the commands that encode

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
            _fail(failed, pattern, f"no such file or directory: {pattern}")
            continue
        if not found:
            _fail(failed, pattern, f"{what} (suffixes read: {' '.join(SUPPORTED_SUFFIXES)})")
        files.update(dict.fromkeys(expand_stacks(found)))
    return list(files), failed


def _shape_files(directory: Path) -> list[str]:
    return sorted(str(path) for path in directory.rglob("*") if is_shape_file(path))


def _matched(path: Path) -> list[str]:
    if path.is_dir():
        return _shape_files(path)
    return [str(path)] if is_shape_file(path) else []


def _load_encoder(args: argparse.Namespace) -> ShapeEncoder:
    from .device import resolve_device
    from .encoder import ShapeEncoder

    return ShapeEncoder.from_pretrained(args.model, device=resolve_device(args.device))


def _embed_files(
    encoder: ShapeEncoder, files: Sequence[str], args: argparse.Namespace, failed: dict[str, str]
) -> dict[str, np.ndarray]:
    """Embed the files in batches: ``{file: embedding (D,)}``; failures go to ``failed`` and stderr.

    Every file is sampled and resampled with its own generator seeded by ``--seed``, so a
    file's embedding depends only on the file and the settings: not on the other files,
    their order, the batch size, or a resumed run.
    """
    from .corpus import embed_files
    from .prepare import MESH_SAMPLES

    embedded = embed_files(
        encoder,
        files,
        up_axis=args.up,
        seed=args.seed,
        mesh_samples=MESH_SAMPLES,
        batch_size=args.batch_size,
        progress=not args.quiet,
        on_error=lambda name, message: _fail(failed, name, message),
    )
    return dict(zip(embedded.files, embedded.embeddings))


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
