"""The novelty methods as scikit-learn estimators: one common test over METHODS, and the method parser."""

import hashlib

import numpy as np
import pytest
from sklearn.base import clone

from openshape_ood.methods import scores
from openshape_ood.detectors.functional import NoveltyDetector, score_novelty
from openshape_ood.methods import (
    KNN,
    MCM,
    METHODS,
    Energy,
    Fused,
    KnownClasses,
    MaxCosine,
    NegativeLabels,
    Prototype,
    make_method,
    parse_method,
)

DIM = 16


def unit(*axes: float) -> np.ndarray:
    vector = np.zeros(DIM)
    vector[: len(axes)] = axes
    return vector / np.linalg.norm(vector)


CHAIR, TABLE, NOVEL = unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)


class HashTextEncoder:
    """Fixed vectors for the known names, a seeded random unit vector for any other name."""

    embed_dim = DIM

    def embed_classes(self, names, templates="openshape64"):
        fixed = {"chair": CHAIR, "table": TABLE}
        return np.stack([fixed.get(name, self._random(name)) for name in names])

    @staticmethod
    def _random(name: str) -> np.ndarray:
        vector = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)).normal(size=DIM)
        return vector / np.linalg.norm(vector)


def around(direction: np.ndarray, count: int, seed: int) -> np.ndarray:
    points = direction + np.random.default_rng(seed).normal(scale=0.2, size=(count, DIM))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


KNOWN = np.concatenate([around(CHAIR, 6, 0), around(TABLE, 6, 1)])
LABELS = np.repeat([0, 1], 6)

# Values other than the defaults, for the clone and repr checks.
OTHER_VALUES = {
    MaxCosine: {},
    MCM: {"temperature": 0.5},
    Energy: {"temperature": 2.0},
    NegativeLabels: {"temperature": 0.05, "negatives": ["apple", "boat", "cloud", "drum"], "fraction": 0.5,
                     "groups": 2, "seed": 3},  # fmt: skip
    Prototype: {"metric": "euclidean"},
    KNN: {"k": 2, "metric": "cosine"},
    Fused: {"text": MCM(temperature=0.1), "shape": Prototype(), "weight": 0.25},
}
# Invalid values of every parameter: each must fail at fit with a ValueError naming the parameter.
INVALID_VALUES = {
    MaxCosine: {},
    MCM: {"temperature": [0, -1.0, "hot", float("nan")]},
    Energy: {"temperature": [0.0, None]},
    NegativeLabels: {
        "temperature": [-0.01],
        "negatives": [5, "chair"],
        "fraction": [0.0, 1.5],
        "groups": [0, 1.5, True, 10**6],
        "seed": [-1, 0.5],
    },
    Prototype: {"metric": ["manhattan", None]},
    KNN: {
        "k": [0, 1.5, len(KNOWN) + 1],
        "metric": ["manhattan"],
        "index": ["annoy", None],
        "index_options": ["fast", {"nprobe": 4}],  # exact search has no settings
    },
    Fused: {"text": [KNN(), "nonsense"], "shape": [MCM(), "max_cosine"], "weight": [-0.1, 1.5, "half"]},
}


def test_the_tables_cover_every_method_and_parameter():
    assert set(OTHER_VALUES) == set(INVALID_VALUES) == set(METHODS.values())
    for cls in METHODS.values():
        assert set(INVALID_VALUES[cls]) == set(cls().get_params(deep=False)), cls


def fit_detector(method, **kwargs) -> NoveltyDetector:
    """A detector fitted on what the method needs: class names, reference shapes or both."""
    detector = NoveltyDetector(method, text_encoder=HashTextEncoder(), templates="none", progress=False, **kwargs)
    return detector.fit(
        known=["chair", "table"] if "known" in method.needs else None,
        reference=(KNOWN, LABELS) if "reference" in method.needs else None,
    )


@pytest.fixture(params=list(METHODS), ids=list(METHODS))
def cls(request):
    return METHODS[request.param]


def test_clone_round_trips_the_parameters(cls):
    method = cls(**OTHER_VALUES[cls])
    copy = clone(method)
    assert copy is not method
    assert repr(copy.get_params(deep=False)) == repr(method.get_params(deep=False))
    assert clone(NoveltyDetector(method, threshold=0.1)).get_params()["method"] is not method


def test_repr_shows_the_parameters(cls):
    text = repr(cls(**OTHER_VALUES[cls]))
    assert text.startswith(cls.__name__ + "(")
    for name, value in OTHER_VALUES[cls].items():
        assert f"{name}={value!r}" in text


def test_invalid_parameters_fail_at_fit_naming_the_parameter(cls):
    for name, values in INVALID_VALUES[cls].items():
        for value in values:
            method = cls(**{name: value})  # construction never validates, as in scikit-learn
            with pytest.raises(ValueError, match=f"'{name}' parameter of {cls.__name__}"):
                fit_detector(method)


def test_score_samples_is_the_negated_novelty_and_equals_score_novelty(cls):
    method = cls(**OTHER_VALUES[cls])
    detector = fit_detector(method)
    samples = np.concatenate([KNOWN, around(NOVEL, 4, 2)])
    novelty = detector.novelty(samples)
    np.testing.assert_array_equal(detector.score_samples(samples), -novelty)
    if "known" in method.needs:
        reference = (KNOWN, LABELS) if "reference" in method.needs else None
        result = score_novelty(
            samples, ["chair", "table"], method, reference=reference, text_encoder=HashTextEncoder(), templates="none"
        )
    else:
        result = score_novelty(samples, (KNOWN, LABELS), method)
    np.testing.assert_array_equal(result.scores, novelty)
    assert method.get_params(deep=False) == cls(**OTHER_VALUES[cls]).get_params(deep=False)  # not fitted in place
    assert not hasattr(method, "fitted_")


