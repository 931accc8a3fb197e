"""The scatter filter of a one-viewpoint scan judges each cluster against the flat surfaces at its range."""

import numpy as np
import pytest

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.clustering import filter_objects, flat_variation

from ..helpers.scenes import record_scatter_levels


def _two_bands(near: float, far: float, probes=(2.0,)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """400 flat voxels, 200 at 1 m of variation ``near`` and 200 at 3 m of ``far``, then voxels of objects
    (variation 0.5, not flat), one at each range of ``probes``."""
    variation = np.r_[np.full(200, near), np.full(200, far), np.full(len(probes), 0.5)]
    ranges = np.r_[np.full(200, 1.0), np.full(200, 3.0), probes]
    flat = np.r_[np.ones(400, dtype=bool), np.zeros(len(probes), dtype=bool)]
    return variation, flat, ranges


def test_without_ranges_the_level_is_the_median_of_the_flat_voxels():
    variation, flat, _ = _two_bands(0.01, 0.05)
    assert flat_variation(variation, flat) == pytest.approx(0.03)  # halfway between the two halves


def test_each_range_gets_the_level_of_the_flat_voxels_there_never_below_the_one_median():
    variation, flat, ranges = _two_bands(0.01, 0.05, probes=(0.5, 2.0, 2.5, 3.0, 5.0))
    level = flat_variation(variation, flat, ranges)
    # Bands at 1 m (0.01) and 3 m (0.05), interpolated; the one median (0.03) is the least level.
    assert level[400:] == pytest.approx([0.03, 0.03, 0.04, 0.05, 0.05])
    assert level[:200] == pytest.approx(0.03) and level[200:400] == pytest.approx(0.05)


def test_noise_does_not_fall_with_range():
    variation, flat, ranges = _two_bands(0.05, 0.01, probes=(1.0, 3.0))  # the far band is smoother: a floor at a grazing angle
    assert flat_variation(variation, flat, ranges)[400:] == pytest.approx([0.05, 0.05])


def test_too_few_flat_voxels_for_two_bands_give_one_level():
    variation, flat, ranges = _two_bands(0.01, 0.05)
    flat[1:200] = False  # 201 flat voxels left: one band
    assert flat_variation(variation, flat, ranges) == pytest.approx(np.median(variation[flat]))


def test_a_rough_far_cluster_is_kept_against_the_flat_surfaces_at_its_range():
    rng = np.random.default_rng(0)
    # Two solid clusters of 20 voxels, 10 points each, 10 cm across: one near, one 4 m away.
    centroids = np.concatenate([rng.uniform(0, 0.1, (20, 3)) + [0, 0, 1], rng.uniform(0, 0.1, (20, 3)) + [0, 0, 4]])
    objects = np.repeat([0, 1], 20)
    counts = np.full(40, 10)
    variation = np.full(40, 0.09)  # both rougher than the scatter floor 0.06

    def kept(level) -> list[int]:
        labels = filter_objects(objects, centroids, counts, 50, 0.03, 3.0, 0.01, variation, level)
        return sorted(set(objects[labels >= 0].tolist()))

    assert kept(0.02) == []  # one level: both are scatter (0.09 > max(0.06, 2 x 0.02))
    per_voxel = np.repeat([0.02, 0.05], 20)  # the flat surfaces at 4 m are as rough as 0.05
    assert kept(per_voxel) == [1]  # 0.09 <= 2 x 0.05: the far one is a solid surface at its range
    assert kept(0.05) == [0, 1]


def test_a_cluster_mostly_of_a_surface_found_whole_is_not_judged_scatter():
    rng = np.random.default_rng(0)
    centroids = rng.uniform(0, 0.1, (20, 3)) + [0, 0, 1]  # 20 voxels, 10 points each, rough (0.09 > 0.07)
    objects, counts, variation = np.zeros(20, dtype=np.int64), np.full(20, 10), np.full(20, 0.09)

    def kept(surface_voxels: int) -> bool:
        surfaces = np.arange(20) < surface_voxels
        labels = filter_objects(objects, centroids, counts, 50, 0.03, 3.0, 0.01, variation, 0.02, surfaces=surfaces)
        return bool((labels >= 0).all())

    assert not kept(0) and not kept(10)  # half a sheet's is not enough
    assert kept(11) and kept(20)


def depth_frame(width: int = 512, height: int = 424, focal: float = 365.0) -> np.ndarray:
    """A depth camera's frame (x right, y down, z forward, the camera at the origin): a floor 1.2 m below
    it, a wall 5 m ahead and a 0.4 m box on the floor 1.6-2 m ahead; depth noise 1.5 mm x z^2."""
    u, v = np.meshgrid(np.arange(width) - width / 2 + 0.5, np.arange(height) - height / 2 + 0.5)
    rays = np.stack([u.ravel() / focal, v.ravel() / focal, np.ones(u.size)], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.minimum(np.where(rays[:, 1] > 0, 1.2 / rays[:, 1], np.inf), 5.0)  # the floor, the wall
        low, high = np.array([-0.6, 0.8, 1.6]) / rays, np.array([-0.2, 1.2, 2.0]) / rays  # the box's slabs
        near, far = np.nanmax(np.minimum(low, high), axis=1), np.nanmin(np.maximum(low, high), axis=1)
    depth = np.where((near <= far) & (near > 0) & (near < depth), near, depth)
    depth += np.random.default_rng(0).normal(0, 1, len(depth)) * 0.0015 * depth**2
    return rays * depth[:, None]


def test_a_depth_frame_is_judged_at_range_and_finds_its_box(monkeypatch):
    by_range = record_scatter_levels(monkeypatch)
    frame = depth_frame()
    labels, settings = segment_scene(frame, return_settings=True)
    assert settings.measured.single_viewpoint and settings.ground == "planes" and by_range == [True]
    box = (frame[:, 0] > -0.6) & (frame[:, 0] < -0.2) & (frame[:, 2] > 1.59) & (frame[:, 2] < 2.01) & (frame[:, 1] < 1.19)
    assert labels.max() == 0 and ((labels == 0) & box).sum() / ((labels == 0) | box).sum() > 0.9
