"""Score functions against hand-computed values on tiny inputs (novelty: higher = more novel)."""

import math

import numpy as np
import pytest

from openshape_ood.methods import scores

E = math.e
X = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # one on class 0, one orthogonal to both classes
TEXT = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
# Cosines X @ TEXT.T = [[1, 0], [0, 0]].
REFERENCE = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 1.0, 0.0]])
LABELS = np.array([0, 0, 1])


def test_max_cosine():
    np.testing.assert_allclose(scores.max_cosine(X, TEXT), [-1.0, 0.0])


def test_mcm():
    np.testing.assert_allclose(scores.mcm(X, TEXT), [-E / (E + 1), -0.5])
    # temperature 0.5: softmax of [2, 0]
    np.testing.assert_allclose(scores.mcm(X, TEXT, temperature=0.5), [-(E**2) / (E**2 + 1), -0.5])


def test_energy():
    np.testing.assert_allclose(scores.energy(X, TEXT), [-math.log(E + 1), -math.log(2)])
    np.testing.assert_allclose(scores.energy(X, TEXT, temperature=0.5), [-0.5 * math.log(E**2 + 1), -0.5 * math.log(2)])


def test_negative_labels():
    negatives = np.array([[0.0, 0.0, 1.0]])
    # sample 0: logits known [1, 0], negative [0]; sample 1: known [0, 0], negative [1]
    np.testing.assert_allclose(scores.negative_labels(X, TEXT, negatives, temperature=1.0), [1 / (E + 2), E / (E + 2)])


def test_negative_labels_groups_average_the_shares():
    negatives = np.array([[0.0, 0.0, 1.0], [0.0, 0.6, 0.8]])
    # sample 1 (x = e3): group {e3}: e / (2 + e); group {(0, .6, .8)}: e^.8 / (2 + e^.8)
    expected = 0.5 * (E / (2 + E) + E**0.8 / (2 + E**0.8))
    got = scores.negative_labels(X, TEXT, negatives, temperature=1.0, groups=2, seed=3)
    assert got[1] == pytest.approx(expected)
    # one group: the whole vocabulary in one softmax
    whole = scores.negative_labels(X, TEXT, negatives, temperature=1.0)
    assert whole[1] == pytest.approx((E + E**0.8) / (2 + E + E**0.8))


def test_negative_labels_low_temperature_does_not_overflow():
    got = scores.negative_labels(X.astype(np.float32), TEXT.astype(np.float32), np.array([[0.0, 0.0, 1.0]]))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, [math.exp(-100), 1.0], rtol=1e-6)


def test_least_similar():
    candidates = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.6, 0.8], [0.8, 0.0, 0.6]])
    # highest cosine to TEXT: 1, 0, 0.6, 0.8
    np.testing.assert_array_equal(scores.least_similar(candidates, TEXT, fraction=0.5), [1, 2])
    np.testing.assert_array_equal(scores.least_similar(candidates, TEXT, fraction=0.01), [1])


# Class 0 has two names: (1, 0, 0) and (0.6, 0, 0.8); class 1 has one: (0, 1, 0).
SYNONYMS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.0, 0.8]])
SYNONYM_LABELS = np.array([0, 1, 0])
# Per-class cosines of X: sample 0 [max(1, 0.6), 0] = [1, 0]; sample 1 [max(0, 0.8), 0] = [0.8, 0].


def test_class_similarity_takes_the_best_name_of_each_class():
    np.testing.assert_allclose(scores.class_similarity(X, SYNONYMS, SYNONYM_LABELS), [[1.0, 0.0], [0.8, 0.0]])
    np.testing.assert_allclose(scores.class_similarity(X, SYNONYMS), X @ SYNONYMS.T)


def test_text_scores_with_several_names_per_class():
    np.testing.assert_allclose(scores.max_cosine(X, SYNONYMS, SYNONYM_LABELS), [-1.0, -0.8])
    np.testing.assert_allclose(
        scores.mcm(X, SYNONYMS, text_labels=SYNONYM_LABELS), [-E / (E + 1), -(E**0.8) / (E**0.8 + 1)]
    )
    np.testing.assert_allclose(
        scores.energy(X, SYNONYMS, text_labels=SYNONYM_LABELS), [-math.log(E + 1), -math.log(E**0.8 + 1)]
    )
    negatives = np.array([[0.0, 0.0, 1.0]])
    # sample 0: class logits [1, 0], negative 0; sample 1: class logits [0.8, 0], negative 1
    np.testing.assert_allclose(
        scores.negative_labels(X, SYNONYMS, negatives, temperature=1.0, text_labels=SYNONYM_LABELS),
        [1 / (E + 2), E / (E + E**0.8 + 1)],
    )


