"""How long ``segment_scene`` takes on a scan of about a million points.

The scan is the synthetic scene of the tests (real meshes on a floor before a wall, with
sensor noise), either sampled densely (``--copies 1``: one room, ~3 mm between points) or
tiled side by side (``--copies 10``: ten rooms, 1 cm between points, ten times as many
voxels), so that both the per-point and the per-voxel work are measured. Prints the
number of points and voxels, the objects found, their worst IoU, and the wall-clock and CPU
time of each run (on a busy machine the wall-clock time includes waiting for a core). First it
prints the CPU (model, AVX2/AVX-512, cores usable, load average) and numpy's float32
matrix-multiply rate measured in the same run, and each run's time also in units of that rate
(the GFLOP the machine multiplies in that time), so that figures from other machines compare.
``--street`` times a street instead: cars parked along a road before a facade, as long as the
points ask; one of more voxels than the segmentation takes at once is segmented in tiles.
``--colour`` gives every point a colour (one per object, a grey for the floor, the wall, the road and
the facade, with noise of 0.02 per channel), so that the colour step of the segmentation is timed too.

    python -m benchmarks.scene_speed                     # 1,000,000 points, one dense room
    python -m benchmarks.scene_speed --copies 10         # 1,000,000 points, ten rooms
    python -m benchmarks.scene_speed --street --points 5000000
    python -m benchmarks.scene_speed --colour
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from openshape_ood.scenes.scene import segment_scene
from tests.synthetic_scene import FLOOR, OBJECTS, make_street, make_synthetic_scene

# Points of the synthetic scene at 1 cm spacing (measured): scales the spacing to the requested count.
_POINTS_AT_1CM = 108_000
# Points of the synthetic street per car (make_street: 8 m of road and facade, and the car).
_POINTS_PER_CAR = 17_400


def build_scan(points: int, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``points`` points in ``copies`` rooms side by side along x, and their true labels."""
    spacing = 0.01 * np.sqrt(_POINTS_AT_1CM * copies / points)
    width = FLOOR[0][1] - FLOOR[0][0]
    scans, truths = [], []
    for copy in range(copies):
        scan, truth = make_synthetic_scene(spacing=spacing, seed=seed + copy)
        scans.append(scan + np.array([copy * (width + 0.5), 0.0, 0.0], dtype=np.float32))
        truths.append(np.where(truth >= 0, truth + copy * len(OBJECTS), -1))
    return np.concatenate(scans), np.concatenate(truths)


def with_colour(scan: np.ndarray, truth: np.ndarray, seed: int) -> np.ndarray:
    """The scan ``(N, 6)`` with a colour per point: one per object, a grey for the background, noise of 0.02."""
    rng = np.random.default_rng(seed)
    palette = np.vstack([[0.6, 0.6, 0.55], rng.uniform(0.1, 0.9, (int(truth.max()) + 1, 3))])
    rgb = np.clip(palette[truth + 1] + rng.normal(0.0, 0.02, (len(scan), 3)), 0.0, 1.0)
    return np.concatenate([scan, rgb.astype(scan.dtype)], axis=1)


def worst_iou(labels: np.ndarray, truth: np.ndarray) -> float:
    ious = []
    for object_id in np.unique(truth[truth >= 0]):
        member = truth == object_id
        found = labels[member]
        found = found[found >= 0]
        if len(found) == 0:
            return 0.0
        label = np.bincount(found).argmax()
        ious.append(((labels == label) & member).sum() / ((labels == label) | member).sum())
    return float(min(ious))


def machine() -> dict:
    """The CPU's model and vector flags (Linux /proc/cpuinfo), the cores this process may use, and the load."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:  # not Linux: the model stays unknown
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"model": model, "avx2": "avx2" in flags, "avx512f": "avx512f" in flags, "cores": cores, "load": load}


def gemm_rate(size: int = 1024, repeats: int = 5) -> float:
    """numpy's float32 matrix-multiply rate here, FLOP/s (the median of ``repeats`` ``size``-square products)."""
    a, b = (np.random.default_rng(k).standard_normal((size, size), dtype=np.float32) for k in range(2))
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points in the scan (default 1,000,000)")
    parser.add_argument("--copies", type=int, default=1, help="rooms side by side (default 1)")
    parser.add_argument("--street", action="store_true", help="a street with parked cars instead of rooms")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--colour", action="store_true", help="points with colours (RGB), timing the colour step")
    args = parser.parse_args(argv)

    cpu, rate = machine(), gemm_rate()
    print(f"CPU: {cpu['model']}, AVX2 {'yes' if cpu['avx2'] else 'no'}, AVX-512 {'yes' if cpu['avx512f'] else 'no'}, "
          f"{cpu['cores']} cores usable, load average {cpu['load'][0]:.2f}; numpy float32 GEMM (1024): "
          f"{rate / 1e9:.1f} GFLOP/s")  # fmt: skip
    if args.street:
        scan, truth = make_street(max(1, round(args.points / _POINTS_PER_CAR)), args.seed)
        print(f"scan: a street of {len(scan):,} points, {len(np.unique(truth[truth >= 0]))} cars; "
              f"{os.cpu_count()} CPU cores")  # fmt: skip
    else:
        scan, truth = build_scan(args.points, args.copies, args.seed)
        voxels = len(np.unique(np.floor(scan / 0.01).astype(np.int64), axis=0))
        print(f"scan: {len(scan):,} points, {voxels:,} voxels of 1 cm, {args.copies} room(s), "
              f"{len(np.unique(truth[truth >= 0]))} objects; {os.cpu_count()} CPU cores")  # fmt: skip
    if args.colour:
        scan = with_colour(scan, truth, args.seed)
    for run in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        labels, settings = segment_scene(scan, "z" if args.street else "y", return_settings=True)
        elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
        found = len(np.unique(labels[labels >= 0]))
        quality = f"worst IoU {worst_iou(labels, truth):.3f}, background kept {(labels[truth < 0] == -1).mean():.4f}"
        print(f"run {run + 1}: {elapsed:.2f} s wall ({elapsed * rate / 1e9:.0f} GFLOP at the GEMM rate), {used:.2f} s CPU "
              f"(all threads), voxels of {settings.voxel_size} m, {found} objects, {quality}")  # fmt: skip


if __name__ == "__main__":
    main()
