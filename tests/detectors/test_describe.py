"""describe / nearest_names: the nearest vocabulary names of hand-made embeddings."""

import numpy as np
import pytest

from openshape_ood.classnames import lvis_categories
from openshape_ood.detectors.describe import describe, format_description, nearest_names

VOCABULARY = ["bucket", "trash_can", "chair", "lamp"]
# Name embeddings on the first four axes of 5-d space.
NAME_EMBEDDINGS = np.eye(5, dtype=np.float32)[:4]


class _Vocabulary:
    """A text encoder that knows one unit vector per name and records what it was asked."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors
        self.calls = []

    def embed_classes(self, names, templates="openshape64"):
        self.calls.append((list(names), templates))
        return np.stack([self.vectors[name] for name in names])


def test_nearest_names_ranks_by_cosine():
    shapes = np.array(
        [
            [0.8, 0.6, 0.0, 0.0, 0.0],  # bucket 0.8, trash can 0.6
            [0.0, 0.0, 0.0, 0.6, 0.8],  # lamp 0.6, then three names at 0
        ],
        dtype=np.float32,
    )
    result = nearest_names(shapes, NAME_EMBEDDINGS, VOCABULARY, k=2)
    assert result.names[0].tolist() == ["bucket", "trash_can"] and result.names[1, 0] == "lamp"
    assert result.names[1, 1] in {"bucket", "trash_can", "chair"}  # three names at cosine 0: equal, any of them
    np.testing.assert_allclose(result.cosines, [[0.8, 0.6], [0.6, 0.0]], atol=1e-7)
    assert format_description(result.names[0], result.cosines[0]) == "bucket 0.80, trash can 0.60"


def test_describe_embeds_the_vocabulary_with_the_given_templates():
    encoder = _Vocabulary(dict(zip(VOCABULARY, NAME_EMBEDDINGS)))
    shape = np.array([[0.0, 0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    result = describe(shape, encoder, k=1, vocabulary=VOCABULARY, templates="none")
    assert result.names.tolist() == [["chair"]] and encoder.calls == [(VOCABULARY, "none")]


def test_describe_defaults_to_the_lvis_categories():
    lvis = lvis_categories()
    assert len(lvis) == 1156
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(lvis), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    encoder = _Vocabulary(dict(zip(lvis, vectors)))
    result = describe(vectors[[10, 500]], encoder, k=3)
    assert result.names[:, 0].tolist() == [lvis[10], lvis[500]]
    np.testing.assert_allclose(result.cosines[:, 0], 1.0, atol=1e-6)
    assert (np.diff(result.cosines, axis=1) <= 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be"),
        ({"k": 5}, "k must be"),
        ({"name_embeddings": np.eye(3, dtype=np.float32)}, "dimension 5"),
        ({"names": VOCABULARY[:3]}, "3 names for 4"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"embeddings": np.eye(5, dtype=np.float32)[:1], "name_embeddings": NAME_EMBEDDINGS}
    arguments.update({"names": VOCABULARY, "k": 1, **kwargs})
    with pytest.raises(ValueError, match=message):
        nearest_names(**arguments)


def test_nearest_names_are_the_top_k_with_cosines_exact_in_float64():
    rng = np.random.default_rng(3)
    names = [f"name{i}" for i in range(3000)]
    vectors = rng.normal(size=(3000, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    shapes = rng.normal(size=(5, 16))
    shapes /= np.linalg.norm(shapes, axis=1, keepdims=True)
    result = nearest_names(shapes, vectors, names, k=4)
    cosines = shapes @ vectors.T  # float64, the oracle
    order = np.argsort(-cosines, axis=1, kind="stable")[:, :4]
    assert result.names.tolist() == np.asarray(names, dtype=object)[order].tolist()
    # scored again in float64 (a float32 product is off by ~1e-8)
    np.testing.assert_allclose(result.cosines, np.take_along_axis(cosines, order, axis=1), rtol=0, atol=1e-12)
