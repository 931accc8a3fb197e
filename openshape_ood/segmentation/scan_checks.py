"""Checks of a scan before it is segmented: inputs that would fool :func:`~openshape_ood.segmentation.segment_scene`.

Each check measures the scan and either lets it through, warns, or refuses it with a
``ValueError`` that says what was measured and what to pass. The measures are physical or
statistical, taken on the scan itself:

* **complex values** (:func:`check_real`): refused; a ``ComplexWarning`` from numpy would
  otherwise drop the imaginary parts silently.
* **points at the origin** (:func:`origin_points`): depth cameras and LiDAR drivers write a
  pixel or beam without a return as (0, 0, 0), the sensor's own place, where nothing can be
  measured. As few as 5 % of such points in a table-top frame took it for a scan without a
  viewpoint and lost 7 of its 15 objects. Two or more points at exactly the origin are background.
* **points repeated at one place** (:func:`distinct_sample`): a merged scan or a mesh exported a
  vertex per face holds copies; counted as points, they made the measured spacing finer and the
  voxels smaller (a room written twice found 6 of 19 objects instead of 16). The spacing is that of
  the distinct places, their number estimated from the repeats in the sample.
* **far outliers** (:func:`far_outliers`): a stray point 1e7 m away made the scan's extent
  that large, and every setting chosen from the extent wrong. Points far outside the robust
  box of the scan (its 1st to 99th percentiles per axis, grown by its own size on every
  side) are background and the rest is segmented.
* **units** (:func:`check_units`): a point spacing finer than any scanner resolves (the
  coordinates are in kilometres, or scaled down) or whole-number coordinates a unit or more
  apart (integer centimetres or millimetres) give a warning naming the measured spacing.
* **float32 coordinates too coarse** (:func:`check_precision`): UTM coordinates cast to
  float32 lie on a 0.5 m grid, as coarse as the points' own spacing: refused, with "pass
  float64 or subtract an origin".
* **a volume, not surfaces** (:func:`check_surfaces`): uniform noise fills a volume; a scan
  samples surfaces. The correlation dimension (Grassberger and Procaccia 1983) measured on a
  sample tells them apart in under a second, where segmenting 2 million noise points took
  minutes: a scan more than halfway from a surface (2) to a volume (3) is refused.
* **too sparse for the default sizes**: the segmenter's "min_size must be in ..." for a
  ``min_size`` the user never set becomes a message naming the measured spacing and the
  sizes to pass.

:func:`screen_scan` runs them all; ``segment_scene`` calls it first, and :func:`too_sparse` words its refusal
of a scan too sparse for the sizes it chose.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from .geometry import column_bounds

__all__ = [
    "FAR_QUANTILE",
    "FINEST_SPACING",
    "VOLUME_DIMENSION",
    "Screened",
    "check_precision",
    "check_real",
    "check_surfaces",
    "check_units",
    "distinct_sample",
    "far_outliers",
    "origin_points",
    "robust_range",
    "screen_scan",
    "too_sparse",
]

#: The robust box of a scan spans these quantiles of each axis (and 1 minus it).
FAR_QUANTILE = 0.01
#: A scan whose correlation dimension is above this is a volume (noise), not surfaces: halfway between a
#: surface (2) and a volume (3). Measured: real scans 1.80-2.03 (mOSD, ScanNet, SemanticKITTI, SensatUrban),
#: a forest (lidR's Megaplot.laz) 2.36; uniform noise 2.83-2.87.
VOLUME_DIMENSION = 2.5
#: Finest point spacing a scanner delivers, in metres (0.1 mm): finer means the coordinates are not metres.
FINEST_SPACING = 1e-4
# Points measured for the spacing and the dimension: enough for a stable median, fast on any scan.
_SAMPLE = 50_000
_QUERIES = 2_000
# Radii of the dimension measure, in spacings: a few neighbours at the smaller, beyond the noise of a surface.
_DIMENSION_RADIUS = 4.0

class Screened(NamedTuple):
    """What :func:`screen_scan` measured: the far outliers ``(N,)``, the point spacing (m) of the rest, and
    whether its sample of them held a place twice (the scan repeats points)."""

    outliers: np.ndarray
    spacing: float
    repeats: bool = False


def screen_scan(points: np.ndarray, xyz: np.ndarray) -> Screened:
    """Run the checks of this module on a scan: warn or raise ``ValueError`` as each says.

    ``points`` is the scan as given (its dtype tells whether float32 lost the detail), ``xyz``
    its coordinates in float64, all finite (:func:`~.geometry.scene_xyz`). Returns the points set
    aside, at the origin (:func:`origin_points`) or far (:func:`far_outliers`), which
    ``segment_scene`` makes background (with a warning saying how many of each), and the spacing of
    the other points, for the message of a scan too sparse for its object sizes.
    """
    at_origin = origin_points(xyz)
    outliers = at_origin.copy()
    outliers[~at_origin] = far_outliers(xyz[~at_origin])
    inliers = xyz[~outliers] if outliers.any() else xyz
    if len(inliers) < 10:
        return Screened(np.zeros(len(xyz), dtype=bool), 0.0)
    spacing, dimension, repeats = _measure(inliers)
    check_precision(np.asarray(points).dtype, inliers, spacing)
    check_units(inliers, spacing)
    check_surfaces(dimension, spacing, len(inliers))
    if at_origin.any():
        warnings.warn(
            f"{int(at_origin.sum())} of {len(xyz)} points lie at exactly (0, 0, 0), where a depth camera or a LiDAR "
            "writes a pixel or beam without a return: they are background",
            stacklevel=3,
        )
    far = int(outliers.sum() - at_origin.sum())
    if far:
        warnings.warn(
            f"{far} of {len(xyz)} points lie far outside the rest of the scan (beyond its 1st-99th "
            "percentile box grown by its own size): they are background",
            stacklevel=3,
        )
    return Screened(outliers, spacing, repeats)


def check_real(points, name: str) -> None:
    """Refuse complex-valued points: numpy would drop the imaginary parts with only a ``ComplexWarning``."""
    dtype = getattr(points, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(points).dtype  # lists and tuples
        except Exception:  # noqa: BLE001 - not an array at all: segment_scene says so
            return
    if "complex" in str(dtype):  # numpy's and torch's complex dtypes alike
        raise ValueError(
            f"{name} is complex-valued ({dtype}); pass real coordinates (for example {name}.real when the "
            "imaginary parts are zero)"
        )


def robust_range(values: np.ndarray) -> np.ndarray:
    """The robust extent of ``values`` along their first axis: their :data:`FAR_QUANTILE` and
    ``1 - FAR_QUANTILE`` quantiles (low, high), which a few strays cannot stretch."""
    return np.quantile(values, [FAR_QUANTILE, 1 - FAR_QUANTILE], axis=0)


def origin_points(xyz: np.ndarray) -> np.ndarray:
    """Rows ``(N,)`` at exactly (0, 0, 0), when two or more are: the invalid returns of a sensor at the
    origin (a depth camera's pixels without depth, a LiDAR's beams without an echo), which drivers and
    converters write as zeros. A sensor measures nothing at its own place, and a scanned surface holds
    no two points at one place; one point there may be a real one and stays."""
    at_origin = ~np.asarray(xyz).any(axis=1)
    return at_origin if at_origin.sum() >= 2 else np.zeros(len(at_origin), dtype=bool)


def far_outliers(xyz: np.ndarray) -> np.ndarray:
    """Rows ``(N,)`` far outside the scan: beyond its robust box grown by the box's own size on every side.

    The robust box spans the :data:`FAR_QUANTILE` to ``1 - FAR_QUANTILE`` quantiles of each
    axis, so a few stray points (a damaged record, a reflection) cannot stretch it. A scan's
    own points lie within its box, or just past it (its sparse edges); a point more than the
    box's size beyond it belongs to nothing in the scan. On the real scans of the project's
    test data (rooms, table tops, a LiDAR sweep, an aerial tile, a forest) none is.
    Rows with non-finite coordinates are not outliers here (``segment_scene`` handles them).
    """
    finite = np.isfinite(xyz).all(axis=1)
    if finite.sum() < 10:
        return np.zeros(len(xyz), dtype=bool)
    low, high = robust_range(xyz if finite.all() else xyz[finite])
    size = np.max(high - low)
    far = np.zeros(len(xyz), dtype=bool)
    with np.errstate(invalid="ignore"):
        for axis in range(xyz.shape[1]):  # a column at a time: no (N, 3) masks on a scan of millions of points
            far |= (xyz[:, axis] < low[axis] - size) | (xyz[:, axis] > high[axis] + size)
    return finite & far


def check_units(xyz: np.ndarray, spacing: float) -> None:
    """Warn when the point spacing cannot be that of a scan in metres.

    * Finer than :data:`FINEST_SPACING` (0.1 mm, finer than survey and depth scanners
      resolve): coordinates in kilometres, or scaled down; the segmenter, whose smallest
      object is 3 cm, would find nothing.
    * Whole-number coordinates at least one unit apart: a scan in integer centimetres or
      millimetres, whose objects look 100 or 1000 times too large.
    """
    if 0 < spacing < FINEST_SPACING:
        low, high = column_bounds(xyz)
        extent = float(np.max(high - low))
        warnings.warn(
            f"the scan's points are {spacing:.3g} apart (measured: median distance to the nearest point) over an "
            f"extent of {extent:.3g}: finer than any scanner resolves if these are metres. segment_scene takes "
            "metres: multiply kilometres by 1000 (or undo the scaling) before segmenting",
            stacklevel=4,
        )
    sample = xyz[: min(len(xyz), _SAMPLE)]
    # Below 2**31 (integer coordinates as files store them): beyond 2**53 every float is a whole number.
    if spacing >= 1 and np.abs(sample).max() < 2**31 and np.array_equal(sample, np.round(sample)):
        warnings.warn(
            f"the scan's coordinates are whole numbers {spacing:.3g} apart (measured): a scan in integer "
            "centimetres or millimetres? segment_scene takes metres: divide centimetres by 100, millimetres by 1000",
            stacklevel=4,
        )


def check_precision(dtype: np.dtype, xyz: np.ndarray, spacing: float) -> None:
    """Refuse float32 (or float16) coordinates whose float grid is at least half the points' spacing.

    float32 keeps 24 bits: at a UTM northing of 5.4e6 m its steps are 0.5 m, so a scan cast
    to float32 without subtracting an origin first lies on a grid as coarse as (or coarser
    than) its own points, which then merge and split into false objects. ``spacing`` is
    measured between distinct points; the grid step is numpy's ``spacing`` at the largest
    coordinate of each axis. A spacing of 0 (fewer than three distinct places were measured) has no
    detail to lose and passes.
    """
    if np.dtype(dtype).kind != "f" or np.dtype(dtype).itemsize > 4 or spacing <= 0:
        return
    low, high = column_bounds(xyz)
    top = np.maximum(-low, high).astype(dtype)  # the largest magnitude on each axis
    step = np.spacing(top).astype(np.float64)
    if step.max() < spacing / 2:
        return
    axis = int(np.argmax(step))
    raise ValueError(
        f"points are {np.dtype(dtype)} and reach {float(top[axis]):.6g} on axis {'xyz'[axis]}, where {np.dtype(dtype)} "
        f"steps are {step[axis]:.3g}: coarser than half the points' own spacing ({spacing:.3g}, measured), so the scan's "
        "detail is lost. Pass float64, or subtract an origin (points[:, :3] - points[:, :3].min(axis=0), in float64) "
        "before casting to float32"
    )


def check_surfaces(dimension: float, spacing: float, count: int) -> None:
    """Refuse a scan whose points fill a volume (correlation dimension above :data:`VOLUME_DIMENSION`).

    A scan samples surfaces: the neighbours within a radius grow as its square (dimension 2);
    uniform noise fills space, as the cube (3). Measured on a sample, between 4 and 8 of its spacings.
    """
    if dimension > VOLUME_DIMENSION:
        raise ValueError(
            f"the scan's {count} points fill a volume rather than surfaces: their correlation dimension is "
            f"{dimension:.2f} (measured on up to {_SAMPLE} of them; scanned surfaces measure about 2, a forest 2.4, "
            "uniform noise 2.9). Is it noise? Denoise it, or pass "
            "labels= to skip the segmentation"
        )


def distinct_sample(xyz: np.ndarray, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A random sample of at most ``size`` of a scan's rows, each place once, and the factor that scales
    distances between its points to those between the scan's distinct points (``sqrt(n / U)`` for n
    sampled places of U in the scan: a surface sampled n of U times is that much sparser).

    Points repeated at one place (a merged scan, a mesh exported a vertex per face, a coarse float grid)
    add no surface: a room whose every point was written twice measured a spacing 1.4 times too fine,
    got voxels of 1.9 cm instead of 2.7, and found 6 of its 19 objects with 89 false segments instead
    of 16 with 6. U is estimated from the repeats the sample itself holds, as in the birthday problem:
    drawing n of N rows, the pairs of rows at one place are expected sum_p c_p (c_p - 1) / 2 times
    n (n - 1) / (N (N - 1)) (c_p copies of place p), so that sum follows from the pairs counted, and
    U = N / (1 + sum / N), exact when every place has as many copies, and N without repeats."""
    count = len(xyz)
    sample = xyz if count <= size else xyz[rng.choice(count, size, replace=False)]
    places, copies = np.unique(sample, axis=0, return_counts=True)
    drawn = len(sample)
    if drawn < 2 or len(places) == drawn:
        return places, math.sqrt(drawn / count) if count else 1.0
    pairs = float((copies * (copies - 1)).sum() / 2)
    repeats = 2 * pairs * count * (count - 1) / (drawn * (drawn - 1))  # sum_p c_p (c_p - 1) over the scan
    distinct = min(count, max(len(places), count / (1 + repeats / count)))
    return places, math.sqrt(len(places) / distinct)


