"""The support of a scan: the plane it stands on (table, floor), or the local ground of a street.

A street is not one plane: roads slope, curve and have kerbs. :func:`grid_ground` estimates the
ground height on a grid of cells across the up direction, from each cell's lowest point, and
removes whatever stands up from the cells (a morphological opening, as the progressive
morphological filter of Zhang et al. 2003 does with one window): a car or a person is narrower
than the window and is cut off, a slope or a bend passes through unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .geometry import column_bounds, plane_basis

# Width of the opening window in cells: objects narrower than this many cells are not ground.
_OPENING_CELLS = 7
# Lowest points more than this many metres below the median of their neighbour cells are
# reflections or noise, not ground.
_PIT_DEPTH = 1.0


def grid_ground(centroids: np.ndarray, up: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Ground height under each voxel and its height above it ``(M,)``, both along ``up``.

    Cells without points take the ground of the nearest cell that has some.
    """
    basis = plane_basis(up)
    across = centroids @ basis.T
    height = centroids @ up
    low, high = column_bounds(across)
    cells = np.floor((across - low) / cell).astype(np.int64)
    shape = tuple(np.floor((high - low) / cell).astype(np.int64) + 1)  # the highest cell: floor keeps the order
    lowest = np.full(shape, np.inf)
    np.minimum.at(lowest, (cells[:, 0], cells[:, 1]), height)
    empty = ~np.isfinite(lowest)
    if empty.all():
        return height, np.zeros_like(height)
    # Empty cells take their nearest filled cell's height, so that the filters below see no holes.
    nearest = ndimage.distance_transform_edt(empty, return_distances=False, return_indices=True)
    filled = lowest[tuple(nearest)]
    # Pits (reflections below the road) would spread through the opening: lift them to their neighbours.
    filled = np.maximum(filled, ndimage.median_filter(filled, size=3) - _PIT_DEPTH)
    ground = ndimage.grey_opening(filled, size=(_OPENING_CELLS, _OPENING_CELLS))
    under = ground[cells[:, 0], cells[:, 1]]
    return under, height - under


def orient_up(normal: np.ndarray, offset: float, centroids: np.ndarray, single_viewpoint: bool) -> np.ndarray:
    """The support plane's normal turned upwards: towards the sensor of a one-viewpoint scan (it
    looks at the table or the ground from above), else towards the side with more of the scan."""
    if single_viewpoint:
        return normal if -offset >= 0 else -normal  # the origin (sensor) lies on the positive side
    above = np.count_nonzero(centroids @ normal - offset > 0)
    return normal if 2 * above >= len(centroids) else -normal
