"""openshape_ood.metrics against the 3DOS reference fixture and hand-computed values."""

import json

import numpy as np
import pytest

from openshape_ood.metrics import closed_set_metrics, ood_metrics

from ..helpers.data import FIXTURES

FIXTURE = FIXTURES / "ood_metrics" / "ood_metrics_3dos.json"
CASES = json.loads(FIXTURE.read_text())["cases"]
KEYS = ("auroc", "fpr95", "aupr_in", "aupr_out")


def unknown_sets(case: dict) -> dict[str, list[float]]:
    """The unknown side of each fixture comparison (the pooled one is set 1 then set 2)."""
    return {
        "known_vs_unknown_1": case["unknown_1"],
        "known_vs_unknown_2": case["unknown_2"],
        "known_vs_unknown_1_and_2": case["unknown_1"] + case["unknown_2"],
    }


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{i}-{c['kind']}" for i, c in enumerate(CASES)])
def test_matches_3dos_reference_fixture(index):
    case = CASES[index]
    for comparison, unknown in unknown_sets(case).items():
        got = ood_metrics(case["known"], unknown)
        expected = case["expected"][comparison]
        assert set(got) == set(KEYS)
        for key in KEYS:
            assert got[key] == pytest.approx(expected[key], abs=1e-12, rel=0), (comparison, key)


def test_fixture_covers_every_kind():
    # The oracle must exercise ties, discrete scores, perfect and inverted separation.
    kinds = {case["kind"] for case in CASES}
    assert {"continuous", "ties", "discrete", "separable", "inverted", "small"} <= kinds


# Hand-computed: known [3, 1] vs unknown [2, 0]. Pairs won by the known side: 3 of 4.
# ROC (fpr, tpr): (0,0) (0,.5) (.5,.5) (.5,1) (1,1): at tpr .95 the fpr is .5.
# PR (recall, precision): (0,1) (.5,1) (.5,.5) (1,2/3) (1,.5): area .5 + .5 * (.5 + 2/3) / 2.
# The negated problem has the same shape, so AUPR-OUT equals AUPR-IN.
HAND = [
    ([3, 1], [2, 0], {"auroc": 0.75, "fpr95": 0.5, "aupr_in": 19 / 24, "aupr_out": 19 / 24}),
    ([3, 2], [1, 0], {"auroc": 1.0, "fpr95": 0.0, "aupr_in": 1.0, "aupr_out": 1.0}),
    # Inverted: no unknown can be rejected before every known is; PR area
    # .5 * (0 + 1/3) / 2 + .5 * (1/3 + 1/2) / 2 = 7/24.
    ([1, 0], [3, 2], {"auroc": 0.0, "fpr95": 1.0, "aupr_in": 7 / 24, "aupr_out": 7 / 24}),
    # All tied: the ROC is the diagonal, the PR curve runs from (0, 1) to (1, .5).
    ([1, 1], [1, 1], {"auroc": 0.5, "fpr95": 0.95, "aupr_in": 0.75, "aupr_out": 0.75}),
]


@pytest.mark.parametrize("known, unknown, expected", HAND)
def test_hand_computed_values(known, unknown, expected):
    got = ood_metrics(known, unknown)
    for key in KEYS:
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key


def test_direction_is_normality():
    # Higher score = more normal: flipping the sign of a good score makes it bad.
    rng = np.random.default_rng(0)
    known, unknown = rng.normal(1.0, 1.0, 200), rng.normal(-1.0, 1.0, 300)
    assert ood_metrics(known, unknown)["auroc"] > 0.8
    assert ood_metrics(-known, -unknown)["auroc"] == pytest.approx(1 - ood_metrics(known, unknown)["auroc"])


def test_float32_and_tensor_like_inputs_give_the_same_result():
    case = CASES[0]
    reference = ood_metrics(case["known"], case["unknown_1"])
    known32 = np.asarray(case["known"], np.float32)
    unknown32 = np.asarray(case["unknown_1"], np.float32)
    expected = ood_metrics(known32.astype(np.float64), unknown32.astype(np.float64))
    assert ood_metrics(known32, unknown32) == expected
    assert ood_metrics(tuple(case["known"]), np.asarray(case["unknown_1"])) == reference
    assert all(type(value) is float for value in reference.values())


@pytest.mark.parametrize(
    "known, unknown, match",
    [
        ([], [1.0], "known_scores is empty"),
        ([1.0], [], "unknown_scores is empty"),
        ([[1.0, 2.0]], [1.0], r"known_scores must be 1-D.*\(1, 2\)"),
        ([1.0], [np.nan, 1.0], "unknown_scores holds 1 non-finite"),
        ([np.inf], [1.0], "known_scores holds 1 non-finite"),
        (["a"], [1.0], "known_scores must hold real numbers"),
        ([True, False], [1.0], "known_scores must hold real numbers"),
    ],
)
def test_invalid_scores_raise(known, unknown, match):
    with pytest.raises(ValueError, match=match):
        ood_metrics(known, unknown)


def test_closed_set_hand_computed():
    # Class 0: 2 of 3 right, class 1: 1 of 1 -> accuracy 3/4, balanced (2/3 + 1) / 2.
    got = closed_set_metrics([0, 0, 0, 1], [0, 0, 1, 1])
    assert got == pytest.approx({"accuracy": 0.75, "balanced_accuracy": 5 / 6}, abs=1e-15)
    assert all(type(value) is float for value in got.values())


@pytest.mark.parametrize(
    "labels, predictions, match",
    [
        ([], [], "labels is empty"),
        ([[0, 1]], [0, 1], "labels must be 1-D"),
        ([0, 1], np.zeros((2, 3)), "predictions must be 1-D.*argmax"),
        ([0, 1, 1], [0, 1], r"differ in length \(3 vs 2\)"),
    ],
)
def test_closed_set_invalid_inputs_raise(labels, predictions, match):
    with pytest.raises(ValueError, match=match):
        closed_set_metrics(labels, predictions)
