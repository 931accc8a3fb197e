"""The encoder reproduces the upstream OpenShape code (oracle: tests/fixtures/openshape_parity)."""

import numpy as np
import pytest
import torch

from openshape_ood import ShapeEncoder
from openshape_ood.encoders.sampling import ball_query, farthest_point_sample, gather_points

from ..helpers.parity import PARITY, PARITY_MODELS, assert_upstream_close, parity_config


@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_sampling_indices_equal_upstream(key, parity_manifest, parity_expected):
    config = parity_config(parity_manifest, key)
    xyz = torch.from_numpy(parity_expected["input"][:, :3]).transpose(1, 2).contiguous()
    centres = farthest_point_sample(xyz, config.patches)
    np.testing.assert_array_equal(centres.numpy(), parity_expected[f"{key}_fps_index"])
    groups = ball_query(xyz, gather_points(xyz, centres), config.radius, config.nsample)
    np.testing.assert_array_equal(groups.numpy(), parity_expected[f"{key}_group_index"])


@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_from_checkpoint_embeddings_equal_upstream(key, parity_manifest, parity_expected):
    spec = parity_manifest["models"][key]
    encoder = ShapeEncoder.from_checkpoint(PARITY / spec["checkpoint"], parity_config(parity_manifest, key))
    out = encoder.encode_prepared(torch.from_numpy(parity_expected["input"])).numpy()
    assert_upstream_close(out, parity_expected[f"{key}_embedding"])


@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_from_pretrained_registry_path_equals_upstream(key, tiny_registry, parity_expected):
    encoder = ShapeEncoder.from_pretrained(PARITY_MODELS[key])
    out = encoder.encode_prepared(torch.from_numpy(parity_expected["input"])).numpy()
    assert_upstream_close(out, parity_expected[f"{key}_embedding"])
    assert encoder.name == PARITY_MODELS[key]
    assert encoder.model_up_axis == ("z" if key == "g14" else "y")
