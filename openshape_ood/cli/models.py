"""``openshape-ood models``: the registered shape encoders and what of them is on this machine."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..hub import OPEN_CLIP_WEIGHTS, cached_file
from ..registry import REGISTRY_ENV, HubSource, ModelEntry, load_registry, registry_paths
from .common import common_options, note, print_table



def add_parser(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser(
        "models",
        parents=[common_options()],
        help="list the registered shape encoders",
        description=f"List the checkpoint registry (the packaged one and the files in ${REGISTRY_ENV}): name, "
        "embedding width, gravity axis, paired CLIP text tower, the download sizes of the checkpoint and of the "
        "text tower's weights ('unknown' where the registry does not say), where the checkpoint comes from, and whether "
        "the checkpoint and the text tower's weights are already on this machine (Hub cache or local file; "
        "'?' when the registry does not say where the text tower comes from).",
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of the table")
    models.set_defaults(run=run, subparser=models)


def run(args: argparse.Namespace) -> int:
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
                "size": entry.size,
                "text_size": _text_size(entry),
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
    return 0


def _hub_cached(repo_id: str, filenames: Sequence[str], revision: str | None = None) -> bool:
    return cached_file(repo_id, filenames, revision=revision) is not None


def _text_tower_cached(entry: ModelEntry) -> bool | None:
    """Whether the paired text tower's weights are on this machine; ``None``: unknown (no ``hf_repo`` in the registry)."""
    if entry.text_is_file:
        return Path(entry.text_pretrained).is_file()
    if entry.text_hf_repo is None:
        return None
    return _hub_cached(entry.text_hf_repo, OPEN_CLIP_WEIGHTS)


def _text_size(entry: ModelEntry) -> int | None:
    """Bytes of the text tower's weights: the local file's, else the registry's ``size``; ``None``: unknown."""
    if entry.text_is_file:
        path = Path(entry.text_pretrained)
        return path.stat().st_size if path.is_file() else None
    return entry.text_size


def _megabytes(size: int | None) -> str:
    return "unknown" if size is None else f"{size / 1e6:,.1f} MB"


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")
