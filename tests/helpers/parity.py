"""The parity fixtures (tests/fixtures/openshape_parity): tiny models with upstream's outputs."""

from __future__ import annotations

import numpy as np

from openshape_ood import PointBertConfig

from .data import FIXTURES

PARITY = FIXTURES / "openshape_parity"
#: Fixture model keys -> registry names of the released models they imitate.
PARITY_MODELS = {"b32": "vitb32", "l14": "vitl14", "g14": "vitg14"}


def parity_config(manifest: dict, key: str) -> PointBertConfig:
    """The architecture of fixture model ``key`` in the manifest (the ``parity_manifest`` fixture)."""
    spec = manifest["models"][key]
    return PointBertConfig.from_dict({k: spec[k] for k in PointBertConfig.__dataclass_fields__})


def assert_upstream_close(actual, expected, tolerance: float = 1e-5) -> None:
    """``actual`` (an array or tensor) equals upstream's ``expected`` to ``tolerance`` times the largest
    ``|expected|`` (at least 1). Float32 sums taken in another order (another CPU's kernels, another
    thread count) move each value by a few units in its last place, which grow with the value: the g14
    fixture's embeddings, up to 17, moved by up to 1.05e-5 on an AVX-512 CPU and 8.6e-6 with two threads."""
    actual, expected = (np.asarray(a.detach() if hasattr(a, "detach") else a) for a in (actual, expected))
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    difference = float(np.abs(actual - expected).max())
    assert difference <= tolerance * scale, f"max |difference| {difference:.3g} > {tolerance} x {scale:.3g}"
