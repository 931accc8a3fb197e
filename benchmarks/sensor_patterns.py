"""One street ray-cast through other LiDARs' patterns: what the segmentation finds where no real sweep of that
sensor is at hand.

The scans with truth hold one sensor's sweep (KITTI's HDL-64E). Other sensors space their rows and their points
along them otherwise, and are noisier or less so. Here one street is ray-cast through each pattern of
:data:`PATTERNS`: a flat road 1.73 m below the sensor (KITTI's mounting), facades 12 m to either side and
60 m ahead and behind, and :data:`STREET`'s box cars and people 2-44 m away, the first right beside the
sensor. Gaussian noise is added along each beam, and every return beyond :data:`MAX_RANGE` is dropped. Each
sweep is segmented with the defaults, up ``z`` given, and a thing counts where the sensor sees at least
:data:`MIN_POINTS` of its points; found is the count matched at IoU >= 0.5, false the segments whose best IoU
is below 0.25, as :func:`benchmarks.scenes.evaluate` counts them for the real scans. Boxes are not cars: their
faces are flat, as a real car's are not (a face alone is a sheet, as a fence is), so the figures compare sensors
and settings, not the segmentation with a real street.

    python -m benchmarks.sensor_patterns --noise 0.01 0.02
    python -m benchmarks.sensor_patterns --patterns HDL-64E --set settings._NOISE_VOXELS=0
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from benchmarks.scenes import checked_constants, constants_set, evaluate
from openshape_ood.segmentation import segment_scene

#: Each sensor's rows (elevations in degrees) and its step along them (degrees): an HDL-64E's two blocks as
#: KITTI's are spaced, Velodyne's HDL-32E and VLP-16, and Ouster's OS1 at 2,048 columns.
PATTERNS = {
    "HDL-64E": (np.r_[2.0 - np.arange(32) / 3, -8.33 - 0.5 * np.arange(1, 33)], 0.17),
    "HDL-32E": (10.67 - 1.33 * np.arange(32), 0.16),
    "VLP-16": (15.0 - 2.0 * np.arange(16), 0.2),
    "OS1-64": (16.6 - 33.2 / 63 * np.arange(64), 360 / 2048),
    "OS1-128": (22.5 - 45.0 / 127 * np.arange(128), 360 / 2048),
}
#: The sensor's height above the road (m): KITTI's.
SENSOR_HEIGHT = 1.73
#: Returns farther than this (m) are dropped, as a sensor's range ends: the road just below the horizon
#: would otherwise lie kilometres away.
MAX_RANGE = 80.0
#: The things on the street, each (name, low corner, high corner) in metres, the road at z = 0: cars of
#: 4.3 x 1.8 x 1.35 m on their wheels, people of 0.5 x 0.4 x 1.75 m.
STREET = (
    ("car beside the sensor", (-2.0, 2.0, 0.15), (2.3, 3.8, 1.5)),
    ("car at 10 m", (8.0, -3.8, 0.15), (12.3, -2.0, 1.5)),
    ("person at 15 m", (15.0, 4.0, 0.0), (15.5, 4.4, 1.75)),
    ("person at 30 m", (30.0, -5.0, 0.0), (30.5, -4.6, 1.75)),
    ("car at 27 m", (25.0, 6.0, 0.15), (29.5, 7.8, 1.5)),
    ("car at 42 m", (40.0, 3.0, 0.15), (44.5, 4.8, 1.5)),
    ("person behind at 21 m", (-20.0, -8.0, 0.0), (-19.6, -7.6, 1.8)),
    ("car behind at 34 m", (-35.0, 5.0, 0.15), (-30.5, 6.8, 1.5)),
)
#: The street's facades, as boxes: background.
FACADES = (
    ((-1e4, 12.0, 0.0), (1e4, 13.0, 9.0)),
    ((-1e4, -13.0, 0.0), (1e4, -12.0, 9.0)),
    ((60.0, -1e4, 0.0), (61.0, 1e4, 9.0)),
    ((-61.0, -1e4, 0.0), (-60.0, 1e4, 9.0)),
)
#: Fewest points of a thing the sensor sees for it to count (the benchmark's ``--min-gt-points``).
MIN_POINTS = 25


def ray_cast(
    boxes, elevation: np.ndarray, azimuth: np.ndarray, height: float, background=(), max_range: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Returns of a spinning LiDAR ``height`` m above a flat road (z = 0), its beams at every ``elevation`` and
    ``azimuth`` (radians): the points seen, in the sensor's frame (``(M, 3)``, float64), and which of ``boxes``
    each hit (-1: the road or a ``background`` box). Boxes are axis-aligned, each (low corner, high corner) with
    the road at z = 0; a beam returns from the nearest surface within ``max_range``, or not at all."""
    e, a = (grid.ravel() for grid in np.meshgrid(elevation, azimuth))
    direction = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], axis=1)
    sensor = np.array([0.0, 0.0, height])
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.where(direction[:, 2] < 0, -height / direction[:, 2], np.inf)
        hit = np.full(len(direction), -1)
        for index, (low, high) in enumerate([*boxes, *background]):
            near = (np.asarray(low, dtype=float) - sensor) / direction
            far = (np.asarray(high, dtype=float) - sensor) / direction
            enter = np.nanmax(np.minimum(near, far), axis=1)
            leave = np.nanmin(np.maximum(near, far), axis=1)
            closer = (enter <= leave) & (enter > 0) & (enter < distance)
            distance[closer], hit[closer] = enter[closer], index if index < len(boxes) else -1
    seen = distance < max_range
    return direction[seen] * distance[seen, None], hit[seen]


