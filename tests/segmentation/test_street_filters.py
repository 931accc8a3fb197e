"""Outdoor object filters: a sheet is structure, whatever its proportions."""

from __future__ import annotations

import numpy as np

from openshape_ood.segmentation.clustering import filter_objects
from openshape_ood.segmentation.geometry import SHEET

VOXEL = 0.1


def _grid(width: float, height: float, depths: tuple[float, ...]) -> np.ndarray:
    """Voxel centres of an upright slab ``width`` (x) by ``height`` (z) standing on the ground at y = each depth."""
    x = np.arange(VOXEL / 2, width, VOXEL)
    z = np.arange(VOXEL / 2, height, VOXEL)
    return np.array([[a, d, c] for d in depths for a in x for c in z])


def test_a_small_sheet_is_a_sign_not_an_object_while_a_person_sized_block_stays():
    # The sign: 0.4 m wide, 1.4 m tall, voxels in two layers 6 cm apart (equal counts), so its thinnest
    # spread is 0.03 m: under SHEET voxels (0.05 m). Its middle spread, across its four columns at 0.05,
    # 0.15, 0.25 and 0.35 m, is sqrt(0.0125) = 0.112 m, so the thinnest is 0.27 of it: more than _FLAT
    # (0.15), which alone kept it. The block, 0.4 x 0.3 x 1.6 m at 8 m from the sign, is three voxels deep
    # (thinnest spread 0.082 m).
    sign = _grid(0.4, 1.4, (-0.03, 0.03))
    block = _grid(0.4, 1.6, (0.05, 0.15, 0.25)) + [8.0, 0.0, 0.0]
    centroids = np.vstack([sign, block])
    objects = np.repeat([0, 1], [len(sign), len(block)])
    counts = np.full(len(centroids), 3)
    heights = centroids[:, 2]  # the ground at z = 0
    assert SHEET * VOXEL == 0.05
    labels = filter_objects(
        objects, centroids, counts, 10, 0.03, 12.0, VOXEL, heights=heights, max_height=4.5, min_height=1.0
    )
    assert (labels[: len(sign)] == -1).all()
    assert (labels[len(sign) :] == 0).all()
