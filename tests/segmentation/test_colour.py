"""Colour in removed planes (segmentation.colour): a room corner built by hand, a floor and a wall on a
2.5 cm grid, whose wall holds a 60 cm square of another colour (a picture flush with the wall)."""

from __future__ import annotations

import numpy as np
import pytest

from openshape_ood.segmentation import colour, segment_scene

STEP = 0.025
WALL_RGB = np.array([0.6, 0.6, 0.55])
PICTURE_RGB = np.array([0.8, 0.2, 0.2])


FLOOR_RGB = np.array([0.4, 0.35, 0.3])


def _corner(
    picture_rgb=PICTURE_RGB, wall_rgb=WALL_RGB, light: float = 0.0, seed: int = 0, floor_square_rgb=None,
    square_x=(0.7, 1.3), falling: float = 0.0, gap_x=None,
):
    """Points ``(N, 6)`` of a 2 x 1.5 m floor (z = 0) and a 2 x 2 m wall (y = 0), colours with noise of
    0.02 per channel, and whether each point is on the square x in ``square_x``, z in [0.8, 1.4] of the wall.
    ``light``: a lamp's spot on the wall, brighter by this much at x = z = 1 and fading over 30 cm
    (a Gaussian of that standard deviation); ``falling``: the wall lit from its end at x = 0, its colour falling
    by this much per channel per metre along x. ``gap_x``: the wall has no points over this span of x, its whole
    height (a doorway). ``floor_square_rgb``: the colour of the square x in [0.7, 1.3], y in [0.5, 1.1] of the
    floor (then that square is the one returned)."""
    rng = np.random.default_rng(seed)
    a, b = np.meshgrid(np.arange(0, 2, STEP), np.arange(0, 1.5, STEP), indexing="ij")
    floor = np.stack([a.ravel(), b.ravel() + STEP, np.zeros(a.size)], axis=1)
    a, b = np.meshgrid(np.arange(0, 2, STEP), np.arange(0, 2, STEP), indexing="ij")
    wall = np.stack([a.ravel(), np.zeros(a.size), b.ravel() + STEP], axis=1)
    if gap_x is not None:
        wall = wall[(wall[:, 0] < gap_x[0]) | (wall[:, 0] >= gap_x[1])]
    xyz = np.concatenate([floor, wall]) + rng.normal(0, 0.002, (len(floor) + len(wall), 3))
    on_wall = np.arange(len(xyz)) >= len(floor)
    x, z = xyz[:, 0], xyz[:, 2]
    square = on_wall & (x >= square_x[0]) & (x < square_x[1]) & (z >= 0.8) & (z < 1.4)
    rgb = np.tile(FLOOR_RGB, (len(xyz), 1))
    spot = np.exp(-((x[on_wall] - 1) ** 2 + (z[on_wall] - 1) ** 2) / (2 * 0.3**2))
    rgb[on_wall] = wall_rgb + light * spot[:, None] - falling * x[on_wall, None]
    rgb[square] = picture_rgb
    if floor_square_rgb is not None:
        square = ~on_wall & (xyz[:, 0] >= 0.7) & (xyz[:, 0] < 1.3) & (xyz[:, 1] >= 0.5) & (xyz[:, 1] < 1.1)
        rgb[square] = floor_square_rgb
    rgb = np.clip(rgb + rng.normal(0, 0.02, rgb.shape), 0, 1)
    return np.concatenate([xyz, rgb], axis=1), square


@pytest.mark.parametrize("scale", [1, 255])
def test_a_square_of_another_colour_in_a_wall_is_an_object(scale):
    points, square = _corner()
    points[:, 3:] = np.round(points[:, 3:] * scale, 3)  # colours in [0, 1] or [0, 255] alike
    labels = segment_scene(points, "z")
    assert labels.max() == 0  # one object
    # The square is 24 x 24 points; the 5 cm voxels along its edge (the grid starts at the scan's
    # corner, not at the square's) hold points of the wall too, a rim of one point either side at most:
    # IoU >= 24^2 / 26^2 = 0.85.
    found = labels == 0
    assert (found & square).sum() / (found | square).sum() >= 24**2 / 26**2


