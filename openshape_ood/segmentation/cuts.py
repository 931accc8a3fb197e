"""Splitting a cluster too large for an object by normalized cuts (Shi and Malik, PAMI 2000).

A cluster larger than any object (furniture standing together across a room, a row of seats)
is no object, but dropping it whole loses every object in it. The rising density of
:func:`~openshape_ood.segmentation.clustering.cluster` splits those that touch along a thin link;
what is still too large after it is bisected here, again and again, until every part fits the
size limit. Each bisection is the normalized cut of the cluster's neighbour graph: the Fiedler vector
of its normalized Laplacian (the spectral relaxation of the cut, computed by scikit-learn's
:func:`~sklearn.manifold.spectral_embedding`) orders the voxels, and the threshold along it whose
cut has the least ``cut / vol(A) + cut / vol(B)`` is taken (Shi and Malik's splitting point). Two
objects joined over a contact smaller than their own cross-sections are cut there; a uniform
surface is cut where it balances, into halves.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

# Nodes of a graph whose Fiedler vector is computed directly: the eigensolver's time grows faster than
# the node count (0.1 s at 5,000 nodes, 2.5 s at 60,000 on one core), so a larger cluster (a hall full of
# furniture scanned finely) is cut on a coarser graph of cells of several voxels, as multilevel partitioners coarsen
# (Karypis and Kumar 1998); a cut at a few voxels' resolution is as good for a part several metres long.
_MAX_NODES = 5000


def split_to_size(
    labels: np.ndarray, rows: np.ndarray, columns: np.ndarray, centroids: np.ndarray, max_size: float,
    voxel_size: float, oversized: np.ndarray,
) -> np.ndarray:
    """``labels`` with each cluster of ``oversized`` bisected by normalized cuts until every part's
    largest side plus ``voxel_size`` is at most ``max_size``; ``rows``/``columns`` are the voxels'
    neighbour pairs (both directions). New parts get ids after the largest one."""
    labels = labels.copy()
    next_id = int(labels.max()) + 1
    same = (labels[rows] == labels[columns]) & (rows != columns)
    rows, columns = rows[same], columns[same]
    # Each part to cut: its voxels, and its edges numbered within it.
    queue = []
    for cluster_id in oversized:
        voxels = np.flatnonzero(labels == cluster_id)
        inside = labels[rows] == cluster_id
        queue.append((voxels, np.searchsorted(voxels, rows[inside]), np.searchsorted(voxels, columns[inside])))
    while queue:
        voxels, first, second = queue.pop()
        side = _bisect(first, second, centroids[voxels], voxel_size)
        for keep in (side, ~side):
            part = voxels[keep]
            labels[part] = next_id
            next_id += 1
            if _size(centroids[part]) + voxel_size > max_size:
                renumber = np.cumsum(keep) - 1
                inside = keep[first] & keep[second]
                queue.append((part, renumber[first[inside]], renumber[second[inside]]))
    return labels


def _bisect(first: np.ndarray, second: np.ndarray, points: np.ndarray, voxel_size: float) -> np.ndarray:
    """One side (a boolean mask, neither empty) of the normalized cut of the graph of ``points``
    whose edges are ``first``-``second``; its largest connected component when it falls apart."""
    count = len(points)
    graph = _graph(first, second, count)
    pieces, piece = connected_components(graph, directed=False)
    if pieces > 1:
        return piece == np.argmax(np.bincount(piece))
    if count > _MAX_NODES:
        # Cells of whole voxels, coarse enough that about _MAX_NODES of them hold the cluster.
        cell = voxel_size * math.ceil(math.sqrt(count / _MAX_NODES))
        keys = np.floor((points - points.min(axis=0)) / cell).astype(np.int64)
        _, cell_of = np.unique(keys, axis=0, return_inverse=True)
        cell_of = cell_of.reshape(-1)
        across = cell_of[first] != cell_of[second]
        coarse = _graph(cell_of[first][across], cell_of[second][across], int(cell_of.max()) + 1)
        if connected_components(coarse, directed=False)[0] == 1:
            return _normalized_cut(coarse)[cell_of]
    return _normalized_cut(graph)


def _graph(first: np.ndarray, second: np.ndarray, count: int) -> csr_matrix:
    """Symmetric adjacency, each edge weighted by how many voxel pairs join its two nodes."""
    graph = coo_matrix((np.ones(len(first)), (first, second)), shape=(count, count)).tocsr()
    return graph.maximum(graph.T)


def _normalized_cut(graph: csr_matrix) -> np.ndarray:
    """Shi and Malik's split of a connected graph: its nodes ordered along the Fiedler vector, cut
    at the threshold of least normalized cut. Both sides are non-empty."""
    count = graph.shape[0]
    if count < 3:
        return np.arange(count) == 0
    from sklearn.manifold import spectral_embedding  # scikit-learn loads in half a second: only when a cut is made

    fiedler = spectral_embedding(graph, n_components=1, drop_first=True, random_state=0)[:, 0]
    order = np.argsort(fiedler, kind="stable")
    position = np.empty(count, dtype=np.int64)
    position[order] = np.arange(count)
    edges = graph.tocoo()
    upper = edges.row < edges.col
    low = np.minimum(position[edges.row], position[edges.col])[upper]
    high = np.maximum(position[edges.row], position[edges.col])[upper]
    # An edge crosses every threshold between its two ends' positions: a difference array of the cuts.
    crossing = np.zeros(count + 1)
    np.add.at(crossing, low, edges.data[upper])
    np.add.at(crossing, high, -edges.data[upper])
    cut = np.cumsum(crossing)[:-1]  # the cut between the first k + 1 nodes and the others
    volume = np.cumsum(np.asarray(graph.sum(axis=1)).ravel()[order])
    rest = volume[-1] - volume
    ncut = np.full(count, np.inf)
    ncut[:-1] = cut[:-1] / volume[:-1] + cut[:-1] / rest[:-1]
    return position <= int(np.argmin(ncut))


def _size(points: np.ndarray) -> float:
    return float((points.max(axis=0) - points.min(axis=0)).max())
