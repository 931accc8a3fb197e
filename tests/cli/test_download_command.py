"""openshape-ood download: files fetched into (or found in) the Hub cache layout, verified, and where they are printed.

The Hub is stood in for by a fake ``hf_hub_download`` that writes what huggingface_hub
writes (blobs/<hash>, snapshots/<commit>/<file>, refs/main) and drives the progress bar
class it is given; a cache laid out by hand stands for an earlier download.
"""

import hashlib

import huggingface_hub
import pytest
from huggingface_hub import constants
from huggingface_hub.errors import EntryNotFoundError

from openshape_ood import ShapeEncoder
from openshape_ood.encoders import _hub as hub
from openshape_ood.cli import main
from openshape_ood.encoders._download import download_model

from ..helpers.hub import put_in_hub_cache
from ..helpers.parity import PARITY

SHAPE_REPO, TEXT_REPO = "OpenShape/tiny-pointbert-b32", "org/tiny-text"
TEXT_FILE = "open_clip_pytorch_model.bin"  # the second name open_clip tries: the first is not served
ARCHITECTURE = "dim = 64\ndepth = 2\nheads = 2\nmlp_dim = 128\nsa_dim = 32\npatches = 16\nradius = 0.4\nnsample = 32\ndim_head = 32\n"


@pytest.fixture
def shape_bytes() -> bytes:
    return (PARITY / "b32_tiny.pt").read_bytes()


@pytest.fixture
def text_bytes() -> bytes:
    return b"stand-in text tower weights " * 100


@pytest.fixture
def hub_setup(tmp_path, monkeypatch, shape_bytes):
    """A registry with one Hub model (and its text tower's repository) and an empty Hub cache in tmp_path/hub."""
    registry = tmp_path / "registry.toml"
    registry.write_text(
        f'[tiny]\nhf_repo = "{SHAPE_REPO}"\nfilename = "model.pt"\nsha256 = "{hashlib.sha256(shape_bytes).hexdigest()}"\n'
        f'size = {len(shape_bytes)}\nprefix = "pc_encoder."\nup_axis = "y"\n[tiny.architecture]\n{ARCHITECTURE}'
        f'[tiny.text]\nmodel = "ViT-B-32"\npretrained = "openai"\nhf_repo = "{TEXT_REPO}"\n'
    )
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_files_already_in_the_cache_are_verified_and_shown_offline(hub_setup, shape_bytes, text_bytes, capsys):
    shape = put_in_hub_cache(hub_setup, SHAPE_REPO, "model.pt", shape_bytes)
    text = put_in_hub_cache(hub_setup, TEXT_REPO, TEXT_FILE, text_bytes)
    assert main(["download", "tiny", "--text"]) == 0  # HF_HUB_OFFLINE=1 in the tests
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"tiny checkpoint: {shape} ({len(shape_bytes):,} bytes, SHA-256 matches the registry)",
        f"tiny text tower (ViT-B-32, openai): {text} ({len(text_bytes):,} bytes, SHA-256 matches the Hub)",
    ]
    assert f"the Hub cache is {hub_setup}: copy that folder" in err


def test_missing_files_are_downloaded_with_labelled_bars_then_load_offline(hub_setup, shape_bytes, text_bytes, monkeypatch, capsys):
    served = {(SHAPE_REPO, "model.pt"): shape_bytes, (TEXT_REPO, TEXT_FILE): text_bytes}
    requests, bars = [], []

    def fake_download(repo_id, filename, *, revision=None, cache_dir=None, tqdm_class=None):
        requests.append((repo_id, filename))
        if (repo_id, filename) not in served:
            raise EntryNotFoundError(f"404: {repo_id}/{filename}")
        payload = served[repo_id, filename]
        bars.append(tqdm_class)
        if tqdm_class is not None:
            with tqdm_class(total=len(payload), desc=filename, name="huggingface_hub.http_get", unit="B") as bar:
                bar.update(len(payload))
        return str(put_in_hub_cache(cache_dir or constants.HF_HUB_CACHE, repo_id, filename, payload))

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert main(["download", "tiny", "--text", "--progress"]) == 0
    assert requests == [(SHAPE_REPO, "model.pt"), (TEXT_REPO, "open_clip_model.safetensors"), (TEXT_REPO, TEXT_FILE)]
    out, err = capsys.readouterr()
    assert "tiny checkpoint: 100%" in err and "tiny text tower (ViT-B-32, openai): 100%" in err
    assert len(out.splitlines()) == 2 and "SHA-256 matches the Hub" in out
    # A second run finds both in the cache and asks the Hub for nothing; so does loading the model.
    requests.clear()
    assert main(["download", "tiny", "--text", "-q"]) == 0
    assert ShapeEncoder.from_pretrained("tiny").name == "tiny"
    assert requests == []


def test_a_corrupt_text_tower_in_the_cache_is_refused(hub_setup, shape_bytes, text_bytes):
    put_in_hub_cache(hub_setup, SHAPE_REPO, "model.pt", shape_bytes)
    text = put_in_hub_cache(hub_setup, TEXT_REPO, TEXT_FILE, text_bytes)
    text.resolve().write_bytes(text_bytes[:-1] + b"!")
    with pytest.raises(OSError, match=r"has SHA-256 [0-9a-f]{64} but the Hub stores it as [0-9a-f]{64}: the file is corrupt"):
        download_model("tiny", text=True)


def test_a_checkpoint_that_fails_the_registry_hash_is_one_error_line(hub_setup, shape_bytes, capsys):
    damaged = bytearray(shape_bytes)
    damaged[-50] ^= 1
    put_in_hub_cache(hub_setup, SHAPE_REPO, "model.pt", bytes(damaged))
    assert main(["download", "tiny"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "but the registry expects" in err


def test_an_unknown_model_is_a_usage_error(hub_setup, capsys):
    assert main(["download", "vit-huge"]) == 2
    assert "unknown model 'vit-huge'; registered models: tiny, uni3d-b, " in capsys.readouterr().err


def test_quiet_leaves_the_download_bars_to_huggingface_hub_which_hides_them(hub_setup, shape_bytes, monkeypatch, capsys):
    bars = []

    def fake_download(repo_id, filename, *, revision=None, cache_dir=None, tqdm_class=None):
        bars.append(tqdm_class)
        return str(put_in_hub_cache(cache_dir or constants.HF_HUB_CACHE, repo_id, filename, shape_bytes))

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert main(["download", "tiny", "-q"]) == 0  # --quiet disables huggingface_hub's bars for the run
    assert bars == [None] and capsys.readouterr().err == ""
