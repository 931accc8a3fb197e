"""openshape-ood score with --alpha, --fdr, p-values and --describe, on the tiny registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openshape_ood import NoveltyDetector, ShapeEncoder
from openshape_ood.cli import main
from openshape_ood.detectors.conformal import benjamini_hochberg, conformal_threshold

from ..helpers.cli import KNOWN, VOCABULARY, write_shapes


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_shapes(tmp_path)
    (tmp_path / "names.txt").write_text("\n".join(VOCABULARY) + "\n")
    return tmp_path


def _oracle(folder):
    encoder = ShapeEncoder.from_pretrained("vitb32")
    calibration = np.stack([encoder.embed(np.load(folder / "known" / f"k{i}.npy"), seed=0)[0] for i in range(9)])
    queries = np.stack([encoder.embed(np.load(folder / f"q{i}.npy"), seed=0)[0] for i in range(3)])
    detector = NoveltyDetector("mcm", model=encoder, templates="none").fit(known=KNOWN)
    return detector, calibration, queries


def test_alpha_sets_the_conformal_threshold_and_prints_p_values_and_names(tiny_registry, folder, capsys):
    code = main(["score", "q0.npy", "q1.npy", "q2.npy", "--known", ",".join(KNOWN), "--model", "vitb32",
                 "--method", "mcm", "--templates", "none", "--calibrate", "known", "--alpha", "0.2",
                 "--describe", "2", "--vocabulary", "@names.txt", "--json", "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    detector, calibration, queries = _oracle(folder)
    # n = 9, alpha = 0.2: k = floor(0.2 * 10) = 2, the second largest calibration novelty
    assert document["threshold"] == pytest.approx(np.sort(detector.novelty(calibration))[-2], abs=1e-6)
    assert document["threshold"] == pytest.approx(conformal_threshold(detector.novelty(calibration), 0.2), abs=1e-6)
    assert (document["alpha"], document["tpr"], document["fdr"]) == (0.2, None, None)
    detector.calibrate(calibration, alpha=0.2)
    p_values = detector.p_values(queries)
    names = detector.describe(queries, k=2, vocabulary=VOCABULARY)
    for i, row in enumerate(document["results"]):
        assert row["p_value"] == pytest.approx(p_values[i])
        assert row["verdict"] == ("novel" if p_values[i] <= 0.2 else "known")
        assert [n["name"] for n in row["looks_like"]] == names.names[i].tolist()
        np.testing.assert_allclose([n["cosine"] for n in row["looks_like"]], names.cosines[i], atol=1e-5)


def test_fdr_verdicts_are_the_benjamini_hochberg_selection(tiny_registry, folder, capsys):
    code = main(["score", "q0.npy", "q1.npy", "q2.npy", "--known", ",".join(KNOWN), "--model", "vitb32",
                 "--method", "mcm", "--templates", "none", "--calibrate", "known", "--fdr", "0.5",
                 "--describe", "--vocabulary", ",".join(VOCABULARY), "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    header, *lines = captured.out.splitlines()
    assert header.split()[:7] == ["file", "class", "similarity", "novelty", "p_value", "verdict", "looks"]
    detector, calibration, queries = _oracle(folder)
    detector.calibrate(calibration)
    selected = benjamini_hochberg(detector.p_values(queries), 0.5)
    assert [line.split()[5] for line in lines] == ["novel" if s else "known" for s in selected]
    assert all(line.count(",") == 2 for line in lines)  # three names per line by default


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--alpha", "0.1"], "--alpha applies only with --calibrate"),
        (["--fdr", "0.1"], "--fdr applies only with --calibrate"),
        (["--calibrate", "d", "--alpha", "1"], r"--alpha must be in \(0, 1\)"),
        (["--calibrate", "d", "--fdr", "0"], r"--fdr must be in \(0, 1\]"),
        (["--calibrate", "d", "--alpha", "0.1", "--tpr", "0.9"], "--tpr, --alpha and --fdr are alternative rules"),
        (["--describe", "0"], "--describe takes a number of names of at least 1"),
        (["--vocabulary", "cup"], "--vocabulary applies only with --describe"),
        (["--describe", "--vocabulary", "cup,Cup"], "duplicate --vocabulary names"),
    ],
)
def test_bad_decision_options_are_usage_errors(tiny_registry, folder, capsys, arguments, message):
    assert main(["score", "q0.npy", "--known", "chair", *arguments]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert __import__("re").search(message, last), last
