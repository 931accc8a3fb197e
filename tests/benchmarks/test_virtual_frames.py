"""benchmarks.virtual_frames: a depth camera's view of a scan, checked on a wall and a panel in front of it."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import virtual_frames as frames

from ..helpers.cpu_kernels import oldest_kernels, run_elsewhere, skip_unless_other_kernels


def plane_points(xs, zs, y: float, label: int, colour, step: float = 0.015):
    """Points on a grid of ``step`` over x in ``xs`` and z in ``zs`` at depth y (z up), with a label and a colour."""
    x, z = np.meshgrid(np.arange(*xs, step), np.arange(*zs, step), indexing="ij")
    xyz = np.stack([x.ravel(), np.full(x.size, y), z.ravel()], axis=1)
    return np.hstack([xyz, np.tile(colour, (len(xyz), 1))]), np.full(len(xyz), label)


def wall_and_panel():
    """A red wall 3 m ahead of a camera at (0, 0, 1.2) looking along +y, and a green panel 2 m ahead."""
    wall, wall_label = plane_points((-1.5, 1.5), (0.0, 2.4), 3.0, 0, [1.0, 0.0, 0.0])
    panel, panel_label = plane_points((-0.3, 0.3), (0.9, 1.5), 2.0, 1, [0.0, 1.0, 0.0])
    return np.concatenate([wall, panel]), np.concatenate([wall_label, panel_label])


def floor_and_wall():
    """A blue floor (z = 0, label 1) reaching 4 m along +y and a red wall (label 0) standing there."""
    step = 0.015
    x, y = np.meshgrid(np.arange(-1.5, 1.5, step), np.arange(0.5, 4.0, step), indexing="ij")
    floor = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    wall, _ = plane_points((-1.5, 1.5), (0.0, 2.4), 4.0, 0, [1.0, 0.0, 0.0])
    points = np.concatenate([np.hstack([floor, np.tile([0.0, 0.0, 1.0], (len(floor), 1))]), wall])
    return points, np.concatenate([np.full(len(floor), 1), np.zeros(len(wall), dtype=np.int64)])


def test_look_at_gives_right_down_forward_rows():
    rotation = frames.look_at(np.zeros(3), np.array([0.0, 3.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rotation, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)  # x right, y down, z ahead


def test_views_stand_at_eye_height_in_the_corners_looking_at_the_middle():
    xyz = np.random.default_rng(0).uniform([0, 0, 0], [4, 6, 2.5], (20000, 3))
    views = frames.camera_views(xyz, "z", 4)
    assert len(views) == 4
    for eye, target in views:
        assert eye[2] == pytest.approx(np.percentile(xyz[:, 2], 2) + 1.6)
        assert target[2] == pytest.approx(np.percentile(xyz[:, 2], 2) + 0.4)
        np.testing.assert_allclose(target[:2], (np.percentile(xyz[:, :2], 3, axis=0) + np.percentile(xyz[:, :2], 97, axis=0)) / 2)
    with pytest.raises(ValueError, match="1 to 4"):
        frames.camera_views(xyz, "z", 5)


def test_a_corner_behind_a_wall_steps_inside_past_it_by_hand():
    # A floor 6 x 6 m and a wall across it at y = 4 m that the scan runs on past. The far corners give eyes at
    # about (0.58, 5.34) and (5.42, 5.34), whose sight of the middle (3, 3) the wall blocks: each steps along its
    # diagonal (45 degrees across the wall) to 0.5 m past the farthest wall point in its way, within 0.1 m of
    # the line, so to y = 4 - 0.5 * 0.707 = 3.65 m or a little nearer (3.58); the eyes at y 0.66 stay.
    x, y = np.meshgrid(np.arange(0.0, 6.001, 0.05), np.arange(0.0, 6.001, 0.05), indexing="ij")
    floor = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    a, b = np.meshgrid(np.arange(0.0, 6.001, 0.05), np.arange(0.0, 2.501, 0.05), indexing="ij")
    wall = np.stack([a.ravel(), np.full(a.size, 4.0), b.ravel()], axis=1)
    xyz = np.concatenate([floor, wall])
    structure = np.ones(len(xyz), dtype=bool)
    corners = frames.camera_views(xyz, "z", 4)
    stepped = frames.camera_views(xyz, "z", 4, structure)
    assert len(stepped) == 4
    for (corner, target), (eye, same_target) in zip(corners, stepped):
        np.testing.assert_array_equal(target, same_target)
        if corner[1] < 4:
            np.testing.assert_array_equal(eye, corner)
            continue
        assert eye[2] == corner[2] and 3.5 < eye[1] < 4 - 0.5 * np.sqrt(0.5)
        towards, moved = target[:2] - corner[:2], eye[:2] - corner[:2]
        assert abs(towards[0] * moved[1] - towards[1] * moved[0]) < 1e-9  # on the way to the middle
        assert frames._clear_sight(xyz, eye, target) and not frames._clear_sight(xyz, corner, target)


def test_a_corner_eye_inside_something_steps_out_by_hand():
    # The floor above with no wall, and a wardrobe's side (points 5 cm round the eye of the first corner, at
    # about (0.58, 0.58, 1.6)): that eye steps 0.5 m along its diagonal towards the middle (3, 3), to about
    # (0.93, 0.93), clear of the wardrobe's points; the other three corners stay.
    x, y = np.meshgrid(np.arange(0.0, 6.001, 0.05), np.arange(0.0, 6.001, 0.05), indexing="ij")
    floor = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    first = frames.camera_views(floor, "z", 4)[0][0]
    wardrobe = first + np.array([[0.05, 0.0, 0.0], [0.0, 0.05, 0.0], [-0.05, 0.0, 0.0], [0.0, -0.05, 0.0]])
    xyz = np.concatenate([floor, wardrobe])
    corners = frames.camera_views(xyz, "z", 4)
    stepped = frames.camera_views(xyz, "z", 4, np.arange(len(xyz)) < len(floor))
    np.testing.assert_allclose(stepped[0][0], corners[0][0] + [0.5 * np.sqrt(0.5), 0.5 * np.sqrt(0.5), 0.0], atol=1e-9)
    for (corner, _), (eye, _) in zip(corners[1:], stepped[1:]):
        np.testing.assert_array_equal(eye, corner)


def _room_with_a_block():
    """A floor 6 x 6 m (z 0), a bed-sized block 0.5 x 2 m at x 0.95-1.45, y 2-4, and a box 0.3 m wide, with
    their truth (the floor -1, the block 0, the box 1)."""
    x, y = np.meshgrid(np.arange(0.0, 6.001, 0.05), np.arange(0.0, 6.001, 0.05), indexing="ij")
    floor = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    bx, by, bz = np.meshgrid(np.arange(0.95, 1.451, 0.05), np.arange(2.0, 4.001, 0.05), [0.25, 0.5], indexing="ij")
    block = np.stack([bx.ravel(), by.ravel(), bz.ravel()], axis=1)
    box = block[:20] * [0.0, 0.0, 1.0] + [4.0, 4.0, 0.0] + np.arange(20)[:, None] * [0.015, 0.0, 0.0]
    xyz = np.concatenate([floor, block, box])
    truth = np.concatenate([np.full(len(floor), -1), np.zeros(len(block), dtype=int), np.ones(len(box), dtype=int)])
    return xyz, truth


def test_object_views_circle_each_wide_object_from_inside_the_room_by_hand():
    # Only the block is 1 m wide. Round its centre (1.2, 3.0) at 1.6 and 2.2 m, the eight headings put the eye
    # at x = 1.2 + d cos: 1.2 - 1.6 * 0.707 = 0.07 and lower lie outside the room's box (x from about 0.18), so
    # 5 eyes stand at each distance.
    xyz, truth = _room_with_a_block()
    views = frames.object_views(xyz, truth, "z")
    assert len(views) == 10
    for eye, target in views:
        np.testing.assert_allclose(target, [1.2, 3.0, 0.4], atol=1e-9)
        assert eye[2] == pytest.approx(1.6)
        assert round(float(np.linalg.norm(eye[:2] - target[:2])), 9) in (1.6, 2.2)
        assert eye[0] > 0.18
    assert frames.object_views(xyz, np.where(truth == 0, -1, truth), "z") == []  # the box alone is too narrow


def test_object_views_leave_out_an_eye_behind_a_wall_or_inside_something_by_hand():
    # The room above with a wall across it at y = 1.0, one at x = 0.9, which the block stands against, and a
    # lamp's shade (a few points 5 cm from the eye 1.6 m east of the block's centre, at (2.8, 3.0, 1.6)). Of
    # the 10 eyes, the one 2.2 m from the centre at heading 270 degrees, (1.2, 0.8), stands behind the wall at
    # y = 1.0: its line of sight to (1.2, 3.0, 0.4) crosses it; and the one in the shade stands inside
    # something. The wall at the block's back lies 0.3 m from the centre, and the lines of sight run away from
    # it: it stops none of them.
    xyz, truth = _room_with_a_block()
    a, b = np.meshgrid(np.arange(0.0, 6.001, 0.05), np.arange(0.0, 2.501, 0.05), indexing="ij")
    across = np.stack([a.ravel(), np.full(a.size, 1.0), b.ravel()], axis=1)
    behind = np.stack([np.full(a.size, 0.9), a.ravel(), b.ravel()], axis=1)
    shade = np.array([2.8, 3.0, 1.6]) + [[0.05, 0.0, 0.0], [0.0, 0.05, 0.0], [0.0, -0.05, 0.0], [0.0, 0.0, 0.05]]
    xyz = np.concatenate([xyz, across, behind, shade])
    truth = np.concatenate([truth, np.full(len(across) + len(behind), -1), np.full(len(shade), 2)])
    structure = (truth < 0) & ((xyz[:, 2] == 0) | (xyz[:, 1] == 1.0) | (xyz[:, 0] == 0.9))
    everywhere = frames.object_views(xyz, truth, "z")
    seen = frames.object_views(xyz, truth, "z", structure)
    assert len(everywhere) == 10 and len(seen) == 8
    left_out = [eye for eye, _ in everywhere if not any(np.array_equal(eye, kept) for kept, _ in seen)]
    np.testing.assert_allclose(sorted(left_out, key=lambda eye: eye[1]), [[1.2, 0.8, 1.6], [2.8, 3.0, 1.6]], atol=1e-9)


def test_a_frame_sees_the_panel_and_hides_the_wall_behind_it():
    points, truth = wall_and_panel()
    frame, labels = frames.render_frame(points, truth, np.array([0.0, 0.0, 1.2]), np.array([0.0, 3.0, 1.2]), "z")
    assert frame.shape[1] == 6 and frame.dtype == np.float32 and len(labels) == len(frame)
    x, y, depth = frame[:, 0] / frame[:, 2], frame[:, 1] / frame[:, 2], frame[:, 2]
    # Rays well inside the panel's outline (its splats reach 4 cm past its edges) meet the panel at 2 m...
    on_panel = (np.abs(x) < 0.25 / 2) & (np.abs(y) < 0.25 / 2)
    # ... and rays well outside it the wall at 3 m (up to the top of the view and the wall's sides).
    on_wall = (np.abs(x) > 0.4 / 2) & (np.abs(x) < 1.4 / 3) & (np.abs(y) < 1.1 / 3)
    assert on_panel.sum() > 2000 and on_wall.sum() > 20000
    assert (labels[on_panel] == 1).all() and (labels[on_wall] == 0).all()
    # Depth along the rays with noise of 1 mm per metre: 2 mm at 2 m, 3 mm at 3 m.
    assert abs(depth[on_panel].mean() - 2.0) < 5e-4 and np.abs(depth[on_panel] - 2.0).max() < 0.012
    assert abs(depth[on_wall].mean() - 3.0) < 5e-4 and np.abs(depth[on_wall] - 3.0).max() < 0.018
    assert 0.002 < np.std(depth[on_wall] - 3.0) < 0.004
    np.testing.assert_allclose(frame[on_panel, 3:], [[0.0, 1.0, 0.0]] * on_panel.sum(), atol=1e-6)
    np.testing.assert_allclose(frame[on_wall, 3:], [[1.0, 0.0, 0.0]] * on_wall.sum(), atol=1e-6)


def test_a_frame_can_be_upright_about_any_unit_vector():
    points, truth = wall_and_panel()
    eye, target = np.array([0.0, 0.0, 1.2]), np.array([0.0, 3.0, 1.2])
    named = frames.render_frame(points, truth, eye, target, "z", seed=1)
    given = frames.render_frame(points, truth, eye, target, np.array([0.0, 0.0, 1.0]), seed=1)
    np.testing.assert_array_equal(named[0], given[0])
    np.testing.assert_array_equal(named[1], given[1])


def test_a_frame_turned_upright_is_level_and_keeps_the_camera_heading():
    # A camera 1.2 m above a floor (z = 0) looking down at a point 3 m ahead on it, a wall beyond at y = 4.
    points, truth = floor_and_wall()
    eye, target = np.array([0.0, 0.0, 1.2]), np.array([0.0, 3.0, 0.0])
    frame, labels = frames.render_frame(points, truth, eye, target, "z")
    # In the camera's coordinates the floor is tilted (the camera looks 21.8 degrees down) ...
    assert np.ptp(frame[labels == 1, 1]) > 0.5
    turned = frames.upright_frame(frame, eye, target, "z")
    # ... turned upright about the camera it lies 1.2 m below it, level, and the wall stands 4 m ahead.
    assert turned.dtype == frame.dtype and turned.shape == frame.shape
    # Depth noise of 1 mm per metre along the rays (4 mm on the wall: 99 % within 1 cm), and splats blended
    # where the floor meets the wall.
    floor_height, wall_depth = turned[labels == 1, 2] + 1.2, turned[labels == 0, 1] - 4.0
    assert abs(np.median(floor_height)) < 0.002 and np.percentile(np.abs(floor_height), 99) < 0.015
    assert abs(np.median(wall_depth)) < 0.002 and np.percentile(np.abs(wall_depth), 99) < 0.015
    np.testing.assert_array_equal(turned[:, 3:], frame[:, 3:])  # the colours as they were
    np.testing.assert_allclose(np.linalg.norm(turned[:, :3], axis=1), np.linalg.norm(frame[:, :3], axis=1), rtol=1e-5)
    # The heading is the camera's: looking along +x instead, the floor stays level and what lay ahead lies along y.
    eye_x, target_x = np.array([0.0, 2.0, 1.2]), np.array([1.5, 2.0, 0.0])
    frame_x, labels_x = frames.render_frame(points, truth, eye_x, target_x, "z")
    turned_x = frames.upright_frame(frame_x, eye_x, target_x, "z")
    assert abs(np.median(turned_x[labels_x == 1, 2] + 1.2)) < 0.002
    assert np.median(turned_x[labels_x == 1, 1]) > 0.5 and abs(np.median(turned_x[labels_x == 1, 0])) < 0.5
    with pytest.raises(ValueError, match="straight along up"):
        frames.upright_frame(frame, eye, eye - [0.0, 0.0, 1.0], "z")


# Turns the frame saved in argv[1] upright (the camera at argv[2], looking at argv[3]) and saves it to argv[4].
_TURN_UPRIGHT = """
import sys
import numpy as np
from benchmarks import virtual_frames as frames
eye, target = (np.array([float(value) for value in argument.split(",")]) for argument in sys.argv[2:4])
np.save(sys.argv[4], frames.upright_frame(np.load(sys.argv[1]), eye, target, "z"))
"""


def test_a_frame_turns_upright_alike_whatever_kernels_the_cpu_runs(tmp_path):
    """The benchmark's figures on upright frames must not depend on the machine. Turned in float32, half of a
    frame's points came out 1-4 units in the last place apart with OpenBLAS's SkylakeX and its Katmai kernels,
    and 12 of the rooms' 67 frames of furniture found other objects (281 against 280 in all, stop 131)."""
    points, truth = floor_and_wall()
    eye, target = np.array([0.0, 0.0, 1.2]), np.array([0.0, 3.0, 0.0])
    frame, _ = frames.render_frame(points, truth, eye, target, "z")
    np.save(tmp_path / "frame.npy", frame)
    camera = [",".join(map(str, eye)), ",".join(map(str, target))]
    used_here = run_elsewhere(_TURN_UPRIGHT, [str(tmp_path / "frame.npy"), *camera, str(tmp_path / "here.npy")])
    here = np.load(tmp_path / "here.npy")
    np.testing.assert_array_equal(here, frames.upright_frame(frame, eye, target, "z"))
    used = run_elsewhere(_TURN_UPRIGHT, [str(tmp_path / "frame.npy"), *camera, str(tmp_path / "there.npy")],
                         oldest_kernels(used_here))  # fmt: skip
    skip_unless_other_kernels(used_here, used)
    # Turned in float64 and rounded once, the two differ only where float64's last bits straddle a float32
    # rounding boundary (a value in 10^8 or so), or where a coordinate of zero comes out 1e-17 on one side.
    assert (np.abs(np.load(tmp_path / "there.npy") - here) > 1e-12).mean() < 1e-4