def with_range_noise(points: np.ndarray, sigma: float | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``points`` moved along their rays from the origin by Gaussian noise of ``sigma`` metres (one, or each
    point's)."""
    shift = rng.normal(0.0, 1.0, len(points)) * sigma
    return points + points / np.linalg.norm(points, axis=1, keepdims=True) * shift[:, None]


def street_sweep(pattern: str, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:data:`STREET` seen by ``pattern`` with ``noise`` metres of range noise (drawn with ``seed``): points in the
    sensor's frame and each one's thing (-1: background)."""
    elevation, step = PATTERNS[pattern]
    azimuth = np.arange(-np.pi, np.pi, np.radians(step))
    boxes = [(low, high) for _, low, high in STREET]
    points, hit = ray_cast(boxes, np.radians(elevation), azimuth, SENSOR_HEIGHT, FACADES, MAX_RANGE)
    return with_range_noise(points, noise, np.random.default_rng(seed)), hit


def segmented(pattern: str, noise: float, seed: int) -> dict:
    """The street through ``pattern``, segmented with ``seed``: things counted and found, false segments, the
    voxel and the range noise the segmentation read."""
    points, hit = street_sweep(pattern, noise, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings say what the segmentation did; the figures are the point
        labels, settings = segment_scene(points, "z", seed=seed, return_settings=True)
    figures = evaluate(labels, hit, MIN_POINTS)
    return {
        "counted": figures["objects"], "found": figures["found_050"], "false": figures["false"],
        "voxel": settings.voxel_size, "range_noise": settings.measured.range_noise,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patterns", nargs="+", choices=sorted(PATTERNS), default=list(PATTERNS))
    parser.add_argument("--noise", nargs="+", type=float, default=[0.01, 0.02],
                        help="range noise (m, standard deviation) to add along the beams (default 0.01 0.02)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="MODULE.NAME=VALUE",
                        help="run with constants of openshape_ood.segmentation set to other values, e.g. "
                             "settings._NOISE_VOXELS=0")  # fmt: skip
    args = parser.parse_args(argv)
    # Checked before anything runs, so that only a bad argument is reported as one.
    try:
        checked_constants(args.set)
    except ValueError as error:
        parser.error(str(error))
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"--seeds must be 0 or more, got {args.seeds}")
    with constants_set(args.set) as constants:
        print(f"{' '.join(f'{k}={v}' for k, v in constants.items()) or 'defaults'}; seeds {args.seeds}")
        print(f"{'pattern':10s} {'noise':>6s}  found (false segments)  voxels (m)  range noise read (m)")
        for pattern in args.patterns:
            for noise in args.noise:
                runs = [segmented(pattern, noise, seed) for seed in args.seeds]
                voxels = sorted({run["voxel"] for run in runs})
                read = [run["range_noise"] for run in runs]
                print(f"{pattern:10s} {noise:6.3f}  {sum(r['found'] for r in runs)} of "
                      f"{sum(r['counted'] for r in runs)} ({sum(r['false'] for r in runs)})"
                      f"  {'-'.join(f'{v:g}' for v in voxels)}  {min(read):.4f}-{max(read):.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
