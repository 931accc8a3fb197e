"""Why objects are missed: per ground-truth object, the segments that cover it; per false segment, what it covers.

Segments each scan of a folder laid out like ``../shared/data/scenes_real`` (see ``benchmarks.scenes``)
with the defaults and prints, for every ground-truth object, its class, points, extent, best IoU and
the shares of its points in each segment (``bg``: background); then, for every segment, whether it
matches an object (``ok``: IoU >= 0.5), covers part of one (``part``: best IoU in [0.25, 0.5)) or is
false (below 0.25), and the shares of its points on each object. An object split over several
segments, merged with its neighbours into one, or left in the background (a removed plane) shows as such.

The views of ``benchmarks.scenes`` are reported the same way, each on its own: a room's virtual frames
(``--frames N``, with ``--frames-upright``, ``--frame-points`` and ``--frame-scale`` as there), frames taken
of each piece of a room's furniture (``--object-frames``, upright, with ``--frame-points``; alone, so that
frame k has the benchmark's seed k), a table-top
frame seen from other places (``--orbit``) or with the floor, a wall and the table's far end round it
(``--surroundings``), a room's copies side by side (``--side-by-side``, with ``--sampled`` each layout sampled
back to the room's own point count), a sweep with each of its objects turned about the sensor (``--turned``, as
the benchmark's; alone, so that copy k has the benchmark's seed k) and any scan keeping a share of its points
(``--sparser S``), view k
segmented with seed k; ``--views`` keeps some of them. In a view only the objects that its figures count are
listed (:data:`benchmarks.scenes.FRAME_MIN_GT_POINTS` pixels in a room's frame, ``--min-gt-points`` points
elsewhere). The copies side by side name each object with its class and its id in the layout (copy k's ids
are the room's plus k times one more than its largest).

    python -m benchmarks.scene_objects --only scannet_scene0006_00
    python -m benchmarks.scene_objects --only scannet_scene0006_00 --frames 4 --frames-upright --views 2
    python -m benchmarks.scene_objects --only scannet_scene0006_00 --object-frames --views 6
    python -m benchmarks.scene_objects --only mosd_test60 --orbit --views 6 9
    python -m benchmarks.scene_objects --only scannet_scene0006_00 --side-by-side --sampled --views 0
    python -m benchmarks.scene_objects --only scannet_scene0001_00 --sparser 0.5
    python -m benchmarks.scene_objects --only semantickitti_spvnas_000000 --turned
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.scenes import (
    DEFAULT_DATA, SIDE_BY_SIDE, copy_stride, in_metres, iou_matrix, kind_of, load_ground_truth_reader, orbit_frames,
    room_frames, side_by_side, sparser_copy, structure_of, up_axis_of, with_background_classes, with_surroundings,
)
from benchmarks.turned_objects import TURNS, turned_copies
from benchmarks.virtual_frames import object_views
from openshape_ood.segmentation import segment_scene

# Segments (or objects) named per row, the largest shares first.
_SHOWN = 4


def shares(values: np.ndarray, name) -> str:
    """The largest shares of ``values`` (ids, -1 background) as ``name(id):share``."""
    ids, counts = np.unique(values, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:_SHOWN]
    return ", ".join(f"{'bg' if ids[k] < 0 else name(ids[k])}:{counts[k] / len(values):.2f}" for k in order)


def report(points: np.ndarray, truth: np.ndarray, names: dict, labels: np.ndarray, min_points: int = 0) -> list[str]:
    """The lines printed for one scan: its objects of at least ``min_points`` points, then its segments."""
    iou, objects, _ = iou_matrix(labels, truth)
    segments = np.unique(labels[labels >= 0])
    lines = []
    for row, object_id in enumerate(objects):
        member = truth == object_id
        if member.sum() < min_points:
            continue
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


#: A view to report on: its title, points, truth, the up axis to give, the fewest points of an object counted,
#: and the names of its objects' classes by id.
View = tuple[str, np.ndarray, np.ndarray, str | None, int, dict]


def views(points, truth, up, kind: str, support, names: dict, args, structure: np.ndarray | None = None) -> list[View]:
    """The views of one scan that ``args`` asks for: ``(title, frame, truth, up axis to give, objects' fewest
    points, class names by id)``, view k to be segmented with seed k (and drawn with it). ``support``: the up
    direction the scan's own segmentation found, which a table-top frame is turned about and stands on;
    ``structure``: the points of its walls, floors and ceilings, which no frame looks through."""
    shown: list[View] = []
    if args.frames and kind == "room":
        made = room_frames(points, truth, up, args.frames, args.frame_points, args.frame_scale, args.frames_upright,
                           structure)
        shown += [(f"virtual frame {k}", *view, names) for k, view in enumerate(made)]
    if args.object_frames and kind == "room" and up is not None:
        taken = object_views(points[:, :3], truth, up, structure)
        made = room_frames(points, truth, up, taken, args.frame_points, 1.0, True)
        shown += [(f"frame of furniture {k}", *view, names) for k, view in enumerate(made)]
    in_camera = table_top_frame(kind, up) and support is not None
    if args.orbit and in_camera:
        made = orbit_frames(points, truth, support)
        shown += [(f"seen from place {k}", frame, frame_truth, None, args.min_gt_points, names)
                  for k, (frame, frame_truth) in enumerate(made)]  # fmt: skip
    if args.surroundings and in_camera:
        frame, frame_truth = with_surroundings(points, truth, np.asarray(support), len(shown))
        shown.append(("with its surroundings", frame, frame_truth, None, args.min_gt_points, names))
    if args.side_by_side and kind == "room" and up is not None:
        stride = copy_stride(truth)
        for columns, rows in SIDE_BY_SIDE:
            layout, layout_truth = side_by_side(points, truth, up, columns, rows)
            title = f"{columns} x {rows} copies side by side"
            if args.sampled:  # as the benchmark does: layout k sampled with seed k
                layout, layout_truth = sparser_copy(layout, layout_truth, 1 / (columns * rows), len(shown))
                title += ", sampled to the room's point count"
            copies = {k * stride + int(i): name for k in range(columns * rows) for i, name in names.items()}
            shown.append((title, layout, layout_truth, up, args.min_gt_points, copies))
    if args.turned and kind == "LiDAR" and up is not None:
        before = len(shown)
        try:
            for copy in turned_copies(points, truth, up, TURNS, min_points=args.min_gt_points):
                title = f"object {copy.object_id} ({names.get(copy.object_id, 'object')}) turned {copy.turn} degrees"
                shown.append((title, copy.points, copy.truth, up, args.min_gt_points, names))
        except Exception as exc:  # noqa: BLE001 - said on stderr, as the benchmark does; the copies made are reported
            print(f"turned copies after the first {len(shown) - before} could not be made: {type(exc).__name__}: {exc}",
                  file=sys.stderr)  # fmt: skip
    if args.sparser is not None:
        copy, copy_truth = sparser_copy(points, truth, args.sparser, len(shown))
        shown.append((f"{args.sparser:g} of the points", copy, copy_truth, up, args.min_gt_points, names))
    return shown


def table_top_frame(kind: str, up: str | None) -> bool:
    """Whether a scan is a table-top frame in its camera's coordinates (no up axis): the scans whose views
    (``--orbit``, ``--surroundings``) turn about or stand on the support its own segmentation finds."""
    return kind == "table-top" and up is None


def print_report(title: str, points, truth, names: dict, labels, min_points: int) -> None:
    """Print a scan's or a view's title, its background share and :func:`report`'s lines."""
    print(f"{title}: {(labels < 0).mean():.0%} of the points background (truth {(truth < 0).mean():.0%})")
    print("\n".join(report(points, truth, names, labels, min_points)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of scans with load_gt.py")
    parser.add_argument("--only", nargs="*", help="scan names (default all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the segmentation of the scans themselves")
    parser.add_argument("--frames", type=int, default=0, help="report on this many virtual frames of each room (1-4)")
    parser.add_argument("--frames-upright", action="store_true", help="the frames turned upright, given the up axis")
    parser.add_argument("--object-frames", action="store_true",
                        help="report on frames taken of each piece of furniture of each room (upright, given the "
                             "up axis), on their own")
    parser.add_argument("--frame-points", type=int, help="each frame sampled down at random to this many points")
    parser.add_argument("--frame-scale", type=float, default=1.0, help="frames of this many times the pixels across")
    parser.add_argument("--orbit", action="store_true", help="report on each table-top frame seen from other places")
    parser.add_argument("--surroundings", action="store_true",
                        help="report on each table-top frame with the floor, a wall and the table's far end round it")
    parser.add_argument("--side-by-side", action="store_true",
                        help="report on two and four copies of each room side by side")
    parser.add_argument("--sampled", action="store_true",
                        help="with --side-by-side, each layout sampled back to the room's own point count")
    parser.add_argument("--turned", action="store_true",
                        help="report on a sweep with each of its objects turned about the sensor, as the benchmark's "
                             "--turned, on its own")
    parser.add_argument("--sparser", type=float, metavar="S",
                        help="report on each scan keeping this share of its points")
    parser.add_argument("--views", type=int, nargs="*", help="only these views (default all)")
    parser.add_argument("--min-gt-points", type=int, default=25,
                        help="fewest points of an object counted in a view that is not a room's frame")
    args = parser.parse_args(argv)
    if not 0 <= args.frames <= 4:
        parser.error(f"--frames takes 0 to 4 views per room (one per corner), not {args.frames}")
    if (args.frame_scale != 1.0 or args.frames_upright) and not args.frames:
        parser.error("--frame-scale and --frames-upright change the frames of --frames: give it too")
    if args.frame_points is not None and not (args.frames or args.object_frames):
        parser.error("--frame-points changes the frames of --frames or --object-frames: give one of them too")
    asked = {"--frames": args.frames, "--object-frames": args.object_frames, "--orbit": args.orbit,
             "--surroundings": args.surroundings, "--side-by-side": args.side_by_side, "--sparser": args.sparser,
             "--turned": args.turned}  # fmt: skip
    # Reported alone, so that view k is segmented with the benchmark's seed k.
    for alone, view in (("--turned", "copy"), ("--object-frames", "frame")):
        if asked[alone] and sum(map(bool, asked.values())) > 1:
            parser.error(f"{alone} is reported on its own, so that {view} k has the benchmark's seed k: give no "
                         "other view with it")
    if (args.frame_points is not None and args.frame_points < 1) or not args.frame_scale > 0:
        parser.error(f"--frame-points takes 1 or more, --frame-scale a factor above 0; got {args.frame_points}, "
                     f"{args.frame_scale}")
    if args.sampled and not args.side_by_side:
        parser.error("--sampled changes the copies of --side-by-side: give it too")
    if args.sparser is not None and not 0 < args.sparser < 1:
        parser.error(f"--sparser takes a share of the points between 0 and 1, not {args.sparser}")
    reader = load_ground_truth_reader(args.data.resolve())
    for name in reader.list_scenes():
        if args.only and name not in args.only:
            continue
        points, truth, names = reader.load(name)
        info = reader.info(name)
        points, truth, up = in_metres(np.asarray(points), info), np.asarray(truth), up_axis_of(info)
        kind = kind_of(info)
        own_report = not any(asked.values())
        in_camera = (args.orbit or args.surroundings) and table_top_frame(kind, up)
        support = None
        # The scan itself is segmented only for its own report, or for the support its views turn about.
        if own_report or in_camera:
            labels, settings = segment_scene(points, up, seed=args.seed, return_settings=True)
            support = settings.up
            if own_report:
                print_report(name, points, truth, names, labels, 0)
            elif support is None:
                print(f"{name}: its segmentation found no support to turn about or stand on, so it has no views "
                      "of a table top", file=sys.stderr)
        structure = None
        if args.frames or args.object_frames:  # as the benchmark takes them: clear of the walls the reader names
            coded, background = with_background_classes(reader, name, truth)
            structure = structure_of(coded, background)
        shown = views(points, truth, up, kind, support, names, args, structure)
        for k, (title, frame, frame_truth, frame_up, min_points, frame_names) in enumerate(shown):
            if args.views is None or k in args.views:
                frame_labels = segment_scene(frame, frame_up, seed=k)
                print_report(f"{name}, {title}", frame, frame_truth, frame_names, frame_labels, min_points)


if __name__ == "__main__":
    main()
