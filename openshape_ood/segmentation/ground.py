"""The support of a scan: the plane it stands on (table, floor), or the local ground of a street.

A street is not one plane: roads slope, curve and have kerbs. :func:`grid_ground` estimates the
ground height on a grid of cells across the up direction, from each cell's lowest point, and
removes whatever stands up from the cells (a morphological opening, as the progressive
morphological filter of Zhang et al. 2003 does with one window): a car or a person is narrower
than the window and is cut off, a slope or a bend passes through unchanged. Cells the sensor saw
nothing in are filled first, from what it saw beside them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .geometry import column_bounds, plane_basis

# Width of the opening window in cells: objects narrower than this many cells are not ground. Weighed against 5
# and 9 by the benchmark's rule on the sweep's views (stop 109): 5 loses a turned car and 9 adds false segments,
# each leaving the sweep's perturbed copies more false segments than objects found.
_OPENING_CELLS = 7
# Lowest points more than this many metres below the median of their neighbour cells are
# reflections or noise, not ground. 0.5 and 2 find the same objects on the sweep's views (stop 109; 2 with two
# false segments more): kept by the benchmark's rule.
_PIT_DEPTH = 1.0


def grid_ground(
    centroids: np.ndarray, up: np.ndarray, cell: float, seen_azimuths: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Ground height under each voxel and its height above it ``(M,)``, both along ``up``.

    Cells without points take the ground of the nearest cell that has some: behind a car, in its
    shadow, the road it hides. With ``seen_azimuths`` (the sorted azimuths about ``up``,
    :func:`~.geometry.sensor_angles`, of a scan seen from a sensor at the origin), the cells in whose
    directions the sensor saw nothing (beyond the side edges of a view that does not go all round,
    as KITTI's sweeps cut to the camera's image are) take their mirror image's across the nearest
    edge instead (:func:`_mirrored_at_view_edges`). Filled from the nearest cell, the region beyond
    an edge took the height of the underside of a car cut by it, whose road lies hidden under it:
    wider than the window, that height became the ground, and the car sank below ``min_height``.
    """
    height = centroids @ up
    cells, lowest, low = _lowest_in_cells(centroids, up, cell)
    empty = ~np.isfinite(lowest)
    if empty.all():
        return height, np.zeros_like(height)
    # Empty cells take their nearest filled cell's height, so that the filters below see no holes.
    nearest = ndimage.distance_transform_edt(empty, return_distances=False, return_indices=True)
    filled = lowest[tuple(nearest)]
    if seen_azimuths is not None:
        filled = _mirrored_at_view_edges(filled, seen_azimuths, low, cell)
    # Pits (reflections below the road) would spread through the opening: lift them to their neighbours.
    filled = np.maximum(filled, ndimage.median_filter(filled, size=3) - _PIT_DEPTH)
    ground = ndimage.grey_opening(filled, size=(_OPENING_CELLS, _OPENING_CELLS))
    under = ground[cells[:, 0], cells[:, 1]]
    return under, height - under


def sensor_up(centroids: np.ndarray, up: np.ndarray, cell: float, band: float) -> np.ndarray:
    """The vertical of a street sweep's sensor at the origin: the coordinate axis nearest ``up``, its sign
    turned where the ground near the origin (:func:`_ground_near_origin`, on a grid of ``cell``) lies more
    than ``band`` (the ground's own thickness, ``ground_height``) above it: no sensor looks at the ground
    from below.

    A sweep in its sensor's frame turns its rings about one of its axes; a given axis says which, without
    its sign (a sweep stored in a camera's axes has y down), and a measured one is the ground's normal,
    which the road's slope tilts off that axis: the rows over an object's top and the top of the view are
    the sensor's own. A sweep whose origin lies on the ground (a vehicle's frame) keeps the sign it has:
    judged on every cell, the HDL-32E sweep among buildings moved 1.73 m down (its lowest voxels 0.86 m above
    the origin in half its cells, on walls and rising ground) was turned upside down."""
    index = int(np.argmax(np.abs(up)))
    axis = np.eye(3)[index] * (1.0 if up[index] >= 0 else -1.0)
    return -axis if _ground_near_origin(centroids, axis, cell) > band else axis


def origin_on_ground(centroids: np.ndarray, up: np.ndarray, cell: float, band: float) -> bool:
    """Whether a street sweep's origin lies on its ground, so that its sensor is not there (a vehicle's frame,
    whose origin is on the road under the sensor or at an axle): the ground near the origin
    (:func:`_ground_near_origin`) lies within ``band`` (the ground's thickness, ``ground_height``) of it. No
    sensor lies in its ground: KITTI's and the HDL-32E's sweeps put their road 1.5-2.1 m below it."""
    return abs(_ground_near_origin(centroids, up, cell)) <= band


def _ground_near_origin(centroids: np.ndarray, up: np.ndarray, cell: float) -> float:
    """The height along ``up`` of the ground near the origin: the median of the lowest heights of the cells
    (of side ``cell``) within the opening window (:data:`_OPENING_CELLS` cells) of it, where a sensor's road
    lies (beyond the window a slope, a wall's foot or a bank with no road seen before it lifts the lowest
    heights); of every cell where none lies within it."""
    _, lowest, low = _lowest_in_cells(centroids, up, cell)
    x, y = _cell_centres(low, cell, lowest.shape)
    seen = np.isfinite(lowest)
    near = seen & (np.hypot(x, y) <= _OPENING_CELLS * cell)
    return float(np.median(lowest[near if near.any() else seen]))


