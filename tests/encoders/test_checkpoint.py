"""Loading checkpoints: the Hub path through a local Hub cache, integrity checks, clear errors."""

import dataclasses
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from openshape_ood import ShapeEncoder, get_entry
from openshape_ood.encoders._checkpoint import CheckpointError, checkpoint_identity

from ..helpers.data import ROOT
from ..helpers.hub import REPO, populate_hub_cache, write_hub_registry
from ..helpers.parity import PARITY, assert_upstream_close, parity_config


@pytest.fixture
def b32_bytes() -> bytes:
    return (PARITY / "b32_tiny.pt").read_bytes()


def test_hub_download_path_offline_through_local_cache(tmp_path, b32_bytes, parity_expected):
    """A fresh interpreter with HF_HUB_OFFLINE=1 resolves refs/main -> snapshot -> verified weights."""
    cache = tmp_path / "hub"
    populate_hub_cache(cache, b32_bytes)
    registry = write_hub_registry(tmp_path, hashlib.sha256(b32_bytes).hexdigest(), len(b32_bytes))
    np.save(tmp_path / "input.npy", parity_expected["input"])
    script = (
        "import numpy, torch\n"
        "from openshape_ood import ShapeEncoder\n"
        f"enc = ShapeEncoder.from_pretrained('tiny', cache_dir={str(cache)!r})\n"
        f"x = torch.from_numpy(numpy.load({str(tmp_path / 'input.npy')!r}))\n"
        f"numpy.save({str(tmp_path / 'out.npy')!r}, enc.encode_prepared(x).numpy())\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENSHAPE_OOD_REGISTRY": str(registry)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, cwd=ROOT)
    out = np.load(tmp_path / "out.npy")
    assert_upstream_close(out, parity_expected["b32_embedding"])


def test_empty_cache_without_network_names_the_file_and_the_fix(tmp_path, monkeypatch, b32_bytes):
    registry = write_hub_registry(tmp_path, hashlib.sha256(b32_bytes).hexdigest(), len(b32_bytes))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    with pytest.raises(CheckpointError, match=rf"not in the local Hub cache.*{REPO}/model.pt.*Connect to the network"):
        ShapeEncoder.from_pretrained("tiny", cache_dir=tmp_path / "empty")


def test_hash_mismatch_is_refused_before_loading(tmp_path, monkeypatch, b32_bytes):
    tampered = bytearray(b32_bytes)
    tampered[-100] ^= 0xFF
    snapshot = populate_hub_cache(tmp_path / "hub", bytes(tampered))
    registry = write_hub_registry(tmp_path, hashlib.sha256(b32_bytes).hexdigest(), len(b32_bytes))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran on an unverified file"))
    with pytest.raises(CheckpointError, match=rf"{snapshot}.*SHA-256 .* but the registry expects"):
        ShapeEncoder.from_pretrained("tiny", cache_dir=tmp_path / "hub")


def test_truncated_download_is_reported_as_such(tmp_path, monkeypatch, b32_bytes):
    populate_hub_cache(tmp_path / "hub", b32_bytes[:1000])
    registry = write_hub_registry(tmp_path, hashlib.sha256(b32_bytes).hexdigest(), len(b32_bytes))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    with pytest.raises(CheckpointError, match="is 1,000 bytes but 322,437 were expected: the file is truncated"):
        ShapeEncoder.from_pretrained("tiny", cache_dir=tmp_path / "hub")


