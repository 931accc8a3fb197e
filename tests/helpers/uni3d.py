"""Tiny random-weight Uni3D models in the released container, for offline end-to-end tests.

``make_tiny_uni3d_registry(directory)`` writes one checkpoint per EVA block family (the
released layout: a DeepSpeed-style dict whose ``module`` holds the float16 state dict of the
whole model, bookkeeping entries beside it), a tiny 1024-wide open_clip text tower, and a
registry whose ``uni3d-ti``, ``uni3d-b`` and ``uni3d-g`` entries point at them (replacing the
packaged ones when the registry is in ``OPENSHAPE_OOD_REGISTRY``). By hand::

    python -m tests.helpers.uni3d /tmp/tiny_uni3d        # prints the registry path
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from openshape_ood import Uni3DConfig
from openshape_ood.encoders.uni3d import build_uni3d

from ..tiny_models import checksum_lines, registry_entry, write_text_tower

FIXTURES = Path(__file__).parent.parent / "fixtures" / "uni3d_parity"
#: The parity fixtures' manifest: upstream's configs (model keys) and input clouds.
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
CONFIGS, CLOUDS = sorted(MANIFEST["configs"]), sorted(MANIFEST["inputs"])
#: registry name -> (timm architecture of the block family, heads)
TINY = {
    "uni3d-ti": ("eva02_tiny_patch14_224", 2),
    "uni3d-b": ("eva02_base_patch14_448", 2),
    "uni3d-g": ("eva_giant_patch14_560", 2),
}
#: What the tiny models share: one block, 32 wide, 32 groups of 16 points, 28-pixel position table.
TINY_SHAPE = dict(width=32, depth=1, num_group=32, group_size=16, encoder_dim=64, embed_dim=1024, img_size=28)
BOOKKEEPING = {"epoch": 1, "best_acc1": 0.0, "global_steps": 1, "dp_world_size": 1, "mp_world_size": 1, "ds_version": "0.0"}


def tiny_config(name: str) -> Uni3DConfig:
    timm_model, heads = TINY[name]
    return Uni3DConfig(timm_model=timm_model, heads=heads, **TINY_SHAPE)


def released_container(state: dict[str, torch.Tensor], prefix: str = "") -> dict:
    """``state`` as the released files hold it: float16 floating tensors under ``module``, keys with ``prefix``."""
    module = {prefix + k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return {"module": module, **BOOKKEEPING}


def write_tiny_checkpoint(path: Path, config: Uni3DConfig, seed: int = 0, prefix: str = "") -> Path:
    """A random-weight model of ``config`` saved in the released container at ``path``."""
    torch.manual_seed(seed)
    model = build_uni3d(config)
    with torch.no_grad():  # BatchNorm statistics other than the defaults, so that loading them matters
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    torch.save(released_container(model.state_dict(), prefix), path)
    return path


def fixture_config(key: str) -> Uni3DConfig:
    """The architecture of parity fixture model ``key``, the contract's fields only: the backbone's image size is
    read off the file."""
    spec = MANIFEST["configs"][key]
    overrides = spec["timm_overrides"]
    return Uni3DConfig(
        timm_model=spec["timm_model"], width=spec["pc_feat_dim"], depth=overrides["depth"],
        heads=overrides["num_heads"], num_group=spec["num_group"], group_size=spec["group_size"],
        encoder_dim=spec["pc_encoder_dim"], embed_dim=spec["embed_dim"],
    )  # fmt: skip


def prepared(expected: dict[str, np.ndarray], cloud: str) -> torch.Tensor:
    """The parity fixture's encoder input ``[N, 6]`` as the contract takes it: ``[1, 6, N]``."""
    return torch.from_numpy(np.ascontiguousarray(expected[f"input/{cloud}/prepared"].T))[None]


def make_tiny_uni3d_registry(directory: str | Path) -> Path:
    """Write the tiny Uni3D checkpoints, text tower and registry into ``directory``; return the registry path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = write_text_tower(directory, 1024)
    lines = ["# Tiny Uni3D test models (random weights, released container), tiny random text tower.", ""]
    for seed, name in enumerate(TINY):
        config = tiny_config(name)
        checkpoint = write_tiny_checkpoint(directory / f"{name}-tiny.pt", config, seed, "module." if name == "uni3d-g" else "")
        entry = ['family = "uni3d"', f'path = "{checkpoint.name}"', *checksum_lines(checkpoint.read_bytes()),
                 'container = "module"', 'up_axis = "z"']  # fmt: skip
        architecture = [f"{k} = {v!r}".replace("'", '"') for k, v in vars(config).items()]
        licence = [f"[{name}.licence]", 'code = "MIT"', 'weights = "none stated"']
        lines += registry_entry(name, entry, architecture, text, licence)
    registry = directory / "uni3d_registry.toml"
    registry.write_text("\n".join(lines))
    return registry


if __name__ == "__main__":
    print(make_tiny_uni3d_registry(sys.argv[1] if len(sys.argv) > 1 else "tiny_uni3d"))

