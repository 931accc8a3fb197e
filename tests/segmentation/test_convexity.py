"""Splitting at concave edges (segmentation.convexity) on hand-built surfaces with known normals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openshape_ood.segmentation.convexity import split_concave

VOXEL = 0.005


def _valley(bend_degrees: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two 20 x 20 voxel plates meeting along the y axis in a valley seen from above: plate A flat
    (x < 0, normal +z), plate B rising from x = 0 at ``bend_degrees`` (its normal turned by that much).
    Returns centroids, normals and which plate each voxel is on."""
    steps = (np.arange(20) + 0.5) * VOXEL
    s, y = (grid.ravel() for grid in np.meshgrid(steps, steps, indexing="ij"))
    bend = math.radians(bend_degrees)
    flat = np.stack([-s, y, np.zeros_like(s)], axis=1)
    rising = np.stack([s * math.cos(bend), y, s * math.sin(bend)], axis=1)
    normals = np.concatenate([np.tile([0.0, 0.0, 1.0], (len(s), 1)),
                              np.tile([-math.sin(bend), 0.0, math.cos(bend)], (len(s), 1))])  # fmt: skip
    plate = np.repeat([0, 1], len(s))
    return np.concatenate([flat, rising]), normals, plate


@pytest.mark.parametrize(
    "noise, split",
    [
        # smooth angle = max(20 deg, 1.8 voxels / 2.5 cm = 20.6 deg, 2.5 x 0.25 rad = 35.8 deg) < the 40 deg bend.
        # The factor 3 used before this round made it 43.0 deg, above the bend: the two plates stayed one object.
        (0.25, True),
        # 2.5 x 0.4 rad = 57.3 deg > 40 deg: a bend within the scan's normal noise is not an edge.
        (0.4, False),
    ],
)
def test_a_concave_edge_beyond_the_normal_noise_splits(noise, split):
    centroids, normals, plate = _valley(40.0)
    objects = np.zeros(len(centroids), dtype=np.int64)
    viewpoint = np.array([0.0, 0.05, 1.0])  # above the valley: the normals face it already
    result = split_concave(objects, centroids, normals, VOXEL, min_voxels=10, viewpoint=viewpoint, noise=noise)
    if split:
        assert len(np.unique(result)) == 2
        assert len(np.unique(result[plate == 0])) == len(np.unique(result[plate == 1])) == 1
    else:
        assert (result == 0).all()


def test_a_convex_edge_never_splits():
    centroids, normals, _ = _valley(40.0)
    centroids[:, 2] *= -1  # the rising plate falls away: a ridge seen from above
    normals[:, 0] *= -1
    objects = np.zeros(len(centroids), dtype=np.int64)
    result = split_concave(objects, centroids, normals, VOXEL, 10, np.array([0.0, 0.05, 1.0]), noise=0.0)
    assert (result == 0).all()
