"""Shared test set-up: offline Hub, the parity fixtures and the tiny model registry.

Builders and constants that tests import live in tests/helpers/: no test module imports another.
"""

import os

# Before huggingface_hub is imported anywhere: tests never reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
# The suite compares against float32 oracles (upstream's arithmetic): pin the encoders'
# "auto" dtype to float32 whatever this CPU computes natively; tests of "auto" unset it.
os.environ["OPENSHAPE_OOD_DTYPE"] = "float32"
# Under pytest-xdist each worker (and what it starts) gets its share of the cores: torch's threads
# busy-wait, and two workers with a thread per core each would slow each other down.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

import json
from pathlib import Path

import numpy as np
import pytest

from .helpers.parity import PARITY
from .helpers.uni3d import FIXTURES as UNI3D_FIXTURES
from .tiny_models import make_tiny_registry


@pytest.fixture(scope="session")
def parity_manifest() -> dict:
    return json.loads((PARITY / "manifest.json").read_text())


@pytest.fixture(scope="session")
def parity_expected() -> dict[str, np.ndarray]:
    with np.load(PARITY / "expected.npz") as data:
        return dict(data)


@pytest.fixture(scope="session")
def uni3d_expected() -> dict[str, np.ndarray]:
    """Upstream Uni3D's outputs on the parity fixtures' clouds (tests/fixtures/uni3d_parity)."""
    with np.load(UNI3D_FIXTURES / "expected.npz") as data:
        return dict(data)


@pytest.fixture(scope="session")
def tiny_registry_file(tmp_path_factory) -> Path:
    return make_tiny_registry(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture
def tiny_registry(monkeypatch, tiny_registry_file, tmp_path) -> Path:
    """Make the tiny models the registry in use (real loading paths, local files), with a fresh cache."""
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(tiny_registry_file))
    monkeypatch.setenv("OPENSHAPE_OOD_CACHE", str(tmp_path / "cache"))
    return tiny_registry_file

