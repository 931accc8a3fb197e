"""Clustering of the voxels left after the support: DBSCAN's neighbours and core count, and oversized clusters
split by rising density instead of dropped. Small lattices with answers worked out by hand."""

from __future__ import annotations

import numpy as np

from openshape_ood.segmentation import clustering, cuts
from openshape_ood.segmentation.clustering import _neighbour_pairs, cluster

VOXEL = 0.05


def _square(x0: float, side: int) -> np.ndarray:
    """A flat square of ``side`` x ``side`` voxel centres, one voxel apart, starting at x = x0."""
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    return np.stack([x0 + i.ravel() * VOXEL, j.ravel() * VOXEL, np.zeros(side * side)], axis=1)


def test_a_voxel_counts_itself_once_in_the_core_count():
    # Three voxels 1 m apart, neighbourhood 2 m: each has itself and the two others, 3 < 4: all noise.
    # Counting itself twice (scipy's distance matrix already holds the pair with itself) made them a cluster.
    line = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]])
    assert (cluster(line, 2.0, 0.0, None) == -1).all()
    # A fourth voxel makes the two middle ones cores (4 each); the ends join them as border voxels.
    line = np.array([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]])
    assert (cluster(line, 2.0, 0.0, None) == 0).all()


def test_an_oversized_cluster_is_split_at_a_thin_link_not_dropped():
    # Two flat squares of 20 x 20 voxels (0.95 m) 0.5 m apart, joined by a line of voxels one voxel apart.
    # At the cluster distance of two voxels a voxel of the line has itself and two neighbours on each side
    # (5), one inside a square 13, on a square's straight rim 9, at its corner 6. Together they span
    # 2.4 m: over max_size = 2 m. The core count rises to 6: the line stops being core, the squares hold.
    left, right = _square(0.0, 20), _square(1.45, 20)
    bridge = np.stack([np.arange(0.95 + VOXEL, 1.45 - VOXEL / 2, VOXEL), np.full(9, 0.5), np.zeros(9)], axis=1)
    centroids = np.concatenate([left, right, bridge])
    whole = cluster(centroids, 2 * VOXEL + 1e-9, 0.0, None)
    assert (whole == 0).all()  # one cluster without a size limit
    labels = cluster(centroids, 2 * VOXEL + 1e-9, 0.0, None, max_size=2.0, voxel_size=VOXEL)
    first, second = labels[: len(left)], labels[len(left) : len(left) + len(right)]
    assert len(np.unique(first)) == len(np.unique(second)) == 1 and first[0] != second[0] and first[0] >= 0
    # The line's voxels go to the square nearer to each: x < 1.2 to the left one (1.2 is as near to both).
    on_bridge, x = labels[len(left) + len(right) :], bridge[:, 0]
    untied = np.abs(x - 1.2) > 1e-6
    np.testing.assert_array_equal(on_bridge[untied], np.where(x < 1.2, first[0], second[0])[untied])


def test_an_oversized_surface_without_a_thin_link_is_cut_in_halves_not_dropped():
    # One flat strip of 80 x 10 voxels (4 m) over max_size 2.5 m: no voxel of it has fewer neighbours than
    # a rim's 9 but its corners' 6, so rising density never splits it. The normalized cut of a uniform strip
    # is where both sides hold as much (Shi and Malik): the middle, x < 2 m and x >= 2 m; each half spans
    # 1.95 m + a voxel, within the limit, so there are two parts. Before, the strip stayed whole to be dropped.
    i, j = np.meshgrid(np.arange(80), np.arange(10), indexing="ij")
    strip = np.stack([i.ravel() * VOXEL, j.ravel() * VOXEL, np.zeros(800)], axis=1)
    labels = cluster(strip, 2 * VOXEL + 1e-9, 0.0, None, max_size=2.5, voxel_size=VOXEL)
    left = strip[:, 0] < 2.0 - VOXEL / 2
    assert len(np.unique(labels[left])) == len(np.unique(labels[~left])) == 1
    assert labels[left][0] != labels[~left][0] and (labels >= 0).all()


