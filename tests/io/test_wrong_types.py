"""Wrong types handed to the cloud checks: a TypeError naming the argument, not numpy's or torch's own failure."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from openshape_ood.prepare import split_clouds, validate_cloud


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "cloud 0 is a NoneType; pass a numpy array or torch tensor of shape (N, 3) or (N, 6)"),
        ([[0, 0, 0], [1, 1, 1]], "cloud 0 is a list; pass a numpy array or torch tensor of shape (N, 3) or (N, 6) "
                                 "(np.asarray(...) makes one from a list of rows)"),
        ("0 0 0", "cloud 0 is a str; pass"),
        (torch.zeros(5, 3, device="meta"), "cloud 0 is a torch tensor on the 'meta' device, which holds no values"),
    ],
    ids=["None", "list", "str", "meta"],
)
def test_validate_cloud_refuses_what_is_not_an_array(value, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        validate_cloud(value)


def test_split_clouds_refuses_meta_tensors_by_name():
    with pytest.raises(TypeError, match=re.escape("clouds is a torch tensor on the 'meta' device")):
        split_clouds(torch.zeros(2, 5, 3, device="meta"))
    with pytest.raises(TypeError, match=re.escape("cloud 1 is a torch tensor on the 'meta' device")):
        split_clouds([torch.zeros(5, 3), torch.zeros(5, 3, device="meta")])


def test_bfloat16_tensors_are_read_exactly():
    cloud = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.5, 0.25], [3.0, 2.0, 1.0]], dtype=torch.bfloat16)
    np.testing.assert_array_equal(validate_cloud(cloud)[:, :3], cloud.float().numpy())
    assert split_clouds(cloud)[0][0].dtype == np.float32
