"""The parity fixtures (tests/fixtures/openshape_parity): tiny models with upstream's outputs."""

from __future__ import annotations

from openshape_ood import PointBertConfig

from .data import FIXTURES

PARITY = FIXTURES / "openshape_parity"
#: Fixture model keys -> registry names of the released models they imitate.
PARITY_MODELS = {"b32": "vitb32", "l14": "vitl14", "g14": "vitg14"}


def parity_config(manifest: dict, key: str) -> PointBertConfig:
    """The architecture of fixture model ``key`` in the manifest (the ``parity_manifest`` fixture)."""
    spec = manifest["models"][key]
    return PointBertConfig.from_dict({k: spec[k] for k in PointBertConfig.__dataclass_fields__})
