"""The segmentation pipeline: :func:`segment_scene` and its steps over voxels and tiles."""

from __future__ import annotations

import inspect
import math
import warnings
from collections import Counter
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from ..config import UP_AXES
from ..progress import progress_bar
from . import settings as scan_settings
from .clustering import cluster, filter_objects, flat_variation
from .colour import add_objects_in_planes, objects_in_planes, voxel_colours
from .colour_split import colour_noise, split_colours, support_base
from .completion import complete_frame
from .convexity import join_radius, object_joins, split_concave
from .finer import RaisedTop, cut_finer, on_top, replace_on_top
from .geometry import (
    by_point_count, column_bounds, count_voxels, distinct_places, given_labels, normals, plane_basis, scene_xyz,
    voxel_keys, voxelize,
)
from .ground import grid_ground, orient_up, origin_on_ground, sensor_up
from .occlusion import join_occluded, join_seen_past_edge
from .planes import Planes
from .scan_checks import check_real, screen_scan, too_sparse
from .settings import (
    SETTINGS,
    WHOLE_SHARE,
    ScanMeasures,
    SegmentationSettings,
    check_given,
    choose_settings,
    coarser_voxels,
    measure_scan,
    needs_tiles,
    top_area,
    with_reconstruction_band,
    with_row_step,
    with_up,
)
from .standing import split_standing
from .visibility import (
    TOP_NOT_SEEN,
    SensorRows,
    range_noise,
    ring_axis,
    sensor_height,
    sensor_rows,
    sensor_view,
    unseen_objects,
)

__all__ = ["segment_scene"]

# Where the voxel grid's first cell starts below the scan's lowest point on each axis, in voxels: at that point.
# Any place is as arbitrary, but the segmentation is not indifferent to it: the rooms we have find 29.0 of 57
# objects here and 24.2-28.4 at eight random places (segmentation experiments, "Where the voxel grid lies");
# python -m benchmarks.scenes_sweep pipeline._GRID_PHASE measures other places.
_GRID_PHASE = 0.0


