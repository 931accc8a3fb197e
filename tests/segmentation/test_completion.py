"""A camera's frame sampled down, completed to its whole pixel grid (segmentation.completion) and segmented as
a whole frame."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from benchmarks.sensor_patterns import FACADES, MAX_RANGE, PATTERNS, SENSOR_HEIGHT, STREET, ray_cast, with_range_noise
from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.completion import _silhouette, complete_frame
from openshape_ood.segmentation.settings import WHOLE_SHARE

from ..helpers.camera_frames import BLUE, RED, STEP, render_table_frame, standing_box
from ..helpers.scenes import best_iou

STREET_NAMES = [name for name, _, _ in STREET]
BOX = standing_box(-0.05, 1.0, 0.09, 0.05, 0.3, RED)  # 3,024 of the frame's 18,000 pixels, 0.5 m before the wall


def _sample(points: np.ndarray, share: float, seed: int = 1) -> np.ndarray:
    """The rows of ``points`` kept at random with chance ``share`` (as VoteNet keeps 50,000 of a frame's)."""
    return np.random.default_rng(seed).random(len(points)) < share


def test_a_sampled_frame_is_completed_on_its_surfaces_and_nowhere_else():
    # The box's frame, a point on each ray, 15 % of them kept (2,700 points): completed, it holds 81 % of the
    # whole frame's points (not filled: a strip along the frame's border, outside the sample's hull; the pixels
    # along the box's outline, whose triangles span a depth edge; the widest 5 % of the triangles). The points
    # added lie on the surfaces the whole frame shows (its points are 0.4-0.6 cm apart at these depths), none in
    # the 0.5 m between the box and the wall behind it; the farthest off, 3.8 cm, bridge the 5 cm step from the
    # table's side edge to the wall 1.5 m away, which no sample tells from a surface seen near grazing.
    whole, _ = render_table_frame([BOX], along_rays=True)
    kept = _sample(whole, 0.15)
    xyz, points = complete_frame(whole[kept, :3], whole[kept], kept.mean(), np.random.default_rng(0))
    assert np.array_equal(points[: kept.sum()], whole[kept]) and np.array_equal(xyz, points[:, :3])
    assert 0.75 * len(whole) < len(xyz) < len(whole)
    off_surface = cKDTree(whole[:, :3]).query(xyz[kept.sum() :])[0]
    assert np.median(off_surface) < 0.003 and off_surface.max() < 0.05
    # The colours are those of the surfaces filled: the box's red (0.8, 0.2, 0.2) on the box, the grey elsewhere.
    red = points[kept.sum() :, 3] > 0.65
    assert (np.abs(points[kept.sum() :][red, 3:] - [0.8, 0.2, 0.2]) < 0.05).all()


def test_a_hole_in_the_frame_stays_a_hole_and_a_depth_edge_stays_open():
    # The wall's pixels within 0.1 of the image's centre return nothing (a window): 1,960 missing pixels, a hole
    # 25 pixels across; a sample of 15 % of the others leaves a gap that wide with no chance, so no point is added
    # there. Across the box's sides no triangle is filled: between the box's front (1.0 m) and the wall (1.5 m).
    whole, owner = render_table_frame([BOX], along_rays=True)
    image = whole[:, :2] / whole[:, 2:3]
    window = (np.linalg.norm(image - [0.25, -0.05], axis=1) < 0.1) & (owner == -1)
    frame = whole[~window]
    kept = _sample(frame, 0.15)
    xyz, _ = complete_frame(frame[kept, :3], frame[kept], kept.mean(), np.random.default_rng(0))
    added = xyz[kept.sum() :]
    added_image = added[:, :2] / added[:, 2:3]
    assert (np.linalg.norm(added_image - [0.25, -0.05], axis=1) < 0.1 - 2 * STEP).sum() == 0
    assert ((added[:, 2] > 1.1) & (added[:, 2] < 1.45) & (added[:, 1] < 0.2)).sum() == 0


def test_a_sampled_frame_is_segmented_as_its_completed_whole():
    # Sampled to 15 %, the box shows 471 points; completed, the frame is segmented as a whole one (512 pixels an
    # object, the share of pixels 1), and the box's own points take its label.
    whole, owner = render_table_frame([BOX], along_rays=True)
    kept = _sample(whole, 0.15)
    labels, settings = segment_scene(whole[kept], None, voxel_size=0.01, return_settings=True)
    assert len(labels) == kept.sum()
    assert settings.sampled_pixel_share == pytest.approx(0.15, abs=0.033)
    assert settings.measured.pixel_share == 1.0 and settings.min_points == 512
    assert best_iou(labels, owner[kept] == 0) > 0.95
    # The whole frame and one holding more than WHOLE_SHARE of its pixels are not completed.
    assert segment_scene(whole, None, voxel_size=0.01, return_settings=True)[1].sampled_pixel_share is None
    most = _sample(whole, 0.99)
    assert 0.99 > WHOLE_SHARE
    assert segment_scene(whole[most], None, voxel_size=0.01, return_settings=True)[1].sampled_pixel_share is None


def test_an_object_is_not_joined_to_one_it_hides_part_of():
    # Two boxes 0.3 m high, the second 6 cm behind the first and 12 cm to its side: their fronts lie 0.86 and
    # 0.92 m away, within a tenth of the range, and the first hides part of the second. Whole, the frame shows
    # them apart. Sampled to 30 %, the triangles from the red box's outline to the blue one's face behind it run
    # within 12.5 degrees of their rays and join two colours: a silhouette, left open. Filled, they joined the two
    # boxes at every seed (IoU 0.59-0.61 and 0.39-0.41).
    boxes = [standing_box(-0.05, 0.9, 0.08, 0.04, 0.3, RED), standing_box(0.07, 0.96, 0.08, 0.04, 0.3, BLUE)]
    whole, owner = render_table_frame(boxes, along_rays=True)
    for seed in range(3):
        kept = _sample(whole, 0.3, seed)
        labels = segment_scene(whole[kept], None, voxel_size=0.01)
        assert min(best_iou(labels, owner[kept] == box) for box in (0, 1)) > 0.95


def test_what_is_no_camera_frame_is_not_completed():
    # Points behind the camera, or on one line in the image: nothing to triangulate.
    ahead = np.random.default_rng(0).normal(size=(50, 3)) + [0, 0, 3]
    behind = np.concatenate([ahead, [[0.0, 0.0, -1.0]]])
    assert complete_frame(behind, behind, 0.2, np.random.default_rng(0)) is None
    line = np.stack([np.linspace(-1, 1, 50), np.zeros(50), np.full(50, 2.0)], axis=1)
    assert complete_frame(line, line, 0.2, np.random.default_rng(0)) is None


def test_a_lidar_sweep_cut_to_a_cameras_view_is_not_completed():
    # KITTI's object frames keep the sweep's points within its colour camera's view. An HDL-64E's rings seen 45
    # degrees either side of ahead, a fifth of their returns lost (dark paint, glass, beyond range), measure 0.81
    # of a pixel grid: a sample, by that measure. But a LiDAR's rows are its rings, not a camera's pixels, and the
    # street is segmented as it was sampled; completed, the SemanticKITTI sweep's camera views found 31 objects
    # with 106 false segments instead of 34.
    elevation, step = PATTERNS["HDL-64E"]
    azimuth = np.radians(np.arange(-45.0, 45.0, step))
    points, thing = ray_cast([(low, high) for _, low, high in STREET], np.radians(elevation), azimuth, SENSOR_HEIGHT,
                             FACADES, MAX_RANGE)  # fmt: skip
    rng = np.random.default_rng(0)
    returned = rng.random(len(points)) < 0.8
    points, thing = with_range_noise(points[returned], 0.01, rng), thing[returned]
    labels, settings = segment_scene(points, "z", return_settings=True)
    assert settings.measured.camera_frame and settings.ground == "grid"
    assert settings.measured.pixel_share < WHOLE_SHARE and settings.sampled_pixel_share is None
    np.testing.assert_array_equal(labels, segment_scene(points, "z", completion=False))
    assert best_iou(labels, thing == STREET_NAMES.index("car at 10 m")) > 0.9


@pytest.mark.parametrize(
    ("degrees", "colour", "silhouette"),
    [(0.0, BLUE, True), (12.0, BLUE, True), (13.0, BLUE, False), (90.0, BLUE, False), (0.0, RED, False)],
)
def test_a_silhouette_runs_along_its_ray_between_two_colours(degrees, colour, silhouette):
    # A red triangle 1 m ahead whose second corner leaves the first's ray (the z axis) at ``degrees`` and has
    # ``colour``; its other edges leave their rays at 45 degrees or more. Twenty red triangles beside it set the
    # colour noise at 8-bit colour's step, whose threshold the red-blue edge exceeds.
    first, turn = np.array([0.0, 0.0, 1.0]), np.radians(degrees)
    triangle = np.stack([first, first + 0.1 * np.array([np.sin(turn), 0.0, np.cos(turn)]), first + [0.0, 0.1, 0.0]])
    triangles = np.concatenate([triangle[None], np.repeat(triangle[None], 20, axis=0)])
    colours = np.tile(np.array(RED, dtype=float), (21, 3, 1))
    colours[0, 1] = colour
    assert _silhouette(triangles, colours).tolist() == [silhouette] + [False] * 20