@pytest.mark.parametrize("light", [0.0, 0.2])
def test_a_wall_of_one_colour_gives_no_object(light):
    # The lamp's spot is 0.35 brighter (0.2 per channel) at its centre than the wall, seven times the
    # threshold between two voxels (4.76 times 0.01, the noise of a voxel's mean of four points), but it
    # changes by at most 0.035 from one 5 cm voxel to the next: neighbour to neighbour the wall is one
    # surface, so nothing is cut out (each voxel against the wall's median colour would cut out the spot).
    points, _ = _corner(picture_rgb=WALL_RGB, light=light)
    assert (segment_scene(points, "z") == -1).all()


def test_the_floors_colour_darker_on_the_floor_is_a_shadow_not_an_object():
    # A square of the floor's colour at 0.6 of its brightness (0.27 from it, five times the threshold
    # between two voxels), and no picture on the wall: the floor in shade, nothing to find.
    points, _ = _corner(picture_rgb=WALL_RGB, floor_square_rgb=0.6 * FLOOR_RGB)
    assert (segment_scene(points, "z") == -1).all()


def test_another_hue_on_the_floor_is_an_object():
    points, mat = _corner(picture_rgb=WALL_RGB, floor_square_rgb=[0.2, 0.3, 0.6])  # a blue mat on the floor
    labels = segment_scene(points, "z")
    assert labels.max() == 0
    assert ((labels == 0) & mat).sum() / ((labels == 0) | mat).sum() >= 24**2 / 26**2


def test_the_walls_colour_darker_on_the_wall_is_a_picture():
    # Shading is told from objects on the support only: on a wall, a picture of the wall's hue at half its
    # brightness is a picture.
    points, picture = _corner(picture_rgb=0.5 * WALL_RGB)
    labels = segment_scene(points, "z")
    assert labels.max() == 0
    assert ((labels == 0) & picture).sum() / ((labels == 0) | picture).sum() >= 24**2 / 26**2


def test_without_colour_the_square_goes_with_the_wall_as_before():
    points, _ = _corner()
    expected = np.full(len(points), -1)
    assert (segment_scene(points[:, :3], "z") == expected).all()
    # Columns 3-5 that are not colours (negative: normals) are no colour either.
    normals = np.concatenate([points[:, :3], points[:, 3:] - 0.5], axis=1)
    assert (segment_scene(normals, "z") == expected).all()


def test_inside_above_one_turns_colour_off(monkeypatch):
    points, _ = _corner()
    monkeypatch.setattr(colour, "INSIDE", 2.0)
    assert (segment_scene(points, "z") == -1).all()


def test_voxel_colours_by_hand():
    points = np.array([[0, 0, 0, 0, 0, 255], [0, 0, 0, 255, 0, 255], [1, 1, 1, 10, 20, 30]], dtype=float)
    means = colour.voxel_colours(points, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(means, [[0.5, 0.0, 1.0], [10 / 255, 20 / 255, 30 / 255]])
    assert colour.voxel_colours(points[:, :3], np.array([0, 0, 1]), 2) is None
    assert colour.voxel_colours(points[:, :5], np.array([0, 0, 1]), 2) is None


def test_a_wall_half_in_other_light_is_the_wall_and_its_picture_is_found():
    # Lit from its left end, the wall's colour falls by 0.15 per channel per metre; a doorway (x 0.9-1.1) parts
    # it into two colour regions whose means differ by 0.165 per channel (0.29 in all, six times the threshold
    # between two voxels of 0.048). Against the larger half's mean the right half would be another colour, and
    # with its picture one group reaching the wall's edges, no object. Against the light falling smoothly over
    # the whole wall only the picture is another colour; the wall's foot, whose voxels blend the floor's colour
    # with the wall's, is not either.
    points, picture = _corner(wall_rgb=[0.8, 0.8, 0.75], square_x=(1.4, 1.8), falling=0.15, gap_x=(0.9, 1.1))
    labels = segment_scene(points, "z")
    assert labels.max() == 0
    found = labels == 0
    # 16 x 24 points; the 5 cm voxels along its edge hold a rim of one point of wall either side at most.
    assert (found & picture).sum() / (found | picture).sum() >= (16 * 24) / (18 * 26)
