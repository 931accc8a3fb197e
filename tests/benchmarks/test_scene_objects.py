"""The diagnostic of missed objects names, per object, the segments covering it and, per segment, what it covers."""

from __future__ import annotations

import numpy as np

from benchmarks.scene_objects import report


def test_an_object_split_in_two_and_a_false_segment_are_named():
    # Object 0 (a bed: 6 points) lies in segments 0 (4 points) and 1 (2); segment 2 covers background only.
    truth = np.array([0, 0, 0, 0, 0, 0, -1, -1, -1, -1])
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, -1, -1])
    points = np.arange(30, dtype=float).reshape(10, 3)
    lines = report(points, truth, {0: "bed"}, labels)
    assert lines[0].startswith("  object   0 bed") and "best IoU 0.67 | s0:0.67, s1:0.33" in lines[0]
    assert "segment s0   ok" in lines[1] and "| bed0:1.00" in lines[1]
    assert "segment s1   part" in lines[2] and "best IoU 0.33" in lines[2]  # 2 of the bed's 6 points
    assert "segment s2   FALSE" in lines[3] and "| bg:1.00" in lines[3]
