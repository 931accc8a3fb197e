"""Exact nearest-reference search by blocked matrix multiplies, against scikit-learn's brute force and
hand-computed cases; the approximate indexes (faiss) and the error without them."""

import math
import sys

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from openshape_ood import NoveltyDetector
from openshape_ood.methods import KNN, KnownClasses
from openshape_ood.methods.search import SCALE_EXTRA, ApproximateIndex, exact_search, import_faiss

from ..helpers.reference_bank import unit_rows


def sklearn_neighbours(x, reference, k, metric):
    return NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(reference).kneighbors(x)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize(
    "count, k, block_rows",
    [
        (50, 1, 7),  # blocks of 7 references: the last one holds a single row
        (50, 7, 7),  # k equal to the block
        (50, 9, 7),  # k larger than a block: neighbours merged across blocks
        (49, 3, 49),  # one block
        (10, 10, 3),  # every reference
    ],
)
def test_same_neighbours_as_scikit_learn_across_block_boundaries(metric, count, k, block_rows):
    dim = 6
    reference = unit_rows(count, dim, seed=count + k)
    x = unit_rows(13, dim, seed=1)
    # block_bytes sets both the reference block (block_rows) and the query block (13 // 2 queries at a time).
    distances, indices = exact_search(x, reference, k, metric, block_bytes=4 * dim * block_rows)
    expected_distances, expected_indices = sklearn_neighbours(x, reference, k, metric)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, atol=1e-12)


def test_hand_computed_distances_and_ties_in_reference_order():
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    x = np.array([[math.sqrt(0.5), math.sqrt(0.5)]])
    distances, indices = exact_search(x, reference, 4)
    expected = [math.sqrt(2 - math.sqrt(2))] * 3 + [math.sqrt(2 + math.sqrt(2))]
    np.testing.assert_allclose(distances, [expected], atol=1e-12)
    assert indices.tolist() == [[0, 1, 2, 3]]  # three equal distances: by index
    cosine_distances, _ = exact_search(x, reference, 1, "cosine")
    np.testing.assert_allclose(cosine_distances, [[1 - math.sqrt(0.5)]], atol=1e-12)


def test_a_reference_equal_to_the_query_is_at_distance_zero():
    reference = unit_rows(30, 5, seed=2)
    distances, indices = exact_search(reference[[4, 17]], reference, 1)
    assert indices[:, 0].tolist() == [4, 17] and np.all(distances == 0.0)


@pytest.mark.parametrize(
    "arguments, message",
    [({"k": 0}, "k must be"), ({"k": 11}, "k must be"), ({"metric": "manhattan"}, "unknown metric"),
     ({"x": np.ones((2, 3))}, "one width")],  # fmt: skip
)
def test_bad_arguments_are_named(arguments, message):
    call = {"x": unit_rows(2, 4, 0), "reference": unit_rows(10, 4, 1), "k": 1, "metric": "euclidean", **arguments}
    with pytest.raises(ValueError, match=message):
        exact_search(**call)


def test_without_faiss_one_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "openshape-ood\[scale\]"'):
        import_faiss()
    reference = unit_rows(20, 4, seed=3)
    known = KnownClasses(reference=reference, reference_labels=np.zeros(20, dtype=int))
    with pytest.raises(ImportError, match=SCALE_EXTRA.replace("[", r"\[").replace("]", r"\]")):
        KNN(index="ivfpq").fit(known)
    assert KNN().fit(known).novelty(reference[:2]).tolist() == [0.0, 0.0]  # exact search needs no faiss


@pytest.mark.parametrize("kind, options", [("ivfpq", {"nlist": 4, "m": 4, "nbits": 4, "nprobe": 4, "rerank": 60}),
                                           ("hnsw", {"ef_search": 64, "rerank": 60})])  # fmt: skip
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_an_index_searching_everything_is_exact(kind, options, metric):
    pytest.importorskip("faiss")
    reference = unit_rows(60, 8, seed=4)
    x = unit_rows(9, 8, seed=5)
    index = ApproximateIndex.build(reference, kind, metric, options)
    distances, indices = index.search(x, 3)  # every list probed, every reference re-ranked exactly
    expected_distances, expected_indices = sklearn_neighbours(x, reference, 3, metric)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, atol=1e-12)
    again = ApproximateIndex(kind, metric, options, 60, 8).load_bytes(index.to_bytes()).attach(reference)
    np.testing.assert_array_equal(again.search(x, 3)[1], indices)


def test_knn_index_is_a_parameter_and_finds_clustered_neighbours():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(6)
    centres = unit_rows(20, 16, seed=7)
    points = centres[rng.integers(20, size=2000)] + rng.normal(scale=0.05, size=(2000, 16))
    reference = points / np.linalg.norm(points, axis=1, keepdims=True)
    labels = np.arange(2000) % 3
    method = KNN(index="ivfpq", index_options={"nprobe": 8})
    assert method.get_params()["index"] == "ivfpq"
    detector = NoveltyDetector(method).fit(reference=(reference, labels))
    exact = NoveltyDetector(KNN()).fit(reference=(reference, labels))
    queries = reference[:200] + rng.normal(scale=0.01, size=(200, 16))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    same = np.isclose(detector.novelty(queries), exact.novelty(queries), rtol=0, atol=1e-12)
    assert same.mean() >= 0.95  # recall@1 of this index on this clustered data
