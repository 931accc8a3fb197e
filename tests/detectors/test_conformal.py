"""Split-conformal p-values, the alpha threshold and Benjamini-Hochberg: hand-computed values and their guarantees."""

import numpy as np
import pytest

from openshape_ood.detectors.conformal import benjamini_hochberg, conformal_p_values, conformal_threshold

# Every statistical check below uses a fixed seed (so it is deterministic) and a tolerance of
# Z standard deviations of the exact sampling distribution, so that a correct implementation
# would fail it with probability below 1e-5 for any seed.
Z = 4.5


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class _Mixture:
    """Synthetic embeddings: known samples near 4 class directions in 16-d, novel ones anywhere."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.text = _unit(self.rng.normal(size=(4, 16)))

    def known(self, n: int) -> np.ndarray:
        return _unit(self.text[self.rng.integers(4, size=n)] + 0.3 * self.rng.normal(size=(n, 16)))

    def novel(self, n: int) -> np.ndarray:
        return _unit(self.rng.normal(size=(n, 16)))

    def novelty(self, x: np.ndarray) -> np.ndarray:
        """Negative maximum cosine to the class directions: higher = more novel."""
        return -(x @ self.text.T).max(axis=1)


def test_p_values_count_calibration_scores_at_least_as_novel():
    calibration = [1.0, 2.0, 3.0, 4.0]
    # at least as novel: 4, 3 (tie counted), 2, 0 of the 4 -> (1 + count) / 5
    np.testing.assert_allclose(conformal_p_values(calibration, [0.0, 2.0, 2.5, 5.0]), [1.0, 0.8, 0.6, 0.2])


def test_threshold_is_the_k_th_largest_calibration_score():
    calibration = np.arange(1.0, 10.0)[::-1]  # n = 9, shuffled order must not matter
    assert conformal_threshold(calibration, 0.2) == 8.0  # k = floor(0.2 * 10) = 2
    assert conformal_threshold(calibration, 0.1) == 9.0  # k = 1
    assert conformal_threshold(calibration, 0.25) == 8.0  # k = floor(2.5) = 2
    with pytest.raises(ValueError, match="at least 19 known samples"):
        conformal_threshold(calibration, 0.05)  # 1/(n+1) = 0.1 > 0.05


def test_threshold_decides_as_the_p_values_do():
    rng = np.random.default_rng(1)
    calibration = rng.integers(0, 30, size=57).astype(float)  # ties on purpose
    novelty = rng.integers(-2, 33, size=400).astype(float)
    p = conformal_p_values(calibration, novelty)
    for alpha in (0.02, 0.05, 0.1, 0.137, 0.5, 0.99):
        np.testing.assert_array_equal(novelty > conformal_threshold(calibration, alpha), p <= alpha)


def _false_alarms(p_value_rule, alphas, splits: int = 4000, n: int = 49) -> np.ndarray:
    """How many of ``splits`` random calibration/test splits of one set of known embeddings
    give the test sample ``p <= alpha``, for each alpha.

    Given the data, each split is an independent random permutation and the test sample's
    rank among the n + 1 is uniform, so for exact p-values the count is exactly
    Binomial(splits, floor(alpha (n + 1)) / (n + 1)).
    """
    mixture = _Mixture(seed=2)
    novelty = mixture.novelty(mixture.known(300))
    rng = np.random.default_rng(3)
    orders = [rng.permutation(300) for _ in range(splits)]
    p = np.array([p_value_rule(novelty[order[:n]], novelty[order[n : n + 1]])[0] for order in orders])
    return np.array([(p <= alpha).sum() for alpha in alphas])


def test_p_values_are_super_uniform_on_exchangeable_known_samples():
    alphas = np.array([0.02, 0.05, 0.1, 0.2, 0.5])
    splits, n = 4000, 49
    hits = _false_alarms(conformal_p_values, alphas, splits, n)
    exact = np.floor(alphas * (n + 1)) / (n + 1)  # <= alpha: the guarantee
    assert (exact <= alphas).all()
    spread = np.sqrt(splits * exact * (1 - exact))
    assert (np.abs(hits - splits * exact) <= Z * spread).all(), (hits / splits, exact)

    # The same check catches a p-value one rank too small (the usual off-by-one).
    def too_small(calibration, novelty):
        return conformal_p_values(calibration, novelty) - 1 / (len(calibration) + 1)

    assert (np.abs(_false_alarms(too_small, alphas, splits, n) - splits * exact) > Z * spread).any()


def test_benjamini_hochberg_selects_by_the_step_up_rule():
    # sorted 0.01 <= 0.025, 0.03 <= 0.05, 0.04 <= 0.075, 0.5 > 0.1
    np.testing.assert_array_equal(benjamini_hochberg([0.01, 0.04, 0.03, 0.5], 0.1), [True, True, True, False])
    # step-up: 0.04 > 1 * 0.05 / 2, yet it goes in because 0.045 <= 2 * 0.05 / 2
    np.testing.assert_array_equal(benjamini_hochberg([0.045, 0.04], 0.05), [True, True])
    np.testing.assert_array_equal(benjamini_hochberg([0.2, 0.3], 0.05), [False, False])
    assert benjamini_hochberg([], 0.1).shape == (0,)
    with pytest.raises(ValueError, match="fdr must be in"):
        benjamini_hochberg([0.1], 0.0)


def test_benjamini_hochberg_on_conformal_p_values_controls_the_fdr():
    mixture = _Mixture(seed=4)
    repeats, n, known, novel, fdr = 400, 200, 80, 20, 0.1
    proportions, uncorrected, power = [], [], []
    for _ in range(repeats):
        calibration = mixture.novelty(mixture.known(n))
        batch = np.concatenate([mixture.novelty(mixture.known(known)), mixture.novelty(mixture.novel(novel))])
        p = conformal_p_values(calibration, batch)
        selected = benjamini_hochberg(p, fdr)
        proportions.append(selected[:known].sum() / max(selected.sum(), 1))
        uncorrected.append((p[:known] <= fdr).sum() / max((p <= fdr).sum(), 1))
        power.append(selected[known:].mean())
    proportions = np.array(proportions)
    # Bates et al.: FDR <= fdr * m0 / m; the mean of independent repeats has this standard error.
    bound = fdr * known / (known + novel)
    standard_error = proportions.std(ddof=1) / np.sqrt(repeats)
    assert proportions.mean() <= bound + Z * standard_error, (proportions.mean(), bound)
    assert np.mean(power) > 0.25  # it does find novel samples
    assert np.mean(uncorrected) > fdr + Z * standard_error  # thresholding each p at fdr would not control it


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: conformal_p_values([], [0.0]), "calibration_novelty is empty"),
        (lambda: conformal_p_values([[1.0]], [0.0]), "shape"),
        (lambda: conformal_p_values([1.0, np.nan], [0.0]), "NaN"),
        (lambda: conformal_threshold([1.0], 1.0), "alpha must be a number in"),
        (lambda: benjamini_hochberg([1.5], 0.1), r"\[0, 1\]"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_threshold_is_at_most_one_rank_above_the_tpr_quantile():
    rng = np.random.default_rng(5)
    for n in (19, 20, 57, 100):
        calibration = np.sort(rng.normal(size=n))
        for alpha in (0.05, 0.1, 0.3):
            threshold = conformal_threshold(calibration, alpha)
            quantile = np.quantile(calibration, 1 - alpha, method="inverted_cdf")
            rank_gap = np.searchsorted(calibration, threshold) - np.searchsorted(calibration, quantile)
            assert rank_gap in (0, 1), (n, alpha, rank_gap)
