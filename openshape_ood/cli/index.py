"""``openshape-ood index``: check a reference bank (an embeddings file) and build its approximate index."""

from __future__ import annotations

import argparse
import json

from . import COMMANDS
from .common import UsageError, common_options, note, progress


def _build_settings() -> dict[str, dict[str, str]]:
    """``{setting: {kind: help}}`` of the settings fixed when an index is built, from the one table of them."""
    from ..methods.search import INDEXES  # numpy only: no torch, no faiss

    settings: dict[str, dict[str, str]] = {}
    for kind, table in INDEXES.items():
        for name, setting in table.items():
            if setting.build:
                settings.setdefault(name, {})[kind] = setting.help
    return settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser(
        "index",
        parents=[common_options()],
        help=COMMANDS["index"],
        description="Check the rows of an embeddings file written by embed (finite, L2-normalised) and record their "
        "SHA-256 beside it (FILE.h5.bank.json); with --approximate, build that index over them and save it beside "
        "the file (FILE.h5.KIND-METRIC.index.npz), for score --reference FILE.h5 --method \"knn(index='KIND')\". "
        "An interrupted build resumes when the command is run again. Needs faiss for --approximate: "
        'pip install "openshape-ood[scale]".',
    )
    index.add_argument("file", metavar="FILE.h5", help="an embeddings file written by openshape-ood embed")
    index.add_argument("--approximate", choices=("ivfpq", "hnsw"), help="build this approximate index")
    index.add_argument("--metric", choices=("euclidean", "cosine"), default="euclidean",
                       help="the distance the index serves, as knn's metric (default euclidean)")  # fmt: skip
    for name, kinds in _build_settings().items():
        index.add_argument(f"--{name.replace('_', '-')}", type=int, metavar="N", dest=name,
                           help="; ".join(f"{kind}: {text}" for kind, text in kinds.items()))  # fmt: skip
    index.add_argument("--json", action="store_true", help="print what was done as JSON")
    index.set_defaults(run=run, subparser=index)


def run(args: argparse.Namespace) -> int:
    settings = _build_settings()
    given = {name: getattr(args, name) for name in settings if getattr(args, name) is not None}
    for name in given:
        if args.approximate not in settings[name]:
            where = " or ".join(settings[name])
            raise UsageError(f"--{name.replace('_', '-')} applies only with --approximate {where}")
    from ..corpus.bank import ReferenceBank

    bank = ReferenceBank(args.file)
    summary = {"file": args.file, "rows": bank.shape[0], "dim": bank.shape[1], "classes": len(bank.classes),
               "model": bank.settings.get("model"), "checksum": bank.checksum(progress(args))}  # fmt: skip
    if args.approximate is not None:
        index = bank.build_index(args.approximate, args.metric, given, progress=progress(args))
        summary.update(index=str(bank.index_path(args.approximate, args.metric)), kind=args.approximate,
                       metric=args.metric, settings=index.options)  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        note(args, f"{args.file}: {bank.shape[0]} references of dimension {bank.shape[1]} in {len(bank.classes)} "
                   f"classes, checked; sha256 {summary['checksum'][:16]}...")  # fmt: skip
        if args.approximate is not None:
            note(args, f"{args.approximate} index for {args.metric} saved to {summary['index']} ({summary['settings']})")
    return 0
