"""prepare_batch_on_device (the accelerator path of ShapeEncoder.embed) against the numpy path."""

import numpy as np
import pytest
import torch

from openshape_ood.prepare import prepare_batch, prepare_batch_on_device


def raw_clouds() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.normal(size=(1200, 3)) * 50 + 1000,  # xyz only, far from the origin, more points than kept
        rng.uniform(0, 255, size=(300, 6)).astype(np.float32),  # colours in [0, 255], fewer points than kept
        np.concatenate([rng.normal(size=(1000, 3)), rng.uniform(0, 1, size=(1000, 3))], axis=1),  # exactly 1000
    ]


@pytest.mark.parametrize("up_axis, model_up_axis", [("y", "y"), ("y", "z"), ("x", "z")])
def test_device_preparation_equals_host_preparation(up_axis, model_up_axis):
    settings = dict(up_axis=up_axis, model_up_axis=model_up_axis, num_points=1000, first_index=0)
    expected = prepare_batch(raw_clouds(), 7, **settings)
    out = prepare_batch_on_device(raw_clouds(), 7, "cpu", **settings)
    assert out.dtype == torch.float32 and out.shape == (3, 6, 1000)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-6)


def test_device_preparation_names_a_degenerate_cloud():
    clouds = raw_clouds() + [np.ones((50, 3))]
    with pytest.raises(ValueError, match="cloud 13: all points are identical"):
        prepare_batch_on_device(clouds, 0, "cpu", num_points=100, first_index=10)
