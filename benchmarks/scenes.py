"""Scene segmentation on real scans with per-object ground truth: in-sample and leave-one-scan-out.

Runs :func:`~openshape_ood.segmentation.segment_scene` on every scan of a folder laid out like
``../shared/data/scenes_real`` (one sub-folder per scan and a ``load_gt.py`` that reads them:
``list_scenes()``, ``load(name)``, ``info(name)``), giving only the gravity axis where the scan has
one, with seeds 0-4 (``--seeds``). Prints per scan the ground-truth objects found at IoU >= 0.5 and
>= 0.25, the false segments (IoU below 0.25 with every object) and the seconds taken; then per kind
of scan (table-top, room, LiDAR, from the reader's ``info(name)["kind"]``) and per class: found, false,
the quartiles of each object's best IoU, the shares of the objects whose best IoU lies just above and just
below 0.5 (:func:`near_threshold`: where a count tuned on the scans piles them up), and the class-agnostic AP50
of the segments, each scored by its point count (as ScanNet's instance benchmark pools detections over scans).
Where the reader also has ``load_semantic(name)`` (points, a class id per point, class names), it prints what
the false segments lie on, per kind and copy: ``object`` (pieces of objects) or the background class of most of
their points (wall, floor, road, ...). It prints how the objects missed were lost, per kind and copy: merged
into a segment with other things, split over several segments, or made background; and, for the scans and each
group of frames, views, parts or moved copies, what the merged objects merged with: the class of whatever holds
most of the rest of their segment, another object's or a background class (``pillow + bed``). The objects found
per class are printed for the scans and for each group of frames, views, parts or moved copies (summed over them).

Leave-one-scan-out: the constants of :data:`openshape_ood.segmentation.tuning.TUNED` are tried in every
combination; each scan is segmented with the combination that finds the most objects (then the fewest
false segments) on the other scans of its kind (on all other scans when it is the only one of its kind),
and that figure is printed beside the in-sample one of the defaults (``--no-loso`` skips it).

Perturbed copies (``--perturb N``, default 0: off): each scan is also segmented with the defaults in N
perturbed copies (copy k: its own generator seeded k, and segmentation seed k). A copy keeps each point
with probability 0.9 (with its ground-truth row), moves every point by Gaussian noise of a tenth of the
scan's median nearest-neighbour spacing, and turns the scan about the origin (a sensor's place): by a
random angle about its up axis (a room at another heading, a sweep from a car heading another way), or
by a random rotation without one (a camera frame). A second scan of the same scene differs from the
first in just these ways, so the mean over the copies estimates what the defaults do on scans of the
kind better than the in-sample figure of one scan; it is printed beside the in-sample and
leave-one-scan-out figures.

Denser copies (``--denser 2 4``): each scan is also segmented with the defaults (seed 0) in a copy with
2 (4, ...) times its points, added on the segments between neighbouring points with the ground truth of
the point they start from: a finer scan of the same scene must find the same objects.

Finer copies (``--finer 1 2 3``): each room is also segmented with the defaults in copies with about 1 (2,
3, ...) times its points spread evenly over its surfaces (:func:`finer_copy`), one per seed (copy s drawn and
segmented with seed s): a finer scan of the same room, or a small room sampled to as many points as a large
one (VoteNet's exports hold 50,000 points of every room). At 1 the copy differs from the scan only in where its
points lie. A finer camera or LiDAR has more rays, which points spread evenly in space do not mimic (a sweep
so resampled loses its rings), so frames and sweeps have none.

Sparser copies (``--sparser 0.7 0.5``): each scan is also segmented with the defaults in copies that
keep each point with probability 0.7 (0.5, ...), one per seed (copy s drawn from a generator seeded s
and segmented with seed s): a room of the same points spread over a larger floor, or a coarser scanner.
Objects that fall below ``--min-gt-points`` in a copy leave its count.

Other voxel sizes (``--voxel-scales 0.9 1.1``): each scan is also segmented with the voxel size its own
in-sample run chose (per seed) times 0.9 (1.1, ...), the other settings chosen as ever (those that follow
the voxel with it). The voxel is chosen from the scan's measured point spacing, which a scan of the same
kind measures a little otherwise (its points' count and layout, a crop); a figure that holds only at the
voxel chosen on the scans we have is not one to expect on others.

Other places of the voxel grid (``--grid-places N``): each scan is also segmented with its voxel grid laid
at N other places (:func:`grid_places`: on each axis its first cell starting a random fraction of a voxel
below the scan's lowest point, instead of at it), a run per seed with the defaults. Where the grid lies is
as arbitrary on another scan of the kind, and the segmentation is not indifferent to it (segmentation
experiments, "Where the voxel grid lies"): a figure that holds only where the grid lies on the scans we
have is not one to expect on others. These runs set the grid's place themselves, whatever ``--set
pipeline._GRID_PHASE`` gives the others.

Other headings (``--headings N``): each scan with an up axis is also segmented turned about it through the
origin (where a sensor sits) by N headings (:func:`headings`: angles drawn at random in [0, 360) degrees, the
same for every scan, run and value of a sweep), a run per seed with the defaults, nothing else of it changed.
The rooms we have are ScanNet's exports, turned so that their walls lie along the coordinate axes and so along
the voxel grid; another room, a raw scan or a sweep from a car heading elsewhere lies at any heading
(segmentation experiments, "A room's heading"). Scans without an up axis (camera frames) are not turned.

Other orders (``--orders N``): each scan is also segmented with its points (and their ground truth) stored in
N other orders (:func:`stored_order`: random permutations, the same for every run and value of a sweep), a run
per seed with the defaults. The segmentation measures a scan on random samples of its points drawn by their
place in it (the spacing that sets the voxel), so another order draws other samples, as another seed does: a
figure that holds only in the order the scans we have were stored in is not one to expect of the same scans
written otherwise.

Virtual frames (``--frames N``, 1-4): each room with an up axis is also seen by N virtual depth cameras
(:mod:`benchmarks.virtual_frames`: 512 x 424, from the corners at eye height), and each frame, in its
camera's coordinates without an up axis, is segmented with the defaults (view k with seed k). Objects of
fewer than 200 pixels are left out of a frame's count. A proxy of single-view frames of rooms, which the
scans we have lack; its figure is printed beside the room's. With ``--frame-points N`` each frame is also
segmented sampled down at random to N of its points, as VoteNet's SUN RGB-D clouds are (50,000 of a
Kinect v2 frame's), objects of fewer than that share of 200 points left out. With ``--frame-scales F``
the frames are also rendered by a camera of F times the pixels across with the same field of view, objects
of fewer than 200 F^2 pixels left out: 1.45 gives about the grid of SUN RGB-D's Kinect v2 frames, whose
depth is registered to their colour images (730 x 530 pixels, focal length 529). With ``--frames-upright``
every frame is segmented turned upright about its camera and given the room's up axis
(:func:`benchmarks.virtual_frames.upright_frame`), as SUN RGB-D and VoteNet's export of it store the Kinect v2
frames, instead of in the camera's coordinates without an axis.

Frames of furniture (``--object-frames``): each room with an up axis is also seen in frames taken of each of
its pieces of furniture (:func:`benchmarks.virtual_frames.object_views`: objects at least
:data:`benchmarks.virtual_frames.OBJECT_VIEW_MIN_EXTENT` wide, from
:data:`benchmarks.virtual_frames.OBJECT_VIEW_DISTANCES` at eye height, at
:data:`benchmarks.virtual_frames.OBJECT_VIEW_TURNS` headings round it, where the reader's classes name the
walls, floors and ceilings only from where none of them blocks the line of sight), rendered by the rooms'
camera, turned upright and given the up axis, and segmented with the defaults (view k with seed k). A Kinect
v2 frame of a bedroom is often taken of its bed, which then fills the view, with little of the floor under
it. With ``--frame-points N`` these frames are also segmented sampled down to N points, as the virtual frames
are.

Orbits (``--orbit``): each table-top frame (a scan without an up axis, in its camera's coordinates) is
also seen from other places (:func:`benchmarks.virtual_frames.orbit_views`): its camera moved round the
frame's median point about the up direction the segmentation finds, by each turn of :data:`ORBITS`, and
rendered as a Kinect frame (:func:`benchmarks.virtual_frames.table_top_camera`); view k is rendered and
segmented with seed k. Another frame of the same table from another place shows the objects in other
contacts and occlusions and the table at another slant: a proxy of the table-top frames kept out of sight.

Surroundings (``--surroundings``): each table-top frame is also segmented with what its camera saw round the
table and the mOSD frames' authors set to no depth put back (:func:`benchmarks.virtual_frames.with_surroundings`:
the table's far end, the floor below it and a wall beyond it, with a Kinect's depth noise), one copy per seed
(noise drawn and segmented with seed s): a table-top frame as the camera gives it, the room in view.

Stepped back (``--stepped-back K``): each table-top frame is also seen by its camera stepped back along its line
of sight to K times its distance from the frame's median point (:func:`stepped_back_frame`), rendered as a Kinect
frame about the support its segmentation finds and with its surroundings in view, as ``--surroundings`` puts them,
one copy per seed (rendered, noised and segmented with seed s). A robot's or a person's camera takes a table top
from a metre or two away, where the objects fill fewer pixels and the floor round the table more.

Pushed objects (``--pushed``): each object of a table-top frame with at least
:data:`benchmarks.pushed_objects.PUSHED_MIN_POINTS` points that lies neither on nor under another and touches
none is also pushed across the table, in each of :data:`benchmarks.pushed_objects.PUSH_DIRECTIONS`, until it
touches another object (:func:`benchmarks.pushed_objects.pushed_copies`: at most
:data:`benchmarks.pushed_objects.PUSH_REACH`, over the table, what the camera would then see kept), and the frame
is segmented with the defaults (copy k with seed k). The same objects in contacts the frame does not hold: a
proxy of the cluttered frames kept out of sight. Its line counts every object of the copies; the next counts the
pushed objects themselves, in all and per class (as every moved object's line does).

Turned objects (``--turned``): each object of a LiDAR sweep that is counted (``--min-gt-points``) is also turned
about the up axis through the sensor to each of :data:`benchmarks.turned_objects.TURNS` where it can stand
(:func:`benchmarks.turned_objects.turned_copies`: on the ground at about its own level, in no other object, what
the sensor would then see kept), and the sweep is segmented with the defaults (copy k with seed k). The same car
or person against another hedge, wall or tree of the street: a proxy of the sweeps kept out of sight, which hold
other streets. Its line counts every object of the copies; the next counts the turned objects themselves. Moved
farther (``--farther K``), each object that would still be counted there (K^2 times ``--min-gt-points``) is first
pushed out along its bearing to K times its range and sampled as the sensor would sample it there (every K-th of
its rows and of its points along them, a copy for each of the K^2 such choices), then turned about the sensor to
each tenth degree where it can stand: the far cars of other sweeps, where ours holds its cars at 21-26 m. Moved
nearer (``--nearer K``), each counted object is first pulled in along its bearing to a K-th of its range and sampled
by the sensor's rays cast on the surface its returns span (K times as densely each way), then turned so: the cars
parked at 5-15 m and the people on the pavement beside the sensor that other sweeps hold and ours does not.

Beside another (``--beside``): each object of a LiDAR sweep that is counted is also turned about the sensor to
every degree, and kept where it stands within :data:`benchmarks.turned_objects.BESIDE` of another object counted
there (:func:`benchmarks.turned_objects.beside_copies`), and the sweep is segmented with the defaults (copy k
with seed k): cars parked in a row, people by a car or together, which no view of our sweep otherwise holds. Its
line counts every object of the copies; the next counts the objects set beside another themselves.

Bicycles (``--bicycles N``): a model bicycle (:func:`benchmarks.bicycles.bicycle_mesh`) is also put into each LiDAR
sweep at N free places of its ground (:func:`benchmarks.bicycles.free_places`, the same for every run), turned to
each of :data:`benchmarks.bicycles.HEADINGS`, and seen by the sweep's own beams
(:func:`benchmarks.bicycles.bicycle_copies`); the sweep is segmented with the defaults (copy k with seed k).
SemanticKITTI counts parked bicycles as objects, and ours holds none of 25 points: a bicycle is a few centimetres
deep, as the fences and signs the street rules drop are. Its line counts every object of the copies; the next
counts the bicycles themselves.

Crops (``--crops``): each room with an up axis is also cut into partial scans, its two halves across
each horizontal coordinate axis and its four quarters (at the middle of its box), and each part is
segmented with the defaults (part k with seed k). An object counts in a part when at least
``--min-gt-points`` of its points lie in it (the part of it the partial scan holds is its truth). A scan
of part of a room, or of a small room, must find what the whole room's scan finds: settings chosen from
the scan's extent change with the part.

Side by side (``--side-by-side``): each room with an up axis is also laid out in copies of itself side by side
(:func:`side_by_side`: :data:`SIDE_BY_SIDE` columns and rows of copies along its horizontal axes,
:data:`SIDE_BY_SIDE_GAP` between their boxes), one scan of several rooms (an apartment, a room with the next
one seen through its door), and segmented with the defaults (layout k with seed k). Each copy's objects count
apart. Every setting and rule was shown on scans of one room: a room beside another must still find its own
objects, and the wall between them has a whole room behind it. Each layout of n copies is also sampled back to
the room's own point count (each point kept with probability 1/n, seed k): a larger room in as many points,
as VoteNet's export keeps 50,000 points of a ScanNet room of any size.

Camera views (``--camera-views``): each LiDAR sweep is also cut to what KITTI's colour camera sees
(:func:`camera_view_masks`: :data:`CAMERA_HALF_WIDTH` degrees either side of its heading, down to
:data:`CAMERA_LOWEST` degrees), turned to each of :data:`CAMERA_HEADINGS` about up, and each view is segmented
with the defaults (view k with seed k). KITTI gives its boxes only within the image, and its sweeps are often
kept only there (as the two of ``real_samples_survey`` are): objects cut by the sides of the view, and a ground
seen only up to them. An object counts in a view when at least ``--min-gt-points`` of its points lie in it.
Scans are read in metres: a reader whose ``info`` gives ``units`` "mm" or "cm" has its xyz divided. A scan the
reader cannot give (or in units not listed) is left out and named on stderr and in the JSON
(``left_out_unread``); a run whose segmentation raises finds nothing, its objects still count, and its row
holds the ``error``. One such scan never ends the run over the others.
Writes everything as JSON (``--out``, default ``results/scenes.json``).

A constant of the segmentation is measured at other values with ``--set module.NAME=value`` (for example
``--set convexity._VALLEY_SHARE=0.1``; :func:`set_constants`), one run per value; the JSON records what was set
(``constants``).

    python -m benchmarks.scenes
    python -m benchmarks.scenes --no-loso --perturb 4 --denser 2 4 --sparser 0.7 0.5 --frames 4 --crops --orbit
    python -m benchmarks.scenes --no-loso --only semantickitti_spvnas_000000 --seeds 0 --turned --farther 2 3 --nearer 2
    python -m benchmarks.scenes --no-loso --only semantickitti_spvnas_000000 --seeds 0 --beside
    python -m benchmarks.scenes --no-loso --only semantickitti_spvnas_000000 --seeds 0 --bicycles 10
    python -m benchmarks.scenes --no-loso --only semantickitti_spvnas_000000 --camera-views
    python -m benchmarks.scenes --no-loso --only mosd_test22 mosd_test34 mosd_test49 mosd_test60 --seeds 0 1 --stepped-back 1.5 2
    python -m benchmarks.scenes --no-loso --voxel-scales 0.9 0.95 1.05 1.1
    python -m benchmarks.scenes --no-loso --grid-places 4 --headings 4 --orders 4
    python -m benchmarks.scenes --no-loso --only mosd_test60 --seeds 0 --set convexity._VALLEY_SHARE=0.1
    python -m benchmarks.scenes --data /path/to/scans --out results/scenes.json --seeds 0

Objects with fewer than ``--min-gt-points`` points (default 25) are left out of the recall and of AP:
the LiDAR sweep has objects of 1 to 20 points that no geometric method separates; a segment that matches
one of them is still not a false segment.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import importlib
import importlib.util
import inspect
import json
import math
import os
import pkgutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from openshape_ood.atomic import replacing
from openshape_ood.config import UP_AXES
from openshape_ood.segmentation import pipeline, segment_scene
from openshape_ood.segmentation.geometry import sensor_angles
from openshape_ood.segmentation.tuning import combinations, tuned

from .bicycles import HEADINGS as BICYCLE_HEADINGS
from .bicycles import NAME as BICYCLE
from .bicycles import bicycle_copies
from .pushed_objects import pushed_copies
from .turned_objects import BESIDE, TURNS, beside_copies, turned_copies
from .virtual_frames import (
    camera_views, look_at, object_views, orbit_views, render_frame, room_camera, table_top_camera, upright_frame,
    with_surroundings,
)

# A perturbed copy keeps each point with this probability: a second scan of the scene misses and adds
# other points (occlusion, dropouts); a tenth lost is small beside the changes of a real re-scan.
PERTURB_KEEP = 0.9
# Noise of a perturbed copy, as a share of the scan's median nearest-neighbour spacing: scale-free, so one
# rule serves frames in millimetres and sweeps in centimetres, and a tenth of the spacing moves every point
# off its lattice (voxels, neighbours and ties change, as in a re-scan) without changing the surfaces,
# since it stays below the sensors' own noise (millimetres for a Kinect at 1 m, centimetres for a LiDAR).
PERTURB_NOISE_SHARE = 0.1
# A denser copy adds points on the segments from each point to one of this many nearest neighbours: on
# the surface for a smooth one (neighbours on a 2D lattice: 4 at one step, 4 at the diagonal).
DENSER_NEIGHBOURS = 8
# A finer copy is drawn from the denser copy with this many times its own points, then thinned evenly on a grid:
# so many candidates per cell that the one nearest the centre lies about as near at every factor.
FINER_SOURCE = 8
# A virtual frame counts objects of at least this many pixels (a 14 x 14 patch): one at the frame's edge
# or behind a nearer one shows a sliver that no segmentation is asked to find.
FRAME_MIN_GT_POINTS = 200
# The objects whose best IoU lies within this of 0.5 are reported, above and below it: a count at IoU 0.5 that
# was tuned on a scan piles objects just above the line, and a copy or view of the scan takes them back below it
# (the rooms, seeds 0-4: 16 % of their objects at 0.5-0.6 and 3 % at 0.4-0.5 in-sample, 7 % and 9 % in their
# perturbed copies; segmentation experiments, "Objects just over the line").
NEAR_THRESHOLD = 0.1

# The package whose constants --set sets.
SEGMENTATION = "openshape_ood.segmentation"
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


def set_constants(assignments: list[str]) -> dict[str, int | float]:
    """Set numeric constants of the segmentation for this run, each given as ``module.NAME=value``
    (``convexity._VALLEY_SHARE=0.1``, the module within :mod:`openshape_ood.segmentation`): in the module that
    defines it and in each module of the package that imports it by name (``from .geometry import SHEET``), so
    that a constant is measured at another value without an edited copy of the code. Returns what was set,
    by ``module.NAME``. Raises ``ValueError`` as :func:`checked_constants` does, before anything is set."""
    checked = checked_constants(assignments)
    importers = _importers(SEGMENTATION)
    for module, module_name, name, value, _ in checked:
        for holder in [module, *importers.get((module_name, name), [])]:
            setattr(holder, name, value)
    return {f"{module_name}.{name}": value for _, module_name, name, value, _ in checked}


@contextlib.contextmanager
def constants_set(assignments: list[str]) -> Iterator[dict[str, int | float]]:
    """:func:`set_constants` for the ``with`` block only: each constant is put back to its value before after it,
    also when the block raises."""
    before = [f"{module_name}.{name}={old!r}" for _, module_name, name, _, old in checked_constants(assignments)]
    done = set_constants(assignments)
    try:
        yield done
    finally:
        set_constants(before)


def checked_constants(assignments: list[str]) -> list[tuple[ModuleType, str, str, int | float, int | float]]:
    """Each ``module.NAME=value`` as ``(module, module name, NAME, value, value now)``, nothing set. Raises
    ``ValueError`` naming the assignment when one is not of that form, names no numeric constant or one the
    module imports (``clustering.SHEET``: set ``geometry.SHEET``), or gives a value of another type (a whole
    number for an integer)."""
    example = "give module.NAME=value, e.g. convexity._VALLEY_SHARE=0.1"
    importers = _importers(SEGMENTATION)
    checked = []
    for assignment in assignments:
        target, _, text = assignment.partition("=")
        module_name, _, name = target.strip().rpartition(".")
        if not module_name or not name or not text.strip():
            raise ValueError(f"--set {assignment!r}: {example}")
        try:
            module = importlib.import_module(f"{SEGMENTATION}.{module_name}")
        except ModuleNotFoundError:
            raise ValueError(f"--set {assignment!r}: {SEGMENTATION} has no module {module_name!r}; {example}") from None
        old = getattr(module, name, None)
        if isinstance(old, bool) or not isinstance(old, (int, float)):
            raise ValueError(f"--set {assignment!r}: {module.__name__} has no numeric constant {name}; {example}")
        source = next((home for (home, bound), held in importers.items() if bound == name and module in held), None)
        if source is not None:  # its copy alone would change, the module that defines it keeping the old value
            raise ValueError(f"--set {assignment!r}: {module_name} imports {name} from {source}; set {source}.{name}")
        try:
            checked.append((module, module_name, name, type(old)(text.strip()), old))
        except ValueError:
            kind = "a whole number" if isinstance(old, int) else "a number"
            raise ValueError(f"--set {assignment!r}: {module_name}.{name} is {old!r}; give {kind}") from None
    return checked


@functools.cache
def _importers(package: str) -> dict[tuple[str, str], list]:
    """For each ``(module, name)`` that modules of ``package`` bind by ``from .module import name``, those modules:
    read from their source (once per process), since a value's identity cannot tell an imported constant from an
    equal one of their own."""
    found: dict[tuple[str, str], list] = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                for alias in node.names:
                    if alias.asname in (None, alias.name):
                        found.setdefault((node.module, alias.name), []).append(module)
    return found


def up_axis_of(info: dict) -> str | None:
    """``"x"``/``"y"``/``"z"`` from the reader's ``up_axis`` text (``"+z"``, ``"none: camera frame"``)."""
    text = str(info.get("up_axis", "")).strip().lower()
    axis = text.lstrip("+-")[:1]
    return axis if axis in ("x", "y", "z") and not text.startswith("none") else None


