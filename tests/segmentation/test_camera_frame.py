"""Whether a scan is a camera's frame in the camera's coordinates (settings.camera_frame): it shows one
surface along each ray from the origin (visibility.seen_through_share), as no reconstruction does; and
the fewest pixels an object of such a frame holds."""

import contextlib

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.clustering import surface_voxels
from openshape_ood.segmentation.settings import ScanMeasures, measure_scan
from openshape_ood.segmentation.visibility import pixel_share, seen_through_share

from ..helpers.camera_frames import BLUE, GREEN, RED, render_table_frame, standing_box
from ..helpers.camera_frames import STEP as PIXEL_STEP
from ..helpers.scenes import best_iou

STEP = 0.005  # radians between the rays of the synthetic camera


def _wall(depth: float, u_low: float, u_high: float) -> np.ndarray:
    """A wall facing the camera at ``depth`` (z), met by the rays of a grid of ``STEP`` in u = x/z from
    ``u_low`` to ``u_high`` and v = y/z from -0.25 to 0.25: one point per ray."""
    u, v = np.meshgrid(np.arange(u_low, u_high, STEP), np.arange(-0.25, 0.25, STEP))
    return np.stack([u.ravel() * depth, v.ravel() * depth, np.full(u.size, depth)], axis=1)


def test_a_depth_image_shows_one_surface_per_ray_and_a_reconstruction_more():
    near, far_left, far_right = _wall(1.0, -0.5, 0.0), _wall(2.0, -0.5, 0.0), _wall(2.0, 0.0, 0.5)
    edge = (far_right[:, 0] == 0).sum()  # the far wall's column beside the step in depth: 100 mixed pixels
    frame = np.concatenate([near, far_right])  # what a camera sees
    assert seen_through_share(frame) == edge / len(frame) == 0.005
    # The far wall behind the near one as well (a reconstruction holds both): its left half lies behind
    # a nearer point on each of its rays.
    both = np.concatenate([near, far_left, far_right])
    assert seen_through_share(both) == (len(far_left) + edge) / len(both)


def test_a_frame_in_its_own_coordinates_is_a_camera_frame_and_a_room_from_its_corner_is_not():
    rng = np.random.default_rng(0)
    frame = np.concatenate([_wall(1.0, -0.5, 0.0), _wall(2.0, 0.0, 0.5)]) + rng.normal(0, 0.001, (20000, 3))
    assert measure_scan(frame).camera_frame
    assert measure_scan(frame).viewpoint.tolist() == [0.0, 0.0, 0.0]
    # The same two walls with what lies behind the near one: to one side of the origin, near it, but seen
    # through. So is the frame far from the origin (map coordinates): no ray from the origin meets it first.
    room = np.concatenate([frame, _wall(2.0, -0.5, 0.0)])
    assert not measure_scan(room).camera_frame and measure_scan(room).viewpoint is None
    assert not measure_scan(frame + [0.0, 0.0, 100.0]).camera_frame


@pytest.mark.parametrize("single, camera, viewpoint", [(True, False, True), (False, True, True), (False, False, False)])
def test_the_sensor_is_at_the_origin_for_a_sweep_or_a_camera_frame(single, camera, viewpoint):
    measured = ScanMeasures(1000, 0.01, 0.002 * single, single, (1.0, 1.0, 1.0), camera_frame=camera)
    assert (measured.viewpoint is not None) == viewpoint


def test_an_object_of_a_camera_frame_needs_512_pixels_and_one_of_a_room_a_surface():
    # A box of 3,085 pixels and one 8 cm wide, 1.2 m from the camera, seen in 359 (a coarse Kinect's pixels).
    points, owner = render_table_frame([standing_box(-0.15, 1.0, 0.09, 0.05, 0.3, RED),
                                        standing_box(0.15, 1.2, 0.04, 0.04, 0.1, BLUE)])  # fmt: skip
    assert np.bincount(owner[owner >= 0]).tolist() == [3085, 359]
    labels, settings = segment_scene(points, None, return_settings=True)
    assert settings.measured.camera_frame and settings.min_points == 512 and settings.source["min_points"] == "chosen"
    assert (labels[owner == 0] == 0).mean() > 0.95 and (labels[owner == 1] == -1).all()
    given = segment_scene(points, None, min_points=50, min_voxels=1)
    assert (given[owner == 1] == 1).mean() > 0.9  # kept when asked for
    # Not a camera's frame (the wall behind the boxes as well, as a reconstruction holds it): the points that
    # cover an object's least surface at the scan's spacing (test_voxel_floor).
    seen_through = segment_scene(np.concatenate([points[:, :3], _wall(1.5, -0.45, 0.45)]), None, return_settings=True)
    assert seen_through[1].min_points == round(0.0125 / seen_through[1].measured.spacing**2) != 512
    assert seen_through[1].min_voxels == 1  # and no floor on voxels (below)