def segment_scene(
    points: np.ndarray,
    up_axis: str | None = None,
    *,
    labels: np.ndarray | None = None,
    seed: int = 0,
    return_settings: bool = False,
    **settings,
) -> np.ndarray | tuple[np.ndarray, SegmentationSettings]:
    """Object instance label of every point of a scan: ``0..K-1``, or -1 for background.

    Given ``labels`` (one integer per point, for example from a segmentation model or
    the file, see :func:`~openshape_ood.scenes.scene.load_scene`), those win: negative labels become -1
    (background), the others are kept as the object ids, and nothing is filtered.

    Otherwise the scan is segmented geometrically (coordinates in metres). Every setting left
    at ``None`` is chosen from the scan (:mod:`openshape_ood.segmentation.settings`: its point
    spacing, how that grows with range, its extent); ``return_settings=True`` also returns them. A
    place written more than once (a merged scan, a mesh exported a vertex per face) is segmented once, and its
    copies take its label.

    A camera's frame sampled down (holding less than :data:`~.settings.WHOLE_SHARE` of its camera's pixels,
    as VoteNet stores SUN RGB-D's) is first completed to its whole pixel grid (:mod:`.completion`) and segmented
    as a whole frame; its own points take the labels they get there. A street sweep cut to a camera's view is
    not: its rows are a LiDAR's rings.

    1. The points are grouped into voxels of ``voxel_size``; everything below works on
       their centroids, and each point gets the label of its voxel at the end. A chosen voxel
       size is made up to three times coarser when the scan would have more than
       :data:`~openshape_ood.segmentation.settings.MAX_VOXELS` voxels; a scan with more still
       (a street hundreds of metres long) is segmented in tiles of about that many voxels, each
       grown by ``max_size`` on every side, and each object is taken whole from the tile that
       holds its centre, so no object is cut at a tile border.
    2. The support is removed. With ``up_axis`` (``"x"``, ``"y"``, ``"z"``; its sign does not
       matter) that is the up direction, except in a camera's frame (:attr:`.settings.ScanMeasures.camera_frame`),
       whose axes the camera's pitch tilts off gravity: there the largest plane among the voxels facing
       within ``normal_angle`` of the axis is the support and its normal is up; without, the largest
       plane of the scan (the table, the floor, the ground) is found by RANSAC and its normal is up (in a
       camera's frame in its own coordinates where that plane faces elsewhere than up in the image, the largest
       plane among the voxels whose normals, on the side the camera sees, lie within ``normal_angle`` of the
       image's up: a wall beyond a table, a camera looking down steeply).
       A street sweep from a sensor at the origin takes the coordinate axis nearest that direction
       as up, turned where the ground lies above the sensor
       (:func:`~openshape_ood.segmentation.ground.sensor_up`): the axis its rings turn about, which
       a road's slope tilts the ground's normal off. Given no axis, where the sensor's rows show no
       step about the axis nearest the largest plane's normal (a wall's, among buildings), the axis
       about which they lie farthest apart (:func:`~openshape_ood.segmentation.visibility.ring_axis`).
       A sweep whose origin lies on its road (a vehicle's frame) is moved, with a warning, to its
       sensor: the apex of its top ring's cone (:func:`~openshape_ood.segmentation.visibility.sensor_height`).
       ``ground="planes"`` (rooms, table tops): large planes are removed, first horizontal ones
       along up, then planes of any orientation (walls). A voxel belongs to a plane when its
       centroid lies within ``plane_distance`` of it and its normal is within ``normal_angle``
       degrees of the plane's, so that the sides of an object standing on it stay with the
       object; of each plane, the connected patches of at least ``min_plane_area`` square
       metres are removed (of the support, all its patches where none is that large but together
       they are: a table seen at a slant between the objects on it; of a horizontal plane other than
       the support, at least the top of a seat's: :func:`.settings.top_area`), at most ``max_planes`` planes.
       ``ground="grid"`` (streets, scans wider than 20 m): the local ground height is estimated
       on a grid (:func:`~openshape_ood.segmentation.ground.grid_ground`), so that sloped and
       curved roads are removed, and voxels less than ``ground_height`` above it are ground.
    3. The rest is clustered by DBSCAN: voxels closer than ``cluster_distance`` plus
       ``cluster_growth`` times their range to the sensor (the origin of a one-viewpoint scan,
       whose far points are sparse; by default the sensor's coarser angular step, between a
       LiDAR's rings, so that they join) join one object, sparse voxels are background. A
       cluster larger than ``max_size`` is split where it is thinnest (:mod:`.clustering`) and,
       indoors, what is still too large is bisected by normalized cuts (:mod:`.cuts`) until it fits.
       Where the scan has colour (RGB in columns 3-5), regions of another colour inside a removed
       plane (a picture on a wall) are objects too (:mod:`.colour`).
    4. Plane voxels that rise above their plane's noise and touch an object go back to it
       (the bottom of an object standing on the floor); clusters lying in a removed plane are
       background.
    5. With ``convexity``, an object whose surface has a concave edge (two boxes stacked, a
       cup on a book) is split there (:mod:`openshape_ood.segmentation.convexity`). A patch of a
       removed horizontal plane that is neither the ceiling nor a floor (a bed's top, a desk's) then joins the objects
       that hold it up, those standing wholly below it (:meth:`.planes.Planes.give_tops`); so does the
       support itself when it does not bound the scan from below (the beds' top filling a camera's view).
       Indoors, a part of an object standing on the object's flat top, held up by the top alone (a lamp on
       a night stand), is split off (:mod:`openshape_ood.segmentation.standing`). With
       ``colour_split`` (on in a camera's frame indoors) and colour, an object is split into its large regions
       of different colour that each stand on the support (two boxes side by side on a table:
       :mod:`openshape_ood.segmentation.colour_split`). A top that went back to its furniture is then joined by
       what those splits parted from what rose beside it, where that holds the top up (a bed's side parted from
       the night stand against it: :meth:`.planes.Planes.hold_tops`).
    6. Objects with fewer than ``min_points`` points or ``min_voxels`` voxels (in a camera's frame holding a
       sample of its pixels, the voxels their points stand for: :func:`.clustering.surface_voxels`), or whose
       largest side is shorter than ``min_size`` or longer than ``max_size`` metres, are background; with ``max_height``
       (outdoors) so are objects taller than that above the ground, lower than ``min_height``,
       or not standing on it, and clusters of scattered voxels (foliage; not a curtain's folds) or plane pieces
       (facades).
       With ``occlusion``, in a camera frame with colour, the objects kept that are parts of one
       object hidden in the middle by a nearer one are joined, and in any camera frame so is a piece of
       an object seen past that object's own nearer edge (:mod:`openshape_ood.segmentation.occlusion`).
    7. On a street sweep in its sensor's frame, objects whose top the sensor did not see are
       background (:mod:`openshape_ood.segmentation.visibility`): the base of a facade, a trunk
       under its crown, anything cut off by the top of the view or hidden under something nearer.
    8. A camera's frame with a top raised off the floor (:meth:`.planes.Planes.raised_top`: the support where it
       is raised, a table top with the room round it; else a table standing on the floor, seen from farther)
       whose voxel the indoor floor (:func:`.settings.voxel_floor`, a five-hundredth of its diagonal) made
       coarser than the top's own two spacings has the top and what stands on it segmented again as a frame of
       their own (:mod:`openshape_ood.segmentation.finer`), and the objects standing on the top are replaced by
       theirs. Touching objects on a table merge at the room's voxel; a room's furniture, on the floor, is not
       cut that finely.

    Objects are numbered by decreasing point count.

    Args:
        points: the scan, ``(N, 3)`` xyz or ``(N, C >= 3)`` with xyz first, in metres.
        up_axis: the gravity axis of the scan (in a camera's frame: the axis nearest it), or ``None``
            to find the support plane.
        labels: per-point instance labels ``(N,)`` that replace the segmentation.
        seed: seeds the RANSAC sampling; the same seed gives the same labels.
        return_settings: also return the :class:`SegmentationSettings` used.
        **settings: any setting of :data:`~openshape_ood.segmentation.settings.SETTINGS` (the table
            of the scenes guide: ``voxel_size``, ``max_size``, ...), ``None`` for chosen from the scan.

    Returns:
        ``(N,)`` int64 labels, and the settings with ``return_settings``.
    """
    check_real(points, "points")
    xyz = scene_xyz(points)
    if labels is not None:
        return given_labels(labels, len(xyz))
    check_given(settings)
    if up_axis is not None and up_axis not in UP_AXES:
        raise ValueError(f"up_axis {up_axis!r} is not one of {UP_AXES} or None")
    screened = screen_scan(points, xyz)  # hostile scans refused or warned of, far outliers set aside
    outliers = screened.outliers
    array = np.asarray(points)
    if outliers.any():
        array, xyz = array[~outliers], xyz[~outliers]
    place = None
    if screened.repeats:
        # A point written again at its place adds no surface, but it would count again towards every number
        # of points a step asks for: scene0006 written five times over (as a mesh exported a vertex per face
        # is) gave 42 segments instead of 31. Each place is segmented once, with its first row's colour.
        rows, place = distinct_places(xyz)
        array, xyz = array[rows], xyz[rows]
    objects, chosen = _segment(xyz, array, up_axis, settings, seed, screened.spacing)
    if place is not None:
        objects = objects[place]
    if outliers.any():
        objects = _put_back(objects, outliers)
    return (objects, chosen) if return_settings else objects


