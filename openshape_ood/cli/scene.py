"""``openshape-ood scene``: find the objects of a scan and score each one for novelty."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .common import (
    UsageError,
    calibration_embeddings,
    check_shape_options,
    check_tpr,
    class_names,
    common_options,
    encoding_options,
    load_encoder,
    note,
    print_table,
    progress,
    scoring_options,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    scene = commands.add_parser(
        "scene",
        parents=[common_options(), encoding_options(), scoring_options()],
        help="find the objects in a scan and score each one for novelty",
        description="Find the objects in a scan of a room or a table top (coordinates in metres) and score each "
        "against the known classes, as 'score' scores a file: one table row per object with its point count, "
        "centroid, size, nearest known class, similarity, novelty and, with a threshold, the verdict. Writes a "
        "PLY point cloud with the objects coloured by novelty and 'instance' and 'novelty' vertex properties. "
        "The objects come from the file's per-point instance labels when it has them (--labels), else from "
        "a geometric segmentation: large planes (floor, walls, table tops) removed, the rest clustered.",
    )
    scene.add_argument("scan", metavar="SCAN", help="the scan: a point cloud file, e.g. .ply or .pcd")
    scene.add_argument("--out", required=True, metavar="OUT.ply", help="output PLY point cloud")
    scene.add_argument("--png", metavar="OUT.png", help="also draw the scene with the objects' boxes and labels")
    scene.add_argument(
        "--view",
        metavar="H,V",
        help="axes drawn to the right and upwards in --png, each x, y or z, '-' to flip (default: x,UP; "
        "x,-y for a camera frame)",
    )
    scene.add_argument(
        "--labels",
        default="auto",
        metavar="PROPERTY",
        help="per-point instance labels of the file: auto (its instance, objectId, segment or label property, "
        "when it has one), a property name, or none to segment the scan (default auto)",
    )
    for option, help_text in (
        ("--voxel-size", "voxel size of the segmentation (default 0.01)"),
        ("--plane-distance", "distance of a point to a plane it belongs to (default 0.02)"),
        ("--min-plane-area", "area in m^2 from which a plane is background (default 0.1)"),
        ("--cluster-distance", "points closer than this are one object (default 0.03)"),
        ("--min-size", "objects whose largest side is shorter are background (default 0.03)"),
        ("--max-size", "objects whose largest side is longer are background (default 3.0)"),
    ):
        scene.add_argument(option, type=float, metavar="M", help=f"metres: {help_text}")
    scene.set_defaults(run=run, subparser=scene)


def run(args: argparse.Namespace) -> int:
    from ..atomic import replacing
    from ..scene import load_scene, plot_scene, score_scene, segment_scene, write_scene_ply

    known = class_names(args.known)
    tpr = check_tpr(args)
    check_shape_options(args)
    view = _view(args)
    sizes = {
        name: getattr(args, name)
        for name in ("voxel_size", "plane_distance", "min_plane_area", "cluster_distance", "min_size", "max_size")
        if getattr(args, name) is not None
    }
    points, labels = load_scene(args.scan, labels=None if args.labels.lower() == "none" else args.labels)
    if labels is not None:
        if sizes:
            options = ", ".join("--" + name.replace("_", "-") for name in sizes)
            raise UsageError(
                f"{args.scan} has per-point labels, which replace the segmentation: drop {options} or pass --labels none"
            )
        objects_from = f"the per-point labels of {args.scan}"
    else:
        labels = segment_scene(points, args.up, seed=args.seed, **sizes)
        objects_from = "segmentation"
    note(args, f"{len(np.unique(labels[labels >= 0]))} objects among {len(points)} points, from {objects_from}")
    encoder = load_encoder(args)
    calibration = calibration_embeddings(encoder, args) if args.calibrate is not None else None
    result = score_scene(
        points,
        known,
        model=encoder,
        method=args.method,
        labels=labels,
        up_axis=args.up,
        threshold=args.threshold,
        calibration=calibration,
        tpr=tpr,
        seed=args.seed,
        batch_size=args.batch_size,
        progress=progress(args),
        templates=args.templates,
    )
    if calibration is not None:
        accepted = f"accepts {tpr:.0%} of the {len(calibration)} shapes in {args.calibrate}"
        note(args, f"threshold {result.threshold:.4f}: {accepted}")
    write_scene_ply(args.out, points, result)
    if args.png is not None:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        figure = plot_scene(points, result, view=view, title=Path(args.scan).name)
        with replacing(args.png) as temporary:
            figure.savefig(temporary, format="png", dpi=150, bbox_inches="tight")
    if args.json:
        document = {
            "scan": args.scan,
            "model": args.model,
            "method": args.method,
            "known": known,
            "threshold": result.threshold,
            "tpr": tpr if args.calibrate is not None else None,
            "objects_from": objects_from,
            "out": args.out,
            "png": args.png,
            "objects": [obj.as_dict() for obj in result.objects],
        }
        print(json.dumps(document, indent=2))
    else:
        verdicts = result.threshold is not None
        calibrated = calibration is not None
        columns = ["id", "points", "class", "similarity", "novelty"]
        columns += (["p_value"] if calibrated else []) + (["verdict"] if verdicts else []) + ["centroid", "size"]
        rows = []
        for obj in result.objects:
            size = np.subtract(obj.bbox_max, obj.bbox_min)
            row = [str(obj.id), str(obj.points), obj.nearest_class, f"{obj.similarity:.4f}", f"{obj.novelty:.4f}"]
            row += [f"{obj.p_value:.4f}"] if calibrated else []
            row += [obj.verdict] if verdicts else []
            row += [" ".join(f"{v:.2f}" for v in obj.centroid), "x".join(f"{v:.2f}" for v in size)]
            rows.append(row)
        print_table(columns, rows, numeric={"id", "points", "similarity", "novelty", "p_value"})
    return 0


def _view(args: argparse.Namespace) -> tuple[str, str]:
    """``--view H,V``, or the default: the first horizontal axis to the right, up upwards."""
    if args.view is None:
        return (next(axis for axis in "xyz" if axis != args.up), args.up)
    parts = tuple(part.strip() for part in args.view.split(","))
    if len(parts) != 2 or any(part.lstrip("-") not in ("x", "y", "z") or part.count("-") > 1 for part in parts):
        raise UsageError(f"--view takes two axes H,V such as x,y or x,-y; got {args.view!r}")
    return parts
