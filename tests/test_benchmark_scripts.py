"""The throughput and scene-speed benchmark scripts run end to end on tiny inputs (numbers are not checked)."""

import json
import re

from benchmarks import embed_throughput, scene_speed


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
    assert re.search(r"run 1: [\d.]+ s wall, [\d.]+ s CPU \(all threads\), 6 objects, worst IoU 0\.9\d\d", printed), printed
