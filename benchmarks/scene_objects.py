"""Why objects are missed: per ground-truth object, the segments that cover it; per false segment, what it covers.

Segments each scan of a folder laid out like ``../shared/data/scenes_real`` (see ``benchmarks.scenes``)
with the defaults and prints, for every ground-truth object, its class, points, extent, best IoU and
the shares of its points in each segment (``bg``: background); then, for every segment, whether it
matches an object (``ok``: IoU >= 0.5), covers part of one (``part``: best IoU in [0.25, 0.5)) or is
false (below 0.25), and the shares of its points on each object. An object split over several
segments, merged with its neighbours into one, or left in the background (a removed plane) shows as such.

    python -m benchmarks.scene_objects --only scannet_scene0006_00
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.scenes import DEFAULT_DATA, iou_matrix, load_ground_truth_reader, up_axis_of
from openshape_ood.segmentation import segment_scene

# Segments (or objects) named per row, the largest shares first.
_SHOWN = 4


def shares(values: np.ndarray, name) -> str:
    """The largest shares of ``values`` (ids, -1 background) as ``name(id):share``."""
    ids, counts = np.unique(values, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:_SHOWN]
    return ", ".join(f"{'bg' if ids[k] < 0 else name(ids[k])}:{counts[k] / len(values):.2f}" for k in order)


def report(points: np.ndarray, truth: np.ndarray, names: dict, labels: np.ndarray) -> list[str]:
    """The lines printed for one scan."""
    iou, objects, _ = iou_matrix(labels, truth)
    segments = np.unique(labels[labels >= 0])
    lines = []
    for row, object_id in enumerate(objects):
        member = truth == object_id
        extent = np.ptp(points[member, :3], axis=0)
        best = iou[row].max() if iou.shape[1] else 0.0
        lines.append(f"  object {object_id:3d} {names.get(int(object_id), 'object'):<14} {member.sum():6d} points "
                     f"{np.round(extent, 2)} m  best IoU {best:.2f} | {shares(labels[member], lambda s: f's{s}')}")  # fmt: skip
    for column, segment in enumerate(segments):
        member = labels == segment
        best = iou[:, column].max() if iou.shape[0] else 0.0
        verdict = "ok" if best >= 0.5 else ("part" if best >= 0.25 else "FALSE")
        extent = np.ptp(points[member, :3], axis=0)
        covered = shares(truth[member], lambda o: f"{names.get(int(o), 'object')}{o}")
        lines.append(f"  segment s{segment:<3d} {verdict:<5} {member.sum():6d} points {np.round(extent, 2)} m  "
                     f"best IoU {best:.2f} | {covered}")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of scans with load_gt.py")
    parser.add_argument("--only", nargs="*", help="scan names (default all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the segmentation")
    args = parser.parse_args(argv)
    reader = load_ground_truth_reader(args.data.resolve())
    for name in reader.list_scenes():
        if args.only and name not in args.only:
            continue
        points, truth, names = reader.load(name)
        labels = segment_scene(points, up_axis_of(reader.info(name)), seed=args.seed)
        print(f"{name}: {(labels < 0).mean():.0%} of the points background (truth {(truth < 0).mean():.0%})")
        print("\n".join(report(points, truth, names, labels)))


if __name__ == "__main__":
    main()
