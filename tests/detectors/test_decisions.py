"""NoveltyDetector decisions: conformal calibration, p-values, FDR selection, describe; and model ensembles."""

import numpy as np
import pytest
from sklearn.base import clone

from openshape_ood import EnsembleDetector, NoveltyDetector, score_novelty
from openshape_ood.detectors.conformal import benjamini_hochberg, conformal_p_values, conformal_threshold
from openshape_ood.methods import KNN

from ..helpers.fake_encoders import CHAIR, DIM, NOVEL, TABLE, FakeShapeEncoder, FakeTextEncoder, unit


def _samples(rng, direction, count, spread=0.4):
    x = direction + spread * rng.normal(size=(count, len(direction))) / np.sqrt(len(direction)) * 8
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    known = np.concatenate([_samples(rng, CHAIR, 60), _samples(rng, TABLE, 60)])
    rng.shuffle(known)
    return known[:80], known[80:], _samples(rng, NOVEL, 20)  # calibration, known test, novel test


@pytest.mark.parametrize("method", ["max_cosine", "mcm", "energy", "knn"])
def test_p_values_and_alpha_threshold_for_any_method(data, method):
    calibration, known, novel = data
    detector = NoveltyDetector(method)
    if method == "knn":
        rng = np.random.default_rng(1)
        bank = np.concatenate([_samples(rng, CHAIR, 30), _samples(rng, TABLE, 30)])
        detector.fit(reference=(bank, np.repeat([0, 1], 30)))
    else:
        detector.fit(known=np.stack([CHAIR, TABLE]))
    detector.calibrate(calibration, alpha=0.1)
    batch = np.concatenate([known, novel])
    expected_p = conformal_p_values(detector.novelty(calibration), detector.novelty(batch))
    np.testing.assert_array_equal(detector.p_values(batch), expected_p)
    assert detector.threshold_ == conformal_threshold(detector.novelty(calibration), 0.1)
    np.testing.assert_array_equal(detector.predict(batch) == -1, expected_p <= 0.1)
    np.testing.assert_array_equal(detector.select_novel(batch, fdr=0.2), benjamini_hochberg(expected_p, 0.2))
    assert detector.select_novel(batch, fdr=0.2)[len(known) :].mean() > 0.5  # finds the novel shapes


def test_calibrate_tpr_stays_the_default_and_excludes_alpha(data):
    calibration, _, _ = data
    detector = NoveltyDetector().fit(known=np.stack([CHAIR, TABLE]))
    expected = np.quantile(detector.novelty(calibration), 0.95, method="inverted_cdf")
    assert detector.calibrate(calibration).threshold_ == expected
    with pytest.raises(ValueError, match="not both"):
        detector.calibrate(calibration, tpr=0.9, alpha=0.1)
    with pytest.raises(ValueError, match="at least 19"):
        detector.calibrate(calibration[:10], alpha=0.05)


def test_p_values_need_calibration_samples(data):
    detector = NoveltyDetector(threshold=0.0).fit(known=np.stack([CHAIR, TABLE]))
    with pytest.raises(ValueError, match="call calibrate"):
        detector.p_values(data[1])
    detector.calibrate(data[0])
    detector.fit(known=np.stack([CHAIR, TABLE]))  # refitting forgets the calibration
    with pytest.raises(ValueError, match="call calibrate"):
        detector.p_values(data[1])


def test_describe_names_shapes_with_the_detectors_text_encoder():
    vocabulary = ["stool", "lamp", "desk"]
    text = FakeTextEncoder(DIM, {"stool": unit(DIM, 1, 0.2, 0), "lamp": NOVEL, "desk": TABLE, "chair": CHAIR})
    detector = NoveltyDetector(text_encoder=text, templates="none").fit(known=["chair"])
    result = detector.describe(np.stack([NOVEL, CHAIR]), k=2, vocabulary=vocabulary)
    assert result.names.tolist() == [["lamp", "stool"], ["stool", "lamp"]]  # ties at 0 keep vocabulary order
    np.testing.assert_allclose(result.cosines[1], [1 / np.sqrt(1.04), 0.0], atol=1e-6)
    detector.describe(np.stack([NOVEL]), k=1, vocabulary=vocabulary)
    assert text.calls == [(["chair"], "none"), (vocabulary, "none")]  # the vocabulary is embedded once


def test_describe_needs_a_text_encoder():
    detector = NoveltyDetector().fit(known=np.stack([CHAIR, TABLE]))
    with pytest.raises(ValueError, match="need a text encoder"):
        detector.describe(np.stack([CHAIR]), vocabulary=["lamp"])


def _fake(name):
    return FakeShapeEncoder(name), FakeTextEncoder(FakeShapeEncoder(name).embed_dim, {})