def test_orbit_views_turn_round_the_target_at_its_distance_by_hand():
    # The frame's camera at the origin looks at a target 2 m ahead and 1 m below it (z up).
    up, target = np.array([0.0, 0.0, 1.0]), np.array([0.0, 2.0, -1.0])
    views = frames.orbit_views(up, target, ((0, 0), (90, 0), (0, 15), (0, -15)))
    for eye, looked_at in views:
        np.testing.assert_allclose(looked_at, target)
        assert np.linalg.norm(eye - target) == pytest.approx(np.sqrt(5))
    np.testing.assert_allclose(views[0][0], [0.0, 0.0, 0.0], atol=1e-12)  # no turn: the frame's own camera
    np.testing.assert_allclose(views[1][0], [2.0, 2.0, 0.0], atol=1e-12)  # a quarter turn about up, same height
    # The line of sight is 63.43 degrees from up (cos = 1 / sqrt 5); 15 degrees higher it is 48.43 degrees.
    for (eye, _), expected in ((views[2], 63.435 - 15), (views[3], 63.435 + 15)):
        angle = np.degrees(np.arccos((eye - target) @ up / np.sqrt(5)))
        assert angle == pytest.approx(expected, abs=1e-3)
        assert eye[0] == pytest.approx(0.0)  # tilted in the plane of the line of sight and up


