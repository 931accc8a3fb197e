"""The throughput and scene-speed benchmark scripts run end to end on tiny inputs (their timings are not
checked), and the scene-speed room at the density of the speed goal keeps every object."""

import json
import re

from benchmarks import embed_throughput, scene_speed
from openshape_ood.segmentation import segment_scene


def test_embed_throughput_prepares_a_generated_corpus(tiny_registry, tmp_path, capsys):
    out = tmp_path / "throughput.json"
    embed_throughput.main(["--generate", "8", "--no-embed", "--workers", "0", "--model", "vitb32", "--json", str(out)])
    document = json.loads(out.read_text())
    assert document["corpus"]["shapes"] == 8
    [row] = document["rows"]
    assert (row["measure"], row["shapes"], row["loader_workers"]) == ("prepare", 8, 0)
    assert re.search(r"^prepare\s+1\s+\d+\s+0\s+8\s", capsys.readouterr().out, flags=re.M)


def test_scene_speed_segments_its_synthetic_scan(capsys):
    scene_speed.main(["--points", "60000", "--repeats", "1"])
    printed = capsys.readouterr().out
    assert re.search(r"run 1: [\d.]+ s wall \(\d+ GFLOP at the GEMM rate\), [\d.]+ s CPU \(all threads\), voxels of [\d.]+ m, "
                     r"6 objects, worst IoU 0\.9\d\d", printed), printed  # fmt: skip
    assert re.search(r"^CPU: .*AVX2 (yes|no), AVX-512 (yes|no), \d+ cores usable.*GEMM \(1024\): [\d.]+ GFLOP/s", printed, re.M)


def test_the_million_point_room_of_scene_speed_keeps_every_object_at_iou_0_9():
    # The composed room at the density the speed goal is measured at (1 cm voxels): its smooth concave
    # roundings (the duck's neck) are finer there than in the tests' sparser rooms, and a change to the
    # concave split that cut them (6209904, reverted) left the duck in two halves at IoU 0.60.
    scan, truth = scene_speed.build_scan(1_000_000, 1, 0)
    labels = segment_scene(scan, "y")
    assert scene_speed.worst_iou(labels, truth) >= 0.9


def test_scene_speed_times_a_street(capsys):
    scene_speed.main(["--street", "--points", "70000", "--repeats", "1"])
    printed = capsys.readouterr().out
    assert "a street of 98,400 points, 4 cars" in printed, printed  # 48 m of road and facade, 4 x 3,000 car points
    assert re.search(r"run 1: .* 4 objects, worst IoU 0\.9\d\d", printed), printed


def test_io_speed_reads_its_generated_laz_in_every_mode(capsys):
    from benchmarks import io_speed

    io_speed.main(["--points", "30000"])
    printed = capsys.readouterr().out
    assert re.search(r"^generated 30,000 points", printed, flags=re.M), printed
    assert re.search(r"^whole\s+30,000\s", printed, flags=re.M), printed
    assert re.search(r"^max_points=1000000\s+30,000\s", printed, flags=re.M), printed
    # 1 m voxels over 1 km x 1 km x 50 m hold at most one of 30,000 random points each, almost always.
    assert re.search(r"^voxel_size=1\.0\s+29,\d{3}\s", printed, flags=re.M), printed


def test_damaged_survey_reads_its_damaged_copies_and_counts_the_outcomes(capsys):
    from benchmarks import damaged_survey

    damaged_survey.main(["--cases", "12", "--slowest", "2"])
    printed = capsys.readouterr().out
    counts = re.search(r"^12 damaged copies of simple\.copc\.laz \(33,684 bytes\): (.*)$", printed, flags=re.M)
    assert counts is not None, printed
    outcomes = dict((name, int(count)) for count, name in re.findall(r"(\d+) (array|error)", counts[1]))
    assert sum(outcomes.values()) == 12 and counts[1].count(",") == len(outcomes) - 1  # nothing but arrays and errors
    assert len(re.findall(r"^case \d+: [\d.]+ s, (array|error) \(", printed, flags=re.M)) == 2
    # The same case is the same copy every time, whatever ran before.
    data = damaged_survey.SAMPLE.read_bytes()
    assert damaged_survey.mutate(data, 3) == damaged_survey.mutate(data, 3)
