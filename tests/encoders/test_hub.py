"""openshape_ood.encoders._hub: the Hub cache first, one quick reachability check, one clear line when offline."""

import hashlib
import os
import socket
import subprocess
import sys

import huggingface_hub
import open_clip
import pytest
from huggingface_hub import constants

from openshape_ood import ShapeEncoder
from openshape_ood.encoders import _hub as hub
from openshape_ood.encoders._checkpoint import CheckpointError
from openshape_ood.encoders.text import TextEncoder

from ..helpers.data import ROOT
from ..helpers.hub import REPO, populate_hub_cache, write_hub_registry

PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def closed_port() -> int:
    """A local TCP port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unreachable_hub(monkeypatch):
    """The Hub endpoint is a closed local port, HF_HUB_OFFLINE is off; returns the list of connection attempts."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    hub._reachable.cache_clear()
    attempts = []
    real = socket.create_connection

    def counted(address, *args, **kwargs):
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counted)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("a download was tried"))
    yield attempts
    hub._reachable.cache_clear()


@pytest.fixture
def hub_registry(tmp_path, monkeypatch):
    payload = (ROOT / "tests/fixtures/openshape_parity/b32_tiny.pt").read_bytes()
    registry = write_hub_registry(tmp_path, hashlib.sha256(payload).hexdigest(), len(payload))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    return payload


def test_unreachable_hub_is_checked_once_and_fails_with_one_line(tmp_path, unreachable_hub, hub_registry):
    for _ in range(2):
        with pytest.raises(CheckpointError) as failure:
            ShapeEncoder.from_pretrained("tiny", cache_dir=tmp_path / "empty")
    message = str(failure.value)
    assert "\n" not in message
    assert f"{REPO}/model.pt" in message and "cannot be reached" in message
    assert "openshape-ood download tiny" in message and 'extends = "tiny"' in message
    assert len(unreachable_hub) == 1  # one probe for the process, no retries


def test_cached_file_needs_no_network(tmp_path, unreachable_hub, hub_registry):
    snapshot = populate_hub_cache(tmp_path / "hub", hub_registry)
    encoder = ShapeEncoder.from_pretrained("tiny", cache_dir=tmp_path / "hub")
    assert encoder.name == "tiny" and snapshot.is_symlink()
    assert unreachable_hub == []


def test_hf_hub_offline_fails_without_any_probe(tmp_path, unreachable_hub, hub_registry, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError, match=r"model.pt \(revision main\); HF_HUB_OFFLINE is set\. Connect"):
        ShapeEncoder.from_pretrained("tiny", cache_dir=tmp_path / "empty")
    assert unreachable_hub == []


def test_uncached_text_tower_fails_at_once_without_open_clip_retries(tmp_path, unreachable_hub, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(open_clip, "download_pretrained", lambda *a, **k: pytest.fail("open_clip tried to download"))
    encoder = TextEncoder.from_pretrained("vitb32", cache_dir=tmp_path / "cache")
    with pytest.raises(hub.HubUnavailableError) as failure:
        encoder.embed_classes(["chair"])
    message = str(failure.value)
    assert "\n" not in message and "timm/vit_base_patch32_clip_224.openai" in message
    assert "ViT-B-32 text tower" in message and "--text" in message
    assert len(unreachable_hub) == 1


def test_the_probe_goes_to_the_proxy_when_one_is_set(unreachable_hub, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{port}")
    assert not hub.hub_reachable()
    assert unreachable_hub == [("127.0.0.1", port)]


def test_score_on_an_empty_cache_without_network_prints_one_line(tmp_path):
    """The command a newcomer runs first, with the Hub unreachable: one line naming the file and the fix."""
    dropped = {"HF_HUB_OFFLINE", "OPENSHAPE_OOD_REGISTRY", *PROXY_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= {
        "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "OPENSHAPE_OOD_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }
    sample = ROOT / "tests/data/real_samples/mikedh_trimesh/Duck.glb"
    command = [sys.executable, "-m", "openshape_ood", "score", str(sample), "--known", "chair", "--model", "vitb32"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("openshape-ood: error: checkpoint for 'vitb32' is not in the local Hub cache")
    assert "OpenShape/openshape-pointbert-vitb32-rgb/model.pt" in lines[0]
    assert "cannot be reached" in lines[0] and "openshape-ood download vitb32" in lines[0]