def test_truncated_local_file_without_known_size(tmp_path, parity_manifest, b32_bytes):
    path = tmp_path / "cut.pt"
    path.write_bytes(b32_bytes[: len(b32_bytes) // 2])
    with pytest.raises(CheckpointError, match=rf"could not read {path} .*truncated"):
        ShapeEncoder.from_checkpoint(path, parity_config(parity_manifest, "b32"))


def test_local_sha256_is_checked_when_given(parity_manifest):
    with pytest.raises(CheckpointError, match="SHA-256"):
        ShapeEncoder.from_checkpoint(PARITY / "b32_tiny.pt", parity_config(parity_manifest, "b32"), sha256="0" * 64)


class Payload:
    """Not a tensor: a checkpoint holding it must never be unpickled."""


def test_arbitrary_pickled_objects_are_never_loaded(tmp_path, parity_manifest):
    path = tmp_path / "evil.pt"
    torch.save({"pc_encoder.cls_token": torch.zeros(64), "extra": Payload()}, path)
    with pytest.raises(CheckpointError, match="never unpickled"):
        ShapeEncoder.from_checkpoint(path, parity_config(parity_manifest, "b32"))


def test_missing_and_unexpected_keys_are_listed(tmp_path, parity_manifest):
    weights = torch.load(PARITY / "b32_tiny.pt", weights_only=True)
    del weights["pc_encoder.cls_token"]
    weights["pc_encoder.extra.weight"] = torch.zeros(1)
    path = tmp_path / "edited.pt"
    torch.save(weights, path)
    with pytest.raises(CheckpointError, match=r"missing keys: cls_token; unexpected keys: extra.weight"):
        ShapeEncoder.from_checkpoint(path, parity_config(parity_manifest, "b32"))


def test_wrong_architecture_reports_shapes(parity_manifest):
    # The l14 file holds a projected model: loading it as the b32 architecture must fail loudly.
    with pytest.raises(CheckpointError, match="unexpected keys: ppat.cls_token"):
        ShapeEncoder.from_checkpoint(PARITY / "l14_tiny.pt", parity_config(parity_manifest, "b32"))
    wider = dataclasses.replace(parity_config(parity_manifest, "b32"), dim=96)
    with pytest.raises(CheckpointError, match=r"wrong shape keys: cls_token: file \(64,\) vs model \(96,\)"):
        ShapeEncoder.from_checkpoint(PARITY / "b32_tiny.pt", wider)


def test_wrong_prefix_or_container_is_explained(parity_manifest):
    config = parity_config(parity_manifest, "g14")
    with pytest.raises(CheckpointError, match="has no 'weights' dict; its top-level keys are"):
        ShapeEncoder.from_checkpoint(PARITY / "g14_tiny.pt", config, container="weights")
    with pytest.raises(CheckpointError, match="no keys starting with 'encoder.'"):
        ShapeEncoder.from_checkpoint(PARITY / "g14_tiny.pt", config, prefix="encoder.")


def test_missing_local_file(tmp_path, parity_manifest):
    with pytest.raises(FileNotFoundError, match="nothere.pt does not exist"):
        ShapeEncoder.from_checkpoint(tmp_path / "nothere.pt", parity_config(parity_manifest, "b32"))


def test_registry_local_path_missing(tmp_path, monkeypatch, tiny_registry_file):
    registry = tmp_path / "r.toml"
    registry.write_text(tiny_registry_file.read_text().replace("b32_tiny.pt", "gone.pt"))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    with pytest.raises(CheckpointError, match=r"not found at .*gone.pt; fix the 'path' of \[vitb32\]"):
        ShapeEncoder.from_pretrained("vitb32")


def test_checkpoint_identity(tiny_registry):
    entry = get_entry("vitb32")
    assert checkpoint_identity(entry) == f"sha256:{entry.sha256}"
    local = dataclasses.replace(entry, sha256=None)
    path = local.source.path.resolve()
    assert checkpoint_identity(local) == f"file:{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}"


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda w: w["pc_encoder.cls_token"].__setitem__(3, float("nan")), "tensor pc_encoder.cls_token holds NaN or infinite"),
        (lambda w: w["pc_encoder.cls_token"].__setitem__(0, float("inf")), "tensor pc_encoder.cls_token holds NaN or infinite"),
        (lambda w: w.__setitem__("pc_encoder.cls_token", [0.0] * 64), "pc_encoder.cls_token is a list, not a tensor"),
    ],
)
def test_non_finite_or_non_tensor_weights_are_refused_by_name(tmp_path, parity_manifest, damage, message):
    weights = torch.load(PARITY / "b32_tiny.pt", weights_only=True)
    damage(weights)
    path = tmp_path / "damaged.pt"
    torch.save(weights, path)
    with pytest.raises(CheckpointError, match=f"damaged.pt: {message}"):
        ShapeEncoder.from_checkpoint(path, parity_config(parity_manifest, "b32"))
