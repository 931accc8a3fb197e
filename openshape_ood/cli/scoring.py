"""What the scoring commands (``score``, ``scene``) share: their options and checks, the detector they fit
from ``--method``, ``--known`` and ``--reference``, its calibration, and the table of results."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..classnames import TEMPLATE_SETS
from ..methods import METHOD_CLASSES
from .common import UsageError, class_names, embed_files, expand, note, print_table, progress

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..encoders.shape import ShapeEncoder


def scoring_options() -> argparse.ArgumentParser:
    """The known classes, the method, the threshold or calibration rule, descriptions: the commands that score."""
    scoring = argparse.ArgumentParser(add_help=False)
    scoring.add_argument(
        "--known",
        help="known class names, comma-separated (chair,table,sofa), or @FILE with one name per line; "
        "needed by the methods that score against text (all but knn and prototype)",
    )
    scoring.add_argument(
        "--reference",
        metavar="DIR|CSV|H5",
        help="shape files of the known classes, for knn, prototype and fused: a folder with one subfolder per "
        "class (the subfolder name is the class), a CSV file of file,class rows, or an embeddings file written by "
        "embed (.h5: a reference bank, each row's class the folder its file is in; knn searches it on disk, "
        "exactly or with --method \"knn(index='ivfpq')\" and the index 'openshape-ood index' built)",
    )
    scoring.add_argument(
        "--method",
        default="max_cosine",
        help="novelty score, a name or the benchmark's spec with parameters, e.g. 'mcm(temperature=0.01)'; "
        f"methods: {', '.join(METHOD_CLASSES)} (default max_cosine: minus the highest cosine to a known class)",
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
    rule = scoring.add_mutually_exclusive_group()
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
        help="with --calibrate: call novel the shapes Benjamini-Hochberg selects from the p-values of all shapes "
        "scored, so that at most a share Q of them is known, on average",
    )
    scoring.add_argument(
        "--describe",
        type=int,
        nargs="?",
        const=3,
        metavar="K",
        help="add each shape's K (default 3) nearest names in --vocabulary, with cosines",
    )
    scoring.add_argument(
        "--vocabulary",
        metavar="NAMES",
        help="with --describe: candidate names, comma-separated or @FILE (default: the 1,156 LVIS categories)",
    )
    scoring.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    return scoring


def parse_method_option(args: argparse.Namespace) -> None:
    """``--method``: the name or spec read into a method object by the library's
    :func:`~openshape_ood.methods.parse_method`. Called after the checkpoint is found (scikit-learn
    takes seconds to import: an offline first run fails before it)."""
    from ..methods import NoveltyMethod, parse_method

    if isinstance(args.method, NoveltyMethod):
        return
    try:
        args.method = parse_method(args.method)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"argument --method: {exc}") from None


def check_rule(args: argparse.Namespace) -> float | None:
    """Check ``--threshold``, ``--tpr``, ``--alpha``, ``--fdr`` and ``--describe``/``--vocabulary``; return the tpr.

    The tpr is 0.95 with ``--calibrate`` and neither ``--alpha`` nor ``--fdr``, else ``--tpr`` (``None`` unless given).
    """
    from ..detectors.conformal import is_share

    if args.threshold is not None and not np.isfinite(args.threshold):
        raise UsageError(f"--threshold must be a finite number, got {args.threshold}")
    for option in ("tpr", "alpha", "fdr"):
        if getattr(args, option) is not None and args.calibrate is None:
            raise UsageError(f"--{option} applies only with --calibrate DIR")
    if args.tpr is not None and (args.alpha is not None or args.fdr is not None):
        raise UsageError("--tpr, --alpha and --fdr are alternative rules: give one")
    for option, interval in (("tpr", "(0, 1]"), ("alpha", "(0, 1)"), ("fdr", "(0, 1]")):
        value = getattr(args, option)
        if value is not None and not is_share(value, one_allowed=interval.endswith("]")):
            raise UsageError(f"--{option} must be in {interval}, got {value}")
    if args.describe is not None and args.describe < 1:
        raise UsageError(f"--describe takes a number of names of at least 1, got {args.describe}")
    if args.vocabulary is not None and args.describe is None:
        raise UsageError("--vocabulary applies only with --describe")
    if args.calibrate is not None and args.alpha is None and args.fdr is None:
        return 0.95 if args.tpr is None else args.tpr
    return args.tpr


def known_classes(args: argparse.Namespace) -> list[str] | None:
    """``--known`` class names, checked against what ``--method`` needs (and ``--reference``)."""
    parse_method_option(args)
    needs, name = args.method.needs, method_name(args)
    if "reference" in needs and args.reference is None:
        # argparse's words for a method that cannot run: it needs the shapes of the known classes.
        raise UsageError(f"argument --method: invalid choice: {name!r} without --reference DIR or CSV (shape files of "
                         "the known classes)")
    if "reference" not in needs and args.reference is not None:
        raise UsageError(f"--reference applies only with the methods that use reference shapes (knn, prototype, fused), "
                         f"not {name}")
    if "known" in needs and args.known is None:
        raise UsageError(f"the following arguments are required: --known (method {name} scores against class names)")
    if "known" not in needs and args.known is not None:
        raise UsageError(f"--method {name} scores against --reference shapes only: drop --known")
    return None if args.known is None else class_names(args.known)


def method_name(args: argparse.Namespace) -> str:
    """``--method`` as the spec text that reads back into it (``mcm(temperature=0.01)``)."""
    from ..methods import method_spec

    return method_spec(args.method)


def reference_files(source: str) -> tuple[list[str], list[str]]:
    """``--reference``: the shape files of the known classes and the class of each.

    A folder: every shape file under it (found by :func:`expand`), its class the name of the
    first subfolder it is in. A ``.csv`` file: ``file,class`` rows (an optional ``file,class``
    header; relative paths are relative to the CSV's folder).
    """
    path = Path(source)
    if is_bank_file(source):
        raise UsageError(f"--reference {source} is an embeddings file: it holds no shape files to list")
    if path.is_dir():
        files, failed = expand([source])
        classes = [Path(file).relative_to(path).parts[0] for file in files]
        loose = [file for file, cls in zip(files, classes) if Path(path, cls).is_file()]
        if failed or loose:
            raise UsageError(
                f"--reference {source} must hold one subfolder of shape files per known class"
                + (f"; {loose[0]} is not in a subfolder" if loose else f"; {next(iter(failed.values()))}")
            )
        return files, classes
    if path.suffix.lower() != ".csv" or not path.is_file():
        raise UsageError(
            f"--reference takes a folder with one subfolder per class, a CSV of file,class or an embeddings file "
            f"(.h5); got {source}"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the reference list {source}: {exc}") from None
    if rows and [cell.strip().lower() for cell in rows[0]] == ["file", "class"]:
        rows = rows[1:]
    bad = [i for i, row in enumerate(rows) if len(row) != 2 or not row[0].strip() or not row[1].strip()]
    if bad or not rows:
        where = f"row {bad[0] + 1} is {rows[bad[0]]}" if bad else "it has no rows"
        raise UsageError(f"--reference {source} must hold file,class rows; {where}")
    return [str(path.parent / row[0].strip()) for row in rows], [row[1].strip() for row in rows]


BANK_SUFFIXES = (".h5", ".hdf5")  # --reference as an embeddings file (a reference bank)


def is_bank_file(source: str) -> bool:
    """Whether ``--reference`` names an embeddings file (a reference bank) rather than shape files."""
    return Path(source).suffix.lower() in BANK_SUFFIXES and Path(source).is_file()


def reference_bank(encoder: ShapeEncoder, source: str):
    """``--reference FILE.h5``: the reference bank, checked to come from ``encoder``'s model and width."""
    from ..corpus.bank import ReferenceBank

    bank = ReferenceBank(source)
    model, width = bank.settings.get("model"), bank.shape[1]
    if width != encoder.embed_dim or (encoder.name is not None and model != encoder.name):
        raise ValueError(
            f"--reference {source} holds {width}-d embeddings of model {model!r}, but the shapes are embedded by "
            f"{encoder.name!r} ({encoder.embed_dim}-d); embed the references with --model {encoder.name} or score "
            f"with --model {model}"
        )
    return bank


def reference_embeddings(encoder: ShapeEncoder, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """``{class: embeddings (n, D)}`` of the ``--reference`` shapes, all of which must load."""
    files, classes = reference_files(args.reference)
    failed: dict[str, str] = {}
    embedded = embed_files(encoder, files, args, failed)
    if failed:
        raise ValueError(
            f"the reference shapes of {args.reference} must all load; fix or remove the {len(failed)} file(s) "
            "reported above"
        )
    reference: dict[str, list[np.ndarray]] = {}
    for file, cls in zip(files, classes):
        reference.setdefault(cls, []).append(embedded[file])
    return {cls: np.stack(rows) for cls, rows in reference.items()}


def fit_detector(encoder: ShapeEncoder, known: list[str] | None, args: argparse.Namespace):
    """The detector of ``--method`` fitted on ``--known`` and/or ``--reference``, with ``--threshold``."""
    from ..detectors.functional import fit_detector as fit

    if args.reference is None:
        reference = None
    elif is_bank_file(args.reference):
        reference = reference_bank(encoder, args.reference)
    else:
        reference = reference_embeddings(encoder, args)
    options = {"model": encoder, "templates": args.templates, "threshold": args.threshold, "progress": progress(args)}
    if known is None:
        return fit(reference, args.method, **options)
    return fit(known, args.method, reference=reference, **options)


def calibrate(detector, encoder: ShapeEncoder, args: argparse.Namespace, tpr: float | None) -> None:
    """Calibrate ``detector`` on the ``--calibrate`` shapes by ``--tpr``/``--alpha`` (``--fdr``: p-values), and say so."""
    calibration = calibration_embeddings(encoder, args)
    detector.calibrate(calibration, tpr=tpr, alpha=args.alpha)
    shapes = f"the {len(calibration)} shapes in {args.calibrate}"
    if args.fdr is not None:
        note(args, f"verdicts by Benjamini-Hochberg at FDR {args.fdr:g}, p-values from {shapes}")
    elif args.alpha is not None:
        note(args, f"threshold {detector.threshold_:.4f}: false-alarm rate at most {args.alpha:g}, from {shapes}")
    else:
        note(args, f"threshold {detector.threshold_:.4f}: accepts {tpr:.0%} of {shapes}")


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


def print_results(
    first: list[str],
    rows: list[dict],
    *,
    calibrated: bool,
    decided: bool,
    last: Mapping[str, Callable[[dict], str]] | None = None,
) -> None:
    """The table of scored shapes or objects: the ``first`` columns, then class, similarity, novelty,
    p_value (when ``calibrated``), verdict (when ``decided``), the ``last`` columns and "looks like"
    (when the rows have it). Rows are dicts (the JSON rows); the ``first`` columns are shown as they are,
    each ``last`` column is written by its function of the row."""
    from ..detectors.describe import format_description

    last = dict(last or {})
    cells = {
        "class": lambda r: r["class"],
        "similarity": lambda r: f"{r['similarity']:.4f}",
        "novelty": lambda r: f"{r['novelty']:.4f}",
        "p_value": lambda r: f"{r['p_value']:.4f}",
        "verdict": lambda r: r["verdict"],
        "looks like": lambda r: format_description(
            [n["name"] for n in r["looks_like"]], [n["cosine"] for n in r["looks_like"]]
        ),
    }
    shown = {"p_value": calibrated, "verdict": decided, "looks like": bool(rows) and "looks_like" in rows[0]}
    columns = first + [column for column in cells if shown.get(column, True) and column != "looks like"] + list(last)
    columns += ["looks like"] if shown["looks like"] else []
    cells.update(last)
    table = [[cells[c](r) if c in cells else str(r[c]) for c in columns] for r in rows]
    print_table(columns, table, numeric={"id", "points", "similarity", "novelty", "p_value"})
