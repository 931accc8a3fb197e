"""``openshape-ood score``: the novelty of each shape file against known class names."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ..describe import format_description
from .common import (
    UsageError,
    calibration_embeddings,
    check_shape_options,
    check_tpr,
    class_names,
    common_options,
    embed_files,
    encoding_options,
    expand,
    finish,
    load_encoder,
    note,
    path_options,
    print_table,
    progress,
    scoring_options,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    score = commands.add_parser(
        "score",
        parents=[common_options(), path_options(), encoding_options(), scoring_options()],
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
    score.set_defaults(run=run, subparser=score)


def run(args: argparse.Namespace) -> int:
    known = class_names(args.known)
    for option in ("alpha", "fdr"):
        if getattr(args, option) is not None and args.calibrate is None:
            raise UsageError(f"--{option} applies only with --calibrate DIR")
    if args.tpr is not None and (args.alpha is not None or args.fdr is not None):
        raise UsageError("--tpr, --alpha and --fdr are alternative rules: give one")
    tpr = check_tpr(args) if args.alpha is None and args.fdr is None else None
    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise UsageError(f"--alpha must be in (0, 1), got {args.alpha}")
    if args.fdr is not None and not 0.0 < args.fdr <= 1.0:
        raise UsageError(f"--fdr must be in (0, 1], got {args.fdr}")
    if args.describe is not None and args.describe < 1:
        raise UsageError(f"--describe takes a number of names of at least 1, got {args.describe}")
    if args.vocabulary is not None and args.describe is None:
        raise UsageError("--vocabulary applies only with --describe")
    vocabulary = None if args.vocabulary is None else class_names(args.vocabulary, "--vocabulary names")
    check_shape_options(args)
    files, failed = expand(args.paths)
    if not files:
        raise ValueError("no shape files to score")
    from ..detector import NoveltyDetector  # torch and open_clip: only for the commands that encode

    encoder = load_encoder(args)
    detector = NoveltyDetector(
        args.method, model=encoder, templates=args.templates, threshold=args.threshold, progress=progress(args)
    ).fit(known=known)

    if args.calibrate is not None:
        calibration = calibration_embeddings(encoder, args)
        detector.calibrate(calibration, tpr=tpr, alpha=args.alpha)
        shapes = f"the {len(calibration)} shapes in {args.calibrate}"
        if args.fdr is not None:
            note(args, f"verdicts by Benjamini-Hochberg at FDR {args.fdr:g}, p-values from {shapes}")
        elif args.alpha is not None:
            note(args, f"threshold {detector.threshold_:.4f}: false-alarm rate at most {args.alpha:g}, from {shapes}")
        else:
            note(args, f"threshold {detector.threshold_:.4f}: accepts {tpr:.0%} of {shapes}")
    elif args.threshold is None:
        note(args, "no --threshold or --calibrate given: scores without a known/novel verdict")

    embedded = embed_files(encoder, files, args, failed)
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
        print_table(columns, rows, numeric={"similarity", "novelty", "p_value"})
    return finish(failed)
