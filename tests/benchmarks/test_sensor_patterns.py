"""The street of ``benchmarks.sensor_patterns``: its ray-caster on hand-computed beams, and the script end to end."""

from __future__ import annotations

import re

import numpy as np
import pytest

from benchmarks import sensor_patterns
from benchmarks.sensor_patterns import ray_cast, with_range_noise

DOWN_45 = np.radians([-45.0])


def test_a_beam_returns_from_the_road_or_the_nearest_box_within_range():
    point, hit = ray_cast([], DOWN_45, np.zeros(1), height=1.0)
    assert point == pytest.approx(np.array([[1.0, 0.0, -1.0]]))
    assert hit.tolist() == [-1]
    # A box 0.5 m tall from x = 0.25: the beam meets its top at x = 0.5, before the road.
    box = ((0.25, -1.0, 0.0), (2.0, 1.0, 0.5))
    point, hit = ray_cast([box], DOWN_45, np.zeros(1), height=1.0)
    assert point == pytest.approx(np.array([[0.5, 0.0, -0.5]]))
    assert hit.tolist() == [0]
    # The same box as background (a facade) hides the road as well, and is no thing.
    assert ray_cast([], DOWN_45, np.zeros(1), 1.0, background=[box])[1].tolist() == [-1]
    assert len(ray_cast([box], DOWN_45, np.zeros(1), 1.0, max_range=0.7)[0]) == 0  # 0.71 m away


def test_range_noise_moves_points_along_their_beams():
    points = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -2.0]])
    moved = with_range_noise(points, 0.1, np.random.default_rng(0))
    directions = points / np.linalg.norm(points, axis=1, keepdims=True)
    assert moved / np.linalg.norm(moved, axis=1, keepdims=True) == pytest.approx(directions)
    assert not np.allclose(moved, points)


def test_the_script_prints_what_each_pattern_finds(capsys):
    sensor_patterns.main(["--patterns", "VLP-16", "--noise", "0.01", "--seeds", "0"])
    printed = capsys.readouterr().out
    found = re.search(r"^VLP-16\s+0\.010\s+(\d+) of (\d+) \((\d+)\)\s+[\d.]+\s+0\.0\d+-0\.0\d+$", printed, re.M)
    assert found, printed
    assert int(found[2]) == 4 and int(found[1]) >= 3, printed  # the VLP-16 sees four things with 25 points


def test_the_script_refuses_a_constant_the_segmentation_lacks(capsys):
    with pytest.raises(SystemExit) as stopped:
        sensor_patterns.main(["--patterns", "VLP-16", "--set", "settings._NO_SUCH=1"])
    assert stopped.value.code == 2
    assert "settings._NO_SUCH" in capsys.readouterr().err
