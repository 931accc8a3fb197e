"""Shared test set-up: offline Hub, the parity fixtures and the tiny model registry."""

import os

# Before huggingface_hub is imported anywhere: tests never reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
# The suite compares against float32 oracles (upstream's arithmetic): pin the encoders'
# "auto" dtype to float32 whatever this CPU computes natively; tests of "auto" unset it.
os.environ["OPENSHAPE_OOD_DTYPE"] = "float32"

import json
import re
from pathlib import Path

import numpy as np
import pytest

from openshape_ood import PointBertConfig
from openshape_ood.io import is_shape_file

from .tiny_models import make_tiny_registry

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "openshape_parity"
# Fixture model keys -> registry names of the released models they imitate.
PARITY_MODELS = {"b32": "vitb32", "l14": "vitl14", "g14": "vitg14"}


@pytest.fixture(scope="session")
def parity_manifest() -> dict:
    return json.loads((PARITY / "manifest.json").read_text())


@pytest.fixture(scope="session")
def parity_expected() -> dict[str, np.ndarray]:
    with np.load(PARITY / "expected.npz") as data:
        return dict(data)


def parity_config(manifest: dict, key: str) -> PointBertConfig:
    spec = manifest["models"][key]
    return PointBertConfig.from_dict({k: spec[k] for k in PointBertConfig.__dataclass_fields__})


@pytest.fixture(scope="session")
def tiny_registry_file(tmp_path_factory) -> Path:
    return make_tiny_registry(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture
def tiny_registry(monkeypatch, tiny_registry_file, tmp_path) -> Path:
    """Make the tiny models the registry in use (real loading paths, local files), with a fresh cache."""
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(tiny_registry_file))
    monkeypatch.setenv("OPENSHAPE_OOD_CACHE", str(tmp_path / "cache"))
    return tiny_registry_file


def sources_and_shape_files(folder: Path) -> tuple[dict[str, str], set[str]]:
    """``({file: sha256} listed in folder/SOURCES.md, {shape files on disk})``, paths relative to ``folder``."""
    sources = (folder / "SOURCES.md").read_text()
    listed = dict(re.findall(r"^## (\S+)\n.*?sha256 ([0-9a-f]{64})", sources, flags=re.S | re.M))
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if is_shape_file(p)
    }
    return listed, on_disk