segment_scene.__signature__ = inspect.signature(segment_scene).replace(  # the settings by name, from SETTINGS
    parameters=[
        *list(inspect.signature(segment_scene).parameters.values())[:-1],
        *(inspect.Parameter(setting.name, inspect.Parameter.KEYWORD_ONLY, default=None) for setting in SETTINGS),
    ]
)


def _segment(
    xyz: np.ndarray, points: np.ndarray, up_axis: str | None, given: dict, seed: int, spacing: float,
    first: ScanMeasures | None = None, measures: ScanMeasures | None = None,
) -> tuple[np.ndarray, SegmentationSettings]:
    """Labels ``(N,)`` of a screened scan and the settings used: ``xyz`` its coordinates in float64,
    ``points`` the scan as given (its colour columns), ``spacing`` measured by the screening; ``first``: for a
    second segmentation (:mod:`.finer`: of its raised top and what stands on it), the measures it is segmented
    with (the top's own), where the first gave the warnings and the second is not refined again; ``measures``:
    the scan's, where they are known (a completed frame's)."""
    axis = _axis(up_axis)
    up = axis
    measured = first or measures or measure_scan(xyz, seed, up_axis)
    settings = choose_settings(measured, up_axis, axis, given)
    # A street sweep cut to a camera's view is no sample of a pixel grid: its rows are a LiDAR's rings, far apart
    # (the SemanticKITTI sweep's views read 0.16 of a grid, and completed showed three times the false segments).
    sampled = settings.camera_frame_indoors and 0 < measured.pixel_share < WHOLE_SHARE
    if first is None and settings.completion and sampled:
        completed = complete_frame(xyz, points, measured.pixel_share, np.random.default_rng(seed))
        if completed is not None:  # segmented as the whole frame, the sample's own points first
            whole = replace(measure_scan(completed[0], seed, up_axis), pixel_share=1.0)
            labels, settings = _segment(*completed, up_axis, given, seed, spacing, measures=whole)
            return labels[: len(xyz)], replace(settings, sampled_pixel_share=measured.pixel_share)
    if settings.min_size >= settings.max_size:
        if settings.source["min_size"] == "chosen":
            raise ValueError(too_sparse(spacing or measured.spacing, settings.max_size))
        raise ValueError(
            f"min_size must be in [0, max_size={settings.max_size}), got {settings.min_size!r} (the scan's points are "
            f"{measured.spacing:.3g} m apart: are the coordinates in metres? Scale them, or pass the sizes)"
        )

    chosen = settings  # before the voxel floor: the frame's own spacing
    settings, tiled, centroids, counts, voxel_of_point, colours = _voxelised(xyz, points, settings)
    # The voxels' normals are fitted here only where the support is searched for before a street's steps,
    # which may voxelise a sweep again; else on the voxels segmented (_segment_voxels), once.
    support_searched = up is None or settings.camera_frame_indoors
    geometry = normals(centroids) if support_searched and not tiled else None
    rng = np.random.default_rng(seed)
    if measured.spacing > 2 * settings.voxel_size and settings.source["voxel_size"] == "given":
        warnings.warn(
            f"the scan's points are about {measured.spacing:.3g} m apart, more than twice voxel_size={settings.voxel_size}: "
            f"planes and objects will fall apart; pass voxel_size={measured.spacing:.2g} or more and cluster_distance about "
            "three times that (are the coordinates in metres?)",
            stacklevel=3,
        )
    upright = up_axis is not None  # whether the planes across up stand upright: an axis given, or found below
    if up is None:
        up = _support_normal(centroids, geometry, settings, measured, rng)
        image_up = _image_up(centroids) if settings.camera_frame_indoors else None
        facing = settings.normal_cos
        if up is not None and image_up is not None and up @ image_up < facing:
            # The largest plane of a camera's frame can be a wall facing it (the room beyond a table): the
            # support faces up in the image. Among the voxels that do, the largest plane, when its patches
            # are large enough for a support. Up in the image on the camera's side of each surface: a wall
            # before a camera looking down more steeply than the normal angle lies that close to the image's
            # vertical too, but faces the camera downwards in the image (taken for the support, it left nothing
            # found at 50 degrees: segmentation experiments, stop 133).
            facing_up = _support_normal(
                centroids, geometry, settings, measured, rng, along=image_up, checked=True, toward_camera=True
            )
            up = up if facing_up is None else facing_up
        upright = up is not None and image_up is not None and up @ image_up >= facing
        if up is not None:
            settings = with_up(settings, up)
    elif settings.camera_frame_indoors:
        # A camera's axis is not gravity: the camera's pitch tilts the floor or the table off it (20 degrees
        # for a camera at eye height looking into a room), and planes searched along the axis cut the floor
        # into slabs. The axis says which plane is the support; that plane's normal is up.
        measured_up = _support_normal(centroids, geometry, settings, measured, rng, along=up)
        if measured_up is not None:
            up = measured_up
            settings = with_up(settings, up)
    street_sweep = settings.max_height is not None and measured.single_viewpoint and up is not None
    sensor_unknown = False  # a street sweep's origin on its road, its sensor not found
    if street_sweep:
        if up_axis is None:  # the largest plane's normal, perhaps a wall's: the axis the rings turn about
            up = ring_axis(xyz, up, measured.spacing_growth, seed)
        up = sensor_up(centroids, up, settings.ground_cell, settings.ground_height)
        settings = with_up(settings, up)
        if origin_on_ground(centroids, up, settings.ground_cell, settings.ground_height):
            # A vehicle's frame: the visibility test reckons from the sensor, so the sweep is moved to it.
            height = sensor_height(centroids, up, settings.voxel_size)
            if height is not None and height <= settings.ground_height:
                height = None  # no sensor lies in its ground: the cone rests on something else
            if height is not None:
                xyz, centroids = xyz - height * up, centroids - height * up
            sensor_unknown = height is None
            warnings.warn(_off_sensor(height), stacklevel=3)
        if not sensor_unknown:
            # Read along the beams from the sensor: a voxel finer than the noise stacks a surface into layers.
            measured = replace(measured, range_noise=range_noise(xyz, measured.spacing_growth))
            chosen = with_up(choose_settings(measured, up_axis, axis, given), up)
            if chosen.voxel_size > settings.voxel_size:
                settings, tiled, centroids, counts, voxel_of_point, colours = _voxelised(xyz, points, chosen)
                geometry = None
            else:
                settings = replace(settings, measured=measured)
    rows = None
    if measured.single_viewpoint and up is not None:
        rows = sensor_rows(xyz, up, measured.spacing_growth, seed)
        settings = with_row_step(settings, rows.step)
    # Only a street sweep's visibility test and ground grid need its view: the whole scan's, tiled or not.
    top, azimuths = sensor_view(centroids, up) if street_sweep else (None, None)
    if sensor_unknown:
        top = TOP_NOT_SEEN  # the view's top, seen from the road, would cut off whatever stands on it
    context = _Context(
        settings, up, settings.measured, measured.viewpoint, rng, top, azimuths, rows if street_sweep else None,
        Counter(), up_axis is not None, upright,
    )
    raised = None
    if tiled:
        objects = _segment_tiles(centroids, counts, context, colours)
    else:
        objects, raised = _segment_voxels(centroids, counts, context, geometry, colours)
    if not (objects >= 0).any() and context.dropped["clusters"] and first is None:
        warnings.warn(_all_dropped(context.dropped, settings), stacklevel=3)
    labels = objects[voxel_of_point]
    if raised is not None and first is None and (labels >= 0).any():
        labels, settings = _cut_on_top(xyz, points, up_axis, given, seed, spacing, chosen, settings, labels, raised)
    return labels, settings