# The reader's ``units`` text (its first word, in lower case) -> units in a metre (divided by: exact for
# whole millimetres, where multiplying by 0.001 rounds in float32).
UNITS_PER_METRE = {
    **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), 1),
    **dict.fromkeys(("cm", "centimetre", "centimetres", "centimeter", "centimeters"), 100),
    **dict.fromkeys(("mm", "millimetre", "millimetres", "millimeter", "millimeters"), 1000),
}


def in_metres(points: np.ndarray, info: dict) -> np.ndarray:
    """``points`` with xyz in metres, from the reader's ``units`` text (``"m"``, ``"mm"``, ...): the
    segmentation measures spacings and sizes in metres, and a frame in millimetres is not a larger room.
    Raises ``ValueError`` naming the text when it is not a unit of :data:`UNITS_PER_METRE`."""
    text = str(info.get("units", "m")).strip().lower()
    word = text.split()[0] if text else "m"
    if word not in UNITS_PER_METRE:
        raise ValueError(
            f"units {info.get('units')!r} is not one of {sorted(UNITS_PER_METRE)}; give the reader's info one of them"
        )
    if UNITS_PER_METRE[word] == 1:
        return points
    scaled = np.array(points, dtype=np.result_type(points.dtype, np.float32), copy=True)
    scaled[:, :3] /= UNITS_PER_METRE[word]
    return scaled


