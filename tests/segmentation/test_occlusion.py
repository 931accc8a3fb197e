"""Joining the parts of an object hidden in the middle by a nearer one (segmentation.occlusion), on
small synthetic camera frames (tests.helpers.camera_frames): boxes on a table top seen past a nearer pole."""

import numpy as np
import pytest

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.occlusion import join_occluded

from ..helpers.camera_frames import BLUE, GREEN, RED, render_table_frame, standing_box, standing_pole

# A pole 6 cm wide, 0.7 m from the camera, taller than the boxes behind it.
POLE = standing_pole(0.0, 0.7, 0.03, 0.4, GREEN)


def _best_iou(labels, truth):
    return max(((labels == s) & truth).sum() / ((labels == s) | truth).sum() for s in np.unique(labels[labels >= 0]))


@pytest.fixture(scope="module")
def hidden_box():
    return render_table_frame([standing_box(0.0, 1.0, 0.2, 0.05, 0.3, RED), POLE])


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
        ((1.0, 0.0, RED), (1.0, 0.0, RED), [standing_pole(0.0, 0.7, 0.022, 0.4, GREEN)]),
    ],
)
def test_two_boxes_behind_one_pole_stay_apart(left, right, occluders):
    """The gap of 4 cm between the boxes lies behind the pole 6 cm wide (the last: 10 cm, not all behind)."""
    (z_left, yaw_left, colour_left), (z_right, yaw_right, colour_right) = left, right
    centre = 0.11 if occluders[0] is POLE else 0.14
    points, owner = render_table_frame([
        standing_box(-centre, z_left, 0.09, 0.05, 0.3, colour_left, yaw_left),
        standing_box(centre, z_right, 0.09, 0.05, 0.3, colour_right, yaw_right),
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
