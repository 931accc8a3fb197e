"""benchmarks.encoder_speed: its FLOP formula and a run on the tiny models."""

import json
import statistics

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import encoder_speed
from benchmarks.upstream_reference import build_upstream_reference
from openshape_ood.model import PointBertConfig


def test_flops_per_cloud_matches_counted_upstream_operations():
    config = PointBertConfig(dim=64, depth=2, heads=2, mlp_dim=96, sa_dim=48, patches=12, radius=0.5, nsample=16,
                             dim_head=32, projection_out=40)
    batch, points = 2, 300
    model = build_upstream_reference(config)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.rand(batch, 6, points) * 2 - 1)
    ball_query_distances = 2 * batch * config.patches * points * 3  # not counted by the formula
    # Upstream's last block also computes queries, output projection and feed-forward for
    # the T - 1 patch tokens, which nothing reads; the formula counts the encoder's work.
    tokens, inner = config.patches + 1, config.heads * config.dim_head
    unread_rows = 2 * (tokens - 1) * (config.dim * (inner + inner + 2 * config.mlp_dim) + 2 * tokens * inner)
    expected = counter.get_total_flops() - ball_query_distances - batch * unread_rows
    assert encoder_speed.flops_per_cloud(config) * batch == expected


def test_benchmark_runs_and_writes_json(tiny_registry, tmp_path, capsys):
    out = tmp_path / "speed.json"
    result = encoder_speed.main(["--models", "vitb32", "vitg14", "--batch-sizes", "2", "--repeats", "1",
                                 "--points", "400", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    rows = result["rows"]
    assert [(r["model"], r["batch_size"]) for r in rows] == [("vitb32", 2), ("vitg14", 2)]
    for row in rows:  # the reported figures follow from the raw timings
        forward = statistics.median(row["samples"]["forward"]) / 2
        gemm = statistics.median(row["samples"]["gemm"])
        assert row["ms_per_cloud"] == pytest.approx(1e3 * forward)
        assert row["fraction_of_gemm"] == pytest.approx(row["gflop_per_cloud"] * 1e9 / forward / gemm)
        upstream = statistics.median(row["samples"]["upstream"]) / 2
        assert row["speedup_over_upstream"] == pytest.approx(upstream / forward)
    assert "| vitg14 | 2 |" in capsys.readouterr().out