def test_model_list_makes_an_ensemble_and_one_member_equals_its_model(data):
    calibration, known, novel = data
    batch = np.concatenate([known, novel])
    text = FakeTextEncoder(DIM, {"chair": CHAIR, "table": TABLE})
    single = NoveltyDetector("mcm", model="vitb32", text_encoder=text).fit(known=["chair", "table"])
    ensemble = EnsembleDetector("mcm", model=["vitb32"], text_encoder=[text]).fit(known=["chair", "table"])
    assert type(ensemble) is EnsembleDetector and type(clone(ensemble)) is EnsembleDetector
    np.testing.assert_array_equal(ensemble.novelty([batch]), single.novelty(batch))
    np.testing.assert_array_equal(ensemble.classify({"vitb32": batch}), single.classify(batch))
    single.calibrate(calibration, alpha=0.1)
    ensemble.calibrate([calibration], alpha=0.1)
    np.testing.assert_array_equal(ensemble.p_values([batch]), single.p_values(batch))
    np.testing.assert_array_equal(ensemble.predict([batch]), single.predict(batch))
    # Standardising a single member is a monotone map of its novelty: the same p-values.
    standardised = clone(ensemble).fit(known=["chair", "table"], standardize=[known[:20]])
    standardised.calibrate([calibration], alpha=0.1)
    np.testing.assert_allclose(standardised.p_values([batch]), single.p_values(batch))


def test_ensemble_standardises_each_member_and_averages():
    rng = np.random.default_rng(3)
    dims = {"vitb32": 512, "vitl14": 768}
    text = {n: FakeTextEncoder(d, {"chair": unit(d, 1, 0), "table": unit(d, 0, 1)}) for n, d in dims.items()}
    samples = {name: _samples(rng, unit(dim, 1, 0.3), 12) for name, dim in dims.items()}
    scale = {name: _samples(rng, unit(dim, 0.3, 1), 9) for name, dim in dims.items()}
    ensemble = EnsembleDetector("energy", model=list(dims), text_encoder=list(text.values()))
    ensemble.fit(known=["chair", "table"], standardize=scale)
    members = [NoveltyDetector("energy", text_encoder=text[name]).fit(known=["chair", "table"]) for name in dims]
    expected = np.mean(
        [
            (m.novelty(samples[name]) - m.novelty(scale[name]).mean()) / m.novelty(scale[name]).std(ddof=1)
            for m, name in zip(members, dims)
        ],
        axis=0,
    )
    np.testing.assert_allclose(ensemble.novelty(samples), expected, rtol=1e-12)
    raw = clone(ensemble).fit(known=["chair", "table"])
    np.testing.assert_allclose(raw.novelty(samples), np.mean([m.novelty(samples[n]) for m, n in zip(members, dims)], 0))


def test_ensemble_classify_votes_and_breaks_ties_by_member_order():
    dims = {"vitb32": 512, "vitl14": 768, "vitg14": 1280}
    # every member's text: class 0 on axis 0, class 1 on axis 1
    text = [FakeTextEncoder(d, {"a": unit(d, 1, 0), "b": unit(d, 0, 1)}) for d in dims.values()]
    ensemble = EnsembleDetector(model=list(dims), text_encoder=text).fit(known=["a", "b"])
    picks = {"vitb32": [0, 1, 1], "vitl14": [1, 0, 1], "vitg14": [1, 0, 0]}  # majority: 1, 0, 1
    x = {name: np.stack([unit(dims[name], 1 - p, p) for p in pick]) for name, pick in picks.items()}
    np.testing.assert_array_equal(ensemble.classify(x), [1, 0, 1])
    two = EnsembleDetector(model=["vitb32", "vitl14"], text_encoder=text[:2]).fit(known=["a", "b"])
    np.testing.assert_array_equal(two.classify({k: x[k] for k in ("vitb32", "vitl14")}), [0, 1, 1])  # ties: vitb32


def test_ensemble_describe_averages_member_cosines():
    dims = {"vitb32": 512, "vitl14": 768}
    text = [
        FakeTextEncoder(512, {"a": unit(512, 1, 0), "cup": unit(512, 1, 0), "pot": unit(512, 0.6, 0.8)}),
        FakeTextEncoder(768, {"a": unit(768, 1, 0), "cup": unit(768, 0, 1), "pot": unit(768, 0.6, 0.8)}),
    ]
    ensemble = EnsembleDetector(model=list(dims), text_encoder=text).fit(known=["a"])
    x = [unit(512, 1, 0)[None], unit(768, 1, 0)[None]]
    # cup: (1 + 0) / 2 = 0.5; pot: (0.6 + 0.6) / 2 = 0.6
    result = ensemble.describe(x, k=2, vocabulary=["cup", "pot"])
    assert result.names.tolist() == [["pot", "cup"]]
    np.testing.assert_allclose(result.cosines, [[0.6, 0.5]], atol=1e-6)