def test_an_object_of_a_camera_frame_also_needs_256_voxels_however_many_pixels_sample_it():
    # The same two boxes seen by a camera of twice the pixels across (as a depth image registered to a finer
    # colour image): the small one shows 1,434 pixels, more than 512, on the 1 cm voxels of the frame's grid.
    things = [standing_box(-0.15, 1.0, 0.09, 0.05, 0.3, RED), standing_box(0.15, 1.2, 0.04, 0.04, 0.1, BLUE)]
    points, owner = render_table_frame(things, step=PIXEL_STEP / 2)
    assert np.bincount(owner[owner >= 0]).tolist() == [12343, 1434]
    every = segment_scene(points, None, voxel_size=0.01, min_voxels=1)
    low = points[:, :3].min(axis=0)
    voxels = [len(np.unique(np.floor((points[every == k, :3] - low) / 0.01), axis=0)) for k in (0, 1)]
    assert voxels == [520, 136] and (every[owner == 1] == 1).mean() > 0.95  # both kept when asked for
    # By default the small box, over 136 voxels, is background; the large one, over 520, stays.
    labels, settings = segment_scene(points, None, voxel_size=0.01, return_settings=True)
    assert settings.min_voxels == 256 and settings.source["min_voxels"] == "chosen"
    assert (labels[owner == 0] == 0).mean() > 0.95 and (labels[owner == 1] == -1).all()
    # Alone on the table the small box leaves no object, and the warning names both floors.
    small, _ = render_table_frame(things[1:], step=PIXEL_STEP / 2)
    with pytest.warns(UserWarning, match="fewer than min_points=512 points or min_voxels=256 voxels") as caught:
        assert segment_scene(small, None, voxel_size=0.01).max() == -1
    assert "(scene: --min-points, --min-voxels, --min-size)" in str(caught[0].message)


def test_the_share_of_its_pixels_a_sampled_frame_holds_is_measured_on_their_rays():
    # 18,000 pixels, a point on each ray (depth noise along the rays only, as a depth camera's), kept at random
    # with each share (VoteNet keeps 50,000 points of a SUN RGB-D frame). 2,000 sites looked at: a standard
    # error of 0.011 at most, and the tolerance is three of them.
    points, _ = render_table_frame([standing_box(-0.15, 1.0, 0.09, 0.05, 0.3, RED)], along_rays=True)
    assert len(points) == 18000
    for share in (1.0, 0.5, 0.3, 0.1):
        kept = points[np.random.default_rng(1).random(len(points)) < share, :3]
        measured = pixel_share(kept, np.random.default_rng(0))
        assert abs(measured - len(kept) / len(points)) < 0.033, (share, measured)  # the frame's edges miss a few
    # Points off the rays (noise across them, as the helper's frames have by default) or at random directions
    # lie on no grid: such a frame counts as whole.
    across, _ = render_table_frame([standing_box(-0.15, 1.0, 0.09, 0.05, 0.3, RED)])
    assert pixel_share(across[np.random.default_rng(1).random(len(across)) < 0.3, :3], np.random.default_rng(0)) == 1.0
    scattered = np.random.default_rng(2).normal(size=(20000, 3)) + [0.0, 0.0, 5.0]
    assert pixel_share(scattered, np.random.default_rng(0)) == 1.0


def test_an_object_of_a_sampled_frame_needs_the_points_of_512_pixels():
    # A box of 3,024 pixels in a frame of which 15 % are kept: 471 points over some 300 voxels of 1 cm (the
    # voxels of a room's frame follow the room, not the sample). 512 pixels of that frame are 78 points (81 at
    # the share measured, 0.158 of 0.153). The frame is segmented as sampled (completion off: completed, it is
    # a whole frame's, tests/segmentation/test_completion.py).
    points, owner = render_table_frame([standing_box(-0.05, 1.0, 0.09, 0.05, 0.3, RED)], along_rays=True)
    assert (owner == 0).sum() == 3024
    kept = np.random.default_rng(1).random(len(points)) < 0.15
    points, owner = points[kept], owner[kept]
    assert (owner == 0).sum() == 471
    labels, settings = segment_scene(points, None, voxel_size=0.01, completion=False, return_settings=True)
    assert settings.min_points == round(512 * settings.measured.pixel_share) == 81
    assert settings.sampled_pixel_share is None
    assert settings.source["min_points"] == "chosen"
    assert best_iou(labels, owner == 0) > 0.95
    # Counted as pixels, the sample's points would leave it no object.
    with pytest.warns(UserWarning, match="fewer than min_points=512 points"):
        assert (segment_scene(points, None, voxel_size=0.01, min_points=512, completion=False) == -1).all()


