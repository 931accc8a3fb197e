"""Shared test set-up: offline Hub, the parity fixtures and the tiny model registry."""

import os

# Before huggingface_hub is imported anywhere: tests never reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"

import json
from pathlib import Path

import numpy as np
import pytest

from openshape_ood import PointBertConfig

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "openshape_parity"
TINY_REGISTRY = FIXTURES / "tiny_registry.toml"
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


@pytest.fixture
def tiny_registry(monkeypatch) -> Path:
    """Make the tiny fixture models the registry in use (real loading path, local files)."""
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(TINY_REGISTRY))
    return TINY_REGISTRY