def _lowest_in_cells(centroids: np.ndarray, up: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grid of ``cell`` across ``up`` over the voxels: each voxel's cell ``(M, 2)``, the lowest height along
    ``up`` in each cell (inf where none lies) and the grid's corner across up."""
    across = centroids @ plane_basis(up).T
    low, high = column_bounds(across)
    cells = np.floor((across - low) / cell).astype(np.int64)
    shape = tuple(np.floor((high - low) / cell).astype(np.int64) + 1)  # the highest cell: floor keeps the order
    lowest = np.full(shape, np.inf)
    np.minimum.at(lowest, (cells[:, 0], cells[:, 1]), centroids @ up)
    return cells, lowest, low


def _mirrored_at_view_edges(filled: np.ndarray, azimuths: np.ndarray, low: np.ndarray, cell: float) -> np.ndarray:
    """``filled`` with each cell that lies in no direction the sensor looked in (the sorted ``azimuths``) taking
    the value of its mirror image across the nearest edge of the view, at the same distance from the origin,
    where that lies in the view and on the grid: at the border of what was seen the ground is reflected, as an
    image filter reflects at the border of its image (:mod:`scipy.ndimage`'s ``mode="reflect"``), so that an
    object cut by the edge is no wider there than twice what was seen of it."""
    x, y = _cell_centres(low, cell, filled.shape)
    outside = ~_in_view(azimuths, x, y, cell)
    if not outside.any():
        return filled
    rows, columns = np.nonzero(outside)
    x, y = x[outside], y[outside]
    direction = np.arctan2(y, x)
    circle = _unrolled(azimuths)
    # The nearest direction looked in is the edge of the view on this side.
    after = np.minimum(np.searchsorted(circle, direction), len(circle) - 1)
    before = np.maximum(after - 1, 0)
    edge = np.where(circle[after] - direction < direction - circle[before], circle[after], circle[before])
    mirror, distance = 2 * edge - direction, np.hypot(x, y)
    mirror_rows = np.floor((distance * np.cos(mirror) - low[0]) / cell).astype(np.int64)
    mirror_columns = np.floor((distance * np.sin(mirror) - low[1]) / cell).astype(np.int64)
    on_grid = (mirror_rows >= 0) & (mirror_rows < filled.shape[0])
    on_grid &= (mirror_columns >= 0) & (mirror_columns < filled.shape[1])
    on_grid[on_grid] = ~outside[mirror_rows[on_grid], mirror_columns[on_grid]]
    reflected = filled.copy()
    reflected[rows[on_grid], columns[on_grid]] = filled[mirror_rows[on_grid], mirror_columns[on_grid]]
    return reflected


def _cell_centres(low: np.ndarray, cell: float, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates across up of the centres of a grid's cells (corner ``low``, side ``cell``), each ``shape``."""
    rows, columns = np.indices(shape)
    return low[0] + (rows + 0.5) * cell, low[1] + (columns + 0.5) * cell


def _in_view(azimuths: np.ndarray, x: np.ndarray, y: np.ndarray, cell: float) -> np.ndarray:
    """Whether any of the sorted ``azimuths`` lies among the directions from the origin that each cell of side
    ``cell`` centred at (``x``, ``y``) spans: those within half its diagonal of its centre, all of them for a cell
    that holds the origin."""
    distance, reach = np.hypot(x, y), cell / np.sqrt(2)
    half = np.where(distance > reach, np.arcsin(reach / np.maximum(distance, reach)), np.pi)
    centre = np.arctan2(y, x)
    circle = _unrolled(azimuths)
    return np.searchsorted(circle, centre + half, side="right") > np.searchsorted(circle, centre - half)


def _unrolled(azimuths: np.ndarray) -> np.ndarray:
    """Sorted azimuths (radians, -pi to pi) repeated a turn below and above: the azimuth goes round, and a
    direction's neighbours across the turn are found by one sorted search."""
    return np.concatenate([azimuths - 2 * np.pi, azimuths, azimuths + 2 * np.pi])


def orient_up(
    normal: np.ndarray, offset: float, centroids: np.ndarray, sensor_at_origin: bool, band: float
) -> np.ndarray:
    """The support plane's normal turned upwards: towards the sensor of a scan in its sensor's frame (a
    sweep, a camera's frame: :attr:`.settings.ScanMeasures.viewpoint`; it looks at the table or the ground
    from above), else towards the side with more of the scan beyond ``band`` (the plane distance) of the
    plane: the plane's own voxels lie on neither side, whichever side of the fitted plane its noise, or the
    rounding of an exactly flat floor, puts them. A camera looking down at a bed whose top is the support
    sees more of the floor round the bed and of its sides than of what stands on it."""
    if sensor_at_origin:
        return normal if -offset >= 0 else -normal  # the origin (sensor) lies on the positive side
    side = centroids @ normal - offset
    return normal if np.count_nonzero(side > band) >= np.count_nonzero(side < -band) else -normal
