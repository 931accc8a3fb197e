"""The whole library on the tiny registry: real shape and text loading paths, no mocks."""

import numpy as np
import pytest

from openshape_ood import NoveltyDetector, ShapeEncoder, TextEncoder, score_novelty


def blob(seed: int, n: int = 600) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


def test_zero_shot_scoring_with_registry_text_tower(tiny_registry):
    encoder = ShapeEncoder.from_pretrained("vitb32")
    shapes = encoder.embed([blob(s) for s in range(4)], up_axis="y")
    text = TextEncoder.from_pretrained("vitb32")
    known = ["chair", "table", "floor_lamp"]
    class_embeddings = text.embed_classes(known)
    result = score_novelty(shapes, known, model=encoder)
    # max_cosine by hand: minus the best cosine to the class prompts, predicted = its argmax.
    cosine = shapes @ class_embeddings.T
    np.testing.assert_allclose(result.scores, -cosine.max(axis=1), atol=1e-6)
    np.testing.assert_array_equal(result.predicted, cosine.argmax(axis=1))
    assert list(result.classes) == known


def test_detector_calibrated_on_known_shapes_accepts_95_percent(tiny_registry):
    encoder = ShapeEncoder.from_pretrained("vitl14")
    known_shapes = encoder.embed([blob(s, 300) for s in range(20)])
    detector = NoveltyDetector("mcm", model=encoder).fit(known=["chair", "sofa"])
    detector.calibrate(known_shapes, tpr=0.95)
    accepted = (detector.predict(known_shapes) != -1).mean()
    assert accepted == pytest.approx(0.95)


def test_text_tower_of_another_model_is_rejected(tiny_registry):
    shapes = ShapeEncoder.from_pretrained("vitg14").embed(blob(0))
    with pytest.raises(ValueError, match="dimension"):
        score_novelty(shapes, ["chair", "table"], model="vitb32")
