"""One bad file never stops a ``score`` run: it is named on stderr, the others are scored, exit 1."""

from __future__ import annotations

import numpy as np
import pytest

from openshape_ood.cli import main

from ..helpers.cli import KNOWN, blob, expected_scores, read_table


def _identical(path):
    np.save(path, np.full((50, 3), 0.25, dtype=np.float32))


def _one_point(path):
    np.save(path, np.array([[1.0, 2.0, 3.0]], dtype=np.float32))


def _non_finite(path):
    np.save(path, np.full((50, 3), np.nan, dtype=np.float32))


@pytest.mark.parametrize(
    "write_bad, message",
    [
        (_identical, "b.npy: all points are identical (50 of them); a shape needs some extent"),
        (_one_point, "b.npy has a single point; a shape needs some extent"),
        (_non_finite, "b.npy: all 50 points have non-finite (NaN or inf) coordinates"),
    ],
)
def test_score_goes_on_past_a_degenerate_file(tiny_registry, tmp_path, monkeypatch, capsys, write_bad, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    write_bad(tmp_path / "b.npy")
    np.savetxt(tmp_path / "c.xyz", blob(3))
    code = main(["score", "a.npy", "b.npy", "c.xyz", "--known", ",".join(KNOWN), "--model", "vitb32", "-q"])
    captured = capsys.readouterr()
    assert code == 1
    _, rows = read_table(captured.out)
    assert [row[0] for row in rows] == ["a.npy", "c.xyz"]
    _, expected = expected_scores(["a.npy", "c.xyz"], tmp_path)
    np.testing.assert_allclose([float(row[3]) for row in rows], expected.scores, atol=1e-4)
    assert captured.err.splitlines() == [
        f"openshape-ood: error: {message}",
        "openshape-ood: error: 1 input(s) failed (see above)",
    ]
