"""``openshape-ood score``: the novelty of each shape file against known class names."""

from __future__ import annotations

import argparse
import json

import numpy as np

from . import COMMANDS
from .common import (
    check_shape_options,
    class_names,
    common_options,
    embed_files,
    encoding_options,
    expand,
    finish,
    load_encoder,
    note,
    path_options,
)
from .scoring import (
    calibrate,
    check_rule,
    fit_detector,
    known_classes,
    method_name,
    print_results,
    scoring_options,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    score = commands.add_parser(
        "score",
        parents=[common_options(), path_options(), encoding_options(), scoring_options()],
        help=COMMANDS["score"],
        description="Score each shape file against the known classes: nearest class, its cosine similarity, "
        "the novelty score (higher = more novel) and, with --threshold or --calibrate, the verdict "
        "known/novel (novel when the novelty score is above the threshold). Without either, scores are "
        "printed without a verdict, for you to rank or threshold.",
    )
    score.set_defaults(run=run, subparser=score)


def run(args: argparse.Namespace) -> int:
    vocabulary = None if args.vocabulary is None else class_names(args.vocabulary, "--vocabulary names")
    # The checkpoint is looked up first: an offline first run fails before scipy and scikit-learn (the
    # checks of --method and the rule) and torch are imported.
    check_shape_options(args)
    tpr = check_rule(args)
    known = known_classes(args)
    files, failed = expand(args.paths)
    if not files:
        raise ValueError("no shape files to score")
    from ..detectors.functional import score_shapes  # torch and open_clip: only for the commands that encode

    encoder = load_encoder(args)
    detector = fit_detector(encoder, known, args)
    if args.calibrate is not None:
        calibrate(detector, encoder, args, tpr)
    elif args.threshold is None:
        note(args, "no --threshold or --calibrate given: scores without a known/novel verdict")

    embedded = embed_files(encoder, files, args, failed)
    rows = []
    rule = detector.decision_rule(args.fdr)
    if embedded:
        scored = score_shapes(
            detector, np.stack(list(embedded.values())), fdr=args.fdr, describe=args.describe, vocabulary=vocabulary
        )
        rows = [{"file": name, **row} for name, row in zip(embedded, scored.rows())]
    if args.json:
        document = {"model": args.model, "method": method_name(args), "known": known, **rule, "results": rows}
        document["errors"] = [{"file": name, "error": message} for name, message in failed.items()]
        print(json.dumps(document, indent=2))
    else:
        print_results(["file"], rows, calibrated=args.calibrate is not None, decided=rule["threshold"] is not None)
    return finish(failed)