def test_a_camera_frames_given_axis_names_its_support_whose_normal_is_up():
    # The camera pitched 20 degrees down (a camera at eye height): the table tilts off the frame's -y axis.
    # Given "y", the table's own normal is up, not the axis, in a camera's frame; a reconstruction (the wall
    # behind seen through as well) keeps the axis it was given.
    points, owner = render_table_frame([standing_box(-0.15, 1.0, 0.09, 0.05, 0.3, RED),
                                        standing_box(0.15, 1.1, 0.06, 0.06, 0.2, BLUE)])  # fmt: skip
    pitch = Rotation.from_euler("x", 20, degrees=True)
    pitched, table_up = pitch.apply(points[:, :3]), pitch.apply([0.0, -1.0, 0.0])
    labels, settings = segment_scene(pitched, "y", return_settings=True)
    assert settings.measured.camera_frame and settings.up_axis == "y"
    assert np.degrees(np.arccos(min(1.0, float(np.dot(settings.up, table_up))))) < 0.5  # and it points up
    for box in (0, 1):
        assert (labels[owner == box] == box).mean() > 0.9 and (owner[labels == box] == box).mean() > 0.9
    seen_through = np.concatenate([pitched, pitch.apply(_wall(1.4, -0.45, 0.45))])
    reconstruction = segment_scene(seen_through, "y", return_settings=True)[1]
    assert not reconstruction.measured.camera_frame and reconstruction.up == (0.0, 1.0, 0.0)


#: Two boxes standing on the floor of :func:`_room_frame`: (centre, half sides), m.
_ROOM_BOXES = (([-0.5, 2.2, -1.15], [0.3, 0.25, 0.35]), ([0.6, 2.8, -1.0], [0.25, 0.3, 0.5]))


def _room_frame(pitch: float, boxes=_ROOM_BOXES) -> tuple[np.ndarray, np.ndarray]:
    """A camera frame stored upright (x right, y forward, z up; the camera at the origin, 1.5 m above the
    floor, pitched ``pitch`` degrees down, 62 x 53 degrees of view, a coarse Kinect's pixels): the floor, a
    wall 4 m ahead and ``boxes`` (centre, half sides) standing on the floor. Points ``(N, 3)`` and the box
    each lies on (-1: floor or wall)."""
    u, v = np.meshgrid(np.arange(-0.6, 0.6, PIXEL_STEP), np.arange(-0.5, 0.5, PIXEL_STEP))
    rays = Rotation.from_euler("x", -pitch, degrees=True).apply(np.stack([u.ravel(), np.ones(u.size), v.ravel()], 1))
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(rays[:, 2] < 0, -1.5 / rays[:, 2], np.inf)
        hit = np.minimum(floor, np.where(rays[:, 1] > 0, 4.0 / rays[:, 1], np.inf))  # the floor or the wall
        owner = np.full(len(rays), -1)
        for index, (centre, half) in enumerate(boxes):
            low, high = (np.array(centre) - half) / rays, (np.array(centre) + half) / rays
            near, far = np.nanmax(np.minimum(low, high), axis=1), np.nanmin(np.maximum(low, high), axis=1)
            distance = np.where((near <= far) & (near > 0), near, np.inf)
            closer = distance < hit
            hit[closer], owner[closer] = distance[closer], index
    seen = np.isfinite(hit)
    return rays[seen] * hit[seen, None] + np.random.default_rng(0).normal(0, 0.002, (seen.sum(), 3)), owner[seen]


def test_a_furniture_front_at_the_bottom_of_a_frame_given_its_axis_is_no_wall():
    # Pitched 10 degrees down, the view's bottom edge meets the floor 2.02 m ahead, behind the near box's front
    # (1.95 m): nothing lies before that front in view, and the floor and the wall beyond the box lie behind it.
    # Judged by the side holding fewer voxels, the front bounded the scan as a wall does and went with the walls
    # (the box's best IoU 0.21); judged by the side away from the camera, it is a face of the box. Without an
    # axis the side holding fewer still decides (the README's mug scene: tests/package/test_readme.py).
    points, owner = _room_frame(10.0)
    labels, settings = segment_scene(points, "z", return_settings=True)
    assert settings.measured.camera_frame and np.dot(settings.up, [0.0, 0.0, 1.0]) > 0.99
    assert best_iou(labels, owner == 0) > 0.8 and best_iou(labels, owner == 1) > 0.8


