"""What a sensor at the origin saw: whether a scan is one view from there, and whether an object's top is seen.

A camera sees one surface along each ray (:func:`seen_through_share`); a reconstructed room holds
surfaces behind others, which no sensor at its origin saw at once.

A LiDAR sweep shows the street from one point. A car or a person standing in it is seen whole from
above: the beams just over its top pass it and return from farther away, or not at all. A piece of
something larger is not: the base of a facade, a trunk under its crown, a bush behind a fence go on
upwards into returns at the same range, or are hidden behind something nearer, or reach the top
edge of the sensor's view. Such pieces are background.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from .geometry import sensor_angles

# Rows (the sensor's angular step between its rows or rings) below the top of its view within which
# an object is cut off by it.
_VIEW_EDGE_ROWS = 2
# Rows above an object's top voxel in which the beams that pass over it are looked at, counted in the
# sensor's own rows there (SensorRows). 2 until stop 91, counted in the median step over the whole sweep: on
# the SemanticKITTI sweep that is 0.39 degrees, and 2.5 of the 1/3-degree rows near the horizon, where cars
# and people are seen, reach as high. Chosen among 2, 2.5 and 3 by the benchmark's rule on the sweep's views
# (segmentation experiments, "A LiDAR's rows counted where they lie").
_ROWS_ABOVE = 2.5
# Bands of elevation, holding as many rows' gaps each, in which a sensor's row step is measured: about four
# of a 64-ring LiDAR's rings each, so that the HDL-64E's upper and lower blocks (1/3 and 1/2 degree) fall
# into bands of their own.
_ROW_BANDS = 16
#: The view's top of a sweep whose top was not seen: an elevation above every direction, so that no object
#: reaches the rows below it and none is taken for cut off by it.
TOP_NOT_SEEN = np.pi
# A sensor's rows show about an axis when its row step there is at least this many of its steps along a row:
# halfway between an even grid's one (a camera, a terrestrial scanner) and the two of the closest rings we know
# of, the HDL-64E's upper block (1/3 degree apart, about 0.17 degrees along them at 10 Hz; 1.9-2.1 measured on
# the KITTI sweeps, whose other axes give 1.0-1.4).
_RINGS_APART = 1.5
# Bands of distance from the sensor's axis (log-spaced between the sweep's 1st and 99th percentiles) whose
# highest voxels the top ring's cone is fitted above, and the fewest voxels a band needs to count: a dozen
# points of the cone across the 2-80 m a sweep spans, each the highest of enough voxels that the ring's hits
# are among them.
_APEX_BANDS = 12
_APEX_BAND_VOXELS = 50
# ... and the cone counts as found where the top ring marks it at most distances: at least this share of the
# bands has its highest voxel within _APEX_TOUCH_VOXELS voxels of it (a voxel's height; the HDL-64E's lasers
# move its apex by 0.1 m from one distance to another). On the real sweeps 7-11 of 12 bands do; where tall
# things stand at two or three distances only (a ray-cast wall and a car) the line rests on a car's roof and
# 3 do, and the apex found was 0.7 m low.
_APEX_TOUCHING_SHARE = 0.5
_APEX_TOUCH_VOXELS = 2
# A sweep's range noise is measured on all its points up to this many; on a larger one, on every k-th wedge of
# azimuth (about the third coordinate axis, whatever axis the sensor turns about: a wedge is a band of
# directions across the rows), each _NOISE_BAND steps along a row wide, within which every point but those at
# its edges has its neighbours along its row.
_NOISE_SAMPLE = 30_000
_NOISE_BAND = 16
# A point's two neighbours lie on either side of it along one line where the directions to them are at least
# this far from perpendicular (the cosine of the angle between them below minus this: within 25 degrees of
# a straight line).
_NOISE_IN_LINE = 0.9
# The noise is read round each point measured, on its this many nearest (on a 64-ring sweep about 8 rows of 8
# points; the median absolute residual of 64 values lies within about 15 % of the noise's), and taken on the
# smoothest _NOISE_SMOOTHEST of those neighbourhoods: a sweep's road, its cars' panels and walls, where most of
# the rest may be leaves and grass (83-87 % of the points of some of the SemanticKITTI sweep's camera views).
# On noise alone that share reads 0.80-0.81 of it.
_NOISE_NEIGHBOURS = 64
_NOISE_SMOOTHEST = 0.1
# ... round this many of the points measured, evenly through them: their smoothest tenth is 200
# neighbourhoods, whose quantile is as good as all points' would be.
_NOISE_ANCHORS = 2_000
# Finer steps (along a row) within which the next row up is looked for.
_ROW_SEARCH = 16
# Points that share a point's box of _ROW_SEARCH finer steps (one step wide) in a sensor's scan: a few rows
# of a few points (29-37 on KITTI's HDL-64E sweeps, 36 with the points repeated ten times at 1 cm of noise).
# Many more is no sensor's row pattern but a scan lying in a plane through the origin, its points all at one
# elevation (5,000 and 13,500 on a room of 200,000 and 1,000,000 points flattened onto its floor), whose pairs
# would not fit in memory: such a scan is thinned at random to this many before its rows are read.
_MOST_IN_ROW_BOX = 256
# Points at which that number is estimated: its mean within a few percent, at a thousandth of the search.
_ROW_BOX_PROBES = 1000
# Directions within this many of a sample's angular steps lie on one ray: the neighbouring ones, diagonals too.
_RAY_STEPS = 1.5
# A point behind another on its ray lies farther by more than this share of its range: beyond a depth
# camera's noise, and beyond a surface's own rise across the steps above unless seen within about 3 degrees
# of grazing (at the 0.003 radians between the directions of 20,000 points of a Kinect frame).
BEHIND = 0.1
# Neighbouring directions looked at per point: the eight around it on an image grid.
_RAY_NEIGHBOURS = 8
# Points whose neighbouring sites on the pixel grid are looked at: 2,000 sites, a standard error of at
# most 0.011 on the share of pixels a frame holds.
_SHARE_QUERIES = 1000
# Directions around each of them among which a step of the grid is looked for (15: a few pixels away).
_GRID_NEIGHBOURS = 15
# A site of the grid is taken when a direction lies within this share of the step of it: a pixel's ray
# lies on it exactly, noise along the rays moves no direction, and the grid bends by a few percent across
# the few pixels between the pair that gave the step and the point.
_ON_SITE = 0.25
# ... and the directions lie on a grid when at least half of those lie within a fifth of that: points at
# random directions fall within the disc of a site evenly, so 1/25 of them as near.
_ON_GRID = 0.05


def row_step(xyz: np.ndarray, up: np.ndarray, spacing_growth: float, seed: int = 0) -> float:
    """The sensor's angular step between its rows (radians): between a LiDAR's rings, which are
    several times farther apart than its points along a ring, or between a camera's pixel rows.

    Measured as the median elevation gap from each point to the nearest point above it in its own
    column (azimuth within ``spacing_growth``, the finer step), on the points of 20 narrow azimuth
    wedges so that every point's neighbours are there. ``spacing_growth`` when nothing is found.
    """
    _, gaps = _row_gaps(xyz, up, spacing_growth, seed)
    return _median_step(gaps, spacing_growth)


def ring_axis(xyz: np.ndarray, up: np.ndarray, spacing_growth: float, seed: int = 0) -> np.ndarray:
    """The coordinate axis a spinning LiDAR's rings turn about, for a sweep given without one (``up``: the
    normal of its largest plane, a unit vector): about that axis alone the sensor's rows lie farther apart
    than its points along them (:func:`row_step`, at least :data:`_RINGS_APART` times ``spacing_growth``).

    ``up`` itself when the rows show about the axis nearest it, as they do where the largest plane is the
    ground, or about no axis (a sensor whose rows lie as close as its points along them: a camera, a
    terrestrial scanner); else the axis about which they lie farthest apart (the largest plane is a wall: a
    sweep among buildings), whose sign :func:`.ground.sensor_up` decides.
    """
    if spacing_growth <= 0:  # no step along a row measured: no rows to count
        return up

    def apart(axis: int) -> float:
        return row_step(xyz, np.eye(3)[axis], spacing_growth, seed) / spacing_growth

    nearest = int(np.argmax(np.abs(up)))
    if apart(nearest) >= _RINGS_APART:  # the ground's normal: the other axes need not be measured
        return up  # as measured, its sign too
    others = [axis for axis in range(3) if axis != nearest]
    steps = [apart(axis) for axis in others]
    farthest = int(np.argmax(steps))
    return np.eye(3)[others[farthest]] if steps[farthest] >= _RINGS_APART else up


def sensor_height(centroids: np.ndarray, up: np.ndarray, voxel_size: float) -> float | None:
    """How far along ``up`` above the origin a spinning LiDAR's top ring has its apex, or ``None`` when the sweep
    does not show it.

    The sensor sees nothing above its top ring, a cone about its axis: in (distance across ``up``, height
    along it) every voxel lies below the line ``apex + distance * tan(top)``, and touches it wherever
    something tall stood in the ring's way. The line is the one that lies above the highest voxel (its
    99.9th percentile: a stray reflection aside) of each of :data:`_APEX_BANDS` bands of distance, with the
    least total gap to them (a linear programme, solved by scipy's HiGHS). It is the cone only where the
    ring's hits mark it at most distances (:data:`_APEX_TOUCHING_SHARE` of the bands within
    :data:`_APEX_TOUCH_VOXELS` voxels of ``voxel_size``). Fitted on the HDL-32E sweep moved 0, 1 and 1.73 m
    down it finds 0.00, 1.00 and 1.73 m; on KITTI's sweeps 0.21-0.30 m more than the move, the HDL-64E's upper
    lasers lying above its centre.
    """
    from scipy.optimize import linprog

    height = centroids @ up
    distance = np.linalg.norm(centroids - np.outer(height, up), axis=1)
    beside = distance > 0
    height, distance = height[beside], distance[beside]
    if len(distance) < 2:
        return None
    edges = np.geomspace(*np.quantile(distance, [0.01, 0.99]), _APEX_BANDS + 1)
    band = np.clip(np.searchsorted(edges, distance, side="right") - 1, 0, _APEX_BANDS - 1)
    highest = []
    for k in range(_APEX_BANDS):
        members = np.flatnonzero(band == k)
        if len(members) >= _APEX_BAND_VOXELS:
            top = members[np.argsort(height[members])[-max(1, len(members) // 1000)]]
            highest.append((distance[top], height[top]))
    if len(highest) < 2:
        return None
    at, rise = np.array(highest).T
    line = linprog(
        c=[len(at), at.sum()], A_ub=-np.c_[np.ones(len(at)), at], b_ub=-rise, bounds=[(None, None)] * 2,
        method="highs",
    )  # fmt: skip
    if not line.success:
        return None
    touching = line.x[0] + line.x[1] * at - rise <= _APEX_TOUCH_VOXELS * voxel_size
    return float(line.x[0]) if touching.mean() >= _APEX_TOUCHING_SHARE else None


def _median_step(gaps: np.ndarray, spacing_growth: float) -> float:
    return float(max(1.0, np.median(gaps)) * spacing_growth) if len(gaps) else spacing_growth


class SensorRows(NamedTuple):
    """A sensor's rows counted at each elevation: the count rises by one over each row's own step, which
    need not be one step everywhere (a Velodyne HDL-64E's upper rings lie 1/3 degree apart, its lower ones
    1/2). ``elevations`` (radians, rising from -pi to pi) and the row ``counts`` there; between them the
    count is linear. ``step``: one step for every row, the median (:func:`row_step`)."""

    elevations: np.ndarray
    counts: np.ndarray
    step: float

    def at(self, elevation: np.ndarray | float) -> np.ndarray:
        """The row count at each ``elevation`` (radians)."""
        return np.interp(elevation, self.elevations, self.counts)


def sensor_rows(xyz: np.ndarray, up: np.ndarray, spacing_growth: float, seed: int = 0) -> SensorRows:
    """The sensor's :class:`SensorRows`: the gaps of :func:`row_step` in :data:`_ROW_BANDS` bands of
    elevation holding as many of them each, each band's median gap its rows' step, the lowest and highest
    bands' steps held beyond them. A scan cut to a camera's view keeps the sensor's upper rows only: their
    step, not the median over the rows it happens to hold, says how far the next row above lies. One step
    everywhere (:func:`row_step`'s) when no gap is measured."""
    elevations, gaps = _row_gaps(xyz, up, spacing_growth, seed)
    step = _median_step(gaps, spacing_growth)
    # Edges at measured elevations, each once: every band holds the gap at its lower edge.
    quantiles = np.linspace(0.0, 1.0, _ROW_BANDS + 1)
    edges = np.unique(np.quantile(elevations, quantiles, method="lower")) if len(gaps) else np.zeros(1)
    if len(edges) < 2:  # no gap measured, or all at one elevation: one step everywhere
        steps, edges = np.array([step]), np.zeros(2)
    else:
        band = np.clip(np.searchsorted(edges, elevations, side="right") - 1, 0, len(edges) - 2)
        medians = np.array([np.median(gaps[band == k]) for k in range(len(edges) - 1)])
        steps = np.maximum(1.0, medians) * spacing_growth
    # A band's step holds from its lower edge to the next band's; the first and last reach to -pi and pi.
    knots = np.concatenate([[-np.pi], edges[1:-1], [np.pi]])
    # No step (no finer step measured) counts no rows, as row_step then has none.
    counts = np.concatenate([[0.0], np.cumsum(np.diff(knots) / np.where(steps > 0, steps, np.inf))])
    return SensorRows(knots, counts, step)


def _row_gaps(xyz: np.ndarray, up: np.ndarray, spacing_growth: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The elevation (radians) of each point of 20 narrow azimuth wedges that has a point above it in its own
    column, and that gap (in ``spacing_growth`` steps): the sensor's rows as :func:`row_step` measures them."""
    if spacing_growth <= 0 or len(xyz) < 3:
        return np.zeros(0), np.zeros(0)
    angles = sensor_angles(xyz, up)
    wedges = np.floor((angles[:, 0] / (2 * np.pi) + 0.5) * 200).astype(np.int64)
    rng = np.random.default_rng(seed)
    angles = angles[np.isin(wedges, rng.choice(200, 20, replace=False))]
    if len(angles) < 2:
        return np.zeros(0), np.zeros(0)
    # Pairs in the same column (azimuth within one finer step) and rows up to 16 finer steps apart
    # (a 64-ring LiDAR's are 2-4, a 16-ring one's about 10): the azimuth is stretched to make the box.
    tree = cKDTree(angles / spacing_growth * [_ROW_SEARCH, 1])
    probes = tree.data[rng.choice(len(angles), min(len(angles), _ROW_BOX_PROBES), replace=False)]
    in_box = float(np.mean(tree.query_ball_point(probes, _ROW_SEARCH, p=np.inf, return_length=True))) - 1
    if in_box > _MOST_IN_ROW_BOX:
        angles = angles[rng.random(len(angles)) < _MOST_IN_ROW_BOX / in_box]
        tree = cKDTree(angles / spacing_growth * [_ROW_SEARCH, 1])
    scaled = angles / spacing_growth
    pairs = tree.query_pairs(_ROW_SEARCH, p=np.inf, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(0), np.zeros(0)
    offset = scaled[pairs[:, 1]] - scaled[pairs[:, 0]]
    lower = np.where(offset[:, 1] < 0, pairs[:, 1], pairs[:, 0])
    offset = np.abs(offset)
    # Above by more than half a finer step: the next row, not a neighbour along the same row.
    column = offset[:, 1] > 0.5
    gap = np.full(len(scaled), np.inf)
    np.minimum.at(gap, lower[column], offset[column, 1])
    found = np.isfinite(gap)
    return angles[found, 1], gap[found]


def seen_through_share(sample: np.ndarray) -> float:
    """Share of ``sample`` (points of a scan, ``(n, 3)``) that lie behind a nearer point of it on about
    the same ray from the origin: farther by more than :data:`BEHIND` of their range than one of their
    :data:`_RAY_NEIGHBOURS` nearest directions, within :data:`_RAY_STEPS` of the sample's median angular
    step. A camera's frame in its own coordinates shows one surface per ray, so only mixed pixels at
    depth edges count: on random samples of 20,000 points, at most 0.2 % of the mOSD frames and PCL's
    stereo scan, 0.4 % of the table-top frames rendered round them and 1.3 % of the rooms' rendered
    frames (those of ``python -m benchmarks.scenes --frames 4 --orbit``, measured by an ad-hoc script);
    the KITTI sweep 6.9 % (a LiDAR's rings lie farther apart than its points along them). A reconstructed
    room holds the floor under its furniture and the walls behind it: 16-17 % seen from its centre, 20-24 %
    from a corner of its box.
    """
    ranges = np.linalg.norm(sample, axis=1)
    sample, ranges = sample[ranges > 0], ranges[ranges > 0]
    if len(sample) <= _RAY_NEIGHBOURS:
        return 0.0
    directions = sample / ranges[:, None]
    angle, neighbour = cKDTree(directions).query(directions, k=_RAY_NEIGHBOURS + 1, workers=-1)
    other = neighbour != np.arange(len(sample))[:, None]  # not by column: on one ray a point ties with itself
    # The angular step is between distinct directions: two surfaces sampled on the same rays have none.
    step = np.median(np.where(other & (angle > 0), angle, np.inf).min(axis=1))
    on_ray = other & (angle <= _RAY_STEPS * step)
    behind = on_ray & (ranges[neighbour] < (1 - BEHIND) * ranges[:, None])
    return float(behind.any(axis=1).mean())


def pixel_share(xyz: np.ndarray, rng: np.random.Generator) -> float:
    """The share of a camera's pixels a frame ``(N, 3)`` in the camera's coordinates holds: 1 for a whole
    frame (its holes aside), less for a frame sampled down (VoteNet's export of SUN RGB-D keeps 50,000 of
    each frame's points, about an eighth to a fifth of its pixels).

    A frame's points lie on its pixels' rays, whose directions form a grid; a sample of them holds a share
    of its sites. Around each of :data:`_SHARE_QUERIES` random points, the shortest difference between two
    of its :data:`_GRID_NEIGHBOURS` nearest directions (not its own: the point would then lie on the site)
    is a step of the grid; the share is that of the sites one step either way from the points that hold a
    direction. Any step of the grid will do, so the share is measured however sparse the sample. A frame
    whose directions lie on no grid (noise across the rays, points resampled or filtered: fewer than half
    of the taken sites hold a direction within :data:`_ON_GRID` of a step) counts as whole: 1.
    """
    ranges = np.linalg.norm(xyz, axis=1)
    directions = xyz[ranges > 0] / ranges[ranges > 0, None]
    if len(directions) <= 2 * _GRID_NEIGHBOURS:
        return 1.0
    tree = cKDTree(directions)
    points, step = grid_steps(directions, tree, rng)
    length = np.linalg.norm(step, axis=1)
    miss = tree.query(np.concatenate([points + step, points - step]), workers=-1)[0] / np.tile(length, 2)
    taken = miss <= _ON_SITE
    if not taken.any() or (miss <= _ON_GRID).sum() < 0.5 * taken.sum():
        return 1.0
    return float(taken.mean())


def grid_steps(sites: np.ndarray, tree: cKDTree, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Steps of the grid that ``sites`` ``(N, D)`` (``tree`` over them) are a sample of: around each of
    :data:`_SHARE_QUERIES` random sites, the shortest difference between two of its :data:`_GRID_NEIGHBOURS`
    nearest other sites. Returns those sites and their steps, ``(Q, D)`` each, leaving out a site whose
    neighbours all repeat one place (no difference between them)."""
    points = sites[rng.choice(len(sites), min(_SHARE_QUERIES, len(sites)), replace=False)]
    near = sites[tree.query(points, k=min(_GRID_NEIGHBOURS + 1, len(sites)), workers=-1)[1][:, 1:]]
    differences = near[:, :, None] - near[:, None]
    lengths = np.linalg.norm(differences, axis=-1)
    lengths[lengths == 0] = np.inf  # a site with itself (or a repeated one) is no step
    lengths = lengths.reshape(len(points), -1)
    stepped = np.isfinite(lengths.min(axis=1))
    shortest = lengths[stepped].argmin(axis=1)
    steps = differences[stepped].reshape(stepped.sum(), -1, sites.shape[1])[np.arange(stepped.sum()), shortest]
    return points[stepped], steps


def range_noise(xyz: np.ndarray, spacing_growth: float) -> float:
    """The standard deviation (m) of the range noise of a sweep in its sensor's frame, read on its smoothest
    surfaces; 0 where it cannot be measured.

    A point's two nearest directions, on either side of it along one line (:data:`_NOISE_IN_LINE`) and each
    within 1.5 steps along a row (``spacing_growth``, radians), are its neighbours along its row (a LiDAR's
    rings lie farther apart); directions, unlike positions, the noise does not move. A beam counts with its
    nearest return: a second one along it (within :data:`_ON_SITE` of a step) is left out. On a smooth surface
    the point's range is theirs interpolated in angle, but for noise: each point's residual, over
    ``sqrt(1 + w^2 + (1 - w)^2)`` for interpolation weights ``w`` and ``1 - w``, has the noise's spread. The
    ranges are measured along the beams, so the ground seen at a grazing angle shows all of it. Round
    :data:`_NOISE_ANCHORS` of the points measured (their :data:`_NOISE_NEIGHBOURS` nearest directions
    measured) 1.4826 times the residuals' median absolute value estimates the spread where depth edges and
    thin things lie in the tail; leaves and grass spread wider, so the sensor's noise is read on the
    smoothest neighbourhoods, their :data:`_NOISE_SMOOTHEST` quantile (0.80-0.81 of the noise on noise
    alone). Measured on all the points, or on about :data:`_NOISE_SAMPLE` of a larger sweep's in wedges of
    :data:`_NOISE_BAND` steps, whatever axis the sensor turns about. KITTI's HDL-64E sweeps read 0.7 cm
    whole, and up to 1.8 cm cut to a camera's view where leaves and grass fill most of it.
    """
    ranges = np.linalg.norm(xyz, axis=1)
    xyz, ranges = xyz[ranges > 0], ranges[ranges > 0]
    if spacing_growth <= 0 or len(xyz) < _NOISE_NEIGHBOURS:
        return 0.0
    directions = xyz / ranges[:, None]
    if len(directions) > _NOISE_SAMPLE:
        wedge = np.floor(np.arctan2(directions[:, 1], directions[:, 0]) / (_NOISE_BAND * spacing_growth))
        within = wedge.astype(np.int64) % math.ceil(len(directions) / _NOISE_SAMPLE) == 0
        directions, ranges = directions[within], ranges[within]
    # One return per beam: a second return along it (a dual-return sensor) or a repeated point lies within a
    # quarter step of its direction, and the farther of the two is left out.
    tree = cKDTree(directions)
    pairs = tree.query_pairs(_ON_SITE * spacing_growth, output_type="ndarray")
    if len(pairs):
        farther = np.where(ranges[pairs[:, 0]] >= ranges[pairs[:, 1]], pairs[:, 0], pairs[:, 1])
        first_returns = np.ones(len(directions), dtype=bool)
        first_returns[farther] = False
        directions, ranges = directions[first_returns], ranges[first_returns]
        tree = cKDTree(directions)
    distance, neighbour = tree.query(directions, k=3, workers=-1)
    first, second = neighbour[:, 1], neighbour[:, 2]
    facing = np.einsum("ij,ij->i", directions[first] - directions, directions[second] - directions)
    along = (facing < -_NOISE_IN_LINE * distance[:, 1] * distance[:, 2]) & (distance[:, 2] <= 1.5 * spacing_growth)
    if along.sum() < _NOISE_NEIGHBOURS:
        return 0.0
    near, far = distance[along, 1], distance[along, 2]
    weight = far / (near + far)  # of the nearer neighbour
    expected = weight * ranges[first[along]] + (1 - weight) * ranges[second[along]]
    residual = np.abs(ranges[along] - expected) / np.sqrt(1 + weight**2 + (1 - weight) ** 2)
    measured = directions[along]
    anchors = measured[:: math.ceil(len(measured) / _NOISE_ANCHORS)]
    _, nearest = cKDTree(measured).query(anchors, k=_NOISE_NEIGHBOURS, workers=-1)
    return float(np.quantile(1.4826 * np.median(residual[nearest], axis=1), _NOISE_SMOOTHEST))


def sensor_view(centroids: np.ndarray, up: np.ndarray) -> tuple[float, np.ndarray]:
    """What a sensor at the origin looked at, from one reckoning of the voxels' sensor angles: the
    elevation (radians) of the top of its view, the 99th percentile of those of the voxels at or beyond
    their median range (an outlier or two above it are reflections), and the sorted azimuths about ``up``,
    the directions it looked in.

    The top is read on the far voxels because a sensor that sits off the origin moves a voxel's elevation
    by about that offset over the voxel's range: a laser of the HDL-64E, whose lasers lie off its centre,
    puts its top ring at 3.5-4.1 degrees within 10 m of the SemanticKITTI sweep's origin and at 2.4 beyond
    40 m, and a sweep whose origin lies 0.15 m below the sensor raised the top of all its voxels from 2.58 to
    3.16 degrees.

    Where that top lies below the sensor's horizontal, the highest far returns are the ground or things lower
    than the sensor (a field, a motorway): nothing filled the upper rows, which returned no echo, and the top of
    the view was not seen. It is then :data:`TOP_NOT_SEEN`: nothing is cut off by it (a car in a field was, at
    its roof)."""
    angles = sensor_angles(centroids, up)
    ranges = np.linalg.norm(centroids, axis=1)
    far = ranges >= np.median(ranges)
    top = float(np.quantile(angles[far, 1], 0.99))
    return (top if top >= 0 else TOP_NOT_SEEN), np.sort(angles[:, 0])


def unseen_objects(
    objects: np.ndarray,
    centroids: np.ndarray,
    up: np.ndarray,
    step: float,
    radius: np.ndarray,
    top: float,
    rows: SensorRows | None = None,
) -> np.ndarray:
    """Object ids (of ``objects``, per voxel, -1 for none) whose top the sensor did not see.

    An object voxel is on the object's top when no voxel of the object lies in the
    :data:`_ROWS_ABOVE` rows above it in its column (``step`` is the row step in radians: the width of a
    column, and the rows' height where ``rows``, the sensor's :class:`SensorRows`, is not given). Its
    top is hidden there when a voxel of something else in those rows is nearer to the sensor than
    the voxel plus its cluster ``radius`` (an occluder, or the object going on upwards). An object
    is unseen when most of its top is hidden, or when its top reaches the last
    :data:`_VIEW_EDGE_ROWS` rows below ``top``, the view's top (:func:`sensor_view`): a tree, a pole
    or a building cut off by it.
    """
    ids = np.unique(objects[objects >= 0])
    if len(ids) == 0 or step <= 0:
        return ids[:0]
    angles = sensor_angles(centroids, up)
    top_row = top / step if rows is None else float(rows.at(top))
    angles[:, 1] = angles[:, 1] / step if rows is None else rows.at(angles[:, 1])
    angles[:, 0] /= step
    # The azimuth goes round: the columns on either side of the direction where it jumps from +pi to -pi
    # are neighbours, so the trees are periodic along it (and not along the elevation: box size 0).
    turn = 2 * np.pi / step
    angles[:, 0] = np.mod(angles[:, 0], turn)
    angles[angles[:, 0] >= turn, 0] = 0.0  # mod rounds a tiny negative azimuth up to a whole turn
    ranges = np.linalg.norm(centroids, axis=1)
    members = np.flatnonzero(objects >= 0)
    pairs = cKDTree(angles[members], boxsize=[turn, 0]).sparse_distance_matrix(
        cKDTree(angles, boxsize=[turn, 0]), _ROWS_ABOVE, p=np.inf, output_type="ndarray"
    )
    voxel, other = members[pairs["i"]], pairs["j"]
    across = angles[other, 0] - angles[voxel, 0]
    across -= turn * np.round(across / turn)
    above = (angles[other, 1] - angles[voxel, 1] > 0.5) & (np.abs(across) <= 1)
    voxel, other = voxel[above], other[above]
    own = objects[other] == objects[voxel]
    on_top = np.ones(len(centroids), dtype=bool)
    on_top[voxel[own]] = False
    hidden = np.zeros(len(centroids), dtype=bool)
    hidden[voxel[~own & (ranges[other] < ranges[voxel] + radius[voxel])]] = True
    top_voxels = members[on_top[members]]
    index = np.searchsorted(ids, objects[top_voxels])
    tops = np.bincount(index, minlength=len(ids))
    hidden_tops = np.bincount(index, hidden[top_voxels], len(ids))
    highest = np.full(len(ids), -np.inf)
    np.maximum.at(highest, np.searchsorted(ids, objects[members]), angles[members, 1])
    return ids[(2 * hidden_tops > tops) | (highest >= top_row - _VIEW_EDGE_ROWS)]