# Unit vectors against the classes chair (CHAIR) and table (TABLE): CHAIR's cosines are (1, 0), NOVEL's (0, 0).
@pytest.mark.parametrize(
    "method, expected",
    [
        (MaxCosine(), [-1.0, 0.0]),  # -max cosine
        (MCM(temperature=0.5), [-np.exp(2) / (np.exp(2) + 1), -0.5]),  # -max softmax(cos / 0.5): e^2 against e^0
        (Energy(temperature=2.0), [-2 * np.log(np.exp(0.5) + 1), -2 * np.log(2)]),  # -2 log sum exp(cos / 2)
    ],
    ids=["max_cosine", "mcm", "energy"],
)
def test_the_text_methods_score_a_known_class_and_an_orthogonal_shape_by_hand(method, expected):
    samples = np.stack([CHAIR, NOVEL])
    np.testing.assert_allclose(fit_detector(method).novelty(samples), expected, rtol=1e-12)
    result = score_novelty(samples, ["chair", "table"], method, text_encoder=HashTextEncoder(), templates="none")
    np.testing.assert_allclose(result.scores, expected, rtol=1e-12)


def test_decision_function_and_predict_agree(cls):
    detector = fit_detector(cls()).calibrate(KNOWN, tpr=0.75)
    samples = np.concatenate([KNOWN, around(NOVEL, 4, 2)])
    decision = detector.decision_function(samples)
    np.testing.assert_allclose(decision, detector.score_samples(samples) - detector.offset_)
    assert detector.offset_ == -detector.threshold_
    predicted = detector.predict(samples)
    np.testing.assert_array_equal(predicted == -1, decision < 0)
    np.testing.assert_array_equal(predicted[decision >= 0], detector.classify(samples)[decision >= 0])
    assert (decision[: len(KNOWN)] >= 0).mean() >= 0.75


def test_direction_known_like_is_more_normal_than_unrelated(cls):
    detector = fit_detector(cls())
    normality = detector.score_samples(np.stack([CHAIR, NOVEL]))
    assert normality[0] > normality[1]


def test_method_fits_on_its_own_from_known_classes():
    known = KnownClasses(text=np.stack([CHAIR, TABLE]), reference=KNOWN, reference_labels=LABELS)
    fused = Fused(text=MCM(temperature=0.5), shape=KNN(k=2), weight=0.3).fit(known)
    expected = scores.fused(
        scores.mcm(KNOWN, known.text, 0.5),
        scores.knn(KNOWN, KNOWN, 2),
        scores.mcm(KNOWN, known.text, 0.5),
        scores.knn(KNOWN, KNOWN, 3),  # each reference left out of its own neighbours
        0.3,
    )
    np.testing.assert_allclose(fused.novelty(KNOWN), expected)
    assert isinstance(fused.text_, MCM) and fused.text is not fused.text_
    with pytest.raises(ValueError, match="MCM needs known="):
        MCM().fit(KnownClasses(reference=KNOWN, reference_labels=LABELS))
    with pytest.raises(ValueError, match="needs a text encoder"):
        NegativeLabels().fit(KnownClasses(text=np.stack([CHAIR, TABLE])))
    with pytest.raises(ValueError, match=r"takes a KnownClasses.*NoveltyDetector\(MaxCosine"):
        MaxCosine().fit(["chair", "table"])


def test_fused_takes_method_names_and_nested_parameters():
    detector = fit_detector(Fused(text="mcm", shape="prototype"))
    assert isinstance(detector.method_.text_, MCM) and isinstance(detector.method_.shape_, Prototype)
    detector.set_params(method__text=Energy(temperature=0.5))
    assert detector.get_params()["method__text__temperature"] == 0.5


def test_make_method():
    assert repr(make_method("knn", k=3)) == "KNN(k=3)"
    method = MCM()
    assert make_method(method) is method
    with pytest.raises(ValueError, match=r"option k= does not apply to method 'mcm' .*parameter of \['knn'\]"):
        make_method("mcm", k=3)
    with pytest.raises(ValueError, match="besides the method object"):
        make_method(method, temperature=2.0)
    with pytest.raises(ValueError, match="unknown method 'odin'"):
        make_method("odin")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("knn", "KNN()"),
        ("mcm(temperature=0.01)", "MCM(temperature=0.01)"),
        ("negative_labels(negatives=['apple', 'boat'], groups=2)",
         "NegativeLabels(groups=2, negatives=['apple', 'boat'])"),
        ("fused(text=mcm(temperature=0.1), shape=prototype, weight=0.3)",
         "Fused(shape=Prototype(), text=MCM(temperature=0.1), weight=0.3)"),
        ("negative_labels(negatives=None)", "NegativeLabels()"),
    ],
)  # fmt: skip
def test_parse_method(spec, expected):
    assert repr(parse_method(spec)) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mcm(", "cannot read the method"),
        ("mcm(0.01)", "keyword parameters"),
        ("__import__('os').system('true')", "keyword parameters"),
        ("mcm(temperature=__import__('os'))", "keyword parameters"),
        ("mcm(temperature=1 + x)", "not a literal value"),
        ("mcm(k=1)", "option k= does not apply"),
        ("odin()", "unknown method 'odin'"),
    ],
)
def test_parse_method_refuses_anything_but_methods_and_literals(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_method(spec)
