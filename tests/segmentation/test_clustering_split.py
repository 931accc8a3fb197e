"""Clustering of the voxels left after the support: DBSCAN's core count, and oversized clusters split
by rising density instead of dropped. Small lattices with answers worked out by hand."""

from __future__ import annotations

import numpy as np

from openshape_ood.segmentation.clustering import cluster

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


def test_an_oversized_surface_without_a_thin_link_stays_whole():
    # One flat strip of 80 x 10 voxels (4 m) over max_size 2 m: no voxel of it has fewer neighbours than a
    # rim's 9 but its corners' 6, so rising density up to the rim's count never splits it into parts of a
    # MIN_PART of it each: it stays one cluster (for the size filter to drop), not a scatter of pieces.
    i, j = np.meshgrid(np.arange(80), np.arange(10), indexing="ij")
    strip = np.stack([i.ravel() * VOXEL, j.ravel() * VOXEL, np.zeros(800)], axis=1)
    labels = cluster(strip, 2 * VOXEL + 1e-9, 0.0, None, max_size=2.0, voxel_size=VOXEL)
    assert (labels == 0).all()
