"""Voxel normals: the closed-form least eigenpair against numpy's eigh, and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from openshape_ood.segmentation.geometry import _MOMENTS, _least_eigenpair, distinct_places, median_by, normals


def _entries(matrices: np.ndarray) -> list[np.ndarray]:
    return [matrices[:, i, j].copy() for i, j in _MOMENTS]


def test_the_least_eigenpair_matches_eigh_on_flat_linear_and_round_neighbourhoods():
    rng = np.random.default_rng(0)
    shapes = np.array([[1, 1, 0.01], [1, 0.02, 0.02], [1, 1, 1], [1, 0.5, 0.1], [1e-3, 1e-3, 1e-5]])
    points = rng.normal(size=(5000, 10, 3)) * shapes[rng.integers(len(shapes), size=5000)][:, None, :]
    points = points @ np.linalg.qr(rng.normal(size=(5000, 3, 3)))[0] + rng.normal(scale=100, size=(5000, 1, 3))
    centred = points - points.mean(axis=1, keepdims=True)
    covariance = np.einsum("mki,mkj->mij", centred, centred) / 10
    values, vectors = np.linalg.eigh(covariance)

    least, vector = _least_eigenpair(*_entries(covariance))

    trace = values.sum(axis=1)
    np.testing.assert_allclose(least / trace, values[:, 0] / trace, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(vector, axis=1), 1.0, rtol=0, atol=1e-12)
    apart = (values[:, 1] - values[:, 0]) / trace > 1e-3  # where the least vector is defined
    cosine = np.abs(np.einsum("md,md->m", vector, vectors[:, :, 0]))
    assert apart.sum() > 3000
    np.testing.assert_allclose(cosine[apart], 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("matrix", "value", "vector"),
    [
        (np.diag([3.0, 2.0, 1.0]), 1.0, [0, 0, 1]),
        (np.diag([1.0, 5.0, 2.0]), 1.0, [1, 0, 0]),
        # [[2, 1], [1, 2]] in x and y has 1 along (1, -1); z holds 4.
        (np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 4.0]]), 1.0, [2**-0.5, -(2**-0.5), 0]),
        (np.zeros((3, 3)), 0.0, [0, 0, 1]),
    ],
)
def test_the_least_eigenpair_by_hand(matrix, value, vector):
    least, found = _least_eigenpair(*_entries(matrix[None]))
    assert least[0] == pytest.approx(value, abs=1e-12)
    assert abs(found[0] @ vector) == pytest.approx(1.0, abs=1e-12)


def test_an_isotropic_matrix_gets_a_unit_vector():
    least, found = _least_eigenpair(*_entries(2 * np.eye(3)[None]))
    assert least[0] == pytest.approx(2.0)
    assert np.linalg.norm(found[0]) == pytest.approx(1.0)


def test_voxels_of_a_tilted_plane_face_along_its_normal_and_do_not_vary():
    u, v = np.meshgrid(np.arange(20.0), np.arange(20.0), indexing="ij")
    normal = np.array([1.0, 2.0, 2.0]) / 3
    basis = np.linalg.svd(normal[None])[2][1:]
    centroids = 0.01 * (u.ravel()[:, None] * basis[0] + v.ravel()[:, None] * basis[1]) + [5.0, -3.0, 2.0]

    facing, spacing, variation, radius = normals(centroids)

    np.testing.assert_allclose(np.abs(facing @ normal), 1.0, atol=1e-9)
    np.testing.assert_allclose(variation, 0.0, atol=1e-9)
    assert spacing == pytest.approx(0.01)
    assert 0.01 < radius < 0.03


def test_median_by_takes_each_groups_median_and_zero_for_an_empty_group():
    values = np.array([5.0, 1.0, 3.0, 2.0, 9.0, 4.0])
    group = np.array([0, 0, 0, 2, 2, 2])
    np.testing.assert_array_equal(median_by(values, group, 3), [3.0, 0.0, 4.0])
    np.testing.assert_array_equal(median_by(values[:2], group[:2], 2), [3.0, 0.0])  # of 1 and 5, their mean
    np.testing.assert_array_equal(median_by(values[:4], np.array([1, 1, 1, 1]), 2), [0.0, 2.5])  # 1 2 3 5
    np.testing.assert_array_equal(median_by(values[:0], group[:0], 2), [0.0, 0.0])


def test_distinct_places_by_hand():
    xyz = np.array([[1.0, 0, 0], [0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0, 0]])
    rows, place = distinct_places(xyz)
    assert rows.tolist() == [0, 1, 3]  # each place's first row, in the scan's order
    assert place.tolist() == [0, 1, 0, 2, 1]
    assert np.array_equal(xyz[rows][place], xyz)


def test_distinct_places_match_numpys_unique_rows():
    rng = np.random.default_rng(0)
    places = np.round(rng.random((2000, 3)), 2)  # rounded: some places share one or two coordinates
    xyz = places[rng.integers(len(places), size=6000)]
    rows, place = distinct_places(xyz)
    _, first, inverse = np.unique(xyz, axis=0, return_index=True, return_inverse=True)
    assert np.array_equal(rows, np.sort(first))
    assert np.array_equal(xyz[rows][place], xyz)
    assert len(np.unique(place)) == len(rows) == len(np.unique(inverse))
