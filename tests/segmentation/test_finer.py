"""Objects on a raised top cut where a segmentation at their own spacing parts them (segmentation.finer): a
table top seen with the room round it, whose voxel the room sets, or a table seen from farther, the floor round
it the support."""

import numpy as np
import pytest

from openshape_ood.segmentation import finer, segment_scene
from openshape_ood.segmentation.finer import RaisedTop, on_top, replace_on_top

from ..helpers.camera_frames import BLUE, RED, render_table_frame, standing_box
from ..helpers.scenes import best_iou

# Two boxes 16 cm wide, 14 mm apart, on a table 1 m wide ending 1.4 m from the camera, the floor 1 m below the
# camera (0.75 m below the table) and a wall 2.5 m away: the frame's diagonal gives it a voxel of 8.1 mm, whose
# cluster distance (two voxels) bridges the gap; its own spacing, 2.9 mm, gives 5.8 mm, which does not.
BOXES = [standing_box(-0.087, 0.8, 0.08, 0.08, 0.15, RED), standing_box(0.087, 0.8, 0.08, 0.08, 0.15, BLUE)]
ROWS = (-0.3, 0.6)
TABLE_IN_ROOM = (0.6, 0.5, 1.4, 1.0, 2.5)
TABLE_TO_WALL = (0.6, 5.0, 2.5, None, 2.5)  # the same boxes on a floor reaching the wall: nothing below it


def _frame(room):
    return render_table_frame(BOXES, step=0.003, rows=ROWS, room=room)


def _apart(labels, owner) -> bool:
    """Whether each box has a segment of its own (IoU > 0.85): two segments, since those overlap each box most.
    Merged, each box's best IoU is about a half. Cut at the table's own voxel, the faces the camera sees nearly
    edge-on (the boxes' tops, 10 cm below it, and the sides facing each other: a ninth of their points, IoU
    0.89) fall into pieces smaller than an object and are background."""
    return all(best_iou(labels, owner == thing) > 0.85 for thing in (0, 1))


# Two boxes 10 cm wide, 14 mm apart, on a table 0.8 m wide ending 1.6 m from a camera 1.3 m above the floor that
# looks down at them from 1.2 m (0.55 m above the table), a wall 3 m away: the floor is the largest plane and the
# support, the table a top raised off it. The frame's diagonal gives it a voxel of 9 mm, whose cluster distance
# bridges the gap; the table's and the boxes' own spacing, 2.4 mm, gives 5 mm, which does not.
FAR_BOXES = [
    standing_box(x, 1.2, 0.05, 0.05, 0.12, colour, table_y=0.55) for x, colour in ((-0.057, RED), (0.057, BLUE))
]
FAR_TABLE = (0.6, 0.4, 1.6, 1.3, 3.0)


def _far_frame():
    return render_table_frame(FAR_BOXES, step=0.002, rows=(0.2, 0.9), room=FAR_TABLE, table_y=0.55)


@pytest.mark.parametrize(
    "frame, voxel, fine",
    [
        (lambda: _frame(TABLE_IN_ROOM), 0.0081, 0.005),  # the table the support: two spacings of the top
        (_far_frame, 0.009, 0.005),  # the floor the support, the table on it
    ],
    ids=["table-the-support", "table-on-the-floor"],
)
def test_touching_boxes_on_a_table_in_a_room_are_cut_at_their_own_spacing(monkeypatch, frame, voxel, fine):
    points, owner = frame()
    labels, settings = segment_scene(points, None, return_settings=True)
    assert settings.measured.camera_frame and settings.voxel_size == voxel and settings.finer_voxel_size == fine
    assert _apart(labels, owner)
    monkeypatch.setattr(finer, "FINER", float("inf"))  # no second segmentation: the boxes are one object
    merged, settings = segment_scene(points, None, return_settings=True)
    assert settings.finer_voxel_size is None
    assert not _apart(merged, owner) and best_iou(merged, owner >= 0) > 0.9


def test_on_a_floor_or_at_a_given_voxel_the_frame_is_segmented_once():
    # The boxes on a floor: nothing lies below the support, as in a room's frame, whose furniture falls apart at
    # its own spacing; so it is segmented at the voxel its diagonal sets alone.
    points, owner = _frame(TABLE_TO_WALL)
    labels, settings = segment_scene(points, None, return_settings=True)
    assert settings.finer_voxel_size is None and best_iou(labels, owner >= 0) > 0.9
    # A voxel given is the one used.
    points, owner = _frame(TABLE_IN_ROOM)
    labels, settings = segment_scene(points, None, voxel_size=0.0081, return_settings=True)
    assert settings.finer_voxel_size is None and best_iou(labels, owner >= 0) > 0.9


def test_a_small_box_against_the_front_of_a_larger_one_is_cut_at_the_tables_spacing(monkeypatch):
    # A box 8 cm wide (1,813 points) standing against the front of one 15 cm tall (3,645), the room round the
    # table. At the room's 8.1 mm the concave split leaves them one object (best IoU 0.60 and 0.35); the table
    # and what stands on it, cut as a frame of their own at 5 mm, part them.
    boxes = [standing_box(0.0, 0.85, 0.08, 0.08, 0.15, RED), standing_box(0.0, 0.73, 0.04, 0.04, 0.08, BLUE)]
    points, owner = render_table_frame(boxes, step=0.003, rows=ROWS, room=TABLE_IN_ROOM)
    assert np.bincount(owner[owner >= 0]).tolist() == [3645, 1813]
    labels, settings = segment_scene(points, None, return_settings=True)
    assert settings.min_points == 512 and settings.finer_voxel_size == 0.005
    assert best_iou(labels, owner == 0) > 0.85 and best_iou(labels, owner == 1) > 0.9
    monkeypatch.setattr(finer, "FINER", float("inf"))
    merged = segment_scene(points, None)
    assert best_iou(merged, owner == 0) < 0.7 and best_iou(merged, owner == 1) < 0.5


