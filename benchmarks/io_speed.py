"""Peak memory and seconds of reading a big LAZ file with ``load_points``: whole, with a point budget, voxel-thinned.

Generates a LAZ file of ``--points`` points (default 30 million: an aerial tile in UTM
coordinates with 8-bit colour in the 16-bit fields, written chunk by chunk) in a temporary
folder, then reads it in a fresh Python process per mode, so that each process's peak
resident memory (``ru_maxrss``) is that read's alone; the memory of the imports is printed
beside it. On a busy machine the seconds include waiting for a core.

    python -m benchmarks.io_speed                       # 30,000,000 points
    python -m benchmarks.io_speed --points 1000000 --keep /tmp/tile.laz
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import laspy
import numpy as np

_CHUNK = 1_000_000
MODES = {"whole": {}, "max_points=1000000": {"max_points": 1_000_000}, "voxel_size=1.0": {"voxel_size": 1.0}}


def generate(path: Path, points: int, seed: int = 0) -> None:
    """A LAS 1.2 point format 3 tile, 1 km x 1 km at UTM northing 6e6, millimetre scale, written in chunks."""
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([500000.0, 6000000.0, 0.0])
    rng = np.random.default_rng(seed)
    with laspy.open(path, mode="w", header=header) as writer:
        for start in range(0, points, _CHUNK):
            count = min(_CHUNK, points - start)
            chunk = laspy.ScaleAwarePointRecord.zeros(count, header=header)
            chunk.x = 500000.0 + rng.random(count) * 1000
            chunk.y = 6000000.0 + rng.random(count) * 1000
            chunk.z = rng.random(count) * 50
            rgb = rng.integers(0, 256, (count, 3))
            chunk.red, chunk.green, chunk.blue = rgb.T
            chunk.classification = rng.integers(0, 8, count)
            writer.write_points(chunk)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def read_once(path: str, mode: str) -> dict:
    """In this process: import, read once, and report seconds and peak memory."""
    from openshape_ood import load_points

    imported = _peak_mib()
    start = time.perf_counter()
    points = load_points(path, **MODES[mode])
    seconds = time.perf_counter() - start
    return {"mode": mode, "points": len(points), "columns": points.shape[1], "seconds": seconds,
            "peak_mib": _peak_mib(), "after_imports_mib": imported, "output_mib": points.nbytes / 2**20}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=30_000_000, help="points in the generated LAZ (default 30e6)")
    parser.add_argument("--keep", type=Path, help="write the LAZ here and keep it (default: a temporary folder)")
    parser.add_argument("--read", metavar="PATH", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--mode", choices=tuple(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.read is not None:
        print(json.dumps(read_once(args.read, args.mode)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "tile.laz"
        start = time.perf_counter()
        generate(path, args.points)
        print(f"generated {args.points:,} points in {time.perf_counter() - start:.1f} s: "
              f"{path.stat().st_size / 2**20:.0f} MiB LAZ")
        print(f"{'mode':<20} {'points':>11} {'seconds':>8} {'peak MiB':>9} {'imports MiB':>12} {'output MiB':>11}")
        for mode in MODES:
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.io_speed", "--read", str(path), "--mode", mode],
                capture_output=True, text=True, check=True,
            )
            row = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{mode:<20} {row['points']:>11,} {row['seconds']:>8.1f} {row['peak_mib']:>9.0f} "
                  f"{row['after_imports_mib']:>12.0f} {row['output_mib']:>11.0f}")


if __name__ == "__main__":
    main()
