"""score_novelty and NoveltyDetector end to end, with deterministic fake shape and text encoders."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from openshape_ood.detectors import functional as detector_module
from openshape_ood.methods import scores
from openshape_ood.detectors.functional import NoveltyDetector, NoveltyScores, score_novelty
from openshape_ood.methods import MCM, METHODS
from openshape_ood.classnames import lvis_categories

from ..helpers.fake_encoders import CHAIR, DIM, NOVEL, TABLE, FakeShapeEncoder, FakeTextEncoder, unit


def clouds_around(direction: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return direction[:3] + rng.normal(scale=0.15, size=(count, 64, 3))


@pytest.fixture()
def world():
    shape_encoder = FakeShapeEncoder("vitb32")
    text_encoder = FakeTextEncoder(DIM, {"chair": CHAIR, "table": TABLE, "armchair": CHAIR})
    known = shape_encoder.embed(np.concatenate([clouds_around(CHAIR, 10, 0), clouds_around(TABLE, 10, 1)]), up_axis="y")
    novel = shape_encoder.embed(clouds_around(NOVEL, 5, 2), up_axis="y")
    return shape_encoder, text_encoder, known, novel


def test_score_novelty_with_class_names(world):
    shape_encoder, text_encoder, known, novel = world
    result = score_novelty(
        np.concatenate([known, novel]), ["chair", "table"], model=shape_encoder, text_encoder=text_encoder
    )
    assert isinstance(result, NoveltyScores)
    np.testing.assert_allclose(
        result.scores, scores.max_cosine(np.concatenate([known, novel]), np.stack([CHAIR, TABLE]))
    )
    np.testing.assert_array_equal(result.predicted[:20], [0] * 10 + [1] * 10)
    assert list(result.classes) == ["chair", "table"]
    assert result.scores[20:].min() > result.scores[:20].max()
    assert text_encoder.calls == [(["chair", "table"], "openshape64")]


def test_model_name_builds_the_paired_text_encoder(world, monkeypatch):
    shape_encoder, text_encoder, known, _ = world
    built = []
    monkeypatch.setattr(
        detector_module.TextEncoder,
        "from_pretrained",
        classmethod(lambda cls, entry, **kw: built.append(entry) or text_encoder),
    )
    score_novelty(known, ["chair", "table"], model=shape_encoder)
    score_novelty(known, ["chair", "table"], model="vitb32")
    assert [entry.name for entry in built] == ["vitb32", "vitb32"]
    assert (built[0].text_model, built[0].text_pretrained) == ("ViT-B-32", "openai")


def test_detector_calibrate_and_predict(world):
    _, text_encoder, known, novel = world
    detector = NoveltyDetector(MCM(temperature=0.05), text_encoder=text_encoder).fit(known=["chair", "table"])
    detector.calibrate(known, tpr=0.95)
    known_scores = detector.novelty(known)
    assert len(np.unique(known_scores)) == 20
    # the smallest threshold accepting at least 95% of the 20 known samples: the 19th smallest score
    assert detector.threshold_ == np.sort(known_scores)[18]
    predicted = detector.predict(known)
    assert (predicted == -1).sum() == 1
    accepted = predicted != -1
    np.testing.assert_array_equal(predicted[accepted], (np.array([0] * 10 + [1] * 10))[accepted])
    np.testing.assert_array_equal(detector.predict(novel), [-1] * 5)


@pytest.mark.parametrize("method", ["knn", "prototype"])
def test_reference_shapes(world, method):
    _, _, known, novel = world
    labels = np.array(["chair"] * 10 + ["table"] * 10)
    result = score_novelty(np.concatenate([known, novel]), (known, labels), method)
    assert list(result.classes) == ["chair", "table"]
    np.testing.assert_array_equal(result.predicted[:20], [0] * 10 + [1] * 10)
    assert result.scores[20:].min() > result.scores[:20].max()
    as_dict = score_novelty(novel, {"chair": known[:10], "table": known[10:]}, method)
    np.testing.assert_allclose(as_dict.scores, result.scores[20:])


def test_knn_k1_is_the_nearest_reference_distance(world):
    _, _, known, novel = world
    result = score_novelty(novel, (known, np.repeat([0, 1], 10)), "knn")
    expected = np.linalg.norm(novel[:, None, :].astype(np.float64) - known[None, :, :], axis=2).min(axis=1)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-6)


def test_fused_combines_text_and_reference_on_a_known_scale(world):
    _, text_encoder, known, novel = world
    reference = (known, np.repeat([0, 1], 10))
    result = score_novelty(
        novel, ["chair", "table"], "fused", reference=reference, text_encoder=text_encoder, weight=0.25
    )
    text = np.stack([CHAIR, TABLE])
    # known-sample statistics: text score of the references, leave-one-out 1-NN distance among them
    text_known = scores.max_cosine(known, text)
    shape_known = scores.knn(known, known, k=2)
    expected = (
        0.25 * (scores.max_cosine(novel, text) - text_known.mean()) / text_known.std()
        + 0.75 * (scores.knn(novel, known) - shape_known.mean()) / shape_known.std()
    )
    np.testing.assert_allclose(result.scores, expected)


def test_negative_labels_default_vocabulary(world):
    _, text_encoder, known, novel = world
    detector = NoveltyDetector("negative_labels", text_encoder=text_encoder, templates="none").fit(
        known=["chair", "table"]
    )
    candidates, templates = text_encoder.calls[1]
    assert templates == "none"
    assert candidates == [name for name in lvis_categories() if name not in ("chair", "table")]
    negatives = detector.method_
    assert len(negatives.negative_names_) == round(0.15 * len(candidates))
    assert "armchair" not in negatives.negative_names_  # a near-synonym of a known class
    kept = scores.cosine_similarity(negatives.negative_embeddings_, np.stack([CHAIR, TABLE])).max(axis=1)
    left = [name for name in candidates if name not in set(negatives.negative_names_)]
    left_similarity = scores.cosine_similarity(text_encoder.embed_classes(left), np.stack([CHAIR, TABLE])).max(axis=1)
    assert kept.max() <= left_similarity.min()
    assert detector.novelty(novel).min() > detector.novelty(known).max()


def test_negative_labels_with_given_embeddings(world):
    _, text_encoder, _, _ = world
    samples = np.stack([CHAIR, NOVEL])
    result = score_novelty(
        samples, ["chair", "table"], "negative_labels", text_encoder=text_encoder, negatives=NOVEL[None]
    )
    # The softmax mass on the negative at the default temperature 0.01: e^(c_neg/T) / sum over chair, table, negative
    # of e^(c/T); CHAIR's cosines are (1, 0 | 0), NOVEL's (0, 0 | 1).
    np.testing.assert_allclose(result.scores, [1 / (np.exp(100) + 2), np.exp(100) / (np.exp(100) + 2)], rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_direction_every_method(world, method):
    _, text_encoder, _, _ = world
    on_class, orthogonal = CHAIR, NOVEL
    samples = np.stack([on_class, orthogonal])
    reference = {
        "chair": np.stack([CHAIR, unit(DIM, 0.95, 0.05, 0)]),
        "table": np.stack([TABLE, unit(DIM, 0.2, 0.8, 0)]),
    }
    if method in ("knn", "prototype"):
        result = score_novelty(samples, reference, method)
    else:
        fused = {"reference": reference} if method == "fused" else {}
        result = score_novelty(samples, ["chair", "table"], method, text_encoder=text_encoder, **fused)
    assert result.scores[0] < result.scores[1]


def test_a_class_with_several_names_scores_with_its_best_name(world):
    _, text_encoder, known, novel = world
    desk = unit(DIM, 0.1, 0.2, 1)  # close to the novel direction: merging it into "table" changes the scores
    text_encoder.fixed["desk"] = desk
    samples = np.concatenate([known, novel])
    detector = NoveltyDetector("mcm", text_encoder=text_encoder).fit(known=["chair", ("table", "desk")])
    assert text_encoder.calls == [(["chair", "table", "desk"], "openshape64")]
    assert list(detector.classes_) == ["chair", ("table", "desk")]
    np.testing.assert_array_equal(detector.text_labels_, [0, 1, 1])
    # by hand: per-class cosine = max over the class's names, then the softmax over the two classes
    cosine = samples @ np.stack([CHAIR, TABLE, desk]).T
    per_class = np.stack([cosine[:, 0], np.maximum(cosine[:, 1], cosine[:, 2])], axis=1)
    expected = -np.exp(per_class).max(axis=1) / np.exp(per_class).sum(axis=1)
    np.testing.assert_allclose(detector.novelty(samples), expected)
    np.testing.assert_array_equal(detector.classify(samples), per_class.argmax(axis=1))
    np.testing.assert_array_equal(detector.classify(novel), [1] * 5)  # desk wins for the novel samples


def test_names_of_a_merged_class_are_no_negative_labels(world):
    _, text_encoder, _, _ = world
    detector = NoveltyDetector("negative_labels", text_encoder=text_encoder, templates="none")
    detector.fit(known=[("chair", "armchair"), "table"])
    candidates = text_encoder.calls[1][0]
    assert "armchair" not in candidates and "chair" not in candidates and "table" not in candidates
    assert len(candidates) == len(lvis_categories()) - 3


def test_one_name_per_entry_in_tuples_is_the_plain_case(world):
    _, text_encoder, known, _ = world
    plain = NoveltyDetector(text_encoder=text_encoder).fit(known=["chair", "table"])
    tupled = NoveltyDetector(text_encoder=text_encoder).fit(known=[("chair",), ["table"]])
    assert tupled.text_labels_ is None and list(tupled.classes_) == ["chair", "table"]
    np.testing.assert_array_equal(tupled.novelty(known), plain.novelty(known))


def test_several_names_errors(world):
    _, text_encoder, known, _ = world
    with pytest.raises(ValueError, match=r"known classes \[1\] have no names"):
        score_novelty(known, ["chair", ()], text_encoder=text_encoder)
    with pytest.raises(ValueError, match="duplicate known class names \\['table'\\]"):
        score_novelty(known, [("chair", "table"), "table"], text_encoder=text_encoder)
    with pytest.raises(ValueError, match="not one string"):
        score_novelty(known, "chair", text_encoder=text_encoder)


def test_text_embeddings_as_known():
    result = score_novelty(np.stack([CHAIR, NOVEL]), np.stack([CHAIR, TABLE]), "energy", temperature=0.5)
    np.testing.assert_array_equal(result.classes, [0, 1])
    # -T log sum_c e^(cos_c / T) with T = 0.5: CHAIR's cosines are (1, 0), NOVEL's (0, 0).
    np.testing.assert_allclose(result.scores, [-0.5 * np.log(np.exp(2) + 1), -0.5 * np.log(2)], rtol=1e-12)


def test_errors(world):
    _, text_encoder, known, _ = world
    with pytest.raises(ValueError, match="empty"):
        score_novelty(known, [], text_encoder=text_encoder)
    with pytest.raises(ValueError, match="duplicate"):
        score_novelty(known, ["chair", "Chair"], text_encoder=text_encoder)
    with pytest.raises(ValueError, match="unknown method"):
        score_novelty(known, ["chair"], "odin", text_encoder=text_encoder)
    with pytest.raises(ValueError, match="unknown template set"):
        score_novelty(known, ["chair"], text_encoder=text_encoder, templates="imagenet")
    with pytest.raises(ValueError, match="need a text encoder"):
        score_novelty(known, ["chair"])
    with pytest.raises(ValueError, match="option k= does not apply"):
        score_novelty(known, ["chair"], "mcm", text_encoder=text_encoder, k=3)
    with pytest.raises(ValueError, match="pass method='knn' or 'prototype'"):
        score_novelty(known, (known, np.zeros(20, int)))
    with pytest.raises(ValueError, match="needs reference="):
        score_novelty(known, ["chair"], "fused", text_encoder=text_encoder)
    with pytest.raises(ValueError, match="NaN"):
        score_novelty(np.full((1, DIM), np.nan), ["chair"], text_encoder=text_encoder)


def test_dimension_mismatch_between_shape_and_text(world):
    _, text_encoder, known, _ = world
    vitg14_shapes = FakeShapeEncoder("vitg14").embed(clouds_around(CHAIR, 2, 0))
    with pytest.raises(ValueError, match="dimension 1280 but the known classes have 512.*TextEncoder.from_pretrained"):
        score_novelty(vitg14_shapes, ["chair"], text_encoder=text_encoder)
    with pytest.raises(ValueError, match="shape encoder 'vitg14' have dimension 1280"):
        score_novelty(known, ["chair"], text_encoder=text_encoder, model=FakeShapeEncoder("vitg14"))
    with pytest.raises(ValueError, match="reference shape embeddings have dimension 1280"):
        score_novelty(known, ["chair"], "fused", text_encoder=text_encoder, reference=(vitg14_shapes, [0, 0]))


def test_unfitted_and_uncalibrated(world):
    _, text_encoder, known, _ = world
    with pytest.raises(NotFittedError):
        NoveltyDetector().novelty(known)
    detector = NoveltyDetector(text_encoder=text_encoder).fit(known=["chair", "table"])
    with pytest.raises(ValueError, match="call calibrate"):
        detector.predict(known)
    assert (NoveltyDetector(text_encoder=text_encoder, threshold=10.0).fit(known=["chair"]).predict(known) == 0).all()


def test_similarity_is_the_cosine_to_the_nearest_class_best_name_or_reference_shape():
    e = np.eye(4)
    text = e[:3]  # class 0 has names e0 and e1, class 1 has e2
    x = np.array([[0.6, 0.8, 0.0, 0.0], [0.0, 0.0, 0.8, 0.6]])
    detector = NoveltyDetector(text_encoder=FakeTextEncoder(4, {"a": e[0], "b": e[1], "c": e[2]}), templates="none")
    detector.fit(known=[("a", "b"), "c"])
    np.testing.assert_array_equal(detector.classify(x), [0, 1])
    np.testing.assert_allclose(detector.similarity(x), [0.8, 0.8])  # class 0 by its best name, b
    reference = (np.stack([e[0], e[1], e[3]]), np.array([0, 0, 1]))
    by_shape = NoveltyDetector("knn").fit(reference=reference)
    np.testing.assert_array_equal(by_shape.classify(x), [0, 1])
    np.testing.assert_allclose(by_shape.similarity(x), [0.8, 0.6])  # nearest reference shape of that class
    result = score_novelty(x, text, "max_cosine")
    np.testing.assert_allclose(result.similarity, [0.8, 0.8])
    np.testing.assert_allclose(result.similarity, -result.scores)  # max_cosine: the negated novelty
