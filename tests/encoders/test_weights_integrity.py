"""Weights to trust without a hash: zip CRC-32, huge weights caught at the first batch, unreadable text towers."""

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from openshape_ood import ShapeEncoder
from openshape_ood.encoders._checkpoint import CheckpointError, read_encoder_state_dict, verify_checkpoint
from openshape_ood.cli import main
from openshape_ood.encoders.text import TextEncoder

from ..helpers.data import SAMPLES as REAL_SAMPLES
from ..helpers.parity import PARITY, parity_config

B32 = PARITY / "b32_tiny.pt"
SAMPLES = REAL_SAMPLES / "mikedh_trimesh"


def flipped(tmp_path: Path, bit: int) -> Path:
    data = bytearray(B32.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    path = tmp_path / f"flip{bit}.pt"
    path.write_bytes(bytes(data))
    return path


def test_a_flipped_bit_is_caught_or_harmless_without_a_sha256(tmp_path, parity_manifest):
    """Bits spread over the whole file: each flip is refused, or the weights read are exactly the original's."""
    config = parity_config(parity_manifest, "b32")
    original = read_encoder_state_dict(B32)
    bits = B32.stat().st_size * 8
    caught = 0
    for bit in np.linspace(0, bits - 1, 40).astype(int).tolist() + [bits // 2 + 3]:
        path = flipped(tmp_path, bit)
        try:
            encoder = ShapeEncoder.from_checkpoint(path, config)
        except CheckpointError as exc:
            assert str(path) in str(exc)
            caught += 1
            continue
        loaded = encoder.model.state_dict()
        assert all(torch.equal(loaded[key], value) for key, value in original.items()), f"bit {bit} loaded silently"
    assert caught >= 30  # nearly every byte is tensor data or structure


def test_a_flip_in_the_tensor_data_fails_the_crc(tmp_path, parity_manifest):
    path = flipped(tmp_path, (B32.stat().st_size // 2) * 8 + 3)  # middle of the file: tensor bytes
    with pytest.raises(CheckpointError, match=r"fails the CRC-32 check of its member b32_tiny/data/\d+: the file is damaged"):
        ShapeEncoder.from_checkpoint(path, parity_config(parity_manifest, "b32"))


def huge_weight_checkpoint(path: Path) -> Path:
    """The tiny checkpoint with one weight of the first layer at 3e38: finite, and every embedding overflows."""
    weights = torch.load(B32, weights_only=True)
    weights["pc_encoder.sa.mlp_convs.0.weight"].view(-1)[0] = 3e38
    torch.save(weights, path)
    return path


def test_a_huge_finite_weight_is_caught_at_the_first_batch(tmp_path, parity_manifest):
    path = huge_weight_checkpoint(tmp_path / "huge.pt")
    encoder = ShapeEncoder.from_checkpoint(path, parity_config(parity_manifest, "b32"))  # every check of the file passes
    with pytest.raises(CheckpointError, match=rf"NaN or infinite embeddings .*checkpoint {path} holds values too large"):
        encoder.embed(np.random.default_rng(0).normal(size=(500, 3)))


def test_non_finite_prepared_input_is_blamed_not_the_weights(parity_manifest):
    encoder = ShapeEncoder.from_checkpoint(B32, parity_config(parity_manifest, "b32"))
    prepared = torch.zeros(1, encoder.config.in_dim, 2048)
    prepared[0, :, :5] = float("nan")
    with pytest.raises(ValueError, match="prepared input holds NaN or infinite values"):
        encoder.encode_prepared(prepared)


def test_embed_with_a_huge_weight_writes_no_rows_and_exits_1(tmp_path, tiny_registry, monkeypatch, capsys):
    path = huge_weight_checkpoint(tmp_path / "huge.pt")
    mine = tmp_path / "mine.toml"
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    mine.write_text(f'[huge]\nextends = "vitb32"\npath = "{path.name}"\nsha256 = "{sha256}"\n')
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", os.pathsep.join([str(tiny_registry), str(mine)]))
    out = tmp_path / "embeddings.h5"
    code = main(["embed", str(SAMPLES / "bunny.ply"), str(SAMPLES / "teapot.stl"), "--model", "huge", "--out", str(out), "-q"])
    assert code == 1
    assert "NaN or infinite embeddings" in capsys.readouterr().err
    # The first batch fails before any row is queued: no output, no chunk folder, no temporary file; only the lock.
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["embeddings.h5.lock", "huge.pt", "mine.toml"]


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc/self/mem, which no one can read whole")
def test_a_text_tower_file_that_cannot_be_read_is_reported_as_unreadable(tmp_path, tiny_registry_file):
    # An existing file whose first byte cannot be read (EIO), even for root, who can read a chmod 000 file.
    unreadable = tmp_path / "tower.safetensors"
    unreadable.symlink_to("/proc/self/mem")
    config = next(tiny_registry_file.parent.glob("oso-tiny-text-*.json"))
    import open_clip

    open_clip.add_model_config(config)
    encoder = TextEncoder(config.stem, unreadable, cache=False)
    with pytest.raises(OSError, match=r"text tower weights /proc/\d+/mem cannot be read \(Input/output error\)"):
        encoder.embed_classes(["chair"])


def test_a_damaged_deflated_member_is_a_checkpoint_error_not_a_zlib_error(tmp_path):
    """Zip writers other than torch.save deflate their members: damage there must be reported, not raised raw."""
    path = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", os.urandom(2000) * 50)
    with zipfile.ZipFile(path) as archive:
        member = archive.infolist()[0]
    data = bytearray(path.read_bytes())
    start = member.header_offset + 30 + len(member.filename) + len(member.extra)  # the compressed bytes
    for i in range(start + 5, start + 60):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"deflated\.pt is a damaged zip container"):
        verify_checkpoint(path, sha256=None, size=None)


def test_a_zip_member_compressed_in_a_method_python_cannot_read_is_not_called_damaged(tmp_path):
    """zipfile raises NotImplementedError for methods such as deflate64 (9): the file may be whole."""
    path = tmp_path / "deflate64.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"x" * 100)
    data = bytearray(path.read_bytes())
    data[8:10] = (9).to_bytes(2, "little")  # the method in the local header
    central = data.find(b"PK\x01\x02")
    data[central + 10 : central + 12] = (9).to_bytes(2, "little")  # and in the central directory
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as error:
        verify_checkpoint(path, sha256=None, size=None)
    assert "deflate64.pt has zip members this Python cannot read" in str(error.value)
    assert "save the weights again with torch.save" in str(error.value)
    assert "damaged" not in str(error.value)
