"""Arrays and arguments are checked at the door: a ValueError naming the culprit, or it works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openshape_ood import NoveltyDetector, ShapeEncoder
from openshape_ood.prepare import normalize_xyz, validate_cloud

from ..helpers.parity import PARITY, parity_config


@pytest.fixture(scope="module")
def encoder(parity_manifest) -> ShapeEncoder:
    return ShapeEncoder.from_checkpoint(PARITY / "l14_tiny.pt", parity_config(parity_manifest, "l14"))


def _cloud(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((5, 3), dtype=np.complex64), "has dtype complex64; expected integers or floats"),
        (np.zeros((5, 3), dtype=bool), "has dtype bool; expected integers or floats"),
        (np.zeros((5, 3), dtype="datetime64[s]"), r"has dtype datetime64\[s\]; expected integers or floats"),
        (np.full((5, 3), None, dtype=object), "has dtype object; expected integers or floats"),
        (np.array([[1.0, 2.0, 3.0]]), "has a single point"),
        (np.full((7, 3), 2.5), r"all points are identical \(7 of them\)"),
    ],
)
def test_bad_arrays_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=f"^shape.npy {message}|^shape.npy: {message}"):
        validate_cloud(bad, name="shape.npy")


@pytest.mark.parametrize("magnitude", [1e300, 1e-300, 3e38])
def test_huge_and_tiny_clouds_normalise_without_overflow(magnitude):
    xyz = _cloud().astype(np.float64)
    with np.errstate(all="raise"):  # no overflow or underflow warning on the way
        normalised = normalize_xyz(xyz * magnitude)
    np.testing.assert_allclose(normalised, normalize_xyz(xyz), atol=1e-12)
    assert np.linalg.norm(normalised, axis=1).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"up_axis": None}, "up_axis None is not one of"),
        ({"up_axis": 3}, "up_axis 3 is not one of"),
        ({"batch_size": 1.5}, r"batch_size must be at least 1 \(a whole number\), got 1.5"),
        ({"batch_size": True}, "batch_size must be at least 1"),
        ({"seed": -1}, "seed must be an integer from 0 to 9223372036854775807, got -1"),
        ({"seed": 1.5}, "seed must be an integer from 0 to"),
        ({"seed": 2**63}, "seed must be an integer from 0 to"),
    ],
)
def test_embed_arguments_are_checked_by_name(encoder, monkeypatch, kwargs, message):
    monkeypatch.setattr(encoder, "encode_prepared", lambda *a: pytest.fail("encoded before checking"))
    with pytest.raises(ValueError, match=message):
        encoder.embed(_cloud(), **kwargs)


def test_embed_accepts_tensors_that_require_grad_and_huge_magnitudes(encoder):
    cloud = _cloud()
    reference = encoder.embed(cloud)
    tensor = torch.from_numpy(cloud).requires_grad_(True)
    np.testing.assert_allclose(encoder.embed(tensor).numpy(), reference, atol=1e-6)
    huge = cloud.astype(np.float64) * 1e300
    np.testing.assert_allclose(encoder.embed(huge), reference, atol=1e-5)


def _unit_rows(rng, n, dim=8):
    rows = rng.normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "0.1"])
def test_detector_threshold_must_be_a_finite_number(threshold):
    known = _unit_rows(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="'threshold' parameter of NoveltyDetector must be a finite float"):
        NoveltyDetector(threshold=threshold).fit(known=known)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tpr": "0.9"}, r"tpr must be a number in \(0, 1\]; got '0.9'"),
    ({"tpr": float("nan")}, r"tpr must be a number in \(0, 1\]; got nan"),
    ({"tpr": True}, r"tpr must be a number in \(0, 1\]; got True"),
    ({"alpha": "0.1"}, r"alpha must be a number in \(0, 1\), got '0.1'"),
])  # fmt: skip
def test_calibrate_refuses_values_that_are_not_numbers_in_range(kwargs, message):
    rng = np.random.default_rng(1)
    detector = NoveltyDetector().fit(known=_unit_rows(rng, 3))
    with pytest.raises(ValueError, match=message):
        detector.calibrate(_unit_rows(rng, 40), **kwargs)


def test_detector_takes_tensors_that_require_grad():
    rng = np.random.default_rng(2)
    detector = NoveltyDetector().fit(known=_unit_rows(rng, 3))
    shapes = _unit_rows(rng, 5)
    tensor = torch.tensor(shapes, requires_grad=True)
    np.testing.assert_array_equal(detector.novelty(tensor), detector.novelty(shapes))
