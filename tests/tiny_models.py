"""Tiny stand-ins for the released models, to run the real loading paths offline.

``make_tiny_registry(directory)`` writes a checkpoint registry whose shape encoders are
the parity-fixture checkpoints (the released containers, tiny dimensions) and whose text
towers are tiny open_clip towers with random weights, saved as text-only safetensors
files with their open_clip model configs. Tests, notebooks and the synthetic benchmark
point ``OPENSHAPE_OOD_REGISTRY`` at it. By hand::

    python -m tests.tiny_models /tmp/tiny        # prints the registry path
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import open_clip
import torch
from safetensors.torch import save_file

PARITY = Path(__file__).parent / "fixtures" / "openshape_parity"
# registry name -> (fixture model key, container, prefix, up axis)
MODELS = {
    "vitb32": ("b32", "flat", "pc_encoder.", "y"),
    "vitl14": ("l14", "flat", "pc_encoder.", "y"),
    "vitg14": ("g14", "state_dict", "module.", "z"),
}
ARCHITECTURE_KEYS = (
    "dim", "depth", "heads", "mlp_dim", "sa_dim", "patches", "radius", "nsample", "in_dim", "dim_head", "projection_out",
)


def text_tower_config(embed_dim: int) -> dict:
    """An open_clip model config with a one-layer, 16-wide text tower (the real tokenizer's vocabulary)."""
    return {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "head_width": 8, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    }


def write_text_tower(directory: Path, embed_dim: int, seed: int = 0) -> tuple[str, Path, Path]:
    """Config JSON and text-only weights of a tiny tower; returns (model name, config, weights)."""
    name = f"oso-tiny-text-{embed_dim}"
    config = directory / f"{name}.json"
    config.write_text(json.dumps(text_tower_config(embed_dim)))
    open_clip.add_model_config(config)
    torch.manual_seed(seed)
    logging.disable(logging.WARNING)  # open_clip's "Model initialized randomly": random is the point here
    try:
        model = open_clip.create_model(name)
    finally:
        logging.disable(logging.NOTSET)
    text_only = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("visual.")}
    weights = directory / f"{name}.safetensors"
    save_file(text_only, str(weights))
    return name, config, weights


def checksum_lines(payload: bytes) -> list[str]:
    """The ``sha256`` and ``size`` lines of a registry entry for a checkpoint of these bytes."""
    return [f'sha256 = "{hashlib.sha256(payload).hexdigest()}"', f"size = {len(payload)}"]


def registry_entry(name: str, entry: list[str], architecture: list[str], text: tuple, extra: list[str] = ()) -> list[str]:
    """The TOML lines of one tiny model: its table, ``architecture``, the ``text`` tower of
    :func:`write_text_tower`, then ``extra`` lines (further sub-tables)."""
    text_name, text_config, text_weights = text
    return [
        f"[{name}]",
        f'description = "tiny {name}-layout test model (random weights)"',
        *entry,
        f"[{name}.architecture]",
        *architecture,
        f"[{name}.text]",
        f'model = "{text_name}"',
        f'config = "{text_config.name}"',
        f'path = "{text_weights.name}"',
        *extra,
        "",
    ]


def make_tiny_registry(directory: str | Path) -> Path:
    """Write the tiny registry and its text towers into ``directory``; return the registry path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((PARITY / "manifest.json").read_text())
    lines = ["# Tiny test models: parity-fixture shape encoders, random tiny text towers.", ""]
    for name, (key, container, prefix, up_axis) in MODELS.items():
        spec = manifest["models"][key]
        checkpoint = (PARITY / spec["checkpoint"]).resolve()
        payload = checkpoint.read_bytes()
        embed_dim = spec["projection_out"] or spec["dim"]
        text = write_text_tower(directory, embed_dim)
        entry = [f'path = "{checkpoint}"', *checksum_lines(payload),
                 f'container = "{container}"', f'prefix = "{prefix}"', f'up_axis = "{up_axis}"']  # fmt: skip
        architecture = [f"{k} = {spec[k]}" for k in ARCHITECTURE_KEYS if spec[k] is not None]
        lines += registry_entry(name, entry, architecture, text)
    registry = directory / "registry.toml"
    registry.write_text("\n".join(lines))
    return registry


if __name__ == "__main__":
    print(make_tiny_registry(sys.argv[1] if len(sys.argv) > 1 else "tiny_models"))
