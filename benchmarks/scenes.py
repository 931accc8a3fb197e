"""Scene segmentation on real scans with per-object ground truth, with the defaults.

Runs :func:`~openshape_ood.scenes.scene.segment_scene` on every scan of a folder laid out like
``../shared/data/scenes_real`` (one sub-folder per scan and a ``load_gt.py`` that reads them:
``list_scenes()``, ``load(name)``, ``info(name)``), giving only the gravity axis where the scan has
one, and prints per scan: the ground-truth objects found at IoU >= 0.5 and >= 0.25, the false
objects (segments whose IoU with every ground-truth object is below 0.25) and the seconds taken.
Writes the same as JSON (``--out``, default ``results/scenes.json``).

    python -m benchmarks.scenes
    python -m benchmarks.scenes --data /path/to/scans --out results/scenes.json

Objects with fewer than ``--min-gt-points`` points (default 25) are left out of the recall: the
LiDAR sweep has objects of 1 to 20 points that no geometric method separates; a segment that matches
one of them is still not a false object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np

from openshape_ood.atomic import replacing
from openshape_ood.scenes.scene import segment_scene

# ../shared/data/scenes_real beside the checkout, or where OPENSHAPE_OOD_SCENES_REAL points.
DEFAULT_DATA = Path(
    os.environ.get("OPENSHAPE_OOD_SCENES_REAL", Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes_real")
)


def load_ground_truth_reader(folder: Path):
    """The folder's ``load_gt`` module."""
    spec = importlib.util.spec_from_file_location("scenes_load_gt", folder / "load_gt.py")
    if spec is None or not (folder / "load_gt.py").is_file():
        raise SystemExit(f"{folder} has no load_gt.py; pass --data with a folder laid out like scenes_real")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def up_axis_of(info: dict) -> str | None:
    """``"x"``/``"y"``/``"z"`` from the reader's ``up_axis`` text (``"+z"``, ``"none: camera frame"``)."""
    text = str(info.get("up_axis", "")).strip().lower()
    axis = text.lstrip("+-")[:1]
    return axis if axis in ("x", "y", "z") and not text.startswith("none") else None


def iou_matrix(labels: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every ground-truth object (rows) with every segment (columns), and both id lists."""
    objects = np.unique(truth[truth >= 0])
    segments = np.unique(labels[labels >= 0])
    both = (truth >= 0) & (labels >= 0)
    row = np.searchsorted(objects, truth[both])
    column = np.searchsorted(segments, labels[both])
    inter = np.zeros((len(objects), len(segments)))
    np.add.at(inter, (row, column), 1)
    size_t = np.array([(truth == o).sum() for o in objects], dtype=float)
    size_s = np.array([(labels == s).sum() for s in segments], dtype=float)
    union = size_t[:, None] + size_s[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), objects, size_t


def evaluate(labels: np.ndarray, truth: np.ndarray, min_gt_points: int) -> dict:
    """Objects found at IoU 0.5 and 0.25 (of those with ``min_gt_points``), false and all segments."""
    iou, _, size = iou_matrix(labels, truth)
    counted = size >= min_gt_points
    best_per_object = iou.max(axis=1) if iou.shape[1] else np.zeros(len(size))
    best_per_segment = iou.max(axis=0) if iou.shape[0] else np.zeros(iou.shape[1])
    return {
        "objects": int(counted.sum()),
        "found_050": int((best_per_object[counted] >= 0.5).sum()),
        "found_025": int((best_per_object[counted] >= 0.25).sum()),
        "segments": int(iou.shape[1]),
        "false": int((best_per_segment < 0.25).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of scans with load_gt.py")
    parser.add_argument("--out", type=Path, default=Path("results/scenes.json"), help="JSON output")
    parser.add_argument("--min-gt-points", type=int, default=25, help="smallest ground-truth object counted")
    parser.add_argument("--only", nargs="*", help="scan names to run (default all)")
    args = parser.parse_args(argv)

    reader = load_ground_truth_reader(args.data.resolve())
    rows = []
    print(f"{'scan':<36} {'points':>8} {'IoU>=0.5':>9} {'IoU>=0.25':>9} {'false':>6} {'segments':>8} {'seconds':>8}")
    for name in reader.list_scenes():
        if args.only and name not in args.only:
            continue
        points, truth, _ = reader.load(name)
        up = up_axis_of(reader.info(name))
        start = time.perf_counter()
        labels, settings = segment_scene(points, up, return_settings=True)
        seconds = time.perf_counter() - start
        row = {"scan": name, "up_axis": up, "points": len(points), **evaluate(labels, truth, args.min_gt_points),
               "seconds": round(seconds, 2), "settings": settings.to_dict()}  # fmt: skip
        rows.append(row)
        print(f"{name:<36} {len(points):>8} {row['found_050']:>4}/{row['objects']:<4} {row['found_025']:>4}/"
              f"{row['objects']:<4} {row['false']:>6} {row['segments']:>8} {seconds:>8.2f}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(args.out) as temporary:
        Path(temporary).write_text(json.dumps({"data": str(args.data), "scans": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