def test_score_novelty_takes_a_model_list(data):
    calibration, known, _ = data
    text = FakeTextEncoder(DIM, {"chair": CHAIR, "table": TABLE})
    result = score_novelty([known], ["chair", "table"], model=["vitb32"], text_encoder=[text])
    single = score_novelty(known, ["chair", "table"], text_encoder=text)
    np.testing.assert_array_equal(result.scores, single.scores)
    np.testing.assert_allclose(result.similarity, single.similarity)


def test_score_novelty_takes_an_ensembles_text_embeddings_per_member():
    """One text-embedding array per member, as a list or a dict by model name (not reference shapes)."""
    rng = np.random.default_rng(0)
    dims = {"vitb32": 512, "vitl14": 768}

    def normalised(shape):
        x = rng.normal(size=shape)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    known = {name: normalised((3, dim)) for name, dim in dims.items()}
    shapes = [normalised((4, dim)) for dim in dims.values()]
    expected = np.mean([score_novelty(x, k).scores for x, k in zip(shapes, known.values())], axis=0)
    for given in (known, list(known.values())):
        result = score_novelty(shapes, given, model=list(dims))
        np.testing.assert_allclose(result.scores, expected, rtol=1e-6)


def test_an_ensembles_similarity_is_its_members_mean_cosine_to_the_chosen_class(data):
    _, first, _ = data
    second = _samples(np.random.default_rng(5), unit(768, 1, 0), len(first))
    chair, table = unit(768, 0, 1), unit(768, 1, 0)
    texts = [FakeTextEncoder(DIM, {"chair": CHAIR, "table": TABLE}),
             FakeTextEncoder(768, {"chair": chair, "table": table})]  # fmt: skip
    ensemble = EnsembleDetector(model=["vitb32", "vitl14"], text_encoder=texts).fit(known=["chair", "table"])
    nearest = ensemble.classify([first, second])
    rows = np.arange(len(first))
    cosines = [np.stack([first @ CHAIR, first @ TABLE], axis=1), np.stack([second @ chair, second @ table], axis=1)]
    expected = (cosines[0][rows, nearest] + cosines[1][rows, nearest]) / 2
    np.testing.assert_allclose(ensemble.similarity([first, second]), expected)


def test_ensemble_inputs_are_checked(data):
    rng = np.random.default_rng(4)
    labels = np.arange(80) % 2
    bank = {"vitb32": (data[0], labels), "vitl14": (_samples(rng, unit(768, 1, 0), 80), labels)}
    ensemble = EnsembleDetector(KNN(), model=["vitb32", "vitl14"]).fit(reference=bank)
    with pytest.raises(ValueError, match=r"missing \['vitl14'\]"):
        ensemble.novelty({"vitb32": data[1]})
    with pytest.raises(ValueError, match="one entry per member"):
        ensemble.novelty([data[1]])
    with pytest.raises(ValueError, match="different numbers of samples"):
        ensemble.novelty([data[1], _samples(rng, unit(768, 1, 0), 3)])
    with pytest.raises(ValueError, match="'threshold' parameter of EnsembleDetector"):
        EnsembleDetector(KNN(), model=["vitb32", "vitl14"], threshold=float("nan")).fit(reference=bank)
    with pytest.raises(ValueError, match="twice"):
        EnsembleDetector(KNN(), model=["vitb32", "vitb32"]).fit(reference=[bank["vitb32"]] * 2)


def test_a_model_list_for_the_single_model_detector_points_to_the_ensemble():
    with pytest.raises(ValueError, match=r"use EnsembleDetector\(method, model=\[...\]\)"):
        NoveltyDetector(model=["vitb32", "vitl14"]).fit(known=np.stack([CHAIR, TABLE]))
    assert not isinstance(EnsembleDetector(), NoveltyDetector) and not isinstance(NoveltyDetector(), EnsembleDetector)


def test_decide_gives_the_verdicts_of_each_rule(data):
    calibration, known, novel = data
    batch = np.concatenate([known, novel])
    detector = NoveltyDetector().fit(known=np.stack([CHAIR, TABLE]))
    assert detector.decide(batch).novel is None and detector.decide(batch).p_values is None
    detector.calibrate(calibration, alpha=0.1)
    decisions = detector.decide(batch)
    np.testing.assert_array_equal(decisions.novel, detector.predict(batch) == -1)
    np.testing.assert_array_equal(decisions.p_values, detector.p_values(batch))
    assert decisions.to_dict() == {"threshold": detector.threshold_, "tpr": None, "alpha": 0.1, "fdr": None}
    selected = detector.decide(batch, fdr=0.2)
    np.testing.assert_array_equal(selected.novel, detector.select_novel(batch, fdr=0.2))
    assert selected.rule == "fdr" and selected.verdicts()[-1] in ("novel", "known")
    fixed = NoveltyDetector(threshold=-0.5).fit(known=np.stack([CHAIR, TABLE])).decide(batch)
    np.testing.assert_array_equal(fixed.novel, fixed.novelty > -0.5)
    assert fixed.rule == "threshold" and fixed.p_values is None
