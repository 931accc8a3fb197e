"""The reference-search benchmark runs end to end on a tiny case (its numbers are not checked, its agreements are)."""

import json

import pytest
import torch

from benchmarks import reference_search

from ..helpers.cli import assert_usage_error


def test_reference_search_runs_on_a_tiny_case(tmp_path, capsys):
    pytest.importorskip("faiss")
    out = tmp_path / "result.json"
    reference_search.main(["--sizes", "3000", "--dims", "32", "--queries", "200", "--clusters", "10",
                           "--sklearn-queries", "50", "--matmul-seconds", "0.05", "--folder", str(tmp_path),
                           "--json", str(out)])  # fmt: skip
    [row] = json.loads(out.read_text())["rows"]
    assert row["sklearn_same"] == 1.0  # the exact search finds scikit-learn's neighbours
    assert row["references"] == 3000 and 0.0 <= row["ivfpq_recall_at_1"] <= 1.0
    assert "| 3,000 | 32 |" in capsys.readouterr().out
    assert list(tmp_path.glob("*/refs-*")) == []  # the reference files are removed


def test_build_only_times_the_index_build_from_the_file(tmp_path, capsys):
    pytest.importorskip("faiss")
    out = tmp_path / "result.json"
    reference_search.main(["--sizes", "3000", "--dims", "32", "--clusters", "10", "--build-only",
                           "--matmul-seconds", "0.05", "--folder", str(tmp_path), "--json", str(out)])  # fmt: skip
    [row] = json.loads(out.read_text())["rows"]
    assert row["ivfpq_options"]["nlist"] == 55 and row["file_gb"] > 3000 * 32 * 4 / 1e9
    assert 0 < row["ivfpq_build_private_gb"] <= row["ivfpq_build_peak_gb"]
    assert "build peak GB (private)" in capsys.readouterr().out
    assert list(tmp_path.glob("*/refs-*")) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is of a GPU that is not there")
def test_a_gpu_that_is_not_there_is_refused_naming_the_option(capsys):
    assert_usage_error(reference_search.main, ["--device", "cuda", "--sizes", "3000"],
                       "--device: device 'cuda' was asked for, but torch sees no CUDA GPU here", capsys)


def test_a_device_with_build_only_is_refused(capsys):
    assert_usage_error(reference_search.main, ["--build-only", "--device", "meta", "--sizes", "3000"],
                       "--build-only times the IVF-PQ build, which runs on the CPU: leave out --device", capsys)