def _cut_on_top(
    xyz: np.ndarray, points: np.ndarray, up_axis: str | None, given: dict, seed: int, spacing: float,
    chosen: SegmentationSettings, settings: SegmentationSettings, labels: np.ndarray, top: RaisedTop,
) -> tuple[np.ndarray, SegmentationSettings]:
    """``labels`` and ``settings`` of a scan (as :func:`_segment`) with the objects on its raised ``top`` cut at
    their own spacing where its voxel is coarser (:mod:`.finer`). The second segmentation is not refined
    again."""
    if not settings.camera_frame_indoors or settings.source["voxel_size"] == "given":
        return labels, settings
    # The top and what stands on it, a frame of their own in the camera's coordinates, whose measures (the voxel
    # floor, the smallest object) are theirs: the frame's merge touching objects on a table, drop those on a far
    # one.
    crop = on_top(labels, xyz, top, settings.cluster_distance)
    frame = chosen.measured
    own = replace(
        measure_scan(xyz[crop], seed, up_axis), camera_frame=frame.camera_frame, pixel_share=frame.pixel_share
    )
    if not cut_finer(choose_settings(own, up_axis, _axis(up_axis), given), settings, xyz[crop]):
        return labels, settings
    crop_labels, used = _segment(xyz[crop], points[crop], up_axis, given, seed, spacing, own)
    labels = replace_on_top(labels, crop, crop_labels, xyz, top)
    return labels, replace(settings, finer_voxel_size=used.voxel_size)