def _box(x0: float, size: tuple[float, float, float]) -> np.ndarray:
    """The scanned surface of a box on the floor (its top and four sides, no bottom), voxel centres one
    voxel apart, from x = x0."""
    steps = [np.arange(0.0, side + VOXEL / 2, VOXEL) for side in size]
    faces = []
    for axis in range(3):
        others = [k for k in range(3) if k != axis]
        u, v = np.meshgrid(steps[others[0]], steps[others[1]], indexing="ij")
        for level in ((steps[axis][-1],) if axis == 2 else (0.0, steps[axis][-1])):
            face = np.zeros((u.size, 3))
            face[:, others[0]], face[:, others[1]], face[:, axis] = u.ravel(), v.ravel(), level
            faces.append(face)
    return np.unique(np.round(np.concatenate(faces) / VOXEL).astype(int), axis=0) * VOXEL + [x0, 0.0, 0.0]


def test_two_beds_standing_end_to_end_are_cut_where_they_meet():
    # Two boxes of 2.0 x 1.0 x 0.5 m (beds, sofas) standing end to end, the faces where they touch hidden:
    # what is scanned is one box surface 4.05 m long, dense everywhere, so rising density cannot split it,
    # over max_size 3 m. By symmetry the normalized cut lies at the middle, x = 2.025 m, where they meet:
    # each bed is one part (the voxels within one voxel of the middle may go either way).
    beds = _box(0.0, (4.05, 1.0, 0.5))
    labels = cluster(beds, 2 * VOXEL + 1e-9, 0.0, None, max_size=3.0, voxel_size=VOXEL)
    away = np.abs(beds[:, 0] - 2.025) > VOXEL
    left = beds[:, 0] < 2.025
    assert (labels >= 0).all()
    assert len(np.unique(labels[away & left])) == len(np.unique(labels[away & ~left])) == 1
    assert labels[away & left][0] != labels[away & ~left][0]


def test_a_cluster_of_many_voxels_is_cut_on_coarser_cells(monkeypatch):
    # The same strip with the eigensolver's node limit at 100: cut on cells of ceil(sqrt(800 / 100)) = 3
    # voxels (27 cells along it), so the cut falls on a cell border within a cell (0.15 m) of the middle.
    monkeypatch.setattr(cuts, "_MAX_NODES", 100)
    i, j = np.meshgrid(np.arange(80), np.arange(10), indexing="ij")
    strip = np.stack([i.ravel() * VOXEL, j.ravel() * VOXEL, np.zeros(800)], axis=1)
    labels = cluster(strip, 2 * VOXEL + 1e-9, 0.0, None, max_size=2.5, voxel_size=VOXEL)
    assert len(np.unique(labels)) == 2 and (labels >= 0).all()
    columns = round(strip[labels == labels[0], 0].max() / VOXEL) + 1  # columns of voxels on the side of x = 0
    assert abs(columns - 40) <= 3 and columns % 3 == 0  # within a cell of the middle, on a cell border


def test_neighbours_of_a_one_viewpoint_scan_are_found_both_ways_whatever_the_range_bands(monkeypatch):
    # Radii of 0.1 m plus 1.0 per metre of range: the voxel at (1, 0, 0) has 1.1, the one at (1, 1.5, 0), 1.80 m
    # away, 1.90. They lie 1.5 m apart: neighbours (closer than the larger radius). In 8 range bands the first
    # searches to its band's edge, 1.1, and misses the second; the second, searching to 1.9, finds the first.
    # Both directions must be there, or the first voxel's count of neighbours misses one.
    centroids = np.array([[1.0, 0.0, 0.0], [1.0, 1.5, 0.0]])
    ranges = np.linalg.norm(centroids, axis=1)
    for bands in (1, 8):
        monkeypatch.setattr(clustering, "_BANDS", bands)
        rows, columns = _neighbour_pairs(centroids, 0.1, 1.0, ranges)
        assert sorted(zip(rows.tolist(), columns.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
