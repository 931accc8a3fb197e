"""benchmarks.scenes: AP50 of segments ranked by point count, the kind of a scan, and the
leave-one-scan-out choice, on figures worked out by hand."""

from __future__ import annotations

import math

import numpy as np

from benchmarks import scenes


def test_average_precision_by_hand():
    # Ranked by points: hit, miss, hit of 3 objects. Precision 1, 1/2, 2/3 made non-increasing: 1, 2/3, 2/3;
    # recall rises by 1/3 at the first and the third: AP = 1/3 + (2/3)(1/3) = 5/9.
    assert math.isclose(scenes.average_precision([100, 50, 30], [1, 0, 1], 3), 5 / 9)
    # A segment matching only an object too small to count (-1) is left out, wherever it ranks.
    assert math.isclose(scenes.average_precision([100, 80, 50, 30], [1, -1, 0, 1], 3), 5 / 9)
    assert scenes.average_precision([10], [0], 2) == 0.0


def test_segment_matches_by_hand():
    truth = np.array([0, 0, 0, 0, 1, 1, 2, -1, -1, -1])
    labels = np.array([5, 5, 5, -1, 7, 7, 7, 9, 9, -1])
    # Segment 5: IoU 3/4 with object 0; segment 7: 2/3 with object 1; segment 9: background only.
    result = scenes.segment_matches(labels, truth, min_gt_points=2)
    assert result["segment_points"] == [3, 3, 2] and result["segment_match"] == [1, 1, 0]
    np.testing.assert_allclose(result["object_iou"], [0.75, 2 / 3])


def test_kind_of_reads_the_readers_kind_text():
    assert scenes.kind_of({"kind": "table-top RGB-D frame"}) == "table-top"
    assert scenes.kind_of({"kind": "indoor room (reconstructed mesh vertices)"}) == "room"
    assert scenes.kind_of({"kind": "outdoor LiDAR sweep"}) == "LiDAR"
    assert scenes.kind_of({}) == "scan"


def test_leave_one_scan_out_chooses_on_the_other_scans_of_the_kind():
    def rows(found, false=0):
        return [{"found_050": found, "false": false}]

    # Candidate 1 finds more on a and b, candidate 0 on c. For a, chosen on b and c: 0 (2 + 5 against
    # 3 + 1); for b, on a and c: 0 alike; for c, on a and b: 1 (3 + 3 against 2 + 2). d is alone in its
    # kind: chosen on a, b and c: 0 (9 against 7).
    results = [
        {"a": rows(2), "b": rows(2), "c": rows(5), "d": rows(1)},
        {"a": rows(3), "b": rows(3), "c": rows(1), "d": rows(0)},
    ]
    kinds = {"a": "room", "b": "room", "c": "room", "d": "LiDAR"}
    chosen = scenes.choose_left_out(results, ["a", "b", "c", "d"], kinds, [{}, {}])
    assert chosen == {"a": 0, "b": 0, "c": 1, "d": 0}
    # Ties go to fewer false segments, then to the earlier candidate (the defaults).
    results = [{"a": rows(2, 3), "b": rows(2, 3)}, {"a": rows(2, 1), "b": rows(2, 1)}, {"a": rows(2, 1), "b": rows(2, 1)}]
    assert scenes.choose_left_out(results, ["a", "b"], {"a": "room", "b": "room"}, [{}, {}, {}]) == {"a": 1, "b": 1}
