"""Joining the parts of an object hidden in the middle by a nearer one (segmentation.occlusion), on
small synthetic camera frames (tests.helpers.camera_frames): boxes on a table top seen past a nearer pole."""

import numpy as np
import pytest

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.occlusion import join_occluded, join_seen_past_edge

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
    arguments = {"voxel_size": 0.005, "plane_distance": 0.01, "normal_angle": 30.0, "part_voxels": 10, "max_size": 3.0}
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


def _image_patch(u_low, u_high, v_low, v_high, depth, step=0.005):
    """A flat patch facing the camera at ``depth`` that covers ``u_low..u_high`` x ``v_low..v_high`` of the image
    (the plane at depth 1), sampled every ``step`` radians."""
    u, v = np.meshgrid(np.arange(u_low, u_high, step), np.arange(v_low, v_high, step))
    return np.stack([u.ravel() * depth, v.ravel() * depth, np.full(u.size, depth)], axis=1)


def _frame_and_piece(piece, background=()):
    """A segment facing the camera (a square frame at 1 m round a hole 0.12 wide in the image, and a strip
    beside it at 1.3 m: ranges 1.0-1.38 m), ``piece`` and ``background`` (patches), labelled 0, 1 and -1; the
    frame's voxels that the piece hides are left out."""
    frame = np.concatenate([
        _image_patch(-0.2, 0.2, -0.2, -0.06, 1.0), _image_patch(-0.2, 0.2, 0.06, 0.2, 1.0),
        _image_patch(-0.2, -0.06, -0.06, 0.06, 1.0), _image_patch(0.06, 0.2, -0.06, 0.06, 1.0),
        _image_patch(0.2, 0.3, -0.2, 0.2, 1.3),
    ])  # fmt: skip
    in_front = [patch for patch in piece if patch[0, 2] < 1.0]
    for patch in in_front:  # what the piece hides of the frame
        image = frame[:, :2] / frame[:, 2:]
        low, high = (patch[:, :2] / patch[:, 2:]).min(axis=0), (patch[:, :2] / patch[:, 2:]).max(axis=0)
        frame = frame[~((image >= low).all(axis=1) & (image <= high).all(axis=1))]
    piece, rest = np.concatenate(piece), np.concatenate([np.empty((0, 3)), *background])
    return np.concatenate([frame, piece, rest]), np.repeat([0, 1, -1], [len(frame), len(piece), len(rest)])


@pytest.mark.parametrize(
    "piece, background, joined",
    [
        # the seat of a sofa behind its arm: seen through the frame's hole, 0.2 m behind it
        ([_image_patch(-0.06, 0.06, -0.06, 0.06, 1.2)], [], True),
        # a picture in the frame: no depth edge between them, nothing hides it
        ([_image_patch(-0.06, 0.06, -0.06, 0.06, 1.0)], [], False),
        # behind the hole, the frame beside it on one side only: most of its outline meets the wall round it
        ([_image_patch(-0.06, 0.0, -0.03, 0.03, 1.2)],
         [_image_patch(0.0, 0.06, -0.06, 0.06, 1.2), _image_patch(-0.06, 0.0, -0.06, -0.03, 1.2),
          _image_patch(-0.06, 0.0, 0.03, 0.06, 1.2)], False),
        # a wall seen through a gap: farther behind the frame's farthest voxel (1.38 m) than its span (0.38 m)
        ([_image_patch(-0.06, 0.06, -0.06, 0.06, 2.5)], [], False),
        # a thing standing in front: it is the nearer side of the edges
        ([_image_patch(-0.06, 0.06, -0.06, 0.06, 0.8)], [], False),
        # behind the hole, but lying on the frame as well (owning the edges there)
        ([_image_patch(-0.06, 0.06, -0.06, 0.06, 1.2), _image_patch(-0.17, -0.1, -0.17, -0.1, 0.95)], [], False),
        # behind the hole and rising above the frame: not within its outline in the image
        ([_image_patch(-0.06, 0.06, -0.06, 0.06, 1.2), _image_patch(-0.06, 0.06, 0.2, 0.35, 1.2)], [], False),
    ],
)
def test_a_piece_seen_past_a_segments_own_edge_joins_it(piece, background, joined):
    xyz, objects = _frame_and_piece(piece, background)
    result = join_seen_past_edge(objects, xyz, np.zeros(3), 0.005, 0.01)
    assert (len(np.unique(result[result >= 0])) == 1) == joined
    if not joined:
        np.testing.assert_array_equal(result, objects)


def test_a_piece_is_joined_only_in_a_camera_frame():
    xyz, objects = _frame_and_piece([_image_patch(-0.06, 0.06, -0.06, 0.06, 1.2)])
    np.testing.assert_array_equal(join_seen_past_edge(objects, xyz, None, 0.005, 0.01), objects)
    # the same scene with a point behind the sensor: a view round it (a LiDAR sweep), no image plane
    behind = np.concatenate([xyz, [[0.0, 0.0, -1.0]]])
    np.testing.assert_array_equal(
        join_seen_past_edge(np.append(objects, 1), behind, np.zeros(3), 0.005, 0.01), np.append(objects, 1)
    )
