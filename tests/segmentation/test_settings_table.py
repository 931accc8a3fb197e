"""The segmentation's settings are written once (settings.SETTINGS): the checks, the ``scene`` command's
options and the documentation's table come from it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from openshape_ood.segmentation.settings import (
    SETTINGS,
    TUNABLE,
    check_given,
    settings_table,
)


def test_every_setting_is_an_option_of_scene_and_a_row_of_the_table():
    help_text = subprocess.run(
        [sys.executable, "-m", "openshape_ood", "scene", "--help"], capture_output=True, text=True, check=True
    ).stdout
    table = settings_table()
    assert TUNABLE == tuple(setting.name for setting in SETTINGS)
    for setting in SETTINGS:
        option = "--" + setting.name.replace("_", "-")
        assert option in help_text and f"`{option}`" in table
    assert "--max-planes" in help_text and "--normal-angle" in help_text


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"voxel_size": 0}, "voxel_size must be a positive number of metres"),
        ({"cluster_growth": -1.0}, "cluster_growth must be a number >= 0"),
        ({"normal_angle": 90}, r"normal_angle must be in \(0, 90\)"),
        ({"max_planes": 1.5}, "max_planes must be an integer >= 0"),
        ({"min_points": 0}, "min_points must be an integer >= 1"),
        ({"ground": "floor"}, "ground must be one of"),
        ({"convexity": "yes"}, "convexity must be True or False"),
        ({"min_size": 0.5, "max_size": 0.4}, r"min_size must be in \[0, max_size=0.4\)"),
    ],
)
def test_check_given_names_the_setting_and_its_range(given, message):
    with pytest.raises(ValueError, match=message):
        check_given(given)
    check_given({"max_planes": 0, "normal_angle": 45.0, "convexity": False, "ground": "grid"})  # all in range


def test_the_docs_table_is_the_settings_table():
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "scenes-segmentation.md"
    assert settings_table() in page.read_text(encoding="utf-8")  # regenerate it from settings_table()


def test_segment_scene_takes_exactly_the_settings_of_the_table():
    import inspect

    from openshape_ood.segmentation import SceneSegmenter, segment_scene

    keywords = [p.name for p in inspect.signature(segment_scene).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert keywords == ["labels", "seed", "return_settings", *TUNABLE]
    assert list(SceneSegmenter().get_params()) == sorted(["up_axis", "seed", *TUNABLE])
    with pytest.raises(TypeError, match=r"unknown segmentation setting\(s\) \['max_sise'\]; the settings are"):
        segment_scene([[0.0, 0.0, 0.0]] * 20, max_sise=2.0)