def _axis(up_axis: str | None) -> np.ndarray | None:
    """The unit vector of an up axis given by name, ``None`` for none."""
    return None if up_axis is None else np.eye(3)[UP_AXES.index(up_axis)]


def _voxelised(xyz: np.ndarray, points: np.ndarray, settings: SegmentationSettings) -> tuple:
    """The scan's voxels at ``settings.voxel_size``, made coarser where they would be more than the time
    allows (or finer than the floor indoors): ``(settings as used, whether the scan is segmented in tiles,
    centroids, point counts, each point's voxel, the voxels' colours)``."""
    # The count of voxels at the chosen size decides tiles and coarser voxels; counted alone, so that the scan
    # is voxelised once, at the size it sets.
    keys = voxel_keys(xyz, settings.voxel_size, _GRID_PHASE)
    voxels = count_voxels(keys)
    tiled = needs_tiles(settings, voxels)
    coarser = coarser_voxels(settings, voxels)
    if coarser is not None:
        settings, keys = coarser, voxel_keys(xyz, coarser.voxel_size, _GRID_PHASE)
    settings = with_reconstruction_band(settings)
    centroids, counts, voxel_of_point = voxelize(xyz, keys)
    colours = voxel_colours(points, voxel_of_point, len(centroids))
    return settings, tiled, centroids, counts, voxel_of_point, colours


def _off_sensor(height: float | None) -> str:
    """The warning for a street sweep whose origin lies on its ground (:func:`.ground.origin_on_ground`), its
    sensor found ``height`` metres above the origin (:func:`.visibility.sensor_height`), or not found."""
    found = (
        f"its sensor was taken to be {height:.2f} m above it, where its top ring's cone has its apex"
        if height is not None
        else "where its sensor lies was not found (its top ring marks too few distances), so objects hidden under "
        "others are judged from the origin, and none is taken for cut off by the top of its view"
    )
    return (
        f"the sweep's origin lies on its ground, not at its sensor (a vehicle's frame?): {found}; give the points "
        "in the sensor's frame (subtract its mounting position) to be sure"
    )


def _put_back(objects: np.ndarray, outliers: np.ndarray) -> np.ndarray:
    """Labels of the whole scan from those of its points that are not ``outliers`` (background)."""
    full = np.full(len(outliers), -1, dtype=np.int64)
    full[~outliers] = objects
    return full


class _Context(NamedTuple):
    """What every piece of a scan is segmented with: the scan's settings, up direction, and sensor
    (for a street sweep in its sensor's frame only, else ``None``: ``view_top``, the top of its view,
    ``view_azimuths``, the sorted azimuths of its voxels, the directions it looked in, and ``view_rows``, its
    rows counted at each elevation)."""

    settings: SegmentationSettings
    up: np.ndarray | None
    measured: ScanMeasures
    viewpoint: np.ndarray | None
    rng: np.random.Generator
    view_top: float | None
    view_azimuths: np.ndarray | None
    view_rows: SensorRows | None
    dropped: Counter  # when the object filters drop every cluster of a piece: how many each rule dropped
    up_given: bool  # whether the scan's up axis was given
    upright: bool  # whether the planes across up stand upright: the axis given, or a camera frame's support
    # facing up in its image


def _image_up(centroids: np.ndarray) -> np.ndarray | None:
    """Up in the image of a camera's frame stored in its camera's coordinates (x right, y down, z forward:
    every point ahead of the camera), -y; ``None`` for a frame stored otherwise (turned upright)."""
    return np.array([0.0, -1.0, 0.0]) if (centroids[:, 2] > 0).mean() > 0.99 else None