def _measure(xyz: np.ndarray, seed: int = 0) -> tuple[float, float, bool]:
    """``(spacing, correlation dimension, repeats)`` of a scan, from a sample of :data:`_SAMPLE` distinct
    points; ``repeats``: whether the sample held a place twice.

    The spacing is the median distance to the nearest distinct point, scaled from the sample to the
    whole scan's distinct points (:func:`distinct_sample`), as the segmenter measures it.
    """
    rng = np.random.default_rng(seed)
    sample, scale = distinct_sample(xyz, _SAMPLE, rng)
    repeats = len(sample) < min(len(xyz), _SAMPLE)
    if len(sample) < 3:
        return 0.0, 0.0, repeats
    tree = cKDTree(sample)
    queries = sample[rng.choice(len(sample), min(_QUERIES, len(sample)), replace=False)]
    nearest = float(np.median(tree.query(queries, k=2)[0][:, 1]))
    radius = _DIMENSION_RADIUS * nearest
    inner = tree.query_ball_point(queries, radius, return_length=True).sum()
    outer = tree.query_ball_point(queries, 2 * radius, return_length=True).sum()
    dimension = math.log2(outer / inner) if inner > 0 else 0.0
    return nearest * scale, dimension, repeats


def too_sparse(spacing: float, max_size: float) -> str:
    """The message for a scan too sparse for the object sizes chosen for it (no ``min_size`` given)."""
    smallest = 6 * spacing  # three voxels of two spacings: the smallest object the segmenter can outline
    largest = f"the {max_size:g} m chosen for this scan as max_size"
    return (
        f"the scan's points are {spacing:.3g} m apart (measured: median distance to the nearest point), too sparse "
        f"for objects of at most {largest}: the smallest object that can be outlined at that spacing is about "
        f"{smallest:.3g} m. For a sparse (aerial) scan in metres pass min_size={smallest:.3g} and max_size= the "
        "largest object you look for; if the coordinates are not metres, scale them to metres"
    )
