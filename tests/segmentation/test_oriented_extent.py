"""The extent the settings are chosen from is the scan's own: turning a scan does not change it."""

from __future__ import annotations

import numpy as np
import pytest

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.settings import measure_scan, oriented_extent


def _turned(xyz: np.ndarray, degrees: float, axis: int = 2) -> np.ndarray:
    """``xyz`` turned about coordinate ``axis`` by ``degrees``."""
    angle = np.radians(degrees)
    first, second = [k for k in range(3) if k != axis]
    turned = xyz.copy()
    turned[:, first] = np.cos(angle) * xyz[:, first] - np.sin(angle) * xyz[:, second]
    turned[:, second] = np.sin(angle) * xyz[:, first] + np.cos(angle) * xyz[:, second]
    return turned


def _box_room(rng: np.random.Generator, sides=(6.0, 4.0, 2.5), count: int = 4000) -> np.ndarray:
    """Points inside a box with these sides, its eight corners among them (so the rectangle is exact)."""
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
    return np.vstack([corners, rng.random((count, 3))]) * sides


@pytest.mark.parametrize("degrees", [0.0, 15.0, 30.0, 45.0, 120.0])
def test_a_room_turned_about_up_has_the_extent_of_the_room(degrees):
    room = _turned(_box_room(np.random.default_rng(0)), degrees)
    # The box along the coordinate axes of the room turned 30 degrees: 6 cos 30 + 4 sin 30 = 7.20 m by
    # 6 sin 30 + 4 cos 30 = 6.46 m; the room is 6 by 4 whichever way it is turned.
    np.testing.assert_allclose(sorted(oriented_extent(room, "z")[:2]), [4.0, 6.0], atol=1e-9)
    assert oriented_extent(room, "z")[2] == pytest.approx(2.5)


def test_the_height_stays_in_the_place_of_the_up_axis():
    room = _turned(_box_room(np.random.default_rng(1))[:, [0, 2, 1]], 30.0, axis=1)  # y up: 2.5 m along y
    extent = oriented_extent(room, "y")
    assert extent[1] == pytest.approx(2.5)
    np.testing.assert_allclose(sorted([extent[0], extent[2]]), [4.0, 6.0], atol=1e-9)


def test_without_an_up_axis_the_principal_axes_give_the_same_extent_however_the_scan_is_turned():
    rng = np.random.default_rng(2)
    frame = rng.normal(size=(3000, 3)) * [0.6, 0.3, 0.05]  # a table top's cloud: long, wide, thin
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    np.testing.assert_allclose(sorted(oriented_extent(frame @ rotation.T)), sorted(oriented_extent(frame)), rtol=1e-9)
    # The principal axes are the coordinate axes here: the extent is the box's, to a sampling tilt.
    np.testing.assert_allclose(sorted(oriented_extent(frame)), sorted(np.ptp(frame, axis=0)), rtol=0.02)


def test_points_on_a_line_across_up_fall_back_to_the_box():
    line = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.5], [2.0, 2.0, 1.0]])
    assert oriented_extent(line, "z") == (2.0, 2.0, 1.0)
    assert oriented_extent(line[:2], "z") == (1.0, 1.0, 0.5)


def _walled_room(rng: np.random.Generator, sides=(6.0, 4.0, 2.5), spacing: float = 0.05) -> np.ndarray:
    """Points on the floor and the four walls of a room with these sides, about ``spacing`` apart."""
    length, width, height = sides
    faces = []
    for a, b, place in (
        (length, width, lambda u, v: np.stack([u, v, 0 * u], 1)),
        (length, height, lambda u, v: np.stack([u, 0 * u, v], 1)),
        (length, height, lambda u, v: np.stack([u, 0 * u + width, v], 1)),
        (width, height, lambda u, v: np.stack([0 * u, u, v], 1)),
        (width, height, lambda u, v: np.stack([0 * u + length, u, v], 1)),
    ):
        count = int(a * b / spacing**2)
        faces.append(place(rng.random(count) * a, rng.random(count) * b))
    return np.vstack(faces)


def test_a_turned_room_gets_the_settings_of_the_room():
    room = _walled_room(np.random.default_rng(3))
    aligned = segment_scene(room, "z", return_settings=True)[1]
    turned = segment_scene(_turned(room, 30.0), "z", return_settings=True)[1]
    # On the box along the axes the turned room's footprint was 7.20 x 6.46 = 46.5 m^2, not 24.
    assert aligned.min_plane_area == turned.min_plane_area == pytest.approx(0.24)
    assert measure_scan(_turned(room, 30.0), up_axis="z").extent == pytest.approx(aligned.measured.extent)
