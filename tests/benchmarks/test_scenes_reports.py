"""benchmarks.scenes: AP50 of segments ranked by point count, the kind of a scan, what false segments
lie on, and the leave-one-scan-out choice, on figures worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
    assert result["object_ids"] == [0, 1]  # object 2 has one point: not counted


def test_copies_are_counted_per_class_with_side_by_side_ids_read_modulo_the_scans_largest():
    # A room with a chair (id 0) and a table (id 2; id 1 unnamed), largest id 2: side by side, copy 1's chair
    # is 3 and its table 5. A frame keeps the ids. Found: IoU >= 0.5.
    names = {"room": ({0: "chair", 2: "table"}, 3), "other": ({0: "sofa"}, 1)}
    by_scan = {
        "room": [{"object_ids": [0, 2, 3, 5], "object_iou": [0.9, 0.2, 0.5, 0.7]}, {"object_ids": [1], "object_iou": [0.6]}],
        "other": [{"object_ids": [0], "object_iou": [0.1]}],
    }
    assert scenes.copies_per_class(by_scan, ["room"], names) == {
        "chair": {"objects": 2, "found_050": 2}, "object": {"objects": 1, "found_050": 1},
        "table": {"objects": 2, "found_050": 1},
    }
    assert scenes.copies_per_class(by_scan, ["room", "other"], names)["sofa"] == {"objects": 1, "found_050": 0}


def test_kind_of_reads_the_readers_kind_text():
    assert scenes.kind_of({"kind": "table-top RGB-D frame"}) == "table-top"
    assert scenes.kind_of({"kind": "indoor room (reconstructed mesh vertices)"}) == "room"
    assert scenes.kind_of({"kind": "outdoor LiDAR sweep"}) == "LiDAR"
    assert scenes.kind_of({"kind": "SemanticKITTI sweep"}) == "LiDAR"
    assert scenes.kind_of({"kind": "Velodyne HDL-64E scan"}) == "LiDAR"
    assert scenes.kind_of({"kind": "Kinect v2 bedroom frame"}) == "room"
    assert scenes.kind_of({"kind": "aerial photogrammetry tile"}) == "aerial photogrammetry tile"
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


def test_coded_truth_writes_each_background_points_class_into_the_truth():
    truth = np.array([0, -1, -1, 1, -1])
    semantic = np.array([5, 1, 2, 5, 1])
    coded, names = scenes.coded_truth(truth, semantic, {5: "chair", 1: "wall", 2: "floor"})
    # Classes by id 1, 2, 5 -> codes -2, -3, -4; objects keep their ids.
    np.testing.assert_array_equal(coded, [0, -2, -3, 1, -2])
    assert names == {-2: "wall", -3: "floor", -4: "chair"}
    with pytest.raises(ValueError, match="do not match"):
        scenes.coded_truth(truth, semantic[:4], {5: "chair", 1: "wall", 2: "floor"})
    with pytest.raises(ValueError, match="do not match"):
        scenes.coded_truth(truth, np.array([5, 1, 3, 5, 1]), {5: "chair", 1: "wall", 2: "floor"})


def test_false_segments_are_counted_by_what_most_of_their_points_lie_on():
    # Object 0 has 10 points, object 1 has 10; wall is code -2, floor -3, -5 has no name.
    truth = np.array([0] * 10 + [1] * 10 + [-2] * 4 + [-3] * 3 + [-5] * 2)
    labels = np.full(len(truth), -1)
    labels[:8] = 1  # 8 of object 0: IoU 0.8, not false
    labels[10:12] = 2  # 2 of object 1: IoU 0.2, false, on an object
    labels[20:24] = 3  # the wall's 4 points
    labels[24:27] = 4  # 3 floor points and ...
    labels[12] = 4  # ... one of object 1: IoU 1/13, mostly floor
    labels[27:29] = 5  # a class without a name
    counts = scenes.false_segments_on(labels, truth, {-2: "wall", -3: "floor"})
    assert counts == {"object": 1, "wall": 1, "floor": 1, "background": 1}
    assert sum(counts.values()) == scenes.evaluate(labels, truth, 1)["false"]


def test_a_kind_reports_what_its_false_segments_lie_on_and_how_it_missed_objects_as_means_over_seeds():
    def row(false_on, missed):
        return {"found_050": 1, "false": sum(false_on.values()), "segments": 2, "objects": 2, "object_iou": [0.9, 0.1],
                "segment_points": [5, 3], "segment_match": [1, 0], "false_on": false_on, "missed": missed}  # fmt: skip

    rows = {
        "a": [row({"wall": 2}, {"merged": 1, "split": 0, "background": 0}),
              row({"wall": 1, "object": 1}, {"merged": 0, "split": 1, "background": 0})],
        "b": [row({"object": 3}, {"merged": 1, "split": 0, "background": 0}),
              row({}, {"merged": 0, "split": 0, "background": 1})],
    }  # fmt: skip
    summary = scenes.summarise(rows, ["a", "b"], [0, 1])
    assert summary["false_on"] == {"object": 2.0, "wall": 1.5}
    assert summary["missed"] == {"merged": 1.0, "split": 0.5, "background": 0.5}


def test_the_objects_just_above_and_just_below_iou_one_half_are_reported_as_shares():
    # Of ten objects, 0.5 and 0.59 lie within 0.1 above the line and 0.4 and 0.45 within 0.1 below it; 0.6 and 0.39
    # lie outside the band, and so do the rest.
    ious = [0.5, 0.59, 0.4, 0.45, 0.6, 0.39, 0.9, 0.1, 1.0, 0.0]
    assert scenes.near_threshold(ious) == {"above": 0.2, "below": 0.2}
    assert scenes.near_threshold([]) == {"above": 0.0, "below": 0.0}


def test_a_kind_reports_the_objects_near_iou_one_half_pooled_over_its_scans_and_seeds():
    def row(ious):
        return {"found_050": sum(i >= 0.5 for i in ious), "false": 0, "segments": len(ious), "objects": len(ious),
                "object_iou": ious, "segment_points": [5] * len(ious), "segment_match": [1] * len(ious)}  # fmt: skip

    # Eight objects over two scans and two seeds: 0.55 and 0.52 just above, 0.45 just below.
    rows = {"a": [row([0.55, 0.2]), row([0.45, 0.9])], "b": [row([0.52, 0.7]), row([0.3, 0.8])]}
    summary = scenes.summarise(rows, ["a", "b"], [0, 1])
    assert summary["near_threshold"] == {"above": 2 / 8, "below": 1 / 8}


def test_missed_objects_are_counted_by_how_they_were_lost():
    # Objects 0-4 have 10 points each, object 5 only 2; -2 is background.
    truth = np.repeat([0, 1, 2, 3, 4, 5, -2], [10, 10, 10, 10, 10, 2, 20])
    labels = np.full(len(truth), -1)
    labels[:10] = 1  # object 0 whole: IoU 1, found
    labels[10:20] = 2  # object 1 whole, with 15 background points: IoU 10/25, merged
    labels[52:67] = 2
    labels[20:24], labels[24:28], labels[28:30] = 3, 4, 5  # object 2 in three pieces, none half of it: split
    labels[30:36], labels[36:40] = 6, 7  # object 3: 6 points with 4 of background (IoU 6/14), 4 apart: merged
    labels[67:71] = 6
    labels[40:46] = -1  # object 4: 6 of 10 points background, 4 in a segment of their own (IoU 0.4)
    labels[46:50] = 8
    labels[50:52] = 9  # object 5 is under min_gt_points: not counted
    missed = scenes.missed_objects(labels, truth, min_gt_points=3)
    assert missed == {"merged": 2, "split": 1, "background": 1}
    figures = scenes.evaluate(labels, truth, 3)
    assert sum(missed.values()) == figures["objects"] - figures["found_050"] == 4
    # Object 1's segment holds 15 background points besides; object 3's holds 4.
    assert scenes.merged_with(labels, truth, min_gt_points=3) == [[1, -2], [3, -2]]


def test_an_object_merged_with_another_is_told_by_what_holds_most_of_the_rest_of_its_segment():
    # A pillow (id 0, 15 points) wholly in a segment with 12 points of the bed (id 1) and 4 of the wall (-2):
    # IoU 15/31. The bed's other 20 points are a segment of their own (IoU 20/32, found). The pillow's own
    # points, the segment's most, are not what it merged with.
    truth = np.repeat([0, 1, -2], [15, 32, 4])
    labels = np.repeat([4, 4, 5, 4], [15, 12, 20, 4])
    assert scenes.merged_with(labels, truth, min_gt_points=5) == [[0, 1]]
    assert scenes.missed_objects(labels, truth, min_gt_points=5) == {"merged": 1, "split": 0, "background": 0}


def test_merges_are_counted_per_pair_of_classes_with_side_by_side_ids_read_modulo_the_scans_largest():
    # The room of the per-class test: a chair (id 0), an unnamed object (1), a table (2), largest id 2; side by
    # side copy 1's chair is 3. The wall's code is -2; -3 is a background code the reader does not name.
    names = {"room": ({0: "chair", 2: "table"}, 3)}
    background = {"room": {-2: "wall"}}
    by_scan = {"room": [{"merged_with": [[0, 2], [3, 5], [2, -2]]}, {"merged_with": [[1, -3], [0, 1]]}, {}]}
    assert scenes.merges_per_pair(by_scan, ["room"], names, background) == {
        "chair + table": 2, "chair + object": 1, "object + background": 1, "table + wall": 1,
    }
