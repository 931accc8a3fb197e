"""What made a benchmark result: weights, registry, software, device and date.

A result is only worth publishing when it says which weights made it. :func:`run_provenance`
collects that for ``results.json``, the printed summary and the figure titles: the
registry entry and file (flagged when it is not the packaged registry, as with the tiny
random-weight test models), the checkpoint's SHA-256, the text tower, the settings and
the versions of the software that ran.
"""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

import numpy as np
import open_clip
import torch

import openshape_ood
from openshape_ood.encoders._checkpoint import file_sha256
from openshape_ood.encoders._registry import LocalSource, ModelEntry, packaged_registry_path

__all__ = ["combine_provenance", "registry_note", "run_provenance", "short_provenance"]


def run_provenance(
    entry: ModelEntry, *, templates: str | list[str], seed: int, device: str, dtype: str
) -> dict:
    """Provenance of a run with the shape encoder ``entry`` (JSON-ready).

    Keys: ``date`` (UTC, ISO 8601), ``model`` (registry name and description),
    ``registry`` (``file``, ``packaged``, ``sha256``), ``checkpoint_sha256`` (the
    registry's, which loading verifies, or the local file's own hash when the registry
    gives none), ``text_tower`` (``model``, and the open_clip ``pretrained`` tag or the
    ``sha256`` of a local weights file), ``templates``, ``seed``, ``device``, ``dtype`` and
    ``versions`` (openshape_ood, torch, open_clip, numpy, python).
    """
    registry = entry.registry_file or packaged_registry_path()
    packaged = registry.resolve() == packaged_registry_path().resolve()
    checkpoint = entry.sha256
    if checkpoint is None and isinstance(entry.source, LocalSource) and entry.source.path.is_file():
        checkpoint = file_sha256(entry.source.path)
    text_weights = Path(entry.text_pretrained)
    if text_weights.is_absolute() and text_weights.is_file():
        text = {"model": entry.text_model, "weights_file": str(text_weights), "sha256": file_sha256(text_weights)}
    else:
        text = {"model": entry.text_model, "pretrained": entry.text_pretrained}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {"name": entry.name, "description": entry.description},
        "registry": {"file": str(registry), "packaged": packaged, "sha256": file_sha256(registry)},
        "checkpoint_sha256": checkpoint,
        "text_tower": text,
        "templates": templates,
        "seed": seed,
        "device": device,
        "dtype": dtype,
        "versions": {
            "openshape_ood": openshape_ood.__version__,
            "torch": torch.__version__,
            "open_clip": open_clip.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def combine_provenance(members: list[dict]) -> dict:
    """Provenance of a run over several encoders (an ensemble): each member's under ``members``.

    One member's provenance is returned as it is. For several, ``model`` names them all,
    ``checkpoint_sha256`` and ``text_tower`` are ``None`` (see the members), and
    ``registry`` is that of a member from a non-packaged registry if any, so that
    :func:`registry_note` flags an ensemble with any test-weight member.
    """
    if len(members) == 1:
        return members[0]
    flagged = [member for member in members if not member["registry"]["packaged"]]
    return {
        **members[0],
        "model": {"name": "+".join(m["model"]["name"] for m in members), "description": "ensemble"},
        "registry": (flagged or members)[0]["registry"],
        "checkpoint_sha256": None,
        "text_tower": None,
        "members": members,
    }


def registry_note(provenance: dict) -> str | None:
    """One line saying that the weights come from a registry other than the packaged one, or ``None``."""
    registry = provenance["registry"]
    if registry["packaged"]:
        return None
    description = provenance["model"]["description"]
    return (
        f"note: {provenance['model']['name']} is taken from the registry {registry['file']}, not the packaged one"
        + (f" ({description})" if description else "")
        + ": these are not the published OpenShape weights unless that file says so"
    )


def short_provenance(provenance: dict) -> str:
    """One line for figures: weights hash, registry, library version and date."""
    checkpoint = (provenance["checkpoint_sha256"] or ("see members" if "members" in provenance else "unknown"))[:12]
    registry = "packaged registry" if provenance["registry"]["packaged"] else "NOT the packaged registry"
    return (
        f"weights sha256 {checkpoint}..., {registry}, openshape_ood {provenance['versions']['openshape_ood']}, "
        f"{provenance['date'][:10]}"
    )
