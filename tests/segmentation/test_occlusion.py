"""Joining the parts of an object hidden in the middle by a nearer one (segmentation.occlusion), on
small synthetic camera frames rendered by ray casting: a camera at the origin looks along +z (y down,
as in an RGB-D frame) at a table top before a wall, boxes standing on it and a nearer pole."""

import math

import numpy as np
import pytest

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.occlusion import join_occluded

TABLE_Y = 0.25  # the table's height below the camera (y points down)
STEP = 0.004  # radians between pixels: a coarse Kinect
WALL_Z = 1.5  # a wall behind the table, so that every ray meets something
GREY, RED, BLUE, GREEN = (0.5, 0.5, 0.5), (0.8, 0.2, 0.2), (0.2, 0.3, 0.8), (0.2, 0.7, 0.3)


def _box(centre_x, centre_z, half_x, half_z, height, colour, yaw=0.0):
    """A box standing on the table, turned by ``yaw`` degrees about the vertical."""
    return ("box", np.array([centre_x, TABLE_Y - height / 2, centre_z]), np.array([half_x, height / 2, half_z]),
            math.radians(yaw), colour)  # fmt: skip


def _pole(centre_x, centre_z, radius, height, colour):
    return ("pole", np.array([centre_x, centre_z]), radius, height, colour)


def _render(things, seed=0):
    """Points ``(N, 6)`` (xyz, rgb) seen from the origin, and the index of the thing each point lies on
    (-1: the table or the wall)."""
    u, v = np.meshgrid(np.arange(-0.45, 0.45, STEP), np.arange(-0.12, 0.2, STEP))  # the boxes cut off above the table
    rays = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    hit = np.where(rays[:, 1] > 0, TABLE_Y / np.maximum(rays[:, 1], 1e-9), np.inf)
    table_hit = rays * hit[:, None]
    hit[(np.abs(table_hit[:, 0]) > 0.6) | (table_hit[:, 2] > WALL_Z)] = np.inf  # the table's edges
    hit = np.minimum(hit, WALL_Z / rays[:, 2])  # the wall behind it
    owner = np.full(len(rays), -1)
    for index, thing in enumerate(things):
        if thing[0] == "box":
            _, centre, half, yaw, _ = thing
            turn = np.array([[math.cos(yaw), 0, -math.sin(yaw)], [0, 1, 0], [math.sin(yaw), 0, math.cos(yaw)]])
            origin, direction = -centre @ turn.T, rays @ turn.T  # into the box's frame
            with np.errstate(divide="ignore", invalid="ignore"):
                near = np.nanmax(np.minimum((-half - origin) / direction, (half - origin) / direction), axis=1)
                far = np.nanmin(np.maximum((-half - origin) / direction, (half - origin) / direction), axis=1)
            distance = np.where((near <= far) & (near > 0), near, np.inf)
        else:
            _, (cx, cz), radius, height, _ = thing
            a = rays[:, 0] ** 2 + rays[:, 2] ** 2
            b = -2 * (rays[:, 0] * cx + rays[:, 2] * cz)
            c = cx**2 + cz**2 - radius**2
            root = np.sqrt(np.maximum(b * b - 4 * a * c, 0))
            distance = np.where(b * b - 4 * a * c >= 0, (-b - root) / (2 * a), np.inf)
            y = rays[:, 1] * distance
            distance[(y < TABLE_Y - height) | (y > TABLE_Y)] = np.inf
        closer = distance < hit
        hit[closer], owner[closer] = distance[closer], index
    seen = np.isfinite(hit)
    rng = np.random.default_rng(seed)
    xyz = rays[seen] * hit[seen, None] + rng.normal(0, 0.0005, (seen.sum(), 3))
    colours = np.array([GREY] + [thing[-1] for thing in things])[owner[seen] + 1]
    colours = np.clip(colours + rng.normal(0, 0.01, colours.shape), 0, 1)
    return np.concatenate([xyz, colours], axis=1), owner[seen]


# A pole 6 cm wide, 0.7 m from the camera, taller than the boxes behind it.
POLE = _pole(0.0, 0.7, 0.03, 0.4, GREEN)


def _best_iou(labels, truth):
    return max(((labels == s) & truth).sum() / ((labels == s) | truth).sum() for s in np.unique(labels[labels >= 0]))


@pytest.fixture(scope="module")
def hidden_box():
    return _render([_box(0.0, 1.0, 0.2, 0.05, 0.3, RED), POLE])


