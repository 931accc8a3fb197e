"""Inputs refused at the door, one test per defect found by fuzzing the public API (issue 18, item 5).

Each wrong input gets a ValueError that names the argument, instead of a failure deep inside
numpy, torch or scikit-learn, a warning that drops data, or a NaN result.
"""

import warnings

import numpy as np
import pytest

from openshape_ood import EnsembleDetector, NoveltyDetector, score_novelty
from openshape_ood.detectors.conformal import benjamini_hochberg, conformal_p_values
from openshape_ood.methods import MCM, NegativeLabels, Prototype, make_method, parse_method


def unit(n, d=4, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


TEXT, X = unit(2), unit(5, seed=1)
REFERENCE, LABELS = unit(6, seed=2), np.array([0, 0, 0, 1, 1, 1])


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning or RuntimeWarning fails the test
        yield


def test_complex_embeddings_are_refused_by_score_novelty():
    with pytest.raises(ValueError, match="shape embeddings hold complex numbers"):
        score_novelty(X.astype(complex), TEXT)


def test_complex_embeddings_are_refused_by_the_detector():
    with pytest.raises(ValueError, match="known text embeddings hold complex numbers"):
        NoveltyDetector().fit(known=TEXT.astype(complex))
    detector = NoveltyDetector().fit(known=TEXT)
    with pytest.raises(ValueError, match="shape embeddings hold complex numbers"):
        detector.novelty(X + 0j)
    with pytest.raises(ValueError, match="reference embeddings hold complex numbers"):
        NoveltyDetector("knn").fit(reference=(REFERENCE.astype(complex), LABELS))
    with pytest.raises(ValueError, match="negative embeddings hold complex numbers"):
        NoveltyDetector(NegativeLabels(negatives=unit(3).astype(complex))).fit(known=TEXT)


def test_complex_scores_are_refused_by_the_conformal_functions():
    with pytest.raises(ValueError, match="calibration_novelty hold complex numbers"):
        conformal_p_values(np.array([1j, 2.0]), [1.0])


@pytest.mark.parametrize(
    "embeddings, message",
    [
        ([["a", "b", "c", "d"]], "shape embeddings must be a numeric array; got list"),
        ([[1.0, 0.0], [1.0]], "shape embeddings must be a numeric array; got a list numpy cannot read"),
        ({"a": 1}, "shape embeddings must be a numeric array; got dict"),
    ],
)
def test_embeddings_that_are_not_numbers_name_the_argument(embeddings, message):
    with pytest.raises(ValueError, match=message):
        score_novelty(embeddings, TEXT)


def test_known_classes_as_a_set_name_the_argument():
    with pytest.raises(ValueError, match="known text embeddings must be a numeric array; got set"):
        score_novelty(X, {"chair", "table"})


def test_prototype_never_returns_nan_for_a_class_that_cancels_out():
    reference = np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    with pytest.raises(ValueError, match=r"class\(es\) \[0\] cancel out"):
        NoveltyDetector(Prototype()).fit(reference=(reference, np.array([0, 0, 1])))
    # The Euclidean prototype is the mean itself: class 0's is the origin, class 1's is e2. The novelty is the
    # distance to the nearer one: 1 for a unit row to the origin, or |x - e2|.
    detector = NoveltyDetector(Prototype(metric="euclidean")).fit(reference=(reference, np.array([0, 0, 1])))
    expected = np.minimum(1.0, np.linalg.norm(X - [0, 1, 0, 0], axis=1))
    np.testing.assert_allclose(detector.novelty(X), expected, rtol=1e-12)


def test_reference_labels_with_nan_are_refused():
    with pytest.raises(ValueError, match="reference labels hold NaN"):
        NoveltyDetector("knn").fit(reference=(REFERENCE, np.array([0, np.nan, 0, 1, 1, 1])))


def test_reference_values_that_are_text_name_the_class():
    with pytest.raises(ValueError, match="reference embeddings of 'a' must be a numeric array"):
        NoveltyDetector("knn").fit(reference={"a": "x"})


def test_templates_of_the_wrong_type_name_the_argument():
    with pytest.raises(ValueError, match="templates must be a template set name .* got a int"):
        NoveltyDetector(templates=3).fit(known=TEXT)


def test_progress_must_be_a_bool():
    with pytest.raises(ValueError, match="'progress' parameter of NoveltyDetector must be a bool or None; got 'yes'"):
        NoveltyDetector(progress="yes").fit(known=TEXT)
    with pytest.raises(ValueError, match="'progress' parameter of EnsembleDetector must be a bool"):
        EnsembleDetector(model=["vitb32"], progress=1).fit(known=[TEXT])


@pytest.mark.parametrize("k", ["3", 0, 2.5, True])
def test_describe_k_must_be_a_positive_whole_number(k):
    with pytest.raises(ValueError, match="k must be a whole number of names of at least 1"):
        NoveltyDetector().fit(known=TEXT).describe(X, k=k, vocabulary=["cup"])


def test_an_ensembles_describe_checks_k_before_embedding_a_vocabulary():
    """No member's text tower is built (here: none could be) for a k that is wrong anyway."""
    ensemble = EnsembleDetector(model=["vitb32"]).fit(known=[unit(2, d=512)])
    with pytest.raises(ValueError, match="k must be a whole number of names of at least 1"):
        ensemble.describe([unit(5, d=512, seed=1)], k=0, vocabulary=["cup"])


def test_describe_vocabulary_must_be_a_list_of_names():
    with pytest.raises(ValueError, match="vocabulary must be a list of strings, not one string"):
        NoveltyDetector().fit(known=TEXT).describe(X, vocabulary="cup")


def test_a_method_class_instead_of_an_instance_says_so():
    with pytest.raises(ValueError, match=r"method MCM is a class; pass an instance, MCM\(\)"):
        make_method(MCM)


def test_parse_method_takes_text_only():
    with pytest.raises(ValueError, match="a method spec is text"):
        parse_method(3)


@pytest.mark.parametrize("fdr", ["0.1", None, 0.0])
def test_fdr_of_the_wrong_type_names_the_argument(fdr):
    detector = NoveltyDetector().fit(known=TEXT).calibrate(unit(20, seed=3))
    with pytest.raises(ValueError, match="fdr must be in"):
        detector.select_novel(X, fdr=fdr)
    with pytest.raises(ValueError, match="fdr must be in"):
        benjamini_hochberg([0.1], fdr)


def test_p_values_given_as_text_name_the_argument():
    with pytest.raises(ValueError, match="p_values must be a numeric array"):
        benjamini_hochberg(["a"], 0.1)


def test_a_method_spec_with_an_unhashable_literal_key_is_a_value_error():
    with pytest.raises(ValueError, match=r"is not a literal value"):
        parse_method("mcm(temperature={[1]: 2})")