def _support_normal(
    centroids: np.ndarray, geometry: tuple | None, settings: SegmentationSettings, measured: ScanMeasures,
    rng: np.random.Generator, along: np.ndarray | None = None, checked: bool = False, toward_camera: bool = False,
) -> np.ndarray | None:
    """The upward normal of the scan's largest plane (RANSAC), or ``None`` when there is none; with
    ``along`` (a unit vector), of the largest plane among the voxels whose normals lie within the normal
    angle of it, either way round, or with ``toward_camera`` (a camera's frame, the camera at the origin) on
    the side each voxel is seen from; with ``checked``, only when its patches cover ``min_plane_area`` (as a
    support's must, to be removed). A tiled scan is searched on :data:`~.settings.MAX_VOXELS` of its voxels."""
    if geometry is None:
        centroids = centroids[rng.choice(len(centroids), min(len(centroids), scan_settings.MAX_VOXELS), replace=False)]
        geometry = normals(centroids)
    planes = Planes(
        centroids, geometry[0], settings.plane_distance, settings.normal_cos,
        settings.voxel_size, geometry[1],
    )  # fmt: skip
    if along is not None:
        facing = geometry[0] @ along
        if toward_camera:
            seen_side = np.where(np.einsum("ij,ij->i", geometry[0], centroids) <= 0, 1.0, -1.0)
            planes.searchable &= seen_side * facing >= planes.min_cos
        else:
            planes.searchable &= np.abs(facing) >= planes.min_cos
    support = planes.ransac(rng)
    if support is None or (checked and not planes.add(support, settings.min_plane_area, support=True)):
        return None
    return orient_up(*support, centroids, measured.viewpoint is not None, settings.plane_distance)


def _segment_voxels(
    centroids: np.ndarray, counts: np.ndarray, context: _Context, geometry: tuple | None = None,
    colours: np.ndarray | None = None,
) -> tuple[np.ndarray, RaisedTop | None]:
    """Object ids ``(M,)`` of voxels, -1 for background, numbered by decreasing point count: steps 2 to 7 of
    :func:`segment_scene` (``geometry``: the voxels' :func:`.geometry.normals`; ``colours``: their mean
    colours, ``None`` for a scan without colour); and its top raised off the floor (a table's:
    :meth:`.planes.Planes.raised_top`), else ``None``."""
    settings, up, measured, rng = context.settings, context.up, context.measured, context.rng
    voxel_normals, spacing, variation, normal_radius = normals(centroids) if geometry is None else geometry
    # A depth camera's noise grows with range across the surfaces facing it (a LiDAR's range noise hardly
    # grows, and its far ground must not let far foliage through); a reconstruction's does not.
    noise_grows_with_range = measured.single_viewpoint and settings.ground == "planes"
    # Given an up axis, the planes across it stand upright, the support found or not; so they do across a camera
    # frame's support facing up in its image. Otherwise the support is the largest plane, perhaps a wall facing
    # the camera, and across that plane lie the table tops, below whose planes the rest of the view lies: seen
    # from the sensor it would count as behind them (PCL's mug scene), so there the side holding fewer voxels is
    # behind.
    sensor = context.viewpoint if context.upright else None
    given_up = up if context.up_given else None
    planes = Planes(
        centroids, voxel_normals, settings.plane_distance, settings.normal_cos,
        settings.voxel_size, spacing, sensor, given_up, settings.max_size,
    )  # fmt: skip
    heights = None
    if settings.ground == "grid" and up is not None:
        _, heights = grid_ground(centroids, up, settings.ground_cell, context.view_azimuths)
        planes.remaining &= heights > settings.ground_height
    elif settings.ground == "planes":
        # The first plane along up is the support (the floor, the table): removed whatever lies beyond it,
        # and grown over the floor joined to it. The others along it (a ceiling, a floor at another level,
        # large tops) are removed; those across it only where they bound the scan (walls:
        # planes.BOUNDING_SHARE), so that the fronts of furniture stay.
        if up is not None and settings.max_planes > 0:
            support = planes.horizontal(up)  # its normal along up
            at_origin = measured.viewpoint is not None
            if support is not None and orient_up(*support, centroids, at_origin, settings.plane_distance) @ up < 0:
                up, support = -up, (-support[0], -support[1])  # a given up axis has no sign: up is off the support
            planes.add(support, settings.min_plane_area, support=True, up=up)
            # A far wall's noisy voxels face every way, some up, and led the growth up the wall: in a camera's
            # frame only voxels that are not rough carry it on; a reconstruction's floor grows on smoothness alone.
            planes.grow_support(up, variation if noise_grows_with_range else None)
            _add_planes(planes, lambda: planes.horizontal(up), settings, top_area(settings), settings.min_plane_area)
        _add_planes(planes, lambda: planes.ransac(rng, up), settings, settings.min_plane_area)  # walls, fronts
        planes.fronts_before_walls()
        planes.fronts_room_by_room()
    in_planes = None if colours is None else objects_in_planes(planes, colours, settings.cluster_distance)

    objects = np.full(len(centroids), -1, dtype=np.int64)
    rest = np.flatnonzero(planes.remaining)
    ranges = np.linalg.norm(centroids, axis=1) if measured.single_viewpoint else None  # to the sensor, at the origin
    if len(rest):
        # Outdoors what is larger than a lorry is structure (a facade, a hedge, a row of trees) that the
        # height and flatness filters judge whole: cut, it would only come back in pieces.
        objects[rest] = cluster(
            centroids[rest], settings.cluster_distance, settings.cluster_growth,
            None if ranges is None else ranges[rest], settings.max_size, settings.voxel_size,
            cut_oversized=settings.max_height is None,
        )  # fmt: skip
    planes.add_sheets(objects)  # curtains: objects of their own
    if in_planes is not None:  # lying in a plane, told apart by colour
        add_objects_in_planes(objects, in_planes, centroids, settings.cluster_distance)
        planes.set_apart((in_planes >= 0) & (objects >= 0))
    planes.give_back(objects)
    planes.drop_folds(objects, settings.cluster_distance)
    planes.drop_flat(objects, settings.cluster_distance, up)
    # The planes are final from here: their normals' noise, and the smallest part an object may have, once.
    normal_noise = planes.normal_noise()
    part_voxels = _part_voxels(settings, counts)
    if settings.convexity:
        objects = split_concave(
            objects, centroids, voxel_normals, settings.voxel_size, part_voxels, context.viewpoint, normal_noise,
            normal_radius, up,
        )
    raised = None if up is None else planes.raised_top(up)
    if up is not None:
        planes.give_tops(objects, up, settings.cluster_distance, settings.max_size)
        if settings.ground == "planes":  # indoors: a lamp on a night stand, a television on a desk
            split_standing(
                objects, centroids, voxel_normals, up, settings.plane_distance, settings.cluster_distance,
                settings.normal_cos, part_voxels, normal_noise, normal_radius,
            )  # fmt: skip
    base = support_base(planes, up) if settings.colour_split and up is not None else None
    if colours is not None and base is not None:
        joins = object_joins(
            objects, centroids, voxel_normals, settings.voxel_size, context.viewpoint, normal_noise, normal_radius, up
        )
        noise = colour_noise(planes, colours, join_radius(settings.voxel_size), rng)
        objects = split_colours(objects, joins, centroids, colours, part_voxels, noise, (up, base))
    if up is not None and settings.ground == "planes":  # a top's side those splits parted from what stood by it
        planes.hold_tops(objects, up, settings.cluster_distance, settings.max_size)
    # In a depth camera's frame far surfaces are noisier: each is judged against flat ones at its range. A sheet
    # is no flat surface: its folds are what made it one.
    sheets = planes.in_sheets()
    flat_level = flat_variation(variation, ~planes.remaining & ~sheets, ranges if noise_grows_with_range else None)
    clusters = objects

    def filtered(max_size: float, max_height: float | None, scatter: bool) -> np.ndarray:
        return filter_objects(
            clusters, centroids, counts, settings.min_points, settings.min_size, max_size, settings.voxel_size,
            variation if scatter else None, flat_level, heights, max_height, settings.min_height,
            settings.min_voxels, sheets, settings.measured.pixel_share,
        )  # fmt: skip

    objects = filtered(settings.max_size, settings.max_height, True)
    if settings.occlusion:
        # Parts of one object that a nearer one hides in the middle, among the objects kept: a piece too
        # small or too flat to be an object on its own is no evidence of one, and would come back joined.
        joined = join_occluded(
            objects, centroids, context.viewpoint, settings.voxel_size, settings.plane_distance, settings.normal_angle,
            part_voxels, settings.max_size, colours,
        )
        # ... and parts of one object that its own nearer part hides (the seat of a sofa behind its arm).
        joined = join_seen_past_edge(joined, centroids, context.viewpoint, settings.voxel_size, settings.plane_distance)
        objects = by_point_count(joined, counts)
    if not (objects >= 0).any() and (clusters >= 0).any():
        found = len(np.unique(clusters[clusters >= 0]))
        _count_dropped(context.dropped, found, filtered, settings, variation is not None)
    if context.view_top is not None:  # a street sweep in its sensor's frame
        radius = settings.cluster_distance + settings.cluster_growth * np.linalg.norm(centroids, axis=1)
        unseen = unseen_objects(
            objects, centroids, up, measured.row_step, radius, context.view_top, context.view_rows
        )
        objects[np.isin(objects, unseen)] = -1
        kept = objects >= 0
        objects[kept] = np.unique(objects[kept], return_inverse=True)[1]  # 0..K-1, still by decreasing size
    if raised is None:
        return objects, None
    index, level = raised
    outline = centroids[planes.found[index].voxels] @ plane_basis(up).T
    return objects, RaisedTop(up, level, level - planes.band, outline)


