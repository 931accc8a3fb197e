"""``openshape-ood scene``: find the objects of a scan and score each one for novelty."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..config import UP_AXES
from ..extras import require
from ..segmentation.settings import SETTINGS, TUNABLE
from . import COMMANDS
from .common import (
    UsageError,
    check_shape_options,
    class_names,
    common_options,
    encoding_options,
    load_encoder,
    note,
    progress,
)
from .scoring import (
    calibrate,
    check_rule,
    fit_detector,
    known_classes,
    method_name,
    print_results,
    scoring_options,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    scene = commands.add_parser(
        "scene",
        parents=[common_options(), encoding_options(), scoring_options()],
        help=COMMANDS["scene"],
        description="Find the objects in a scan (a table top, a room, a street or a LiDAR sweep; coordinates in "
        "metres) and score each "
        "against the known classes, as 'score' scores a file: one table row per object with its point count, "
        "centroid, size, nearest known class, similarity, novelty and, with a threshold, the verdict. Writes "
        "what is asked of --out (a PLY point cloud with the objects coloured by novelty and 'instance' and "
        "'novelty' vertex properties), --png and --html, at least one. "
        "The objects come from the file's per-point instance labels when it has them (--labels), else from "
        "a geometric segmentation whose settings are chosen from the scan (-v prints them): the support removed "
        "(floor, walls and table tops as planes; a street's ground on a grid), the rest clustered.",
    )
    scene.add_argument("scan", metavar="SCAN", help="the scan: a point cloud file, e.g. .ply, .pcd, .las/.laz, .e57 or a KITTI .bin")
    scene.add_argument("--out", metavar="OUT.ply", help="write the scan as a PLY point cloud, objects coloured by novelty")
    scene.add_argument(
        "--png",
        metavar="OUT.png",
        help="draw the scene with the objects' boxes and labels (needs matplotlib: pip install \"openshape-ood[plot]\")",
    )
    scene.add_argument(
        "--html",
        metavar="OUT.html",
        help="write an interactive 3D view: one self-contained page, objects coloured by novelty, their "
        "scores shown on hover (needs plotly: pip install \"openshape-ood[html]\")",
    )
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
    # The gravity axis is found in the scan (the normal of its support plane) unless given.
    up = next(action for action in scene._actions if action.dest == "up")
    up.choices, up.default = (*UP_AXES, "auto"), "auto"
    up.help = (
        "gravity axis of the scan: x, y, z, or auto (default): the normal of its support plane (table, floor, ground), "
        "or on a LiDAR sweep whose largest plane is a wall the axis its rings turn about; in a camera's frame a given "
        "axis picks the support plane, whose normal is up"
    )
    settings = scene.add_argument_group(
        "segmentation settings", "chosen from the scan (its point spacing and extent) unless given; see --verbose"
    )
    for setting in SETTINGS:  # every setting of the segmentation, from its one table
        option = "--" + setting.name.replace("_", "-")
        if setting.kind == "choice":
            settings.add_argument(option, choices=setting.choices, help=setting.help)
        elif setting.kind == "switch":
            settings.add_argument(option, choices=("on", "off"), help=setting.help)
        else:
            kind = int if setting.kind == "count" else float
            settings.add_argument(option, type=kind, metavar="N", help=setting.help)
    scene.set_defaults(run=run, subparser=scene)


def run(args: argparse.Namespace) -> int:
    from ..atomic import replacing
    from ..scenes.scene import find_objects, load_scene, plot_scene, score_scene, write_scene_ply

    vocabulary = None if args.vocabulary is None else class_names(args.vocabulary, "--vocabulary names")
    _view(args, "y")  # a bad --view fails before the work
    if args.out is None and args.png is None and args.html is None:
        raise UsageError("name at least one output: --out OUT.ply, --png OUT.png or --html OUT.html")
    # Missing extras are named before the segmentation and the encoding, not after.
    if args.png is not None:
        try:
            require("matplotlib", "--png")
        except ImportError as exc:
            raise UsageError(str(exc)) from exc
    if args.html is not None:
        from ..scenes.html import require_plotly

        try:
            require_plotly()
        except ImportError as exc:
            raise UsageError(f"--html: {exc}") from exc
    check_shape_options(args)  # after the usage errors: it may probe the Hub for the checkpoint
    # Then the rule and --method, which import scipy and scikit-learn: an offline first run fails before them.
    tpr = check_rule(args)
    known = known_classes(args)
    sizes = {name: getattr(args, name) for name in TUNABLE if getattr(args, name, None) is not None}
    for setting in SETTINGS:
        if setting.kind == "switch" and setting.name in sizes:
            sizes[setting.name] = sizes[setting.name] == "on"
    points, labels, origin = load_scene(
        args.scan, labels=None if args.labels.lower() == "none" else args.labels, return_origin=True
    )
    if labels is not None and sizes:
        options = ", ".join("--" + name.replace("_", "-") for name in sizes)
        raise UsageError(
            f"{args.scan} has per-point labels, which replace the segmentation: drop {options} or pass --labels none"
        )
    # The objects are found first, as score_scene finds them, because the --reference and --calibrate
    # shapes are turned by the up axis the segmentation finds, like the scan's objects.
    found = find_objects(
        points, sizes if labels is None else labels, up_axis=None if args.up == "auto" else args.up, seed=args.seed
    )
    objects_from = "segmentation" if labels is None else f"the per-point labels of {args.scan}"
    if found.settings is not None and args.verbose:
        chosen = found.settings.to_dict()
        measured = chosen.pop("measured")
        source = chosen.pop("source")
        note(args, "scan: " + ", ".join(f"{key} {_short(value)}" for key, value in measured.items()))
        note(args, "settings: " + ", ".join(
            f"{key} {_short(value)}{'' if source.get(key, 'chosen') == 'chosen' else ' (given)'}"
            for key, value in chosen.items()))  # fmt: skip
    objects = len(np.unique(found.labels[found.labels >= 0]))
    note(args, f"{objects} objects among {len(points)} points, from {objects_from}")
    args.up = found.up_axis
    encoder = load_encoder(args)
    detector = fit_detector(encoder, known, args)
    if args.calibrate is not None:
        calibrate(detector, encoder, args, tpr)
    result = score_scene(
        points,
        detector=detector,
        encoder=encoder,
        segmentation=found,
        fdr=args.fdr,
        describe=args.describe,
        vocabulary=vocabulary,
        seed=args.seed,
        batch_size=args.batch_size,
        progress=progress(args),
    )
    if args.out is not None:
        write_scene_ply(args.out, points, result, origin=origin)
    if args.png is not None:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        figure = plot_scene(points, result, view=_view(args, result.up_axis), title=Path(args.scan).name)
        with replacing(args.png) as temporary:
            figure.savefig(temporary, format="png", dpi=150, bbox_inches="tight")
    if args.html is not None:
        from ..scenes.html import write_scene_html

        write_scene_html(args.html, points, result, up_axis=result.up_axis, title=Path(args.scan).name, origin=origin)
    rule = detector.decision_rule(args.fdr)
    rows = [obj.to_dict() for obj in result.objects]
    if args.json:
        document = {"scan": args.scan, "model": args.model, "method": method_name(args), "known": known, **rule}
        document.update(objects_from=objects_from, out=args.out, png=args.png, html=args.html)
        # Object centroids and boxes are relative to it: add it for the scan's own coordinates.
        document["origin"] = origin.tolist()
        document["segmentation"] = None if result.settings is None else result.settings.to_dict()
        document["objects"] = rows
        print(json.dumps(document, indent=2))
    else:
        decided = rule["threshold"] is not None
        print_results(["id", "points"], rows, calibrated=args.calibrate is not None, decided=decided, last=_PLACE_COLUMNS)
    return 0


# The table's last columns: where each object is and how large, in metres, from its row's box.
_PLACE_COLUMNS = {
    "centroid": lambda row: " ".join(f"{v:.2f}" for v in row["centroid"]),
    "size": lambda row: "x".join(f"{high - low:.2f}" for low, high in zip(row["bbox_min"], row["bbox_max"])),
}


def _short(value) -> str:
    """A setting as a person reads it: numbers to four significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return str(value)


def _view(args: argparse.Namespace, up: str) -> tuple[str, str]:
    """``--view H,V``, or the default: the first horizontal axis to the right, ``up`` upwards."""
    if args.view is None:
        return (next(axis for axis in "xyz" if axis != up), up)
    parts = tuple(part.strip() for part in args.view.split(","))
    if len(parts) != 2 or any(part.lstrip("-") not in ("x", "y", "z") or part.count("-") > 1 for part in parts):
        raise UsageError(f"--view takes two axes H,V such as x,y or x,-y; got {args.view!r}")
    return parts
