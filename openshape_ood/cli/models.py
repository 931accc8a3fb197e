"""``openshape-ood models``: the registered shape encoders and what of them is on this machine."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..encoders._hub import model_status
from ..encoders._registry import REGISTRY_ENV, load_registry, registry_paths
from . import COMMANDS
from .common import common_options, note, print_table


def add_parser(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser(
        "models",
        parents=[common_options()],
        help=COMMANDS["models"],
        description=f"List the checkpoint registry (the packaged one and the files in ${REGISTRY_ENV}): name, "
        "embedding width, gravity axis, paired CLIP text tower, the download sizes of the checkpoint and of the "
        "text tower's weights ('unknown' where the registry does not say), where the checkpoint comes from, and whether "
        "the checkpoint and the text tower's weights are already on this machine (Hub cache or local file; "
        "'?' when the registry does not say where the text tower comes from). --verbose adds each model's "
        "family and the licences of its code and weights, with where each is stated.",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of the table")
    models.set_defaults(run=run, subparser=models)


def run(args: argparse.Namespace) -> int:
    rows = [model_status(entry).to_dict() for entry in load_registry().values()]
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
                _megabytes(r["size"]),
                _megabytes(r["text_size"]),
                _yes_no(r["cached"]),
                _yes_no(r["text_cached"]),
                r["source"],
            ]
            for r in rows
        ]
        columns = ["name", "dim", "up", "text tower", "size", "text size", "cached", "text cached", "source"]
        print_table(columns, table, numeric={"dim", "size", "text size"})
        note(args, f"registry: {os.pathsep.join(files)}")
    if args.verbose:
        if not args.json:
            _print_licences(rows)
        _say_auto_dtype(args)
    return 0


def _print_licences(rows: list[dict]) -> None:
    """Each model's family and the licences of its code and weights, with where each is stated."""
    print("\nlicences (weights fetched at run time from their source, never shipped with this package):")
    for r in rows:
        licences = r["licences"] or {}
        print(f"{r['name']} ({r['family']}):")
        for part in ("code", "weights"):
            licence = licences.get(part) or "not recorded in the registry"
            source = licences.get(f"{part}_source")
            print(f"  {part}: {licence}" + (f" ({source})" if source else ""))


def _say_auto_dtype(args: argparse.Namespace) -> None:
    """What ``--dtype auto`` picks on this machine's CPU and GPU, and why (imports torch: only on request)."""
    import torch

    from ..device import resolve_dtype

    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        choice = resolve_dtype("auto", device)
        note(args, f"--dtype auto on {device}: {choice.name} ({choice.reason})")


def _megabytes(size: int | None) -> str:
    return "unknown" if size is None else f"{size / 1e6:,.1f} MB"


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")