def test_a_table_top_camera_splats_two_point_spacings():
    camera = frames.table_top_camera(0.0014)
    assert camera.splat_radius == pytest.approx(0.0028)
    assert (camera.width, camera.height, camera.focal) == (640, 480, 525.0)


def test_a_room_camera_of_another_resolution_keeps_its_field_of_view():
    camera = frames.room_camera(1.45)
    assert (camera.width, camera.height) == (742, 615) and camera.focal == pytest.approx(529.25)
    assert camera.width / camera.focal == pytest.approx(frames.ROOM_CAMERA.width / frames.ROOM_CAMERA.focal, rel=1e-3)
    assert camera.max_splat_pixels == 18 and camera.splat_radius == frames.ROOM_CAMERA.splat_radius
    assert frames.room_camera() == frames.ROOM_CAMERA
    with pytest.raises(ValueError, match="above 0"):
        frames.room_camera(0)
    # Its frame of the panel in front of the wall: the same view in 1.45^2 times the pixels.
    points, truth = wall_and_panel()
    eye, target = np.array([0.0, 0.0, 1.2]), np.array([0.0, 3.0, 1.2])
    base = frames.render_frame(points, truth, eye, target, "z")[1]
    finer = frames.render_frame(points, truth, eye, target, "z", camera=camera)[1]
    assert (finer == 1).sum() / (base == 1).sum() == pytest.approx(1.45**2, rel=0.03)