def _count_dropped(dropped: Counter, clusters: int, filtered, settings: SegmentationSettings, scatter: bool) -> None:
    """Count why the object filters left none of a piece's ``clusters``: ``filtered(max_size, max_height, scatter)``
    filters them with those rules; the rest (``min_points``, ``min_voxels``, ``min_size``) always apply."""

    def count(max_size: float, max_height: float | None, scatter: bool) -> int:
        return int(filtered(max_size, max_height, scatter).max()) + 1

    relaxed = count(math.inf, None, False)  # the clusters large enough, and each rule on its own on them
    dropped["clusters"] += clusters
    dropped["small"] += clusters - relaxed
    dropped["max_size"] += relaxed - count(settings.max_size, None, False)
    if settings.max_height is not None:
        dropped["max_height"] += relaxed - count(math.inf, settings.max_height, False)
    if scatter:
        dropped["scattered"] += relaxed - count(math.inf, None, True)


def _all_dropped(dropped: Counter, settings: SegmentationSettings) -> str:
    """Why no object is left: the clusters found, and how many each rule dropped."""
    small, large = dropped["small"], dropped["clusters"] - dropped["small"]
    voxel_floor = settings.min_voxels > 1  # named only where it is one
    message = (
        f"no objects found: the object filters dropped all {dropped['clusters']} clusters of the scan: {small} have "
        f"fewer than min_points={settings.min_points} points"
        + (f" or min_voxels={settings.min_voxels} voxels" if voxel_floor else "")
        + f" or are shorter than min_size={settings.min_size:.3g} m"
    )
    rules = {
        "max_size": f"longer than max_size={settings.max_size:.3g} m",
        "max_height": f"taller than max_height={settings.max_height or 0:.3g} m above the ground or not standing on it "
        "(outdoors, trees, buildings and poles are not objects)",
        "scattered": "scattered voxels, as foliage is",
    }
    reasons = [f"{dropped[rule]} are {text}" for rule, text in rules.items() if dropped[rule]]
    if large:
        message += f"; of the other {large}, " + ", ".join(reasons)
    options = ["min_points", *(["min_voxels"] if voxel_floor else []), "min_size"] if small else []
    options += [rule for rule in ("max_size", "max_height") if dropped[rule]]
    flags = ", ".join("--" + option.replace("_", "-") for option in options)
    return message + f". Pass other values of {', '.join(options)} (scene: {flags}) to keep such objects"


