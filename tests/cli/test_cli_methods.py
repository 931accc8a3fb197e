"""The command line's method specs, reference shapes, scene decisions and bad inputs at the door (issue 18)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from openshape_ood import NoveltyDetector, ShapeEncoder
from openshape_ood.cli import main
from openshape_ood.methods import KNN, MCM
from openshape_ood.scenes.scene import score_scene

from ..synthetic_scene import make_synthetic_scene
from ..helpers.cli import KNOWN, VOCABULARY, blob, write_shapes
from ..helpers.scenes import write_labelled_ply


def _embed(encoder, path):
    return encoder.embed(np.load(path), seed=0)[0]


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    """q0..q2.npy to score, known/ (calibration), reference/<class>/ shapes of two classes."""
    monkeypatch.chdir(tmp_path)
    write_shapes(tmp_path)
    for cls, seeds in {"chair": (30, 31, 32), "table": (40, 41)}.items():
        (tmp_path / "reference" / cls).mkdir(parents=True)
        for seed in seeds:
            np.save(tmp_path / "reference" / cls / f"r{seed}.npy", blob(seed))
    return tmp_path


def _json(capsys, arguments):
    code = main([*arguments, "--json", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_method_takes_the_benchmark_spec(tiny_registry, folder, capsys):
    document = _json(capsys, ["score", "q0.npy", "q1.npy", "--known", ",".join(KNOWN), "--model", "vitb32",
                              "--templates", "none", "--method", "mcm(temperature=0.01)"])  # fmt: skip
    assert document["method"] == "mcm(temperature=0.01)"
    encoder = ShapeEncoder.from_pretrained("vitb32")
    detector = NoveltyDetector(MCM(temperature=0.01), model=encoder, templates="none").fit(known=KNOWN)
    expected = detector.novelty(np.stack([_embed(encoder, folder / f"q{i}.npy") for i in range(2)]))
    np.testing.assert_allclose([r["novelty"] for r in document["results"]], expected, atol=1e-6)
    assert main(["score", "q0.npy", "--known", "chair", "--method", "mcm(temprature=1)"]) == 2
    assert "temprature" in capsys.readouterr().err


@pytest.mark.parametrize("as_csv", [False, True])
def test_reference_folder_or_csv_enables_knn(tiny_registry, folder, capsys, as_csv):
    reference = "reference"
    files = {"chair": [30, 31, 32], "table": [40, 41]}
    if as_csv:
        rows = [f"reference/{cls}/r{seed}.npy,{cls}" for cls, seeds in files.items() for seed in seeds]
        (folder / "reference.csv").write_text("file,class\n" + "\n".join(rows) + "\n")
        reference = "reference.csv"
    document = _json(capsys, ["score", "q0.npy", "q1.npy", "q2.npy", "--model", "vitb32",
                              "--method", "knn(k=2)", "--reference", reference])  # fmt: skip
    encoder = ShapeEncoder.from_pretrained("vitb32")
    bank = {cls: np.stack([_embed(encoder, folder / "reference" / cls / f"r{s}.npy") for s in seeds])
            for cls, seeds in files.items()}  # fmt: skip
    detector = NoveltyDetector(KNN(k=2)).fit(reference=bank)
    queries = np.stack([_embed(encoder, folder / f"q{i}.npy") for i in range(3)])
    np.testing.assert_allclose([r["novelty"] for r in document["results"]], detector.novelty(queries), atol=1e-5)
    assert [r["class"] for r in document["results"]] == [str(detector.classes_[c]) for c in detector.classify(queries)]
    assert document["known"] is None and document["method"] == "knn(k=2)"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--method", "knn", "--reference", "missing"], "--reference takes a folder"),
        (["--method", "knn"], "without --reference"),
        (["--method", "knn", "--reference", "reference", "--known", "chair"], "drop --known"),
        (["--known", "chair", "--reference", "reference"], "--reference applies only"),
        (["--method", "fused", "--reference", "reference"], "required: --known"),
        (["--known", "@latin1.txt"], "latin1.txt is not UTF-8"),
        (["--known", "chair", "--device", "nonsense"], "--device: 'nonsense' is not a torch device"),
    ],
)
def test_usage_errors_exit_2(tiny_registry, folder, capsys, arguments, message):
    (folder / "latin1.txt").write_bytes("chaise,caf\xe9\n".encode("latin-1"))
    assert main(["score", "q0.npy", "--model", "vitb32", *arguments]) == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


def test_a_reference_folder_with_loose_files_is_refused(tiny_registry, folder, capsys):
    np.save(folder / "reference" / "loose.npy", blob(5))
    assert main(["score", "q0.npy", "--method", "knn", "--reference", "reference"]) == 2
    assert "is not in a subfolder" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["folder", "device"])
def test_embed_out_that_is_a_folder_or_a_device_says_so(tiny_registry, folder, capsys, kind):
    out = folder / "known" if kind == "folder" else "/dev/null"
    assert main(["embed", "q0.npy", "--model", "vitb32", "--out", str(out), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert ("is a folder" if kind == "folder" else "is not a regular file") in error
    assert "no such embeddings file" not in error


@pytest.fixture()
def scan(tmp_path):
    points, truth = make_synthetic_scene(spacing=0.02, seed=1)
    path = tmp_path / "scan.ply"
    write_labelled_ply(path, points, truth, name="objectId")
    return path, points, truth


@pytest.mark.parametrize("rule", [["--alpha", "0.2"], ["--fdr", "0.5"], ["--tpr", "0.5"]])
def test_scene_decides_like_score(tiny_registry, folder, scan, capsys, rule):
    path, points, truth = scan
    document = _json(capsys, ["scene", str(path), "--known", "duck,rabbit", "--model", "vitb32", "--out", "o.ply",
                              "--calibrate", "known", *rule, "--describe", "2", "--vocabulary", ",".join(VOCABULARY)])  # fmt: skip
    encoder = ShapeEncoder.from_pretrained("vitb32")
    calibration = np.stack([_embed(encoder, folder / "known" / f"k{i}.npy") for i in range(9)])
    name, value = rule[0][2:], float(rule[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector = NoveltyDetector(model=encoder, progress=False).fit(["duck", "rabbit"])
        detector.calibrate(calibration, **({} if name == "fdr" else {name: value}))
        expected = score_scene(points, detector=detector, encoder=encoder, segmentation=truth, progress=False,
                               describe=2, vocabulary=VOCABULARY, fdr=value if name == "fdr" else None)  # fmt: skip
    assert document[name] == value and document["threshold"] == pytest.approx(expected.threshold)
    assert [o["verdict"] for o in document["objects"]] == [o.verdict for o in expected.objects]
    np.testing.assert_allclose([o["p_value"] for o in document["objects"]], [o.p_value for o in expected.objects])
    assert [[n["name"] for n in o["looks_like"]] for o in document["objects"]] == [
        [n for n, _ in o.looks_like] for o in expected.objects
    ]
    if name == "fdr":  # the verdicts are the Benjamini-Hochberg selection over the scene's objects
        from openshape_ood.detectors.conformal import benjamini_hochberg

        selected = benjamini_hochberg([o.p_value for o in expected.objects], 0.5)
        assert [o.verdict for o in expected.objects] == ["novel" if s else "known" for s in selected]


def test_scene_table_shows_p_values_and_names(tiny_registry, folder, scan, capsys):
    path, _, _ = scan
    code = main(["scene", str(path), "--known", "duck,rabbit", "--model", "vitb32", "--out", "o.ply", "-q",
                 "--calibrate", "known", "--alpha", "0.2", "--describe", "--vocabulary", ",".join(VOCABULARY)])  # fmt: skip
    assert code == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["id", "points", "class", "similarity", "novelty", "p_value", "verdict", "centroid", "size",
                      "looks", "like"]  # fmt: skip
