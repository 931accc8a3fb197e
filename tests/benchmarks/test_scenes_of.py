"""benchmarks.scenes_of: the scenes benchmark with the segmentation of another checkout, in a worker process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import scenes, scenes_of

from ..helpers.scenes import write_scan_folder

CHECKOUT = Path(scenes_of.__file__).resolve().parents[1]


def test_another_checkout_of_the_same_code_gives_the_same_figures(tmp_path, capsys):
    folder = write_scan_folder(tmp_path, {"up_axis": "+y"})
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    options = ["--data", str(folder), "--seeds", "0", "--perturb", "1"]
    scenes.main([*options, "--no-loso", "--out", str(here)])
    scenes_of.main([str(CHECKOUT), *options, "--out", str(there)])  # --no-loso implied
    [mine], [theirs] = json.loads(here.read_text())["scans"], json.loads(there.read_text())["scans"]
    for key in ("in_sample", "perturbed"):
        for row, other in zip(mine[key], theirs[key], strict=True):
            assert {k: row[k] for k in ("objects", "found_050", "false", "segments")} == {
                k: other[k] for k in ("objects", "found_050", "false", "segments")
            }
            assert other["settings"]["voxel_size"] == row["settings"]["voxel_size"]
    # The benchmark's own segmentation is put back.
    assert scenes.segment_scene.__module__ == "openshape_ood.segmentation.pipeline"


def test_a_segmentation_that_raises_in_the_worker_is_a_row_with_its_error(tmp_path):
    with scenes_of.CheckoutSegmenter(CHECKOUT) as segmenter:
        with pytest.raises(RuntimeError, match=r"ValueError: .*\(N, 3\)"):
            segmenter(np.zeros((5, 2)), None)
        labels, chosen = segmenter(np.random.default_rng(0).normal(size=(200, 3)), "z", seed=1, return_settings=True)
    assert labels.shape == (200,) and chosen.to_dict()["up_axis"] == "z"


def test_a_worker_that_ended_fails_each_call_and_closes(tmp_path):
    with scenes_of.CheckoutSegmenter(CHECKOUT) as segmenter:
        segmenter.worker.kill()
        segmenter.worker.wait()
        for _ in range(2):
            with pytest.raises((RuntimeError, BrokenPipeError)):
                segmenter(np.zeros((10, 3)), None)
    assert not Path(segmenter.folder.name).exists()


def test_a_folder_without_a_package_that_imports_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="holds no openshape_ood package"):
        scenes_of.CheckoutSegmenter(tmp_path)
    (tmp_path / "openshape_ood").mkdir()
    (tmp_path / "openshape_ood" / "__init__.py").write_text("raise ImportError('broken on purpose')\n")
    with pytest.raises(SystemExit, match="imported openshape_ood from nowhere"):
        scenes_of.CheckoutSegmenter(tmp_path)
    with pytest.raises(SystemExit, match="usage: python -m benchmarks.scenes_of CHECKOUT"):
        scenes_of.main(["--seeds", "0"])


def test_constants_set_here_are_refused_as_the_other_checkout_would_not_read_them():
    with pytest.raises(SystemExit, match="--set sets this checkout's constants"):
        scenes_of.main([str(CHECKOUT), "--seeds", "0", "--set", "geometry.SHEET=0.7"])