def _add_planes(
    planes: Planes, propose, settings: SegmentationSettings, min_area: float, below_area: float | None = None
) -> None:
    """Remove the bounding planes ``propose()`` finds (their patches of at least ``min_area`` m^2, or
    ``below_area`` below the support: :meth:`.Planes.add`), up to ``max_planes`` in all; a face of an object
    (not bounding) is passed over, at most ``max_planes`` times, so that the search ends."""
    passed_over = 0
    while len(planes.found) < settings.max_planes and passed_over < settings.max_planes:
        found = len(planes.found)
        if not planes.add(propose(), min_area, bounding=True, below_area=below_area):
            return
        passed_over += len(planes.found) == found


def _segment_tiles(
    centroids: np.ndarray, counts: np.ndarray, context: _Context, colours: np.ndarray | None = None
) -> np.ndarray:
    """:func:`_segment_voxels` on square tiles across the up direction, each grown by a margin of
    ``max_size`` on every side: an object (no larger than that) whose centre lies in a tile lies
    wholly in the grown tile, and is taken from the one tile whose centre square holds it.
    Objects across tile borders are thus whole, and each is found once. The centre squares hold
    about :data:`~.settings.MAX_VOXELS` voxels each."""
    settings = context.settings
    across = centroids @ plane_basis(context.up if context.up is not None else np.eye(3)[2]).T
    across -= column_bounds(across)[0]
    margin = settings.max_size
    metres = np.floor(across).astype(np.int64)
    footprint = len(np.unique(metres[:, 0] * (metres[:, 1].max() + 1) + metres[:, 1]))  # square metres with voxels
    side = max(2 * margin, math.sqrt(scan_settings.MAX_VOXELS * footprint / len(centroids)))
    tile = np.floor(across / side).astype(np.int64)
    if (tile == tile[0]).all():
        return _segment_voxels(centroids, counts, context, None, colours)[0]
    objects = np.full(len(centroids), -1, dtype=np.int64)
    found = 0
    # The tiles in row order, as np.unique(tile, axis=0) lists them, from one integer per tile: unique over
    # rows sorts them as records, which took 1.2 s of a 5-million-point street's 10.
    columns = int(tile[:, 1].max()) + 1
    numbered = np.unique(tile[:, 0] * columns + tile[:, 1])
    keys = np.stack([numbered // columns, numbered % columns], axis=1)
    for key in progress_bar(keys, desc="Segmenting tiles", unit="tile"):
        low = key * side - margin
        members = np.flatnonzero(((across >= low) & (across < low + side + 2 * margin)).all(axis=1))
        local = _segment_voxels(
            centroids[members], counts[members], context, None, None if colours is None else colours[members]
        )[0]
        kept = local >= 0
        if not kept.any():
            continue
        weight, where = counts[members][kept], across[members][kept]
        total = np.bincount(local[kept], weight)
        centre = np.stack([np.bincount(local[kept], weight * where[:, k]) for k in range(2)], axis=1)
        own = (np.floor(centre / total[:, None] / side).astype(np.int64) == key).all(axis=1)
        take = kept & own[np.maximum(local, 0)] & (objects[members] < 0)
        objects[members[take]] = found + local[take]
        found += len(own)
    return by_point_count(objects, counts)


def _part_voxels(settings: SegmentationSettings, counts: np.ndarray) -> int:
    """The fewest voxels a part of an object holds (the concave and colour splits, the occlusion join): those
    that hold ``min_points`` points at the median points per voxel of ``counts`` (the scan's voxels')."""
    return max(3, int(math.ceil(settings.min_points / max(1.0, float(np.median(counts))))))