def iou_matrix(labels: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every ground-truth object (rows) with every segment (columns), and both id lists."""
    objects, size_t = np.unique(truth[truth >= 0], return_counts=True)
    segments, size_s = np.unique(labels[labels >= 0], return_counts=True)
    both = (truth >= 0) & (labels >= 0)
    row = np.searchsorted(objects, truth[both])
    column = np.searchsorted(segments, labels[both])
    inter = np.bincount(row * len(segments) + column, minlength=len(objects) * len(segments)).astype(float)
    inter = inter.reshape(len(objects), len(segments))
    size_t = size_t.astype(float)
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


def segment_matches(labels: np.ndarray, truth: np.ndarray, min_gt_points: int) -> dict:
    """Each counted object's best IoU and its id, and each segment's point count with whether it matches a
    counted object at IoU >= 0.5 (1), matches only an object below ``min_gt_points`` (ignored: -1),
    or none (0). At IoU above 0.5 a segment matches at most one object and an object one segment."""
    iou, objects, size = iou_matrix(labels, truth)
    counted = size >= min_gt_points
    segments, points = np.unique(labels[labels >= 0], return_counts=True)
    match = np.zeros(len(segments), dtype=np.int64)
    if iou.size:
        match[(iou[counted] >= 0.5).any(axis=0)] = 1
        match[(match == 0) & (iou[~counted] >= 0.5).any(axis=0)] = -1
    best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(size))
    return {"object_iou": best[counted].tolist(), "object_ids": objects[counted].tolist(),
            "segment_points": points.tolist(), "segment_match": match.tolist()}


def coded_truth(truth: np.ndarray, semantic: np.ndarray, classes: dict) -> tuple[np.ndarray, dict[int, str]]:
    """``truth`` with each background point's class written into it: objects keep their ids (>= 0), a
    background point of class ``c`` (``semantic``, with names ``classes``) gets ``-2 - rank of c``, so that
    every copy and frame carries it in its ground-truth rows; and the names of those codes. Anything
    below 0 is background to the evaluation as before."""
    ids = sorted(classes)
    if len(semantic) != len(truth) or not np.isin(semantic, ids).all():
        raise ValueError("the semantic labels do not match the scan's points or name a class the reader does not list")
    rank = np.searchsorted(ids, semantic)
    return np.where(truth >= 0, truth, -2 - rank), {-2 - k: str(classes[c]) for k, c in enumerate(ids)}


def with_background_classes(reader, name: str, truth: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """``truth`` coded with the background classes the ``reader``'s ``load_semantic`` gives scan ``name``
    (:func:`coded_truth`), and their codes' names; as it is, with none, where the reader has no
    ``load_semantic`` or it raises. One scan's classes are not worth a run: whatever the reader raises (a
    format its load_semantic does not know, labels that do not match) is said on stderr, and that scan's false
    segments go unnamed and its frames of furniture unchecked for walls in their way."""
    if not hasattr(reader, "load_semantic"):
        return truth, {}
    try:
        _, semantic, semantic_classes = reader.load_semantic(name)
        return coded_truth(truth, np.asarray(semantic), semantic_classes)
    except Exception as exc:  # noqa: BLE001 - the reader is the data's, not ours
        print(f"{name}: {exc or type(exc).__name__}; its false segments are reported as 'background'", file=sys.stderr)
        return truth, {}


#: Background classes no camera sees through: a frame of furniture is taken from where none blocks the view.
STRUCTURE_CLASSES = ("wall", "floor", "ceiling")


def structure_of(truth: np.ndarray, background: dict[int, str]) -> np.ndarray | None:
    """The points of ``truth`` (coded by :func:`coded_truth`, ``background`` its codes' names) of one of
    :data:`STRUCTURE_CLASSES`; ``None`` where the reader names no such class, so that nothing is checked."""
    codes = [code for code, name in background.items() if name in STRUCTURE_CLASSES]
    return np.isin(truth, codes) if codes else None


def false_segments_on(labels: np.ndarray, truth: np.ndarray, background: dict[int, str]) -> dict[str, int]:
    """What each false segment (IoU below 0.25 with every object, as :func:`evaluate` counts them) lies on,
    counted by name: ``"object"`` when most of its points belong to objects (a piece of one, or of several),
    else the background class (``background``: the codes of :func:`coded_truth`) most of its points have,
    ``"background"`` where the reader gives no class."""
    iou, _, _ = iou_matrix(labels, truth)
    labelled = labels >= 0
    segments, member = np.unique(labels[labelled], return_inverse=True)  # the columns of iou
    best = iou.max(axis=0) if iou.shape[0] else np.zeros(len(segments))
    held = truth[labelled]
    on_objects = np.bincount(member, held >= 0, len(segments)) * 2 > np.bincount(member, minlength=len(segments))
    # The background code most of each segment's background points have (the lowest code of a tie): its
    # (segment, code) pairs counted and ordered so that this pair comes last, the last pair of each kept.
    pairs, counts = np.unique(np.stack([member[held < 0], held[held < 0]], axis=1), axis=0, return_counts=True)
    pairs = pairs[np.lexsort((-pairs[:, 1], counts))]
    main_code = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist()))
    names = [
        "object" if on_objects[k] else background.get(main_code.get(k), "background") for k in np.flatnonzero(best < 0.25)
    ]
    return {name: names.count(name) for name in dict.fromkeys(names)}


def missed_objects(labels: np.ndarray, truth: np.ndarray, min_gt_points: int) -> dict[str, int]:
    """How each counted object (``min_gt_points`` points or more) that no segment matches at IoU 0.5 was
    lost: ``"background"`` when more than half its points are background, ``"merged"`` when the segment
    holding most of its points holds half of them or more (it holds other things too), else ``"split"``
    (its points lie in several segments, none holding half)."""
    missed = {"merged": 0, "split": 0, "background": 0}
    for _, how, _ in _lost_objects(labels, truth, min_gt_points):
        missed[how] += 1
    return missed


def merged_with(labels: np.ndarray, truth: np.ndarray, min_gt_points: int) -> list[list[int]]:
    """``[object id, what it merged with]`` for each object :func:`missed_objects` counts as merged: the code
    in ``truth`` most of the other points of the segment holding most of its points have, another object's id
    (>= 0) or a background code (< 0, :func:`coded_truth`'s where the reader names the classes)."""
    return [[object_id, partner] for object_id, how, partner in _lost_objects(labels, truth, min_gt_points)
            if how == "merged"]  # fmt: skip


def _lost_objects(labels: np.ndarray, truth: np.ndarray, min_gt_points: int) -> Iterator[tuple[int, str, int | None]]:
    """``(object id, how it was lost, what it merged with or None)`` for each counted object that no segment
    matches at IoU 0.5, as :func:`missed_objects` and :func:`merged_with` tell them."""
    iou, objects, size = iou_matrix(labels, truth)
    for row in np.flatnonzero((size >= min_gt_points) & ((iou.max(axis=1) if iou.shape[1] else 0) < 0.5)):
        own = truth == objects[row]
        held = labels[own]
        if 2 * (held < 0).sum() > len(held):
            yield int(objects[row]), "background", None
            continue
        counts = np.bincount(held[held >= 0])
        if 2 * counts.max() < len(held):
            yield int(objects[row]), "split", None
            continue
        # Holding half the object or more at IoU below 0.5, the segment holds other points too.
        rest = truth[(labels == counts.argmax()) & ~own]
        codes, many = np.unique(rest, return_counts=True)
        yield int(objects[row]), "merged", int(codes[np.argmax(many)])


def average_precision(points: list[int], match: list[int], objects: int) -> float:
    """AP at IoU 0.5 of segments pooled over scans, ranked by point count (ScanNet's instance
    benchmark pools over scans alike): the area under the precision-recall curve, precision made
    non-increasing; segments matching only objects too small to count are left out."""
    if objects == 0:
        return float("nan")
    points, match = np.asarray(points), np.asarray(match)
    order = np.argsort(-points, kind="stable")
    hits = match[order][match[order] >= 0]
    if len(hits) == 0:
        return 0.0
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    recall = true_positives / objects
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((precision * steps).sum())


def kind_of(info: dict) -> str:
    """``"table-top"``, ``"room"``, ``"LiDAR"`` from the reader's ``kind`` text, else that text (or ``"scan"``).
    A sweep is a LiDAR's, whatever the text calls the sensor ("KITTI sweep", "Velodyne sweep"); a
    bedroom, like any room, is a room."""
    text = str(info.get("kind", "scan"))
    lower = text.lower()
    words = (("table", "table-top"), ("room", "room"), ("indoor", "room"), ("lidar", "LiDAR"), ("sweep", "LiDAR"),
             ("velodyne", "LiDAR"))
    for word, kind in words:
        if word in lower:
            return kind
    return text


def run_scan(
    points, truth, up, seed: int, values: dict, min_gt_points: int, background: dict | None = None, **settings
) -> dict:
    """One segmentation of one scan with the tuned constants ``values`` (and ``settings`` of ``segment_scene``
    given, the others chosen): its figures and matches, and what its false segments lie on (``background``:
    the names of :func:`coded_truth`'s codes in ``truth``).
    A segmentation that raises finds nothing (its objects still count) and its row holds the ``error``:
    one scan the segmentation refuses must not end a run over many, nor leave the figures."""
    start = time.perf_counter()
    used, error = None, None
    try:
        with tuned(values):
            labels, chosen = segment_scene(points, up, seed=seed, return_settings=True, **settings)
        used = chosen.to_dict()
    except Exception as exc:  # noqa: BLE001 - reported in the row and on stderr by main
        labels, error = np.full(len(truth), -1, dtype=np.int64), _error_text(exc)
    seconds = time.perf_counter() - start
    row = {**evaluate(labels, truth, min_gt_points), **segment_matches(labels, truth, min_gt_points),
           "false_on": false_segments_on(labels, truth, background or {}),
           "missed": missed_objects(labels, truth, min_gt_points),
           "merged_with": merged_with(labels, truth, min_gt_points),
           "seconds": round(seconds, 2), "settings": used}  # fmt: skip
    return row if error is None else {**row, "error": error}


def median_spacing(xyz: np.ndarray, sample: int = 2000) -> float:
    """The median distance from a point to its nearest neighbour (in ``xyz``'s unit), measured on
    ``sample`` points taken at an even stride, so that it is the same on every call."""
    probes = xyz[:: max(1, len(xyz) // sample)]
    distances, _ = cKDTree(xyz).query(probes, k=2)
    return float(np.median(distances[:, 1]))


def perturbed_copy(
    points: np.ndarray, truth: np.ndarray, k: int, spacing: float, up_axis: str | None = None, turn: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Copy ``k`` of a scan and its ground truth, drawn from a generator seeded ``k``: each point kept
    with probability :data:`PERTURB_KEEP` (with its ``truth`` row), xyz moved by isotropic Gaussian noise
    of ``PERTURB_NOISE_SHARE * spacing``, and with ``turn`` turned about the origin (where a sensor is):
    by a uniformly random angle about ``up_axis`` (a room scanned again lies at another heading, a
    sweep is taken from a car heading another way), or by a uniformly random rotation without one (a
    camera frame). Columns after xyz (colour) are kept as they are; the dtype is ``points``'s."""
    rng = np.random.default_rng(k)
    kept = rng.random(len(points)) < PERTURB_KEEP
    copy, copy_truth = points[kept].copy(), truth[kept].copy()
    xyz = copy[:, :3] + rng.normal(scale=PERTURB_NOISE_SHARE * spacing, size=(len(copy), 3))
    if turn and up_axis is None:
        xyz = Rotation.random(None, rng).apply(xyz)  # positional: scipy < 1.15 names it random_state
    elif turn:
        xyz = turned_about_up(xyz, up_axis, rng.uniform(0, 2 * np.pi))
    copy[:, :3] = xyz
    return copy, copy_truth


def run_perturbed(
    points, truth, up, copies: int, values: dict, min_gt_points: int, background: dict | None = None
) -> list[dict]:
    """:func:`run_scan` on each of ``copies`` :func:`perturbed_copy` of a scan (copy k with seed k),
    turned about the origin."""
    if copies == 0:
        return []  # no spacing to measure
    spacing = median_spacing(points[:, :3])
    rows = []
    for k in range(copies):
        copy, copy_truth = perturbed_copy(points, truth, k, spacing, up)
        rows.append(run_scan(copy, copy_truth, up, k, values, min_gt_points, background))
    return rows


def denser_copy(
    points: np.ndarray, truth: np.ndarray, factor: int, seed: int = 0, same_object: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of a scan with ``factor`` times its points, as a finer scan of the same surfaces: the scan,
    then ``factor - 1`` rounds of one new point per point, uniformly on the segment to one of its
    :data:`DENSER_NEIGHBOURS` nearest neighbours, with the colour and ground truth of the point it starts
    from. The new points keep to the surfaces but lie near the points they start from: the median spacing
    falls faster than a finer scan's (to 0.39 of the scan's at twice the points on ScanNet's rooms, not
    0.71), so the copy tests the voxel's floor more than a finer scan (docs: "Denser scans").

    With ``same_object``, only the neighbours of the point's own ground truth are taken (the point itself
    where it has none): a finer scan puts no point in the gap between two objects that nearly touch, where a
    segment from the rim of one to the rim of the other would."""
    rng = np.random.default_rng(seed)
    neighbours = cKDTree(points[:, :3]).query(points[:, :3], k=DENSER_NEIGHBOURS + 1)[1][:, 1:]
    rows = np.arange(len(points))
    alike = truth[neighbours] == truth[:, None] if same_object else None
    copies, truths = [points], [truth]
    for _ in range(factor - 1):
        if alike is not None:  # a neighbour of the same object at random: the smallest draw among them
            pick = np.argmin(rng.random(neighbours.shape) + ~alike, axis=1)
            other = np.where(alike[rows, pick], neighbours[rows, pick], rows)
        else:
            other = neighbours[rows, rng.integers(0, DENSER_NEIGHBOURS, len(points))]
        extra = points.copy()
        extra[:, :3] += rng.random((len(points), 1)).astype(points.dtype) * (points[other, :3] - points[:, :3])
        copies.append(extra)
        truths.append(truth)
    return np.concatenate(copies), np.concatenate(truths)


def finer_copy(points: np.ndarray, truth: np.ndarray, factor: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A copy of a scan with about ``factor`` times its points spread evenly over its surfaces, nearer a finer
    scan than :func:`denser_copy`: that copy (drawn with ``seed``, each new point between two points of one
    object) with :data:`FINER_SOURCE` times the copy's points, thinned to the point nearest the centre of each
    cell of a grid whose side is set, by bisection, so that ``factor`` times the scan's points remain (within
    1 %, or as near as 60 halvings come; the count run_scan records is the copy's). Its spacing falls as the
    square root of the count, as a finer scan's of the same surfaces does; at ``factor`` 1 it holds the scan's
    surfaces sampled on a grid rather than at the scan's own points (a mesh's vertices, a sensor's pixels)."""
    source = math.ceil(FINER_SOURCE * max(1.0, factor))
    dense, dense_truth = denser_copy(points, truth, source, seed, same_object=True)
    xyz = dense[:, :3].astype(np.float64) - dense[:, :3].min(axis=0)
    wanted = factor * len(points)

    def thinned(side: float) -> np.ndarray:
        cells = np.floor(xyz / side)
        off_centre = np.linalg.norm(xyz - (cells + 0.5) * side, axis=1)
        order = np.lexsort((off_centre, *cells.T.astype(np.int64)))
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(np.diff(cells[order], axis=0) != 0, axis=1)
        return np.sort(order[first])

    low, high = 1e-6 * float(xyz.max()), float(xyz.max())
    for _ in range(60):  # the count falls as the cells grow: bisect on their side, geometrically
        side = math.sqrt(low * high)
        kept = thinned(side)
        if abs(len(kept) - wanted) <= 0.01 * wanted:
            break
        low, high = (side, high) if len(kept) > wanted else (low, side)
    return dense[kept], dense_truth[kept]


def sparser_copy(points: np.ndarray, truth: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A copy of a scan keeping each point with probability ``share`` (with its ``truth`` row, in order),
    drawn from a generator seeded ``seed``."""
    kept = np.random.default_rng(seed).random(len(points)) < share
    return points[kept], truth[kept]


def scaled_voxel(row: dict, scale: float) -> float | None:
    """``scale`` times the voxel size of a :func:`run_scan` row's settings; ``None`` (chosen) where that run
    raised and has none, so that the scaled run raises as it did."""
    return None if row["settings"] is None else scale * row["settings"]["voxel_size"]


# Seeds the places of --grid-places: the same N places for every scan, run and value of a sweep.
GRID_PLACES_SEED = 0


def grid_places(count: int) -> np.ndarray:
    """``(count, 3)`` places of the voxel grid, each axis's a fraction of a voxel in ``[0, 1)`` by which the grid's
    first cell starts below the scan's lowest point (``pipeline._GRID_PHASE``), drawn at random: the same for
    every call with the same count."""
    return np.random.default_rng(GRID_PLACES_SEED).random((count, 3))


@contextlib.contextmanager
def grid_at(phase: np.ndarray) -> Iterator[None]:
    """Segment with the voxel grid at ``phase`` (:func:`grid_places`), the place before restored after."""
    before = pipeline._GRID_PHASE
    pipeline._GRID_PHASE = phase
    try:
        yield
    finally:
        pipeline._GRID_PHASE = before


# Seeds the angles of --headings: the same N headings for every scan, run and value of a sweep.
HEADINGS_SEED = 0


def headings(count: int) -> np.ndarray:
    """``count`` headings (degrees in ``[0, 360)``) by which ``--headings`` turns a scan about its up axis, drawn at
    random: the same for every call with the same count."""
    return np.random.default_rng(HEADINGS_SEED).uniform(0.0, 360.0, count)


# Seeds the permutations of --orders: the same N orders of a scan for every run and value of a sweep.
ORDERS_SEED = 0


def stored_order(count: int, order: int) -> np.ndarray:
    """The permutation of a scan's ``count`` points in which ``--orders`` stores them as its order ``order``
    (1, 2, ...), drawn at random: the same for every call with the same arguments."""
    return np.random.default_rng([ORDERS_SEED, order]).permutation(count)


def turned_about_up(points: np.ndarray, up_axis: str, angle: float) -> np.ndarray:
    """``points`` with xyz turned by ``angle`` radians about the ``up_axis`` through the origin (where a sensor is);
    columns after xyz (colour) kept as they are, the dtype ``points``'s."""
    turned = points.copy()
    turned[:, :3] = Rotation.from_rotvec(np.eye(3)[UP_AXES.index(up_axis)] * angle).apply(points[:, :3])
    return turned


def room_frames(
    points, truth, up, views: int | list, sample: int | None = None, scale: float = 1.0, upright: bool = False,
    structure: np.ndarray | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, str | None, int]]:
    """Virtual frames of a room (view k rendered with seed k), ``views`` of them from its corners
    (:func:`benchmarks.virtual_frames.camera_views`) or from each ``(eye, target)`` of a list: each ``(frame,
    its truth, the up axis to give, objects' fewest points)``, in its camera's coordinates without an up axis,
    or with ``upright`` turned onto the room's axes about the camera
    (:func:`benchmarks.virtual_frames.upright_frame`) and given ``up``; none for a scan without ``up``. The
    camera has ``scale`` times the pixels across (:func:`benchmarks.virtual_frames.room_camera`), and objects of
    fewer than :data:`FRAME_MIN_GT_POINTS` times its square are left out of the count. With ``sample``, each
    frame sampled down at random to that many points (with seed k), that floor times the share kept."""
    if not views or up is None:
        return
    camera = room_camera(scale)
    places = camera_views(points[:, :3], up, views, structure) if isinstance(views, int) else views
    for k, (eye, target) in enumerate(places):
        frame, frame_truth = render_frame(points, truth, eye, target, up, seed=k, camera=camera)
        min_gt_points = round(FRAME_MIN_GT_POINTS * scale**2)
        if sample is not None and sample < len(frame):
            kept = np.sort(np.random.default_rng(k).choice(len(frame), sample, replace=False))
            min_gt_points = max(1, round(min_gt_points * sample / len(frame)))
            frame, frame_truth = frame[kept], frame_truth[kept]
        if upright:
            frame = upright_frame(frame, eye, target, up)
        yield frame, frame_truth, up if upright else None, min_gt_points


def run_frames(
    points, truth, up, views: int | list, values: dict, background: dict | None = None, sample: int | None = None,
    scale: float = 1.0, upright: bool = False,
) -> list[dict]:
    """:func:`run_scan` on each of :func:`room_frames` (view k segmented with seed k), its corners' cameras
    stepped inside past the walls ``background`` names."""
    structure = structure_of(truth, background or {})
    return [
        run_scan(frame, frame_truth, frame_up, k, values, min_gt_points, background)
        for k, (frame, frame_truth, frame_up, min_gt_points) in enumerate(
            room_frames(points, truth, up, views, sample, scale, upright, structure)
        )
    ]


def run_object_frames(
    points, truth, up, values: dict, background: dict | None = None, sample: int | None = None
) -> list[dict]:
    """:func:`run_frames` on frames taken of each piece of furniture of a room
    (:func:`benchmarks.virtual_frames.object_views`, their lines of sight clear of the room's structure where
    ``background`` names it), turned upright and given ``up`` (with ``sample``, each sampled down to that many
    points); none without ``up``."""
    if up is None:
        return []
    views = object_views(points[:, :3], truth, up, structure_of(truth, background or {}))
    return run_frames(points, truth, up, views, values, background, sample, upright=True)


#: The turns (azimuth, elevation in degrees) by which ``--orbit`` moves a table-top frame's camera: up to a
#: twelfth of a turn round the objects and a twenty-fourth up or down, so that little of what the frame's own
#: camera never saw (the objects' backs, the table behind them) would face the new one.
ORBITS = tuple((azimuth, elevation) for azimuth in (-30, -15, 0, 15, 30) for elevation in (-15, 0, 15))


def orbit_frames(points, truth, support) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A table-top frame seen from each turn of :data:`ORBITS` about ``support`` (the up direction the frame's
    own segmentation found, ``settings.up``; view k rendered with seed k): each ``(frame, its truth)``, in the
    new camera's coordinates; none without a support to turn about (the segmentation found none, or raised)."""
    if support is None:
        return
    up = np.asarray(support, dtype=np.float64)
    xyz = points[:, :3].astype(np.float64)
    camera = table_top_camera(median_spacing(xyz))
    for k, (eye, target) in enumerate(orbit_views(up, np.median(xyz, axis=0), ORBITS)):
        yield render_frame(points, truth, eye, target, up, k, camera)


def stepped_back_frame(points, truth, support, factor: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A table-top frame (its camera at the origin) seen by the camera stepped back along its line of sight to
    ``factor`` times its distance from the frame's median point, rendered as a Kinect frame upright about ``support``
    (the up direction its segmentation found), with the floor, a wall and the table's far end in view
    (:func:`benchmarks.virtual_frames.with_surroundings`): ``(frame, its truth)`` in the new camera's coordinates,
    rendered and noised with ``seed``."""
    if not factor > 1:
        raise ValueError(f"a camera steps back by a factor above 1, not {factor}")
    up = np.asarray(support, dtype=np.float64)
    xyz = points[:, :3].astype(np.float64)
    target = np.median(xyz, axis=0)
    eye = (1 - factor) * target
    frame, frame_truth = render_frame(points, truth, eye, target, up, seed, table_top_camera(median_spacing(xyz)))
    return with_surroundings(frame, frame_truth, look_at(eye, target, up) @ up, seed)


def run_orbits(points, truth, support, values: dict, min_gt_points: int, background: dict | None = None) -> list[dict]:
    """:func:`run_scan` on each of :func:`orbit_frames` (view k segmented with seed k), without an up axis."""
    return [
        run_scan(frame, frame_truth, None, k, values, min_gt_points, background)
        for k, (frame, frame_truth) in enumerate(orbit_frames(points, truth, support))
    ]


#: The parts of a room ``--crops`` segments: halves below and above the middle of each horizontal
#: axis of its box, and the four quarters, as signs of (first, second) horizontal axis (0: not cut).
CROPS = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def crop_masks(xyz: np.ndarray, up_axis: str) -> list[np.ndarray]:
    """The points of each part of :data:`CROPS` of a room (``xyz`` in its frame, ``up_axis`` its gravity axis)."""
    across = xyz[:, [k for k in range(3) if k != UP_AXES.index(up_axis)]]
    side = across >= (across.min(axis=0) + across.max(axis=0)) / 2
    return [
        np.logical_and.reduce([side[:, axis] == (sign > 0) for axis, sign in enumerate(signs) if sign])
        for signs in CROPS
    ]


def run_crops(points, truth, up, values: dict, min_gt_points: int, background: dict | None = None) -> list[dict]:
    """:func:`run_scan` on each of :func:`crop_masks`'s parts of a room (part k with seed k); none for a
    scan without ``up``."""
    return [] if up is None else _run_parts(points, truth, up, crop_masks(points[:, :3], up), values, min_gt_points,
                                            background)


#: How ``--side-by-side`` lays out copies of a room: (columns, rows) of copies, and the gap (m) between their
#: boxes, as wide as an interior wall.
SIDE_BY_SIDE, SIDE_BY_SIDE_GAP = ((2, 1), (2, 2)), 0.3


def copy_stride(truth: np.ndarray) -> int:
    """The step between the object ids of copies of a scan laid side by side (:func:`side_by_side`): one more
    than its largest object id in ``truth``, so that copy k's ids, the scan's plus k times this, stay apart."""
    return int(truth.max(initial=-1)) + 1


def side_by_side(
    points: np.ndarray, truth: np.ndarray, up_axis: str, columns: int, rows: int, gap: float = SIDE_BY_SIDE_GAP
) -> tuple[np.ndarray, np.ndarray]:
    """``columns`` x ``rows`` copies of a room (``points`` in its frame, ``up_axis`` its gravity axis) moved side by
    side along its two horizontal axes with ``gap`` between their boxes, and their truth: copy k (numbered with
    the column, along the first horizontal axis, slowest) gives its objects their ids plus k times one more than
    the room's largest; background codes (below 0) stay."""
    horizontal = [axis for axis in range(3) if axis != UP_AXES.index(up_axis)]
    size = np.ptp(points[:, horizontal].astype(np.float64), axis=0) + gap
    stride = copy_stride(truth)
    copies, truths = [], []
    for k, place in enumerate(np.ndindex(columns, rows)):
        copy = points.copy()
        copy[:, horizontal] += (np.array(place) * size).astype(points.dtype)
        copies.append(copy)
        truths.append(np.where(truth >= 0, truth + k * stride, truth))
    return np.concatenate(copies), np.concatenate(truths)


def run_side_by_side(
    points, truth, up, values: dict, min_gt_points: int, background: dict | None = None, sampled: bool = False
) -> list[dict]:
    """:func:`run_scan` on each layout of :data:`SIDE_BY_SIDE` of a room (layout k with seed k); none for a scan
    without ``up``. With ``sampled``, each layout of n copies first keeps each point with probability 1/n
    (:func:`sparser_copy` with seed k): the room's own point count over a larger floor, as VoteNet's export
    keeps 50,000 points of a room of any size."""
    if up is None:
        return []
    runs = []
    for k, (columns, rows) in enumerate(SIDE_BY_SIDE):
        layout, layout_truth = side_by_side(points, truth, up, columns, rows)
        if sampled:
            layout, layout_truth = sparser_copy(layout, layout_truth, 1 / (columns * rows), k)
        runs.append(run_scan(layout, layout_truth, up, k, values, min_gt_points, background))
    return runs


#: KITTI's colour camera (1242 x 375 pixels, focal length 721.5 pixels, principal point 609.6, 172.9 in its
#: calibration of 2011-09-26): half the width of its view in degrees (40.2 to the left, 41.2 to the right) and
#: the lowest elevation it sees (15.7 degrees down; its top, 13.5 up, lies above a HDL-64E's highest ring).
#: The camera sits 0.27 m ahead of the LiDAR; its view is taken from the LiDAR's place.
CAMERA_HALF_WIDTH, CAMERA_LOWEST = 40.7, -15.7
#: Headings (degrees about up, 0 along the first horizontal axis) at which ``--camera-views`` cuts a sweep.
CAMERA_HEADINGS = tuple(range(0, 360, 15))


def camera_view_masks(xyz: np.ndarray, up_axis: str) -> list[np.ndarray]:
    """The points of a sweep (``xyz`` in its sensor's frame, ``up_axis`` its gravity axis) that KITTI's colour
    camera sees (:data:`CAMERA_HALF_WIDTH`, :data:`CAMERA_LOWEST`) turned to each of :data:`CAMERA_HEADINGS`:
    the heading measured from the first horizontal axis (x for z up, as KITTI's forward) towards the second."""
    vertical = UP_AXES.index(up_axis)
    first, second = (vertical + 1) % 3, (vertical + 2) % 3
    azimuth = np.degrees(np.arctan2(xyz[:, second], xyz[:, first]))
    low_enough = np.degrees(sensor_angles(xyz, np.eye(3)[vertical])[:, 1]) >= CAMERA_LOWEST
    return [
        (np.abs((azimuth - heading + 180) % 360 - 180) <= CAMERA_HALF_WIDTH) & low_enough
        for heading in CAMERA_HEADINGS
    ]


def run_camera_views(points, truth, up, values: dict, min_gt_points: int, background: dict | None = None) -> list[dict]:
    """:func:`run_scan` on each of :func:`camera_view_masks`'s views of a sweep (view k with seed k); none for a
    scan without ``up``."""
    return [] if up is None else _run_parts(points, truth, up, camera_view_masks(points[:, :3], up), values,
                                            min_gt_points, background)


def _run_parts(points, truth, up, parts: list[np.ndarray], values: dict, min_gt_points: int,
               background: dict | None) -> list[dict]:  # fmt: skip
    """:func:`run_scan` on the points of each of ``parts`` (masks), part k with seed k: an object counts in a
    part where ``min_gt_points`` of its points lie in it."""
    return [
        run_scan(points[part], truth[part], up, k, values, min_gt_points, background) for k, part in enumerate(parts)
    ]


def run_turned(
    points, truth, up, values: dict, min_gt_points: int, background: dict | None = None, name: str = "scan",
    farther: int = 1, nearer: int = 1,
) -> list[dict]:
    """:func:`run_scan` on each of :func:`~benchmarks.turned_objects.turned_copies` of a sweep (copy k with seed k),
    each row with ``turned``: the object's id, the turn in degrees and the object's best IoU (``None`` where the
    sensor sees fewer than ``min_gt_points`` of its points there, so it is not counted); none without ``up``.
    With ``farther`` K > 1 each object is moved out to K times its range first, with a copy for each of the K^2
    choices of its rows and columns there (``sampling``); with ``nearer`` K > 1 it is pulled in to a K-th of its
    range first, sampled there by the sensor's rays. Moved either way, its own bearing (turn 0) is tried as well.
    Copies that cannot be made (a scan the construction cannot take) end the list, and ``name`` (the scan's) is
    given on stderr with the error: the run goes on."""
    if up is None:
        return []
    turns = TURNS if farther == nearer == 1 else (0, *TURNS)
    copies = turned_copies(points, truth, up, turns, min_points=min_gt_points, farther=farther, nearer=nearer)
    return _run_moved(copies, "turned", ("turn", "sampling"), up, values, min_gt_points, background, name)


def _moved_along_bearing(way: str, factor: int) -> str:
    """How ``--farther`` or ``--nearer`` (``way``) moved an object by ``factor``, in the report's words."""
    return f"moved out to {factor} times their range" if way == "farther" else f"pulled in to 1/{factor} of their range"


def run_beside(
    points, truth, up, values: dict, min_gt_points: int, background: dict | None = None, name: str = "scan",
) -> list[dict]:
    """:func:`run_scan` on each of :func:`~benchmarks.turned_objects.beside_copies` of a sweep (copy k with seed k),
    each row with ``beside``: the object's id, the turn in degrees, the object it stands beside, the gap between
    them (m) and the object's best IoU, as :func:`run_turned`'s; none without ``up``."""
    if up is None:
        return []
    copies = beside_copies(points, truth, up, min_points=min_gt_points)
    return _run_moved(copies, "beside", ("turn", "beside", "gap"), up, values, min_gt_points, background, name)


def run_bicycles(
    points, truth, up, values: dict, min_gt_points: int, background: dict | None = None, name: str = "scan",
    places: int = 0,
) -> list[dict]:
    """:func:`run_scan` on each of :func:`~benchmarks.bicycles.bicycle_copies` of a sweep (copy k with seed k; the
    bicycle at ``places`` free places, its id :func:`copy_stride`'s), each row with ``bicycle``: the bicycle's id,
    its range across up (m), its heading (degrees) and its best IoU, as :func:`run_turned`'s; none without ``up``."""
    if up is None or places == 0:
        return []
    copies = bicycle_copies(points, truth, up, places, object_id=copy_stride(truth), min_points=min_gt_points)
    return _run_moved(copies, "bicycle", ("range", "heading"), up, values, min_gt_points, background, name)


def run_pushed(
    points, truth, support, values: dict, min_gt_points: int, background: dict | None = None, name: str = "scan",
) -> list[dict]:
    """:func:`run_scan` on each of :func:`~benchmarks.pushed_objects.pushed_copies` of a table-top frame (copy k
    with seed k; ``support``: the table's normal the segmentation found), each row with ``pushed``: the object's
    id, the object it touches (``towards``), how far it was pushed (m) and its best IoU, as :func:`run_turned`'s;
    none without a support."""
    if support is None:
        return []
    copies = pushed_copies(points, truth, np.asarray(support))
    return _run_moved(copies, "pushed", ("towards", "distance"), None, values, min_gt_points, background, name)


def _run_moved(copies, key: str, fields: tuple[str, ...], up, values: dict, min_gt_points: int,
               background: dict | None, name: str) -> list[dict]:  # fmt: skip
    """:func:`run_scan` on each copy (with ``up``) of an object moved in a scan, copy k with seed k; each row with
    ``key``: the moved object's id, the copy's ``fields`` and the object's best IoU (``None`` where fewer than
    ``min_gt_points`` of its points are seen, so it is not counted). Copies that cannot be made end the list, and
    ``name`` (the scan's) is given on stderr with the error."""
    rows = []
    try:
        for k, copy in enumerate(copies):
            row = run_scan(copy.points, copy.truth, up, k, values, min_gt_points, background)
            objects, sizes = np.unique(copy.truth[copy.truth >= 0], return_counts=True)
            counted = objects[sizes >= min_gt_points]
            held = copy.object_id in counted
            iou = row["object_iou"][int(np.searchsorted(counted, copy.object_id))] if held else None
            moved = {"object": copy.object_id, **{field: getattr(copy, field) for field in fields}, "iou": iou}
            rows.append({**row, key: moved})
    except Exception as exc:  # noqa: BLE001 - named on stderr; the other scans and copies still count
        print(f"{name}: {key} copies after the first {len(rows)} could not be made: {_error_text(exc)}",
              file=sys.stderr)
    return rows


def choose_on(results: list[dict], scans: list[str]) -> int:
    """The index of the candidate that finds the most objects at IoU >= 0.5 over all seeds of ``scans``,
    then the fewest false segments, then the earliest (the defaults come first)."""

    def merit(index: int) -> tuple:
        rows = [row for scan in scans for row in results[index][scan]]
        return (sum(r["found_050"] for r in rows), -sum(r["false"] for r in rows), -index)

    return max(range(len(results)), key=merit)


def choose_left_out(results: list[dict], scans: list[str], kinds: dict, candidates: list[dict]) -> dict:
    """For each scan, :func:`choose_on` the other scans of its kind, or all other scans when none
    shares its kind."""
    chosen = {}
    for scan in scans:
        others = [o for o in scans if o != scan and kinds[o] == kinds[scan]] or [o for o in scans if o != scan]
        chosen[scan] = choose_on(results, others) if others else 0
    return chosen


def summarise(rows_by_scan: dict, scans: list[str], seeds: list[int]) -> dict:
    """Found, false, objects (means over seeds with their range), what the false segments lie on, quartiles
    of the objects' best IoU and AP50 (mean over seeds) of the scans ``scans``."""
    per_seed = []
    for k in range(len(seeds)):
        rows = [rows_by_scan[scan][k] for scan in scans]
        per_seed.append({
            "found_050": sum(r["found_050"] for r in rows), "false": sum(r["false"] for r in rows),
            "segments": sum(r["segments"] for r in rows), "objects": sum(r["objects"] for r in rows),
            "ap50": average_precision([p for r in rows for p in r["segment_points"]],
                                      [m for r in rows for m in r["segment_match"]],
                                      sum(r["objects"] for r in rows)),
        })  # fmt: skip
    ious = [v for scan in scans for row in rows_by_scan[scan] for v in row["object_iou"]]
    found = [s["found_050"] for s in per_seed]
    false_on: dict[str, float] = {}
    missed: dict[str, float] = {}
    for scan in scans:
        for row in rows_by_scan[scan][: len(seeds)]:
            for name, count in row.get("false_on", {}).items():
                false_on[name] = false_on.get(name, 0.0) + count / len(seeds)
            for how, count in row.get("missed", {}).items():
                missed[how] = missed.get(how, 0.0) + count / len(seeds)
    return {
        "objects": per_seed[0]["objects"], "found_050": float(np.mean(found)), "found_range": [min(found), max(found)],
        "false": float(np.mean([s["false"] for s in per_seed])), "segments": float(np.mean([s["segments"] for s in per_seed])),
        "ap50": float(np.mean([s["ap50"] for s in per_seed])),
        "false_on": dict(sorted(false_on.items(), key=lambda item: -item[1])),
        "missed": missed,
        "iou_quartiles": [round(float(q), 3) for q in np.quantile(ious, [0.25, 0.5, 0.75])] if ious else [],
        "near_threshold": near_threshold(ious),
    }  # fmt: skip


def near_threshold(ious: list[float]) -> dict[str, float]:
    """Shares of the objects ``ious`` (each one's best IoU) that lie within :data:`NEAR_THRESHOLD` of 0.5:
    ``above`` (found, at less than 0.5 plus it) and ``below`` (missed, at 0.5 less it or more); 0 without objects."""
    values = np.asarray(ious, dtype=float)
    if len(values) == 0:
        return {"above": 0.0, "below": 0.0}
    return {"above": float(((values >= 0.5) & (values < 0.5 + NEAR_THRESHOLD)).mean()),
            "below": float(((values < 0.5) & (values >= 0.5 - NEAR_THRESHOLD)).mean())}  # fmt: skip


def per_class(rows_by_scan: dict, scans: list[str], names: dict, seeds: list[int]) -> dict:
    """Per class name: objects counted and found at IoU >= 0.5 (mean over seeds; ``names`` as
    :func:`copies_per_class` takes them)."""
    summed = copies_per_class(rows_by_scan, scans, names)
    return {name: {k: round(v / len(seeds), 2) for k, v in entry.items()} for name, entry in summed.items()}


def copies_per_class(by_scan: dict, scans: list[str], names: dict) -> dict:
    """Per class name: objects counted and found at IoU >= 0.5 over every copy, view or part of ``scans``
    (``by_scan``: each scan's rows, with :func:`segment_matches`'s ``object_ids``). ``names[scan]`` is
    ``(class of each object id, the scan's largest object id + 1)``: laid side by side, copy k numbers its
    objects from k times that (:func:`side_by_side`), so ids are read modulo it; other copies keep the ids."""
    table: dict = {}
    for scan in scans:
        classes, stride = names[scan]
        for row in by_scan[scan]:
            for object_id, iou in zip(row["object_ids"], row["object_iou"]):
                entry = table.setdefault(classes.get(object_id % stride, "object"), {"objects": 0, "found_050": 0})
                entry["objects"] += 1
                entry["found_050"] += int(iou >= 0.5)
    return dict(sorted(table.items()))


#: The pairs printed per line of :func:`merges_per_pair`'s, most often first; the JSON holds them all.
MERGES_PRINTED = 8


def merges_per_pair(by_scan: dict, scans: list[str], names: dict, background: dict) -> dict[str, int]:
    """How often an object of one class merged with an object of another class or with a background class,
    over every row of ``scans`` (``by_scan``: each scan's rows, with :func:`merged_with`'s ``merged_with``), most
    often first: ``"pillow + bed"``. ``names`` as :func:`copies_per_class` takes them; ``background[scan]`` the
    names of the scan's background codes (:func:`coded_truth`), ``"background"`` for a code it does not name."""
    pairs: Counter = Counter()
    for scan in scans:
        classes, stride = names[scan]
        for row in by_scan[scan]:
            for object_id, partner in row.get("merged_with", []):
                other = (classes.get(partner % stride, "object") if partner >= 0
                         else background[scan].get(partner, "background"))  # fmt: skip
                pairs[f"{classes.get(object_id % stride, 'object')} + {other}"] += 1
    return dict(sorted(pairs.items(), key=lambda item: (-item[1], item[0])))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of scans with load_gt.py")
    parser.add_argument("--out", type=Path, default=Path("results/scenes.json"), help="JSON output")
    parser.add_argument("--min-gt-points", type=int, default=25, help="smallest ground-truth object counted")
    parser.add_argument("--only", nargs="*", help="scan names to run (default all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds (default 0-4)")
    parser.add_argument("--no-loso", action="store_true", help="only the defaults, no leave-one-scan-out")
    parser.add_argument("--perturb", type=int, default=0, metavar="N",
                        help="also segment N perturbed copies of each scan with the defaults (default 0: none)")
    parser.add_argument("--denser", type=int, nargs="*", default=[], metavar="F",
                        help="also segment a copy of each scan with F times its points (e.g. 2 4), with the defaults")
    parser.add_argument("--finer", type=float, nargs="*", default=[], metavar="F",
                        help="also segment copies of each room with about F times its points spread evenly over its "
                             "surfaces (e.g. 1 2 3), one per seed, with the defaults")
    parser.add_argument("--sparser", type=float, nargs="*", default=[], metavar="S",
                        help="also segment copies of each scan keeping each point with probability S (e.g. 0.7 0.5), "
                             "one per seed, with the defaults")
    parser.add_argument("--voxel-scales", type=float, nargs="*", default=[], metavar="F",
                        help="also segment each scan with F times the voxel size its in-sample run chose (e.g. 0.9 1.1), "
                             "a run per seed, the other settings chosen")
    parser.add_argument("--grid-places", type=int, default=0, metavar="N",
                        help="also segment each scan with its voxel grid laid at N other places (a random fraction "
                             "of a voxel on each axis), a run per seed, with the defaults (default 0: none)")
    parser.add_argument("--headings", type=int, default=0, metavar="N",
                        help="also segment each scan with an up axis turned about it to N other headings (random "
                             "angles), a run per seed, with the defaults (default 0: none)")
    parser.add_argument("--orders", type=int, default=0, metavar="N",
                        help="also segment each scan with its points stored in N other orders (random "
                             "permutations), a run per seed, with the defaults (default 0: none)")
    parser.add_argument("--frames", type=int, default=0, metavar="N",
                        help="also segment N (1-4) virtual depth-camera frames of each room with the defaults (default 0: none)")
    parser.add_argument("--frame-points", type=int, default=None, metavar="N",
                        help="with --frames or --object-frames, also segment each of those frames sampled down at "
                             "random to N points (e.g. 50000, as VoteNet's SUN RGB-D clouds)")
    parser.add_argument("--frame-scales", type=float, nargs="*", default=[], metavar="F",
                        help="with --frames, also segment the frames of a camera with F times the pixels across and "
                             "the same field of view (e.g. 1.45, as SUN RGB-D's Kinect v2 frames registered to "
                             "colour); with --frame-points, also each of those sampled down (as VoteNet stores "
                             "SUN RGB-D)")
    parser.add_argument("--frames-upright", action="store_true",
                        help="with --frames, segment every virtual frame turned upright about its camera and given "
                             "the room's up axis, as SUN RGB-D and VoteNet store Kinect v2 frames (default: in the "
                             "camera's coordinates, without an axis)")
    parser.add_argument("--crops", action="store_true",
                        help="also segment the halves and quarters of each room with the defaults")
    parser.add_argument("--object-frames", action="store_true",
                        help="also segment frames taken of each room's furniture (beds, sofas, tables), upright and "
                             "given the up axis, with the defaults")
    parser.add_argument("--side-by-side", action="store_true",
                        help="also segment two and four copies of each room side by side, as one scan, with the "
                             "defaults, and each layout sampled back to the room's own point count")
    parser.add_argument("--surroundings", action="store_true",
                        help="also segment each table-top frame with the floor, a wall and the table's far end put "
                             "into its empty pixels, a copy per seed")
    parser.add_argument("--stepped-back", nargs="*", type=float, default=[], metavar="K",
                        help="also segment each table-top frame seen by its camera stepped back along its line of "
                             "sight to K times its distance, with the floor, a wall and the table's far end in view, "
                             "a copy per seed")
    parser.add_argument("--pushed", action="store_true",
                        help="also segment each table-top frame with each of its free-standing objects pushed across "
                             "the table until it touches another")
    parser.add_argument("--turned", action="store_true",
                        help=f"also segment each LiDAR sweep with each object counted (--min-gt-points) turned about "
                             f"the sensor to {len(TURNS)} other azimuths where it can stand")
    parser.add_argument("--beside", action="store_true",
                        help=f"also segment each LiDAR sweep with each object counted turned about the sensor to "
                             f"every degree where it stands within {BESIDE:g} m of another counted object")
    parser.add_argument("--bicycles", type=int, default=0, metavar="N",
                        help=f"also segment each LiDAR sweep with a model bicycle put at N free places of its ground, "
                             f"turned to each of {', '.join(map(str, BICYCLE_HEADINGS))} degrees from side on, and seen "
                             f"by the sweep's own beams (default 0: none)")
    parser.add_argument("--farther", nargs="*", type=int, default=[], metavar="K",
                        help="also segment each LiDAR sweep with each object of K^2 times --min-gt-points points or "
                             "more moved out along its bearing to K times its range (every K-th of its rows and of its "
                             "points along them kept) and turned about the sensor to every tenth degree where it can "
                             "stand (e.g. 2 3)")
    parser.add_argument("--nearer", nargs="*", type=int, default=[], metavar="K",
                        help="also segment each LiDAR sweep with each counted object pulled in along its bearing to a "
                             "K-th of its range (sampled by the sensor's rays cast on the surface its returns span) and "
                             "turned about the sensor to every tenth degree where it can stand (e.g. 2)")
    parser.add_argument("--camera-views", action="store_true",
                        help=f"also segment each LiDAR sweep cut to what KITTI's colour camera sees, at "
                             f"{len(CAMERA_HEADINGS)} headings")
    # extend, not store: a second --set adds its constants instead of silently replacing the first one's.
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="MODULE.NAME=VALUE",
                        help="run with constants of openshape_ood.segmentation set to other values, e.g. "
                             "convexity._VALLEY_SHARE=0.1, several after one --set or each after its own "
                             "(recorded in the JSON under 'constants')")
    parser.add_argument("--orbit", action="store_true",
                        help=f"also segment each table-top frame seen from {len(ORBITS)} places round it, with the defaults")
    args = parser.parse_args(argv)
    if args.perturb < 0:
        parser.error(f"--perturb must be 0 or more copies, not {args.perturb}")
    if any(factor < 2 for factor in args.denser):
        parser.error(f"--denser takes factors of 2 or more, not {args.denser}")
    if any(not factor > 0 for factor in args.finer):
        parser.error(f"--finer takes factors of the points above 0, not {args.finer}")
    if any(not factor > 1 for factor in args.stepped_back):
        parser.error(f"--stepped-back takes factors of the camera's distance above 1, not {args.stepped_back}")
    for way in ("farther", "nearer"):
        if any(factor < 2 for factor in getattr(args, way)):
            parser.error(f"--{way} takes whole factors of the range of 2 or more, not {getattr(args, way)}")
    if any(not 0 < share < 1 for share in args.sparser):
        parser.error(f"--sparser takes shares of the points between 0 and 1, not {args.sparser}")
    if any(not scale > 0 for scale in args.voxel_scales):
        parser.error(f"--voxel-scales takes factors above 0, not {args.voxel_scales}")
    if args.bicycles < 0:
        parser.error(f"--bicycles must be 0 or more places, not {args.bicycles}")
    if args.grid_places < 0:
        parser.error(f"--grid-places must be 0 or more places, not {args.grid_places}")
    if args.headings < 0:
        parser.error(f"--headings must be 0 or more headings, not {args.headings}")
    if args.orders < 0:
        parser.error(f"--orders must be 0 or more orders, not {args.orders}")
    if not 0 <= args.frames <= 4:
        parser.error(f"--frames takes 0 to 4 views per room (one per corner), not {args.frames}")
    if args.frame_points is not None and (args.frame_points < 1 or not (args.frames or args.object_frames)):
        parser.error(
            f"--frame-points takes a number of points of 1 or more, with --frames or --object-frames; got "
            f"{args.frame_points}"
        )
    if args.frame_scales and (not args.frames or any(not scale > 0 for scale in args.frame_scales)):
        parser.error(f"--frame-scales takes factors above 0, with --frames; got {args.frame_scales}")
    if args.frames_upright and not args.frames:
        parser.error("--frames-upright turns the virtual frames of --frames upright: give --frames as well")

    try:
        constants = set_constants(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    reader = load_ground_truth_reader(args.data.resolve())
    scans = [name for name in reader.list_scenes() if not args.only or name in args.only]
    candidates = combinations()[:1] if args.no_loso else combinations()
    kinds, object_names, background_names, results, perturbed = {}, {}, {}, [{} for _ in candidates], {}
    denser = {factor: {} for factor in args.denser}
    finer = {factor: {} for factor in args.finer}
    # Objects moved along their bearing, by way ("farther", "nearer") and factor.
    ranged = {(way, factor): {} for way in ("farther", "nearer") for factor in getattr(args, way)}
    stepped_back = {factor: {} for factor in args.stepped_back}
    sparser = {share: {} for share in args.sparser}
    scaled = {scale: {} for scale in args.voxel_scales}
    places = {f"{place + 1}": (phase, {}) for place, phase in enumerate(grid_places(args.grid_places))}
    turns = {f"{k + 1}": (float(angle), {}) for k, angle in enumerate(headings(args.headings))}
    orders = {f"{k}": {} for k in range(1, args.orders + 1)}
    frames, sampled_frames, crops, orbits, surroundings, pushed, turned, besides = {}, {}, {}, {}, {}, {}, {}, {}
    bicycles: dict = {}
    camera_views, side_by_sides, sampled_side_by_sides, object_frames, sampled_object_frames = {}, {}, {}, {}, {}
    scaled_frames = {scale: {} for scale in args.frame_scales}
    sampled_scaled_frames = {scale: {} for scale in args.frame_scales}
    print(f"{'scan':<36} {'kind':<10} {'points':>8} {'IoU>=0.5':>9} {'IoU>=0.25':>9} {'false':>6} {'segments':>8} {'seconds':>8}"
          f"   (defaults {candidates[0]}, seed {args.seeds[0]}"
          f"{f', set {constants}' if constants else ''})")  # fmt: skip
    skipped = {}
    for name in scans:
        try:  # a scan the reader cannot give is left out, named, and the run goes on
            points, truth, names = reader.load(name)
            info = reader.info(name)
            points = in_metres(np.asarray(points), info)
        except Exception as exc:  # noqa: BLE001 - the reader is the data's, not ours
            skipped[name] = _error_text(exc)
            print(f"{name}: left out, {skipped[name]}", file=sys.stderr)
            continue
        up, kinds[name] = up_axis_of(info), kind_of(info)
        object_names[name] = ({int(o): str(c) for o, c in names.items()}, copy_stride(truth))
        if args.bicycles and kinds[name] == "LiDAR":  # the bicycle takes the next id; a sweep is never laid out
            object_names[name] = ({**object_names[name][0], copy_stride(truth): BICYCLE}, copy_stride(truth) + 1)
        truth, background = with_background_classes(reader, name, truth)
        background_names[name] = background
        for index, values in enumerate(candidates):
            results[index][name] = [
                run_scan(points, truth, up, seed, values, args.min_gt_points, background) for seed in args.seeds
            ]
        perturbed[name] = run_perturbed(points, truth, up, args.perturb, candidates[0], args.min_gt_points, background)
        for factor in args.denser:
            denser[factor][name] = [
                run_scan(*denser_copy(points, truth, factor), up, 0, candidates[0], args.min_gt_points, background)
            ]
        for factor in args.finer:
            finer[factor][name] = [
                run_scan(*finer_copy(points, truth, factor, seed), up, seed, candidates[0], args.min_gt_points,
                         background)
                for seed in args.seeds
            ] if kinds[name] == "room" else []  # fmt: skip
        for share in args.sparser:
            sparser[share][name] = [
                run_scan(*sparser_copy(points, truth, share, seed), up, seed, candidates[0], args.min_gt_points,
                         background)
                for seed in args.seeds
            ]
        for scale in args.voxel_scales:
            scaled[scale][name] = [
                run_scan(points, truth, up, seed, candidates[0], args.min_gt_points, background,
                         voxel_size=scaled_voxel(row, scale))
                for seed, row in zip(args.seeds, results[0][name])
            ]
        for place, (phase, by_scan) in places.items():
            with grid_at(phase):
                by_scan[name] = [run_scan(points, truth, up, seed, candidates[0], args.min_gt_points, background)
                                 for seed in args.seeds]  # fmt: skip
        for angle, by_scan in turns.values():
            by_scan[name] = []  # a scan without an up axis (a camera frame) is not turned
            if up is not None:
                turned_scan = turned_about_up(points, up, math.radians(angle))
                by_scan[name] = [run_scan(turned_scan, truth, up, seed, candidates[0], args.min_gt_points, background)
                                 for seed in args.seeds]  # fmt: skip
        for order, by_scan in orders.items():
            stored = stored_order(len(points), int(order))
            by_scan[name] = [run_scan(points[stored], truth[stored], up, seed, candidates[0], args.min_gt_points,
                                      background) for seed in args.seeds]  # fmt: skip
        views = args.frames if kinds[name] == "room" else 0
        upright = args.frames_upright
        frames[name] = run_frames(points, truth, up, views, candidates[0], background, upright=upright)
        sampled = views if args.frame_points is not None else 0
        sampled_frames[name] = run_frames(points, truth, up, sampled, candidates[0], background, args.frame_points,
                                          upright=upright)
        for scale in args.frame_scales:
            scaled_frames[scale][name] = run_frames(points, truth, up, views, candidates[0], background, scale=scale,
                                                    upright=upright)
            # SUN RGB-D as VoteNet stores it: Kinect v2 frames registered to colour, 50,000 points of each.
            sampled_scaled_frames[scale][name] = run_frames(points, truth, up, sampled, candidates[0], background,
                                                            args.frame_points, scale, upright)
        cropped = args.crops and kinds[name] == "room"
        crops[name] = run_crops(points, truth, up, candidates[0], args.min_gt_points, background) if cropped else []
        of_furniture = args.object_frames and kinds[name] == "room"
        object_frames[name] = run_object_frames(points, truth, up, candidates[0], background) if of_furniture else []
        sampled_object_frames[name] = (
            run_object_frames(points, truth, up, candidates[0], background, args.frame_points)
            if of_furniture and args.frame_points is not None else []
        )  # fmt: skip
        laid_out = args.side_by_side and kinds[name] == "room"
        side_by_sides[name], sampled_side_by_sides[name] = (
            [run_side_by_side(points, truth, up, candidates[0], args.min_gt_points, background, sampled)
             for sampled in (False, True)] if laid_out else ([], [])
        )  # fmt: skip
        row = results[0][name][0]
        # A table-top camera's frame is turned about, and surrounded round, the support its segmentation found
        # (none where the segmentation raised, or found no support).
        camera_frame = kinds[name] == "table-top" and up is None
        support = (row["settings"] or {}).get("up") if camera_frame else None
        orbits[name] = (run_orbits(points, truth, support, candidates[0], args.min_gt_points, background)
                        if args.orbit else [])
        surroundings[name] = [
            run_scan(*with_surroundings(points, truth, np.asarray(support), seed), None, seed, candidates[0],
                     args.min_gt_points, background)
            for seed in args.seeds
        ] if args.surroundings and support is not None else []  # fmt: skip
        for factor in args.stepped_back:
            stepped_back[factor][name] = [
                run_scan(*stepped_back_frame(points, truth, support, factor, seed), None, seed, candidates[0],
                         args.min_gt_points, background)
                for seed in args.seeds
            ] if support is not None else []  # fmt: skip
        pushed[name] = (run_pushed(points, truth, support, candidates[0], args.min_gt_points, background, name)
                        if args.pushed else [])
        swept = args.turned and kinds[name] == "LiDAR"
        turned[name] = (run_turned(points, truth, up, candidates[0], args.min_gt_points, background, name)
                        if swept else [])
        besides[name] = (run_beside(points, truth, up, candidates[0], args.min_gt_points, background, name)
                         if args.beside and kinds[name] == "LiDAR" else [])
        bicycles[name] = (run_bicycles(points, truth, up, candidates[0], args.min_gt_points, background, name,
                                       args.bicycles) if kinds[name] == "LiDAR" else [])
        viewed = args.camera_views and kinds[name] == "LiDAR"
        camera_views[name] = (run_camera_views(points, truth, up, candidates[0], args.min_gt_points, background)
                              if viewed else [])
        for (way, factor), by_scan in ranged.items():
            by_scan[name] = (run_turned(points, truth, up, candidates[0], args.min_gt_points, background, name,
                                        **{way: factor}) if kinds[name] == "LiDAR" else [])
        print(f"{name:<36} {kinds[name]:<10} {len(points):>8} {row['found_050']:>4}/{row['objects']:<4} {row['found_025']:>4}/"
              f"{row['objects']:<4} {row['false']:>6} {row['segments']:>8} {row['seconds']:>8.2f}"
              + (f"   perturbed found {' '.join(str(r['found_050']) for r in perturbed[name])}" if perturbed[name] else "")
              + "".join(f"   x{factor} found {denser[factor][name][0]['found_050']}" for factor in args.denser)
              + "".join(f"   finer x{factor:g} found {finer[factor][name][0]['found_050']}"
                        for factor in args.finer if finer[factor][name])
              + "".join(f"   x{share} found {sparser[share][name][0]['found_050']}" for share in args.sparser)
              + "".join(f"   voxel x{scale} found {scaled[scale][name][0]['found_050']}" for scale in args.voxel_scales)
              + "".join(f"   grid place {place} found {by_scan[name][0]['found_050']}"
                        for place, (_, by_scan) in places.items())
              + "".join(f"   heading {k} found {by_scan[name][0]['found_050']}"
                        for k, (_, by_scan) in turns.items() if by_scan[name])
              + "".join(f"   order {k} found {by_scan[name][0]['found_050']}" for k, by_scan in orders.items())
              + (f"   frames found {' '.join(str(r['found_050']) for r in frames[name])}" if frames[name] else "")
              + (f"   sampled frames found {' '.join(str(r['found_050']) for r in sampled_frames[name])}"
                 if sampled_frames[name] else "")
              + "".join(f"   frames x{scale:g} found {' '.join(str(r['found_050']) for r in by_scan[name])}"
                        for scale, by_scan in scaled_frames.items() if by_scan[name])
              + (f"   crops found {' '.join(str(r['found_050']) for r in crops[name])}" if crops[name] else "")
              + (f"   side by side found {' '.join(str(r['found_050']) for r in side_by_sides[name])}"
                 if side_by_sides[name] else "")
              + (f"   sampled side by side found {' '.join(str(r['found_050']) for r in sampled_side_by_sides[name])}"
                 if sampled_side_by_sides[name] else "")
              + (f"   frames of furniture found {sum(r['found_050'] for r in object_frames[name])} of "
                 f"{sum(r['objects'] for r in object_frames[name])}" if object_frames[name] else "")
              + (f"   sampled frames of furniture found {sum(r['found_050'] for r in sampled_object_frames[name])} of "
                 f"{sum(r['objects'] for r in sampled_object_frames[name])}" if sampled_object_frames[name] else "")
              + (f"   orbit found {' '.join(str(r['found_050']) for r in orbits[name])}" if orbits[name] else "")
              + (f"   surroundings found {surroundings[name][0]['found_050']}" if surroundings[name] else "")
              + "".join(f"   stepped back x{factor:g} found {stepped_back[factor][name][0]['found_050']}"
                        for factor in args.stepped_back if stepped_back[factor][name])
              + (f"   pushed objects found {_moved_found(pushed, name, 'pushed', object_names)}" if pushed[name] else "")
              + (f"   turned objects found {_moved_found(turned, name, 'turned', object_names)}" if turned[name] else "")
              + (f"   objects beside another found {_moved_found(besides, name, 'beside', object_names)}" if besides[name] else "")
              + (f"   bicycles found {_moved_found(bicycles, name, 'bicycle', object_names)}" if bicycles[name] else "")
              + (f"   camera views found {sum(r['found_050'] for r in camera_views[name])} of "
                 f"{sum(r['objects'] for r in camera_views[name])}" if camera_views[name] else "")
              + "".join(f"   x{factor} {way} found {_moved_found(by_scan, name, 'turned', object_names)}"
                        for (way, factor), by_scan in ranged.items() if by_scan[name]),
              flush=True)  # fmt: skip
        runs = [row for by_scan in (*results, perturbed, frames, sampled_frames, crops, orbits, surroundings, pushed,
                                    turned, besides, bicycles, camera_views, side_by_sides, sampled_side_by_sides,
                                    object_frames, sampled_object_frames, *denser.values(), *ranged.values(),
                                    *stepped_back.values(), *finer.values(), *sparser.values(), *scaled.values(),
                                    *scaled_frames.values(), *(by_scan for _, by_scan in places.values()))
                for row in by_scan[name]]  # fmt: skip
        for error, count in Counter(row["error"] for row in runs if "error" in row).items():
            print(f"{name}: the segmentation raised in {count} of {len(runs)} runs, which find nothing: {error}",
                  file=sys.stderr)
    scans = [name for name in scans if name not in skipped]
    if not scans:
        raise SystemExit(f"no scan of {args.data} could be read: {skipped}")
    chosen = choose_left_out(results, scans, kinds, candidates)
    left_out = {scan: results[chosen[scan]][scan] for scan in scans}
    report = {"data": str(args.data), "seeds": args.seeds, "constants": constants, "candidates": candidates,
              "kinds": {}, "scans": [],
              "perturbation": {"copies": args.perturb, "keep": PERTURB_KEEP, "noise_share_of_spacing": PERTURB_NOISE_SHARE},
              "denser": args.denser, "finer": args.finer, "sparser": args.sparser, "voxel_scales": args.voxel_scales,
              "grid_places": [phase.tolist() for phase, _ in places.values()],
              "headings": [angle for angle, _ in turns.values()], "orders": args.orders,
              "frames": args.frames, "frame_points": args.frame_points, "frame_scales": args.frame_scales,
              "frames_upright": args.frames_upright, "crops": args.crops,
              "side_by_side": [list(layout) for layout in SIDE_BY_SIDE] if args.side_by_side else [],
              "object_frames": args.object_frames,
              "orbit": list(ORBITS) if args.orbit else [], "surroundings": args.surroundings,
              "stepped_back": args.stepped_back, "pushed": args.pushed,
              "turned": list(TURNS) if args.turned else [], "beside": BESIDE if args.beside else None,
              "bicycle": {"places": args.bicycles, "headings": list(BICYCLE_HEADINGS)} if args.bicycles else None,
              "farther": args.farther, "nearer": args.nearer,
              "camera_views": list(CAMERA_HEADINGS) if args.camera_views else [],
              "left_out_unread": skipped}
    print(f"\nper kind, seeds {args.seeds}: objects found at IoU >= 0.5 (mean over seeds, min-max), false segments, AP50")
    for kind in dict.fromkeys(kinds.values()):
        members = [scan for scan in scans if kinds[scan] == kind]
        inside, outside = summarise(results[0], members, args.seeds), summarise(left_out, members, args.seeds)
        merged_pairs = merges_per_pair(results[0], members, object_names, background_names)
        report["kinds"][kind] = {"in_sample": inside, "leave_one_scan_out": outside,
                                 "per_class": per_class(results[0], members, object_names, args.seeds),
                                 "merged_with": {pair: round(count / len(args.seeds), 2)
                                                 for pair, count in merged_pairs.items()}}  # fmt: skip
        line = f"{kind:<10} in-sample {_figure(inside)}"
        if not args.no_loso:
            line += f" | leave-one-scan-out {_figure(outside)}"
            if abs(inside["found_050"] - outside["found_050"]) > 0.1 * max(1, inside["objects"]):
                line += "  (differ by more than 10 points)"
        print(line)
        # Each kind of copy: its key in the JSON, its rows by scan, the scans and seeds summed, its line.
        copies = [("perturbed", perturbed, members, list(range(args.perturb)),
                   f"perturbed, mean over {args.perturb} copies")] if args.perturb else []
        copies += [(f"denser_x{factor}", denser[factor], members, [0], f"{factor} times the points (seed 0)")
                   for factor in args.denser]
        copies += [(f"finer_x{factor:g}", finer[factor], members, args.seeds,
                    f"about {factor:g} times the points spread evenly (a copy per seed)")
                   for factor in args.finer if all(finer[factor][scan] for scan in members)]
        copies += [(f"sparser_{share:g}", sparser[share], members, args.seeds, f"{share:g} of the points (a copy per seed)")
                   for share in args.sparser]
        copies += [(f"voxels_x{scale:g}", scaled[scale], members, args.seeds,
                    f"{scale:g} times the chosen voxel (a run per seed)") for scale in args.voxel_scales]
        copies += [(f"grid_place_{place}", by_scan, members, args.seeds,
                    f"voxel grid at place {place}, {np.array2string(phase, precision=2)} of a voxel (a run per seed)")
                   for place, (phase, by_scan) in places.items()]
        copies += [(f"heading_{k}", by_scan, members, args.seeds,
                    f"turned {angle:.1f} degrees about the up axis, heading {k} (a run per seed)")
                   for k, (angle, by_scan) in turns.items() if all(by_scan[scan] for scan in members)]
        copies += [(f"order_{k}", by_scan, members, args.seeds, f"points stored in order {k} (a run per seed)")
                   for k, by_scan in orders.items()]
        surrounded = [scan for scan in members if surroundings[scan]]
        if surrounded:
            copies.append(("surroundings", surroundings, surrounded, args.seeds,
                           "with the floor, a wall and the table's far end in view (a copy per seed)"))
        for factor in args.stepped_back:
            backed = [scan for scan in members if stepped_back[factor][scan]]
            if backed:
                copies.append((f"stepped_back_x{factor:g}", stepped_back[factor], backed, args.seeds,
                               f"seen from {factor:g} times as far, with the floor, a wall and the table's far end in "
                               "view (a copy per seed)"))
        # Every frame, part or view of every scan of the kind, counted together, and per class.
        classes_of_copies, merges_of_copies = {}, {}
        orientation = " (upright, given the up axis)" if args.frames_upright else ""
        pieces = [("frames", frames, "view", f"virtual frames{orientation}, {args.frames} views of each, all together"),
                  (f"frames_{args.frame_points}", sampled_frames, "view",
                   f"the virtual frames{orientation} sampled down to {args.frame_points} points"),
                  *((f"frames_x{scale:g}", scaled_frames[scale], "view",
                     f"the virtual frames{orientation} at {scale:g} times the pixels across")
                    for scale in args.frame_scales),
                  *((f"frames_x{scale:g}_{args.frame_points}", sampled_scaled_frames[scale], "view",
                     f"the virtual frames{orientation} at {scale:g} times the pixels across sampled down to "
                     f"{args.frame_points} points")
                    for scale in args.frame_scales if args.frame_points is not None),
                  ("crops", crops, "part", f"halves and quarters, {len(CROPS)} of each, all together"),
                  ("object_frames", object_frames, "view",
                   "frames taken of each piece of furniture (upright, given the up axis), all together"),
                  (f"object_frames_{args.frame_points}", sampled_object_frames, "view",
                   f"the frames of furniture sampled down to {args.frame_points} points"),
                  ("side_by_side", side_by_sides, "layout",
                   " and ".join(f"{columns} x {rows}" for columns, rows in SIDE_BY_SIDE)
                   + " copies of each side by side, all together"),
                  ("side_by_side_sampled", sampled_side_by_sides, "layout",
                   "the same sampled to each room's own point count (a larger room in as many points)"),
                  ("orbit", orbits, "view", f"seen from {len(ORBITS)} places round each, all together"),
                  ("pushed", pushed, "copy", "objects pushed against another, every object of every copy"),
                  ("turned", turned, "copy", "objects turned about the sensor, every object of every copy"),
                  ("beside", besides, "copy", "objects set beside another, every object of every copy"),
                  ("bicycle", bicycles, "copy", "a bicycle put at free places, every object of every copy"),
                  *((f"{way}_x{factor}", by_scan, "copy", f"objects {_moved_along_bearing(way, factor)}, every object "
                     "of every copy") for (way, factor), by_scan in ranged.items()),
                  ("camera_views", camera_views, "view",
                   f"cut to KITTI's camera's view at {len(CAMERA_HEADINGS)} headings, all together")]
        for key, by_scan, piece, label in pieces:
            rows = {f"{scan} {piece} {k}": [row] for scan in members for k, row in enumerate(by_scan[scan])}
            if rows:
                copies.append((key, rows, list(rows), [0], label))
                classes_of_copies[key] = copies_per_class(by_scan, members, object_names)
                merges_of_copies[key] = merges_per_pair(by_scan, members, object_names, background_names)
        for key, rows, summed, seeds, label in copies:
            report["kinds"][kind][key] = summarise(rows, summed, seeds)
            if key in classes_of_copies:
                report["kinds"][kind][key]["per_class"] = classes_of_copies[key]
                report["kinds"][kind][key]["merged_with"] = merges_of_copies[key]
            print(f"{'':<10} {label}: {_figure(report['kinds'][kind][key])}")
        for key, by_scan, moved, label in [
            ("pushed_objects", pushed, "pushed", "the pushed objects themselves"),
            ("turned_objects", turned, "turned", "the turned objects themselves"),
            ("beside_objects", besides, "beside", "the objects set beside another themselves"),
            ("bicycle_objects", bicycles, "bicycle", "the bicycles themselves"),
            *((f"{way}_x{factor}_objects", by_scan, "turned",
               f"the objects {_moved_along_bearing(way, factor)} themselves") for (way, factor), by_scan in ranged.items()),
        ]:
            if any(by_scan[scan] for scan in members):
                counts = report["kinds"][kind][key] = _moved_objects(by_scan, members, moved, object_names)
                classes = ", ".join(f"{name} {e['found_050']} of {e['objects']}" for name, e in counts["per_class"].items())
                print(f"{'':<10} {label}: found {counts['found_050']} of {counts['objects']} at IoU >= 0.5"
                      + (f" ({classes})" if classes else ""))
        print("           IoU quartiles of the objects' best segment:", inside["iou_quartiles"])
        summaries = [("in-sample", inside)] + [(label, report["kinds"][kind][key]) for key, _, _, _, label in copies]
        for label, summary in summaries:
            near = summary["near_threshold"]
            print(f"           objects within {NEAR_THRESHOLD:g} of IoU 0.5, {label}: {near['above']:.1%} above, "
                  f"{near['below']:.1%} below")
        for label, summary in summaries:
            if summary["false_on"]:
                print(f"           false segments, {label}, lie on:", ", ".join(
                    f"{name} {count:.1f}" for name, count in summary["false_on"].items()))
        for label, summary in summaries:
            if summary["missed"]:
                print(f"           objects missed, {label}:", ", ".join(
                    f"{how} {count:.1f}" for how, count in summary["missed"].items()))
        merges = [("in-sample", report["kinds"][kind]["merged_with"])] + [
            (label, report["kinds"][kind][key]["merged_with"]) for key, _, _, _, label in copies
            if report["kinds"][kind][key].get("merged_with")
        ]
        for label, pairs in merges:
            if pairs:
                print(f"           objects merged, with what, {label}:", ", ".join(
                    f"{pair} {count:g}" for pair, count in list(pairs.items())[:MERGES_PRINTED]))
        print("           per class found/objects:", ", ".join(
            f"{n} {e['found_050']:g}/{e['objects']:g}" for n, e in report["kinds"][kind]["per_class"].items()))
        for key, _, _, _, label in copies:
            if report["kinds"][kind][key].get("per_class"):
                print(f"           per class found/objects, {label}:", ", ".join(
                    f"{n} {e['found_050']}/{e['objects']}" for n, e in report["kinds"][kind][key]["per_class"].items()))
    if not args.no_loso:
        print("chosen for each left-out scan:", {scan: candidates[chosen[scan]] for scan in scans})
        for kind in dict.fromkeys(kinds.values()):
            members = [scan for scan in scans if kinds[scan] == kind]
            best = choose_on(results, members)
            report["kinds"][kind]["chosen_on_all"] = candidates[best]
            note = "" if best == 0 else "  (not the defaults)"
            print(f"chosen on all {kind} scans: {candidates[best]}{note}")
        best = choose_on(results, scans)
        report["chosen_on_all"] = candidates[best]
        print(f"chosen on all scans (what the defaults should be): {candidates[best]}{'' if best == 0 else '  (not the defaults)'}")
    for scan in scans:
        report["scans"].append({"scan": scan, "kind": kinds[scan], "in_sample": results[0][scan],
                                "leave_one_scan_out": left_out[scan], "chosen": candidates[chosen[scan]],
                                "perturbed": perturbed[scan],
                                "denser": {str(factor): denser[factor][scan] for factor in args.denser},
                                "finer": {f"{factor:g}": finer[factor][scan] for factor in args.finer},
                                "sparser": {f"{share:g}": sparser[share][scan] for share in args.sparser},
                                "voxel_scales": {f"{scale:g}": scaled[scale][scan] for scale in args.voxel_scales},
                                "grid_places": {place: by_scan[scan] for place, (_, by_scan) in places.items()},
                                "headings": {k: by_scan[scan] for k, (_, by_scan) in turns.items()},
                                "orders": {k: by_scan[scan] for k, by_scan in orders.items()},
                                "frames": frames[scan], "sampled_frames": sampled_frames[scan],
                                "frame_scales": {f"{scale:g}": scaled_frames[scale][scan] for scale in args.frame_scales},
                                "sampled_frame_scales": {
                                    f"{scale:g}": sampled_scaled_frames[scale][scan] for scale in args.frame_scales
                                },
                                "crops": crops[scan], "side_by_side": side_by_sides[scan],
                                "side_by_side_sampled": sampled_side_by_sides[scan],
                                "object_frames": object_frames[scan],
                                "sampled_object_frames": sampled_object_frames[scan], "orbit": orbits[scan],
                                "surroundings": surroundings[scan],
                                "stepped_back": {f"{k:g}": stepped_back[k][scan] for k in args.stepped_back},
                                "pushed": pushed[scan], "turned": turned[scan], "beside": besides[scan],
                                "bicycle": bicycles[scan],
                                **{way: {str(factor): by_scan[scan] for (moved, factor), by_scan in ranged.items()
                                         if moved == way} for way in ("farther", "nearer")},
                                "camera_views": camera_views[scan]})  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(args.out) as temporary:
        Path(temporary).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


def _moved_objects(by_scan: dict, scans: list[str], key: str, names: dict) -> dict:
    """The moved objects of the :func:`_run_moved` rows of ``scans`` (``by_scan``, under ``key``) that count, those
    found at IoU >= 0.5, and both per class (``names`` as :func:`copies_per_class` takes them; a moved copy keeps
    its object's id)."""
    per_class: dict = {}
    for scan in scans:
        classes, _ = names[scan]
        for row in by_scan[scan]:
            moved = row[key]
            if moved["iou"] is not None:
                entry = per_class.setdefault(classes.get(int(moved["object"]), "object"), {"objects": 0, "found_050": 0})
                entry["objects"] += 1
                entry["found_050"] += int(moved["iou"] >= 0.5)
    return {"objects": sum(entry["objects"] for entry in per_class.values()),
            "found_050": sum(entry["found_050"] for entry in per_class.values()),
            "per_class": dict(sorted(per_class.items()))}  # fmt: skip


def _moved_found(by_scan: dict, scan: str, key: str, names: dict) -> str:
    """"found of counted" for the moved objects of one scan (:func:`_moved_objects`' arguments)."""
    counts = _moved_objects(by_scan, [scan], key, names)
    return f"{counts['found_050']} of {counts['objects']}"


def _error_text(exc: Exception) -> str:
    """How a scan's failure is reported, in the JSON and on stderr: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}"


def _figure(summary: dict) -> str:
    low, high = summary["found_range"]
    return (f"{summary['found_050']:.1f}/{summary['objects']} ({low}-{high}), false {summary['false']:.1f}, "
            f"AP50 {summary['ap50']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