def test_surroundings_fill_the_empty_pixels_with_the_table_end_the_floor_and_a_wall():
    # A Kinect pitched 40 degrees down over a bare table top 0.5 m below it: in level coordinates (y down, z
    # ahead) the table is seen from z = 0.6 to 1.0 m with x within 0.3 m, one point per pixel whose ray meets
    # it. The table goes on to z = 1.3 (FAR_END), the floor lies at y = 0.5 + 0.75, the wall at z = 1.7
    # (WALL_GAP beyond the table's end).
    camera = frames.KINECT
    pitch = np.radians(40)
    to_level = np.array([[1, 0, 0], [0, np.cos(pitch), np.sin(pitch)], [0, -np.sin(pitch), np.cos(pitch)]])
    row, column = np.divmod(np.arange(camera.width * camera.height), camera.width)
    rays = np.stack([(column + 0.5 - camera.width / 2) / camera.focal, (row + 0.5 - camera.height / 2) / camera.focal,
                     np.ones(len(row))], axis=1)  # fmt: skip
    level = rays @ to_level.T
    with np.errstate(divide="ignore", invalid="ignore"):
        table = level * (0.5 / level[:, 1])[:, None]
    seen = (level[:, 1] > 0) & (table[:, 2] >= 0.6) & (table[:, 2] <= 1.0) & (np.abs(table[:, 0]) <= 0.3)
    points = np.c_[rays[seen] * (0.5 / level[seen, 1])[:, None], np.full((seen.sum(), 3), 0.6)].astype(np.float32)
    truth = np.full(len(points), -1)
    up = to_level.T @ [0.0, -1.0, 0.0]  # the table's normal, in the camera's coordinates
    filled, filled_truth = frames.with_surroundings(points, truth, up, seed=0)
    assert np.array_equal(filled[: len(points)], points) and (filled_truth == -1).all()
    new = filled[len(points):].astype(np.float64)
    pixel = (np.floor(camera.focal * new[:, 1] / new[:, 2] + camera.height / 2) * camera.width
             + np.floor(camera.focal * new[:, 0] / new[:, 2] + camera.width / 2)).astype(np.int64)  # fmt: skip
    assert not np.isin(pixel, np.flatnonzero(seen)).any() and len(np.unique(pixel)) == len(pixel)  # empty pixels only
    place = new[:, :3] @ to_level.T
    near = 5 * frames.KINECT_NOISE * np.linalg.norm(new[:, :3], axis=1) ** 2 * 3  # five noise levels, at a slant
    far_end = (np.abs(place[:, 1] - 0.5) < near) & (place[:, 2] > 1.0 - near) & (place[:, 2] < 1.3 + near)
    floor, wall = np.abs(place[:, 1] - 1.25) < near, np.abs(place[:, 2] - 1.7) < near
    assert (far_end | floor | wall).all() and min(far_end.sum(), floor.sum(), wall.sum()) > 1000
    assert np.allclose(np.median(new[wall & ~floor, 3:], axis=0), frames.WALL_RGB, atol=0.01)
    assert np.allclose(np.median(new[floor & ~wall, 3:], axis=0), frames.FLOOR_RGB, atol=0.01)
    # Looking straight down on the table there is no wall beyond it to put in.
    with pytest.raises(ValueError, match="straight down"):
        frames.with_surroundings(points, truth, np.array([0.0, 0.0, -1.0]))


def test_a_line_of_sight_may_end_at_a_wall_the_object_hangs_on():
    # A window's centre on a wall (x = 0): the eye 2 m in front sees it; the wall comes within
    # SIGHT_CLEARANCE of the line only in the last 0.1 m, inside SIGHT_TARGET_REACH. An eye looking along the
    # wall, 0.05 m from it, does not: the wall lies beside the whole line.
    a, b = np.meshgrid(np.arange(-3.0, 3.001, 0.05), np.arange(0.0, 2.501, 0.05), indexing="ij")
    wall = np.stack([np.zeros(a.size), a.ravel(), b.ravel()], axis=1)
    target = np.array([0.0, 0.0, 1.2])
    assert frames._clear_sight(wall, np.array([2.0, 0.0, 1.6]), target)
    assert not frames._clear_sight(wall, np.array([0.05, -2.0, 1.6]), target)