def test_class_similarity_label_errors():
    with pytest.raises(ValueError, match=r"classes \[1\] have no text embedding"):
        scores.class_similarity(X, SYNONYMS, np.array([0, 2, 0]))
    with pytest.raises(ValueError, match="3 non-negative integers, one per text embedding"):
        scores.class_similarity(X, SYNONYMS, np.array([0, 1]))


def test_prototype():
    # class 0 mean (0.8, 0.4, 0); class 1 mean (0, 1, 0)
    np.testing.assert_allclose(scores.class_prototypes(REFERENCE, LABELS), [[0.8, 0.4, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(scores.prototype(X, REFERENCE, LABELS, "cosine"), [1 - 2 / math.sqrt(5), 1.0])
    np.testing.assert_allclose(
        scores.prototype(X, REFERENCE, LABELS, "euclidean"), [math.sqrt(0.2), math.sqrt(0.8**2 + 0.4**2 + 1)]
    )


def test_knn():
    # distances from (1, 0, 0) to the references: 0, sqrt(0.8), sqrt(2)
    np.testing.assert_allclose(scores.knn(X[:1], REFERENCE, k=1), [0.0], atol=1e-12)
    np.testing.assert_allclose(scores.knn(X[:1], REFERENCE, k=2), [math.sqrt(0.8)])
    np.testing.assert_allclose(scores.knn(X[:1], REFERENCE, k=3), [math.sqrt(2)])
    np.testing.assert_allclose(scores.knn(X[:1], REFERENCE, k=2, metric="cosine"), [0.4])
    distances, indices = scores.nearest_references(X[:1], REFERENCE, k=3)
    np.testing.assert_allclose(distances, [[0.0, math.sqrt(0.8), math.sqrt(2)]], atol=1e-12)
    np.testing.assert_array_equal(indices, [[0, 1, 2]])


def test_fused():
    # text known mean 1, std 1; shape known mean 12, std 2
    got = scores.fused([1.0, 3.0], [10.0, 20.0], text_known=[0.0, 2.0], shape_known=[10.0, 14.0], weight=0.5)
    np.testing.assert_allclose(got, [0.5 * 0 + 0.5 * -1, 0.5 * 2 + 0.5 * 4])
    np.testing.assert_allclose(scores.fused([3.0], [20.0], [0.0, 2.0], [10.0, 14.0], weight=1.0), [2.0])


@pytest.mark.parametrize(
    "score",
    [
        lambda x: scores.max_cosine(x, TEXT),
        lambda x: scores.mcm(x, TEXT),
        lambda x: scores.energy(x, TEXT),
        lambda x: scores.negative_labels(x, TEXT, np.array([[0.0, 0.0, 1.0]])),
        lambda x: scores.prototype(x, REFERENCE, LABELS),
        lambda x: scores.prototype(x, REFERENCE, LABELS, "euclidean"),
        lambda x: scores.knn(x, REFERENCE),
        lambda x: scores.knn(x, REFERENCE, k=2, metric="cosine"),
    ],
)
def test_direction_known_is_less_novel_than_orthogonal(score):
    on_class, orthogonal = score(X)
    assert on_class < orthogonal


def test_argument_errors():
    with pytest.raises(ValueError, match="temperature must be positive"):
        scores.mcm(X, TEXT, temperature=0)
    with pytest.raises(ValueError, match="unknown metric"):
        scores.knn(X, REFERENCE, metric="manhattan")
    with pytest.raises(ValueError, match="k must be"):
        scores.knn(X, REFERENCE, k=4)
    with pytest.raises(ValueError, match="groups must be"):
        scores.negative_labels(X, TEXT, TEXT, groups=3)
    with pytest.raises(ValueError, match="no reference sample"):
        scores.class_prototypes(REFERENCE, np.array([0, 0, 2]))
    with pytest.raises(ValueError, match="weight"):
        scores.fused([0.0], [0.0], [0.0, 1.0], [0.0, 1.0], weight=1.5)
    with pytest.raises(ValueError, match="set no scale"):
        scores.fused([0.0], [0.0], [1.0, 1.0], [0.0, 1.0])


def test_as_embeddings_errors():
    with pytest.raises(ValueError, match=r"NaN or infinite values in rows \[1\]"):
        scores.as_embeddings(np.array([[1.0, 0.0], [np.nan, 0.0]]), "shape embeddings")
    with pytest.raises(ValueError, match="not L2-normalised"):
        scores.as_embeddings(np.array([[2.0, 0.0]]), "shape embeddings")
    with pytest.raises(ValueError, match="2-D"):
        scores.as_embeddings(np.array([1.0, 0.0]), "shape embeddings")
    with pytest.raises(ValueError, match="empty"):
        scores.as_embeddings(np.zeros((0, 3)), "shape embeddings")
    with pytest.raises(ValueError, match="dimension 2, expected 3"):
        scores.as_embeddings(np.array([[1.0, 0.0]]), "shape embeddings", dim=3)
