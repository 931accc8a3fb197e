"""``openshape-ood download``: fetch and verify models' files ahead of use, for machines without network."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..encoders._registry import UnknownModelError, get_entry
from . import COMMANDS
from .common import UsageError, common_options, note, progress


def add_parser(commands: argparse._SubParsersAction) -> None:
    download = commands.add_parser(
        "download",
        parents=[common_options()],
        help=COMMANDS["download"],
        description="Download the checkpoint of each MODEL (and with --text its paired CLIP text tower) into the "
        "Hugging Face Hub cache, unless already there, check its SHA-256 (the registry's for a checkpoint, the "
        "Hub's for a text tower) and print where each file is. Copy the Hub cache folder (HF_HUB_CACHE, "
        "default ~/.cache/huggingface/hub) to a machine without network to use the models there.",
    )
    download.add_argument("models", nargs="+", metavar="MODEL", help="registered models (see 'openshape-ood models')")
    download.add_argument("--text", action="store_true", help="also the paired CLIP text tower (needed to score)")
    download.set_defaults(run=run, subparser=download)


def run(args: argparse.Namespace) -> int:
    from huggingface_hub import constants

    from ..encoders._download import download_model

    try:
        entries = [get_entry(name) for name in dict.fromkeys(args.models)]
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None
    hub_cache = Path(constants.HF_HUB_CACHE).expanduser()
    cached = False
    for entry in entries:
        for fetched in download_model(entry, text=args.text, progress=progress(args)):
            checked = f"SHA-256 matches {fetched.checked_against}" if fetched.checked_against else "no SHA-256 to check"
            print(f"{fetched.what}: {fetched.path} ({fetched.size:,} bytes, {checked})")
            cached = cached or hub_cache in fetched.path.parents
    if cached:
        note(
            args,
            f"the Hub cache is {hub_cache}: copy that folder to the same place on a machine without network "
            "(or anywhere, and point HF_HUB_CACHE at it there)",
        )
    return 0