def test_planes_across_a_given_axis_are_tested_with_no_support_in_view():
    # The table is seen only as a strip at the view's bottom edge, its patches under min_plane_area together:
    # no support is found. Given "y", the planes across it are still tested as walls or fronts: the near box's
    # front, with the table and the wall behind it, is a face. Before, every plane was structure until a support
    # was found, and the box went with the walls (found whole without an axis, where the wall is the support).
    points, owner = render_table_frame([standing_box(-0.1, 1.3, 0.2, 0.1, 0.3, RED),
                                        standing_box(0.3, 1.3, 0.06, 0.06, 0.2, BLUE)])  # fmt: skip
    labels = segment_scene(points, "y")
    assert best_iou(labels, owner == 0) > 0.8 and best_iou(labels, owner == 1) > 0.8


def test_the_support_of_a_camera_frame_faces_up_in_the_image_where_a_wall_is_the_largest_plane():
    # The table frame seen from 0.5 of the depth above the line of sight to 0.45 below: the wall (34,341 points)
    # is larger than the table (14,640) and was taken for the support, the boxes merging with the table (best
    # IoU 0.59 and 0.13). Without an axis, the support is the largest plane among the voxels facing up in the
    # image (-y) where the largest of all does not: the table, and both boxes are found.
    boxes = [standing_box(-0.15, 1.0, 0.09, 0.05, 0.3, RED), standing_box(0.15, 1.2, 0.06, 0.06, 0.15, BLUE)]
    points, owner = render_table_frame(boxes, rows=(-0.5, 0.45))
    labels, settings = segment_scene(points, None, return_settings=True)
    assert np.dot(settings.up, [0.0, -1.0, 0.0]) > 0.99
    assert best_iou(labels, owner == 0) > 0.9 and best_iou(labels, owner == 1) > 0.7
    # The same frame turned upright (z up, y forward, as SUN RGB-D stores frames) is not in a camera's
    # coordinates: its image's up is not known, and the largest plane stays the support.
    upright = np.c_[points[:, 0], points[:, 2], -points[:, 1], points[:, 3:]]
    assert np.dot(segment_scene(upright, None, return_settings=True)[1].up, [0.0, -1.0, 0.0]) > 0.99


@pytest.mark.parametrize("pitch", [46.0, 50.0])
def test_a_wall_before_a_camera_looking_down_steeply_faces_down_in_the_image_and_is_no_support(pitch):
    # A camera 0.6 m above a table pitched more than the normal angle (45 degrees) down: the table is the largest
    # plane but lies farther than that from the image's up, and the wall beyond the table's end, whose normal lies
    # closer to it, was taken for the support. Nothing came apart (one segment; the boxes' best IoU 0.04-0.07).
    # Seen from the camera, the wall's face points down in the image: it is no support, and the table is.
    level = {"table_y": 0.6}
    boxes = [standing_box(-0.15, 0.4, 0.04, 0.04, 0.08, RED, **level),
             standing_box(0.0, 0.45, 0.05, 0.03, 0.12, BLUE, **level),
             standing_box(0.15, 0.38, 0.03, 0.05, 0.06, GREEN, **level)]  # fmt: skip
    room = (0.45, 0.6, 0.7, 1.35, 1.0)  # the table ends 0.7 m ahead, the floor 1.35 m below, the wall 1.0 m ahead
    points, owner = render_table_frame(boxes, rows=(-0.35, 0.35), step=0.0016, room=room, pitch=pitch, **level)
    labels, settings = segment_scene(points, None, return_settings=True)
    table_up = [0.0, -np.cos(np.radians(pitch)), -np.sin(np.radians(pitch))]
    assert np.dot(settings.up, table_up) > 0.99
    assert min(best_iou(labels, owner == box) for box in range(3)) > 0.95


