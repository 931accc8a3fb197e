"""A checkpoint registered with the SHA-256 of an already damaged file is still checked against its zip CRC-32s."""

from __future__ import annotations

import hashlib

import pytest
import torch

from openshape_ood.encoders._checkpoint import CheckpointError, verify_checkpoint


def test_a_matching_sha256_does_not_skip_the_crc_check(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.full((256,), 7.0)}, path)
    data = bytearray(path.read_bytes())
    at = data.find(bytes.fromhex("0000e040") * 4)  # the float32 7.0s of the stored (uncompressed) tensor
    assert at > 0
    data[at + 3] ^= 0x01  # one flipped bit: 0x40e00000 (7.0) becomes 0x41e00000 (28.0)
    path.write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data)).hexdigest()  # what a registry written from this damaged file holds
    with pytest.raises(CheckpointError, match=r"fails the CRC-32 check of its member .*data/0"):
        verify_checkpoint(path, sha256=digest, size=len(data))
