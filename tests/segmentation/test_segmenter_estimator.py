"""SceneSegmenter follows scikit-learn's parameter conventions and gives segment_scene's labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from openshape_ood.segmentation import SceneSegmenter, segment_scene
from openshape_ood.segmentation.settings import SETTINGS


@pytest.mark.parametrize(
    "check",
    [check_parameters_default_constructible, check_no_attributes_set_in_init, check_get_params_invariance,
     check_set_params, check_estimator_repr],
)  # fmt: skip
def test_scikit_learn_parameter_conventions(check):
    check("SceneSegmenter", SceneSegmenter())


def test_every_setting_is_a_parameter_and_clone_keeps_them():
    segmenter = SceneSegmenter("z", max_size=2.0, normal_angle=20.0, seed=3)
    params = segmenter.get_params()
    assert set(params) == {"up_axis", "seed", *(setting.name for setting in SETTINGS)}
    copy = clone(segmenter)
    assert copy.get_params() == params and copy is not segmenter
    assert repr(segmenter) == "SceneSegmenter(max_size=2.0, normal_angle=20.0, seed=3, up_axis='z')"
    with pytest.raises(TypeError, match="unknown parameters"):
        SceneSegmenter(max_sise=2.0)


def test_fit_gives_the_labels_and_settings_of_segment_scene_and_checks_in_fit():
    rng = np.random.default_rng(0)
    floor = np.c_[rng.uniform(-1, 1, (20000, 2)), np.zeros(20000)]
    ball = rng.normal(size=(3000, 3))
    ball = 0.15 * ball / np.linalg.norm(ball, axis=1, keepdims=True) + [0.0, 0.0, 0.16]
    scan = np.concatenate([floor, ball])
    segmenter = SceneSegmenter("z", seed=1).fit(scan)
    np.testing.assert_array_equal(segmenter.labels_, segment_scene(scan, "z", seed=1))
    assert (segmenter.labels_[len(floor):] == 0).mean() > 0.9 and segmenter.settings_.source["voxel_size"] == "chosen"
    bad = SceneSegmenter(voxel_size=-1.0)  # stored as given: checked in fit
    with pytest.raises(ValueError, match="voxel_size must be a positive number"):
        bad.fit(scan)
