"""A Hugging Face Hub cache laid out by hand, as huggingface_hub writes it, and registries that point into it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
#: The Hub repository of the tiny shape model in :func:`write_hub_registry`.
REPO = "OpenShape/tiny-pointbert-b32"


def write_hub_registry(directory: Path, sha256: str, size: int) -> Path:
    """``directory/registry.toml``: one tiny model ``tiny`` whose weights are ``REPO/model.pt`` on the Hub."""
    registry = directory / "registry.toml"
    architecture = "\n".join(
        f"{k} = {v}" for k, v in [("dim", 64), ("depth", 2), ("heads", 2), ("mlp_dim", 128), ("sa_dim", 32),
                                  ("patches", 16), ("radius", 0.4), ("nsample", 32), ("dim_head", 32)]
    )
    registry.write_text(
        f'[tiny]\nhf_repo = "{REPO}"\nfilename = "model.pt"\nrevision = "main"\nsha256 = "{sha256}"\n'
        f'size = {size}\ncontainer = "flat"\nprefix = "pc_encoder."\nup_axis = "y"\n'
        f'[tiny.architecture]\n{architecture}\n[tiny.text]\nmodel = "ViT-B-32"\npretrained = "openai"\n'
    )
    return registry


def put_in_hub_cache(cache: Path, repo_id: str, filename: str, payload: bytes) -> Path:
    """Lay ``payload`` out as huggingface_hub caches a large file: blobs/<sha256>, a snapshot link, refs/main."""
    repo_dir = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    blob = repo_dir / "blobs" / hashlib.sha256(payload).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(payload)
    snapshot = repo_dir / "snapshots" / COMMIT / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(COMMIT)
    return snapshot


def populate_hub_cache(cache: Path, payload: bytes) -> Path:
    """``payload`` as the weights of :func:`write_hub_registry`'s model in the Hub cache ``cache``."""
    return put_in_hub_cache(cache, REPO, "model.pt", payload)