def test_a_box_hidden_in_the_middle_by_a_nearer_pole_is_one_object(hidden_box):
    points, owner = hidden_box
    box = owner == 0
    apart = segment_scene(points, None, occlusion=False)
    assert len(np.unique(apart[box & (apart >= 0)])) == 2  # the pole cuts it in two
    joined = segment_scene(points, None)
    assert _best_iou(joined, box) > 0.9
    assert _best_iou(joined, owner == 1) > 0.9  # the pole stays itself


def test_no_viewpoint_or_no_colour_joins_nothing(hidden_box):
    points, owner = hidden_box
    apart = segment_scene(points, None, occlusion=False)
    xyz, colours = points[:, :3], points[:, 3:]
    arguments = {"voxel_size": 0.005, "plane_distance": 0.01, "normal_angle": 30.0, "min_voxels": 10, "max_size": 3.0}
    joined = join_occluded(apart, xyz, np.zeros(3), colours=colours, **arguments)
    assert len(np.unique(joined[owner == 0])) == 1  # the sensor at the origin: joined
    for viewpoint, given in ((None, colours), (np.zeros(3), None)):
        np.testing.assert_array_equal(join_occluded(apart, xyz, viewpoint, colours=given, **arguments), apart)


@pytest.mark.parametrize(
    "left, right, occluders",
    [
        ((1.0, 0.0, RED), (1.08, 0.0, RED), [POLE]),  # the same colour and facing, 8 cm deeper
        ((1.0, 0.0, RED), (1.0, 35.0, RED), [POLE]),  # the same colour and depth, turned by 35 degrees
        ((1.0, 0.0, RED), (1.0, 0.0, BLUE), [POLE]),  # the same surface, another colour
        # one surface, one colour, 10 cm apart behind a pole 4.4 cm wide: the wall is seen beside the pole
        ((1.0, 0.0, RED), (1.0, 0.0, RED), [_pole(0.0, 0.7, 0.022, 0.4, GREEN)]),
    ],
)
def test_two_boxes_behind_one_pole_stay_apart(left, right, occluders):
    """The gap of 4 cm between the boxes lies behind the pole 6 cm wide (the last: 10 cm, not all behind)."""
    (z_left, yaw_left, colour_left), (z_right, yaw_right, colour_right) = left, right
    centre = 0.11 if occluders[0] is POLE else 0.14
    points, owner = _render([
        _box(-centre, z_left, 0.09, 0.05, 0.3, colour_left, yaw_left),
        _box(centre, z_right, 0.09, 0.05, 0.3, colour_right, yaw_right),
        *occluders,
    ])  # fmt: skip
    labels = segment_scene(points, None)
    for box, other in ((0, 1), (1, 0)):
        main = np.bincount(labels[(owner == box) & (labels >= 0)]).argmax()  # the segment of most of the box
        assert np.mean(labels[owner == box] == main) > 0.9
        assert np.mean(labels[owner == other] == main) < 0.05


def _patch(x_low, x_high, depth, step=0.005):
    """A flat patch facing the camera at ``depth``, spanning ``x_low..x_high`` at depth 1 as seen from it
    (central projection) and -0.1..0.1 in y, sampled every ``step`` radians."""
    u, v = np.meshgrid(np.arange(x_low, x_high, step), np.arange(-0.1, 0.1, step))
    return np.stack([u.ravel() * depth, v.ravel() * depth, np.full(u.size, depth)], axis=1)


@pytest.mark.parametrize(
    "between, joined",
    [
        ([], False),  # nothing seen between the parts (no depth): nothing shows that they are one
        ([("occluder", 0.7)], True),  # a nearer object covers most of the gap, the rest returns no depth
        ([("occluder", 0.7), ("wall", 1.5)], False),  # ... but the wall behind is seen beside it
    ],
)
def test_only_a_gap_hidden_behind_a_nearer_object_joins(between, joined):
    """Two coplanar patches of one colour at 1 m, 6 cm apart; between them (seen from the origin) nothing,
    a nearer object 4 cm wide, or that object and, beside it, the wall behind."""
    parts = [_patch(-0.2, -0.03, 1.0), _patch(0.03, 0.2, 1.0)]
    extra = {"occluder": _patch(-0.025, 0.015, 0.7), "wall": _patch(0.015, 0.03, 1.5)}
    pieces = parts + [extra[name] for name, _ in between]
    xyz = np.concatenate(pieces)
    objects = np.concatenate([np.full(len(piece), k if k < 3 else -1) for k, piece in enumerate(pieces)])
    colours = np.tile(RED, (len(xyz), 1))
    result = join_occluded(objects, xyz, np.zeros(3), 0.005, 0.01, 30.0, 10, 3.0, colours)
    assert (result[: len(parts[0])][0] == result[len(parts[0]) : len(parts[0]) + len(parts[1])][0]) == joined
