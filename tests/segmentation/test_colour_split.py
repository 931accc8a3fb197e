"""Colour regions inside objects (segmentation.colour_split): boxes built by hand on a grey table, on a
1 cm grid (voxels of 2 cm), colours with noise of 0.02 per channel."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from openshape_ood.segmentation import colour_split, pipeline, segment_scene
from openshape_ood.segmentation.convexity import object_joins

from ..helpers.camera_frames import render_table_frame, standing_box

STEP = 0.01
TABLE_RGB = (0.55, 0.55, 0.5)
RED, BLUE, WHITE = (0.8, 0.2, 0.2), (0.2, 0.3, 0.8), (0.9, 0.9, 0.9)


def _grid(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(np.arange(0, a, STEP) + STEP / 2, np.arange(0, b, STEP) + STEP / 2, indexing="ij")
    return u.ravel(), v.ravel()


def _block(width: float = 0.4, depth: float = 0.2, height: float = 0.15) -> np.ndarray:
    """The outer surface (top and four sides) of a box standing on z = 0 at x in [0, width], y in [0, depth]:
    what a scanner sees of it, or of two boxes of half its width pushed together side by side."""
    faces = []
    u, v = _grid(width, depth)
    faces.append(np.stack([u, v, np.full(u.shape, height)], axis=1))
    for y in (0.0, depth):
        u, v = _grid(width, height)
        faces.append(np.stack([u, np.full(u.shape, y), v], axis=1))
    for x in (0.0, width):
        u, v = _grid(depth, height)
        faces.append(np.stack([np.full(u.shape, x), u, v], axis=1))
    return np.concatenate(faces)


def _scene(paint, spread: float = 0.02, seed: int = 0, height: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(N, 6)`` of a 1.2 x 1 m table (z = 0) with the block of :func:`_block` (``height`` tall) in
    its middle, coloured ``paint(xyz)`` (an ``(n, 3)`` array), and whether each point is on the block."""
    rng = np.random.default_rng(seed)
    u, v = _grid(1.2, 1.0)
    table = np.stack([u - 0.4, v - 0.4, np.zeros(u.shape)], axis=1)
    block = _block(height=height)
    xyz = np.concatenate([table, block])
    rgb = np.concatenate([np.tile(TABLE_RGB, (len(table), 1)), paint(block)])
    xyz = xyz + rng.normal(0, 0.001, xyz.shape)
    rgb = np.clip(rgb + rng.normal(0, spread, rgb.shape), 0, 1)
    return np.concatenate([xyz, rgb], axis=1), np.arange(len(xyz)) >= len(table)


def _halves(xyz: np.ndarray) -> np.ndarray:
    return np.where((xyz[:, 0] < 0.2)[:, None], RED, BLUE)


def _ious(labels: np.ndarray, truth: np.ndarray) -> list[float]:
    """For each true object (ids >= 0 of ``truth``), its best IoU with a segment of ``labels``."""
    segments = np.unique(labels[labels >= 0])
    return [max(((labels == s) & (truth == t)).sum() / ((labels == s) | (truth == t)).sum() for s in segments)
            for t in np.unique(truth[truth >= 0])]  # fmt: skip


def test_two_boxes_side_by_side_of_different_colours_are_split():
    # Pushed together, the two boxes' tops and fronts are coplanar: no concave edge, one cluster.
    points, on_block = _scene(_halves)
    truth = np.where(on_block, (points[:, 0] >= 0.2).astype(int), -1)
    assert segment_scene(points, "z").max() == 0  # colour_split is off by default but in a camera's frame: one object
    labels = segment_scene(points, "z", colour_split=True)
    assert labels.max() == 1
    # The voxels along the seam (2 cm, one column either side) may go either way: 19 of 20 columns right.
    assert min(_ious(labels, truth)) >= 0.9


def test_in_a_camera_frame_boxes_side_by_side_of_different_colours_are_split_by_default():
    # Two 12 cm boxes pushed together in a depth camera's frame at 0.9 m, their fronts flush: no concave edge
    # parts them (one object, IoU 0.47-0.50 each, with colour_split off), and both stand on the table.
    things = [standing_box(-0.06, 0.9, 0.06, 0.06, 0.12, RED), standing_box(0.06, 0.9, 0.06, 0.06, 0.12, BLUE)]
    points, owner = render_table_frame(things, along_rays=True, rows=(-0.3, 0.4), step=0.0016)
    assert min(_ious(segment_scene(points), owner)) >= 0.85  # 0.88 and 0.97
    assert max(_ious(segment_scene(points, colour_split=False), owner)) < 0.5


def test_a_printed_label_and_a_lid_of_another_colour_stay_with_their_box():
    def paint(xyz):
        rgb = np.tile(BLUE, (len(xyz), 1))
        # A label of 12 x 8 cm on the front: 96 of the box's 2,600 points (4 %, 24 voxels), more than
        # min_points but less than a tenth of the box, so it is no part.
        label = (xyz[:, 1] == 0) & (np.abs(xyz[:, 0] - 0.2) < 0.06) & (np.abs(xyz[:, 2] - 0.07) < 0.04)
        rgb[label] = WHITE
        # A red lid: the top, a third of the box's points, meets the blue sides at convex edges only.
        rgb[xyz[:, 2] > 0.149] = RED
        return rgb

    points, on_block = _scene(paint)
    labels = segment_scene(points, "z", colour_split=True)
    assert labels.max() == 0
    assert _ious(labels, np.where(on_block, 0, -1))[0] >= 0.9  # 0.95: the sides' lowest centimetre goes with the table