UP = np.array([0.0, 0.0, 1.0])  # across it, geometry.plane_basis gives (y, -x)
# A table top 1 m square round the origin at height 0, what stands on it from 1 cm lower; a reach of 5 mm.
SQUARE = np.array([(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)])
def test_on_top_takes_the_top_and_what_rests_on_it_within_their_outline():
    # The table of 1 m square at height 0 (its band 1 cm), a reach of 5 mm. Points: on the top; 2 cm above it;
    # 2 cm below it; 3 mm past its edge at x = 0.5; 1 cm past it, 0.2 m aside.
    top = RaisedTop(UP, 0.0, -0.01, SQUARE)
    xyz = np.array([(0.0, 0.0, 0.0), (0.1, 0.0, 0.02), (0.0, 0.0, -0.02), (0.503, 0.0, 0.0), (0.51, 0.2, 0.0)])
    assert on_top(np.full(5, -1), xyz, top, 0.005).tolist() == [True, True, False, True, False]
    # An object resting on it in a corner it covers (no voxel of the top there), from x = 0.5 to 0.7 along y = 0,
    # 5 cm tall: its base joins the outline, whose hull now holds the point 0.2 m aside.
    x = np.linspace(0.5, 0.7, 11)
    resting = np.concatenate([np.stack([x, 0 * x, 0 * x], axis=1), np.stack([x, 0 * x, 0 * x + 0.05], axis=1)])
    labels = np.array([-1] * 5 + [0] * 22)
    inside = on_top(labels, np.concatenate([xyz, resting]), top, 0.005)
    assert inside.tolist() == [True, True, False, True, True] + [True] * 22
    # Standing on the floor, 0.3 m lower, the same object reaches below the table: the hull is the top's alone.
    resting[:, 2] -= 0.3
    inside = on_top(labels, np.concatenate([xyz, resting]), top, 0.005)
    assert inside.tolist() == [True, True, False, True, False] + [False] * 22


def _heights(*z) -> np.ndarray:
    """Points at heights ``z`` above the origin (up: UP)."""
    return np.stack([np.zeros(len(z)), np.zeros(len(z)), np.array(z, dtype=float)], axis=1)


FAR_TOP = RaisedTop(UP, 0.0, -0.01, SQUARE)  # its band 1 cm each way


def test_replace_on_top_takes_the_crops_objects_where_they_lie_within_it():
    # Ten points 5 cm above the top: object 0 (points 0-3) within the crop, object 1 (4-7) with one point of four
    # in it (7), the background 8-9 in it. The crop's own segmentation (of points 0, 1, 2, 3, 7, 8, 9) parts
    # object 0 into two, finds an object in the background that the first dropped, and one on object 1's point 7,
    # not taken.
    xyz = _heights(*[0.05] * 10)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1])
    crop = np.array([True] * 4 + [False] * 3 + [True] * 3)
    parted = replace_on_top(labels, crop, np.array([0, 0, 1, 1, 2, 3, 3]), xyz, FAR_TOP)
    assert parted.tolist() == [1, 1, 2, 2, 0, 0, 0, 0, 3, 3]
    # The crop's object over point 7 (of object 1) and the background 8: half in object 1, not taken.
    parted = replace_on_top(labels, crop, np.array([0, 0, 1, 1, 2, 2, -1]), xyz, FAR_TOP)
    assert parted.tolist() == [1, 1, 2, 2, 0, 0, 0, 0, -1, -1]
    # An object 80 % in the crop is replaced; its points the crop's segmentation leaves as background are so.
    labels = np.array([0, 0, 0, 0, 0, -1, -1, -1, -1, -1])
    crop = np.array([True] * 4 + [False] + [True] * 5)
    parted = replace_on_top(labels, crop, np.array([0, 0, -1, -1, 1, 1, 1, -1, -1]), xyz, FAR_TOP)
    assert parted.tolist() == [1, 1, -1, -1, -1, 0, 0, 0, -1, -1]


@pytest.mark.parametrize(
    "heights",
    [(0.0, 0.005, -0.005, 0.0, 0.002), (-0.3, 0.05, 0.05, 0.05, 0.05)],
    ids=["lying-in-the-top", "reaching-below-it"],
)
def test_replace_on_top_keeps_the_table_the_top_belongs_to(heights):
    # Object 0, five points in the crop: the table's top seen from above (its robust highest point within the
    # band, 1 cm) or a table reaching below the top with a leg. The crop's segmentation, which took the top for
    # its support, finds an object on its last two points: it overlaps the table and is not taken.
    labels = np.zeros(5, dtype=np.int64)
    parted = replace_on_top(labels, np.ones(5, dtype=bool), np.array([-1, -1, -1, 0, 0]), _heights(*heights), FAR_TOP)
    assert parted.tolist() == [0] * 5
    # Standing on the top, 5 cm tall, it gives way.
    standing = _heights(0.0, 0.05, 0.05, 0.05, 0.05)
    parted = replace_on_top(labels, np.ones(5, dtype=bool), np.array([-1, -1, -1, 0, 0]), standing, FAR_TOP)
    assert parted.tolist() == [-1, -1, -1, 0, 0]