def test_up_points_to_the_camera_of_a_frame_looking_down_at_a_bed_whose_top_is_the_support():
    # Pitched 60 degrees down over a bed (2 m long, its top 0.5 m above the floor) with a box on it: the top is
    # the largest plane facing up, and the floor round the bed and the bed's near side lie below it, more of
    # the view than the box above it. The ranges span 1.1-1.7 m, too little for the spacing to grow measurably
    # (no single_viewpoint), but the frame is a camera's: its sensor, at the origin, looks at the support from
    # above. Up was turned to the side holding more of the scan, down here, and the tops of furniture and what
    # stands on them were judged upside down (3 of the 77 frames of furniture of benchmarks.scenes).
    bed, box = ([0.0, 1.3, -1.25], [0.9, 1.0, 0.25]), ([0.2, 1.4, -0.9], [0.1, 0.1, 0.1])
    points, owner = _room_frame(60.0, boxes=(bed, box))
    labels, settings = segment_scene(points, "z", return_settings=True)
    assert settings.measured.camera_frame and not settings.measured.single_viewpoint
    assert (owner == -1).sum() > (owner == 1).sum()  # the floor in view outweighs what stands on the bed
    assert np.dot(settings.up, [0.0, 0.0, 1.0]) > 0.99
    assert best_iou(labels, owner == 1) > 0.9


@pytest.mark.parametrize("half_width, wall_first", [(0.5, True), (1.3, False)])
def test_a_panel_hiding_the_wall_behind_it_is_no_wall_when_the_wall_is_seen_beside_it(half_width, wall_first):
    # A desk 0.25 m before the wall 4 m ahead, and on it a panel (a television on its stand) 0.5 m before the
    # wall, reaching above the view: nothing is seen behind it within its span, and its face bounded the scan
    # as a wall does (the panel's best IoU 0.0). The wall seen beside it is a plane found too, parallel and
    # behind it: the scan goes on behind the panel, whose face is a front. Planes are found largest first: 1 m
    # wide, the panel shows less than the wall beside it; 2.6 m wide, more, and it is judged once the wall is
    # found as well.
    desk, panel = ([0.0, 3.4, -1.1], [half_width + 0.2, 0.35, 0.4]), ([0.0, 3.5, 0.25], [half_width, 0.03, 0.95])
    points, owner = _room_frame(10.0, boxes=(desk, panel))
    wall = (owner == -1) & (points[:, 1] > 3.95)
    assert ((owner == 1).sum() < wall.sum()) == wall_first
    labels = segment_scene(points, "z")
    assert best_iou(labels, owner == 1) > 0.9
    assert (labels[wall] == -1).mean() > 0.95  # the wall itself stays structure



def test_a_sampled_frames_voxel_floor_counts_the_voxels_its_points_stand_for():
    # A box of 3,024 pixels covers 456 voxels of 1 cm in the whole frame; of its pixels 10 % kept at random,
    # its 325 points lie in 230 of them, fewer than the floor of 256. Those points stand for about 400 voxels
    # (clustering.surface_voxels), so it stays an object (counted by its voxels, it was background). A box
    # covering 247 voxels of the whole frame, below the floor there, stays background sampled too (its points
    # stand for about 217). The frames are segmented as sampled (completion off).
    large, small = standing_box(-0.05, 1.0, 0.09, 0.05, 0.3, RED), standing_box(-0.05, 1.0, 0.06, 0.05, 0.25, RED)
    for box, an_object in ((large, True), (small, False)):
        points, owner = render_table_frame([box], along_rays=True)
        sample = np.random.default_rng(1).random(len(points)) < 0.1
        with contextlib.nullcontext() if an_object else pytest.warns(UserWarning, match="min_voxels=256 voxels"):
            whole = segment_scene(points, None, voxel_size=0.01)
            labels, settings = segment_scene(
                points[sample], None, voxel_size=0.01, completion=False, return_settings=True
            )
        assert settings.min_voxels == 256 and abs(settings.measured.pixel_share - 0.1) < 0.033
        assert (best_iou(whole, owner == 0) > 0.9) == (best_iou(labels, owner[sample] == 0) > 0.9) == an_object


def test_the_voxels_a_sample_stands_for_follow_the_chance_that_a_voxel_holds_a_point():
    # k pixels per voxel, each kept with chance s: a voxel holds a point with chance 1 - (1 - s)^k, and those
    # holding one hold k s / (1 - (1 - s)^k) points on average. 1,000 voxels at k = 4, s = 0.25: 684 hold a
    # point, 1,000 points in all; the points stand for the 1,000 voxels. With every pixel the voxels count.
    held = 1000 * (1 - 0.75**4)
    assert surface_voxels(np.array([1000.0]), np.array([held]), 0.25) == pytest.approx([1000.0])
    assert surface_voxels(np.array([300.0, 120.0]), np.array([300.0, 100.0]), 1.0 - 1e-12) == pytest.approx(
        [300.0, 100.0], rel=1e-3
    )