def test_a_region_of_another_colour_held_up_by_the_rest_stays_with_its_object(monkeypatch):
    # A box 30 cm tall, red below 15 cm and blue above: the colours meet on each side at a flat join, so the
    # regions are two parts; the blue one's lowest voxel lies 15 cm over the table, beyond its band (6.8 cm):
    # it does not stand on the table, as a box stacked on another or a bed's duvet does not, and the box
    # stays one.
    def paint(xyz):
        return np.where((xyz[:, 2] < 0.15)[:, None], RED, BLUE)

    points, on_block = _scene(paint, height=0.3)
    labels = segment_scene(points, "z", colour_split=True)
    assert labels.max() == 0
    assert _ious(labels, np.where(on_block, 0, -1))[0] >= 0.9
    # Counted as standing wherever it lies, the blue part is split off.
    monkeypatch.setattr(pipeline, "support_base", lambda planes, up: np.inf)
    assert segment_scene(points, "z", colour_split=True).max() == 1


@pytest.mark.parametrize("spread", [0.02, 0.06])
def test_colour_noise_and_a_gradual_shading_never_split(spread):
    # A box of one colour under a light that falls off along it: 0.4 darker at one end than at the other
    # (twenty times the threshold at noise 0.02), but 0.02 per 2 cm voxel, within the noise between
    # neighbours; at noise 0.06 the threshold is three times as large and the box is one region as well.
    def paint(xyz):
        return np.clip(np.array(WHITE) - xyz[:, :1], 0, 1)

    points, on_block = _scene(paint, spread=spread)
    labels = segment_scene(points, "z", colour_split=True)
    assert labels.max() == 0
    assert _ious(labels, np.where(on_block, 0, -1))[0] >= 0.9  # 0.95: the sides' lowest centimetre goes with the table


def test_an_object_mostly_printed_is_judged_by_its_own_noise(monkeypatch):
    # A flat object of 40 x 20 voxels: a red strip at one end and an orange one at the other (8 columns,
    # a fifth of it, each), between them a print of random colours. Red and orange differ by 0.3, far
    # beyond the planes' noise of 0.005 (threshold 0.024), and the strips are large regions of it; the
    # print breaks into specks. Most joins are in the print: judged by the noise they show, strips and
    # print are one region, and the object stays whole.
    i, j = np.meshgrid(np.arange(40), np.arange(20), indexing="ij")
    centroids = np.stack([i.ravel(), j.ravel(), np.zeros(i.size)], axis=1) * 0.01
    colours = np.random.default_rng(0).uniform(0, 1, (i.size, 3))
    colours[i.ravel() < 8] = RED
    colours[i.ravel() >= 32] = (0.8, 0.5, 0.2)
    objects = np.zeros(i.size, dtype=np.int64)
    joins = object_joins(objects, centroids, np.tile([0.0, 0.0, 1.0], (i.size, 1)), 0.01, up=np.array([0.0, 0.0, 1.0]))
    lying = (np.array([0.0, 0.0, 1.0]), 0.0)  # both strips stand on the support
    assert (colour_split.split_colours(objects, joins, centroids, colours, 3, 0.005, lying) == 0).all()
    # Judged by the planes' noise alone, it is cut between its strips.
    monkeypatch.setattr(colour_split, "median_by", lambda values, group, groups: np.zeros(groups))
    labels = colour_split.split_colours(objects, joins, centroids, colours, 3, 0.005, lying)
    assert labels.max() == 1
    assert np.unique(labels[i.ravel() < 8]).tolist() == [1 - np.unique(labels[i.ravel() >= 32]).item()]


def test_the_noise_is_measured_on_the_removed_planes():
    # Voxels of a plane, 1 cm apart, with Gaussian colour noise of 0.03 per channel: the median difference
    # of a voxel to its nearest neighbour is 2.175 noise levels (chi-square, 3 degrees of freedom).
    rng = np.random.default_rng(1)
    u, v = _grid(1.0, 1.0)
    centroids = np.stack([u, v, np.zeros(u.shape)], axis=1)
    colours = 0.5 + rng.normal(0, 0.03, (len(u), 3))
    planes = SimpleNamespace(found=[SimpleNamespace(voxels=np.arange(len(u)))], centroids=centroids)
    noise = colour_split.colour_noise(planes, colours, 1.5 * STEP, rng)
    assert noise == pytest.approx(0.03, rel=0.05)
    # Never below one step of 8-bit colour; none without planes.
    assert colour_split.colour_noise(planes, np.full((len(u), 3), 0.5), 1.5 * STEP, rng) == pytest.approx(1 / 255)
    assert colour_split.colour_noise(SimpleNamespace(found=[]), colours, 1.5 * STEP, rng) is None


def test_without_colour_or_planes_nothing_is_split():
    points, _ = _scene(_halves)
    assert segment_scene(points[:, :3], "z", colour_split=True).max() == 0
