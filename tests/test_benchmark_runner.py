"""The SR1/SR2 benchmark runner: end to end on a synthetic 3DOS release, with real and mocked encoders."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image
from scipy.special import softmax
from sklearn.metrics import roc_auc_score

from benchmarks import sr1, sr2
from benchmarks.data import MODELNET_FILES, SCANOBJECTNN_CLASSES, SCANOBJECTNN_FILES
from benchmarks.report import COMPARISONS, format_report
from benchmarks.synthetic_to_real import (
    BenchmarkResult,
    evaluate_novelty,
    prepare_real_clouds,
    run_benchmark,
    sample_reference_points,
)
from openshape_ood import ShapeEncoder, TextEncoder, __version__
from openshape_ood.methods import MCM, METHODS

TEXT_METHODS = [name for name, method in METHODS.items() if method.needs == ("known",)]

from .synthetic_3dos import expected_counts, make_synthetic_release

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "ood_metrics" / "ood_metrics_3dos.json"
SPC = 2  # samples per class: 20 real samples per set, 10 ModelNet40 shapes per SR training file
COUNTS = expected_counts(SPC)
DIM = 64  # embedding width of the tiny vitb32
KEYS = ("auroc", "fpr95", "aupr_in", "aupr_out")
FLOAT = r"[0-9.e-]+"
METRIC_LINE = r"AUROC: (\d\.\d{4}), FPR95: (\d\.\d{4}), AUPR_IN: (\d\.\d{4}), AUPR_OUT: (\d\.\d{4})"
BLOCK = re.compile(
    r"Computing OOD metrics with (.+?) normality score\.\.\.\n"
    r"AUROC - Src label: 1, Tar label: 0\n"
    rf"Src Test - Clf Acc: ({FLOAT}), Clf Bal Acc: ({FLOAT})\n"
    rf"SRC->TAR1:      {METRIC_LINE}\n"
    rf"SRC->TAR2:      {METRIC_LINE}\n"
    rf"SRC->TAR1\+TAR2: {METRIC_LINE}\n"
    rf"to spreadsheet: ((?:{FLOAT},){{11}}{FLOAT})\n"
)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_synthetic_release(tmp_path_factory.mktemp("release") / "3D_OS_release_data", SPC, seed=2)


@pytest.fixture(scope="module")
def text_only_release(tmp_path_factory):
    """A release with the ScanObjectNN files only."""
    root = make_synthetic_release(tmp_path_factory.mktemp("text_only") / "root", 1, seed=3)
    for relative in MODELNET_FILES:
        (root / relative).unlink()
    return root


def read_release(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """All real clouds and ScanObjectNN ids in file order, read with h5py only (the oracle's own reader)."""
    parts = []
    for relative in SCANOBJECTNN_FILES:
        with h5py.File(root / relative, "r") as handle:
            parts.append((handle["data"][()], handle["label"][()]))
    return np.concatenate([p for p, _ in parts]), np.concatenate([i for _, i in parts])


def fake_embedding(clouds) -> np.ndarray:
    """Normalised per-axis spread of each cloud, zero-padded: blind to point order, centring and scale."""
    clouds = np.asarray(clouds, dtype=np.float64)
    spread = (clouds - clouds.mean(axis=1, keepdims=True)).std(axis=1)
    out = np.zeros((len(clouds), DIM), np.float32)
    out[:, :3] = spread / np.linalg.norm(spread, axis=1, keepdims=True)
    return out


class FakeShapeEncoder:
    """ShapeEncoder stand-in with the embed() signature the runner uses; records each call."""

    def __init__(self):
        self.calls = []

    def embed(self, clouds, *, up_axis, batch_size, seed, progress):
        assert up_axis == "y"
        self.calls.append(len(clouds))
        return fake_embedding(clouds)


class FakeTextEncoder:
    """TextEncoder stand-in: fixed vectors for some names, a seeded random unit vector for any other."""

    embed_dim = DIM

    def __init__(self, fixed):
        self.fixed = fixed
        self.calls = []

    def embed_classes(self, names, templates="openshape64"):
        self.calls.append(list(names))
        return np.stack([self._vector(name) for name in names]).astype(np.float32)

    def _vector(self, name):
        if name in self.fixed:
            return self.fixed[name]
        rng = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
        vector = rng.normal(size=DIM)
        return vector / np.linalg.norm(vector)


@pytest.fixture
def fakes(monkeypatch, tiny_registry, release):
    """Mocked encoders; each ScanObjectNN class name's text vector is the mean fake embedding of its clouds."""
    points, ids = read_release(release)
    embeddings = fake_embedding(points)
    fixed = {}
    for scan_id, name in enumerate(SCANOBJECTNN_CLASSES):
        mean = embeddings[ids == scan_id].mean(axis=0)
        fixed[name] = mean / np.linalg.norm(mean)
    shape, text = FakeShapeEncoder(), FakeTextEncoder(fixed)
    monkeypatch.setattr(ShapeEncoder, "from_pretrained", classmethod(lambda cls, name, **kw: shape))
    monkeypatch.setattr(TextEncoder, "from_pretrained", classmethod(lambda cls, entry, **kw: text))
    return shape, text


def parse_blocks(stdout: str) -> dict[str, re.Match]:
    blocks = {match.group(1): match for match in BLOCK.finditer(stdout)}
    assert stdout.count("Computing OOD metrics with") == len(blocks)  # every block is well formed
    return blocks


def assert_valid_png(path: Path) -> None:
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        assert image.width > 100 and image.height > 100


def test_cli_end_to_end_on_the_real_loading_path(release, tiny_registry, tmp_path):
    # --templates none: negative_labels embeds ~1,150 LVIS names; with the 64 templates that is
    # 74,000 prompts (about 30 s even for the tiny text tower), with the bare name 1,150.
    output = tmp_path / "out"
    command = [sys.executable, "-m", "benchmarks.sr1", "--model", "vitb32", "--data-root", str(release),
               "--templates", "none", "--output", str(output), "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    results = json.loads((output / "results.json").read_text())
    assert (results["source"], results["model"], results["seed"], results["templates"]) == ("SR1", "vitb32", 0, "none")
    assert results["library_version"] == __version__
    assert results["settings"]["known_classes"] == [["chair"], ["shelf"], ["door"], ["sink"], ["sofa"]]
    assert results["settings"]["encoder_preparation"]["rgb"] == 0.4
    assert results["counts"] == {"known": COUNTS["SR1"], "unknown_1": COUNTS["SR2"], "unknown_2": COUNTS["common"],
                                 "reference": 5 * SPC}  # fmt: skip
    assert list(results["methods"]) == list(METHODS)

    blocks = parse_blocks(done.stdout)
    assert list(blocks) == list(METHODS)
    for method, match in blocks.items():
        measured = results["methods"][method]
        assert match.group(0).rstrip("\n") == format_report(method, measured["comparisons"], measured["closed_set"])
        spreadsheet = [float(value) for value in match.group(16).split(",")]
        assert spreadsheet == [measured["comparisons"][c][k] for c in COMPARISONS for k in KEYS]
        assert float(match.group(2)) == measured["closed_set"]["accuracy"]

    summary = done.stdout[done.stdout.index("SR1 summary:") :]
    for method in METHODS:
        both = results["methods"][method]["comparisons"]["known_vs_unknown_1_and_2"]
        assert re.search(rf"\n{method} +{100 * both['auroc']:.1f} +{100 * both['fpr95']:.1f}  measured\n", summary)
    assert re.search(r"\nMSP +81\.0 +79\.6  \[1\]\n", summary)
    assert "[1] published: 3DOS paper" in summary

    pngs = sorted(path.name for path in output.glob("*.png"))
    expected = sorted([f"roc_{m}.png" for m in METHODS] + [f"hist_{m}.png" for m in METHODS] + ["roc_all_methods.png"])
    assert pngs == expected
    for name in pngs:
        assert_valid_png(output / name)
    assert not list(output.glob(".*"))  # no temporary files left behind


def test_sr2_scores_desk_and_table_as_one_class(fakes, release, tmp_path):
    shape, text = fakes
    result = run_benchmark("SR2", "vitb32", data_root=release, methods=["max_cosine"], templates="none",
                           cache_dir=tmp_path, progress=False)  # fmt: skip
    assert text.calls == [["bed", "toilet", "desk", "table", "display"]]
    assert shape.calls == [sum(COUNTS.values())]  # every real cloud once, no reference shapes

    # Oracle from the raw files: per-class cosine with desk/table as one class, novelty = -max.
    points, ids = read_release(release)
    cosine = fake_embedding(points).astype(np.float64) @ np.stack([text.fixed[n] for n in text.calls[0]]).T
    per_class = np.stack([cosine[:, 0], cosine[:, 1], cosine[:, 2:4].max(axis=1), cosine[:, 4]], axis=1)
    novelty = -per_class.max(axis=1)
    sets = {"known": [10, 14, 5, 6, 9], "unknown_1": [4, 8, 7, 12, 13], "unknown_2": [0, 1, 2, 3, 11]}
    measured = result.methods["max_cosine"]
    for name, members in sets.items():
        np.testing.assert_allclose(measured.novelty[name], novelty[np.isin(ids, members)], atol=1e-6)
    known = np.isin(ids, sets["known"])
    labels = np.array([{10: 0, 14: 1, 5: 2, 9: 2, 6: 3}[i] for i in ids[known]])
    accuracy = np.mean(per_class[known].argmax(axis=1) == labels)
    desk_only = np.mean(np.delete(cosine[known], 3, axis=1).argmax(axis=1) == labels)
    assert accuracy != desk_only  # the merge matters on this data, so the check below can fail
    assert measured.closed_set["accuracy"] == pytest.approx(accuracy)
    is_known = np.concatenate([np.ones(known.sum()), np.zeros((~known).sum())])
    auroc = roc_auc_score(is_known, -np.concatenate([novelty[known], novelty[~known]]))
    assert measured.comparisons["known_vs_unknown_1_and_2"]["auroc"] == pytest.approx(auroc, abs=1e-12)
    assert result.counts == {"known": COUNTS["SR2"], "unknown_1": COUNTS["SR1"], "unknown_2": COUNTS["common"]}
    assert result.settings["known_classes"] == [["bed"], ["toilet"], ["desk", "table"], ["display"]]


def test_cached_embeddings_make_a_second_run_encode_nothing(release, tiny_registry, tmp_path, monkeypatch):
    embeds, loads = [], []
    embed, load = ShapeEncoder.embed, ShapeEncoder.from_pretrained
    monkeypatch.setattr(ShapeEncoder, "embed", lambda self, clouds, **kw: embeds.append(len(clouds)) or embed(self, clouds, **kw))
    monkeypatch.setattr(ShapeEncoder, "from_pretrained", classmethod(lambda cls, *a, **kw: loads.append(a) or load(*a, **kw)))

    def run(source="SR1", methods=("max_cosine", "knn"), seed=0):
        return run_benchmark(source, "vitb32", data_root=release, methods=list(methods), templates="none",
                             cache_dir=tmp_path / "cache", seed=seed, progress=False)  # fmt: skip

    real, reference = sum(COUNTS.values()), 5 * SPC
    first = run()
    assert (embeds, len(loads)) == ([real, reference], 1)
    second = run(methods=("mcm", "prototype", "knn"))
    assert (embeds, len(loads)) == ([real, reference], 1)  # no encoding, not even a model load
    np.testing.assert_array_equal(second.methods["knn"].novelty["known"], first.methods["knn"].novelty["known"])
    run("SR2", methods=("max_cosine",))
    assert embeds == [real, reference]  # the real clouds are shared by SR1 and SR2
    run(seed=1)
    assert embeds == [real, reference, real, reference]  # another seed is another preparation

    for path in (tmp_path / "cache").glob("vitb32-scanobjectnn-*.safetensors"):
        path.write_bytes(b"not a safetensors file")
    with pytest.warns(RuntimeWarning, match="cannot be trusted.*rebuilding"):
        rebuilt = run(methods=("max_cosine",))
    assert embeds[4:] == [real]
    np.testing.assert_allclose(rebuilt.methods["max_cosine"].novelty["known"],
                               first.methods["max_cosine"].novelty["known"], atol=1e-6)  # fmt: skip


def test_default_methods_without_modelnet_leave_reference_methods_out(fakes, text_only_release, tmp_path, capsys):
    argv = ["--model", "vitb32", "--data-root", str(text_only_release), "--templates", "none",
            "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert sr2.main(argv) == 0
    captured = capsys.readouterr()
    assert list(parse_blocks(captured.out)) == list(TEXT_METHODS)
    assert re.search(r"note: .*SR2_train\.h5 is absent, so the reference-shape methods prototype, knn, fused are "
                     r"left out; get the ModelNet40 shapes with `python -m benchmarks\.download", captured.err)  # fmt: skip
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["notes"] and "reference" not in results["counts"] and results["settings"]["reference"] is None


def test_methods_option_takes_commas_and_spaces(fakes, release, tmp_path, capsys):
    argv = ["--model", "vitb32", "--data-root", str(release), "--methods", "knn,max_cosine", "prototype",
            "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert sr1.main(argv) == 0
    assert list(parse_blocks(capsys.readouterr().out)) == ["knn", "max_cosine", "prototype"]


def test_methods_with_parameters_from_the_command_line_and_from_python(fakes, release, tmp_path, capsys):
    argv = ["--model", "vitb32", "--data-root", str(release), "--methods", "mcm(temperature=0.01),knn(k=2)", "mcm",
            "--templates", "none", "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
            "--quiet"]  # fmt: skip
    assert sr1.main(argv) == 0
    assert list(parse_blocks(capsys.readouterr().out)) == ["mcm(temperature=0.01)", "knn(k=2)", "mcm"]

    _, text = fakes
    result = run_benchmark("SR1", "vitb32", data_root=release, methods=[MCM(temperature=0.01)], templates="none",
                           cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    points, _ = read_release(release)
    cosine = fake_embedding(points).astype(np.float64) @ np.stack([text._vector(n) for n in text.calls[-1]]).T
    novelty = -softmax(cosine / 0.01, axis=1).max(axis=1)  # oracle: MCM with the temperature asked for
    measured = result.methods["mcm(temperature=0.01)"]
    all_novelty = np.concatenate([measured.novelty[name] for name in ("known", "unknown_1", "unknown_2")])
    np.testing.assert_allclose(np.sort(all_novelty), np.sort(novelty), atol=1e-9)


def write_h5(path: Path, **datasets) -> None:
    with h5py.File(path, "w") as handle:
        for key, value in datasets.items():
            handle[key] = value


@pytest.mark.parametrize(
    "damage, argv, message",
    [
        (None, ["--data-root", "{tmp}/nowhere"],
         r"the data root .*nowhere does not exist; get the data with `python -m benchmarks\.download --data-root "),
        ("no_test_file", [], r"test_objectdataset\.h5 does not exist"),
        ("bad_key", [], r"training_objectdataset\.h5 has no dataset 'label' \(found \['data', 'labels'\]\)"),
        ("no_modelnet", ["--methods", "max_cosine,knn"],
         r"knn need the ModelNet40 reference shapes .*SR1_train\.h5, which do not exist; get them with"),
        (None, ["--methods", "odin"], r"unknown method 'odin'; use one of \['max_cosine', 'mcm'"),
        (None, ["--methods", "mcm(temperature=-1)"], r"'temperature' parameter of MCM must be a float in the range"),
        (None, ["--methods", "mcm(temperature=__import__('os'))"], r"cannot read the method"),
        (None, ["--methods", ","], r"no methods given; choose from max_cosine, mcm"),
        (None, ["--model", "nope"], r"unknown model 'nope'; registered models: vitb32, vitg14, vitl14"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line(fakes, tmp_path, capsys, damage, argv, message):
    root = make_synthetic_release(tmp_path / "root", 1)
    if damage == "no_test_file":
        (root / SCANOBJECTNN_FILES[1]).unlink()
    elif damage == "bad_key":
        write_h5(root / SCANOBJECTNN_FILES[0], data=np.zeros((2, 2048, 3), np.float32), labels=np.array([4, 10]))
    elif damage == "no_modelnet":
        (root / MODELNET_FILES[0]).unlink()
    argv = ["--model", "vitb32", "--data-root", str(root), "--output", str(tmp_path / "out"), "--quiet",
            *(arg.format(tmp=tmp_path) for arg in argv)]  # fmt: skip
    assert sr1.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.search(message, lines[0]), captured.err
    assert not (tmp_path / "out").exists()


def test_missing_data_exits_cleanly_from_the_shell(tiny_registry, tmp_path):
    command = [sys.executable, "-m", "benchmarks.sr2", "--model", "vitb32", "--data-root", str(tmp_path / "none")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: the data root")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("index", range(len(json.loads(FIXTURE.read_text())["cases"])))
def test_metrics_parity_on_the_3dos_fixture(index):
    """Novelty in, the reference code's metrics of normality = -novelty out."""
    case = json.loads(FIXTURE.read_text())["cases"][index]
    novelty = [-np.asarray(case[name]) for name in ("known", "unknown_1", "unknown_2")]
    labels = np.arange(len(case["known"])) % 3
    result = evaluate_novelty("fixture", *novelty, labels, labels)
    for comparison, expected in case["expected"].items():
        for key in KEYS:
            assert result.comparisons[comparison][key] == pytest.approx(expected[key], abs=1e-12, rel=0)
    assert result.closed_set == {"accuracy": 1.0, "balanced_accuracy": 1.0}


def test_summary_prints_measured_rows_beside_published_ones():
    rng = np.random.default_rng(0)
    known, unknown = rng.normal(0, 1, 40), rng.normal(1, 1, 60)  # novelty: unknown higher
    labels = np.arange(40) % 4
    measured = evaluate_novelty("knn", known, unknown[:30], unknown[30:], labels, labels)
    result = BenchmarkResult("SR2", "vitl14", 0, "openshape64", {"knn": measured}, {}, {})
    both = measured.comparisons["known_vs_unknown_1_and_2"]
    lines = result.summary().splitlines()
    assert lines[:3] == [
        "SR2 summary: AUROC / FPR95 in percent, known (SR2) vs unknown sets 1+2 (SR1 + common), SRC->TAR1+TAR2",
        "method        AUROC3  FPR95-3  source",
        f"knn             {100 * both['auroc']:.1f}     {100 * both['fpr95']:.1f}  measured",
    ]
    assert lines[3:11] == [
        "MSP             70.3     86.7  [1]",
        "ARPL+CS         68.0     89.3  [1]",
        "Cosine proto    76.5     77.8  [1]",
        "CE (L2)         75.7     80.2  [1]",
        "vitb32 1-NN     60.5     94.0  [2]",
        "vitl14 1-NN     60.4     94.0  [2]",
        "vitg14 1-NN     56.8     89.4  [2]",
        "vitg14 1-NN     61.2     88.1  [3]",
    ]  # the SR1-only cosine-prototype row has no SR2 figure and is left out
    assert lines[11].startswith("measured: this run, vitl14 without fine-tuning, templates openshape64, seed 0")
    assert [line[:14] for line in lines[12:]] == ["[1] published:", "[2] reported: ", "[3] reported: "]


def test_real_clouds_are_permuted_centred_and_scaled():
    rng = np.random.default_rng(5)
    clouds = (rng.normal(size=(3, 50, 3)) * [1, 2, 3] + 7).astype(np.float32)
    prepared = prepare_real_clouds(clouds, seed=0)
    for raw, out in zip(clouds, prepared):
        expected = (raw - raw.mean(axis=0)) / np.linalg.norm(raw - raw.mean(axis=0), axis=1).max()
        order = np.lexsort(expected.T)
        np.testing.assert_allclose(out[np.lexsort(out.T)], expected[order], atol=1e-6)  # same points
        assert not np.allclose(out, expected)  # in another order
    np.testing.assert_array_equal(prepare_real_clouds(clouds, seed=0), prepared)
    assert not np.array_equal(prepare_real_clouds(clouds, seed=1), prepared)


def test_reference_points_are_distinct_random_points_of_each_shape():
    shapes = np.random.default_rng(6).normal(size=(2, 300, 3))
    sampled = sample_reference_points(shapes, 100, seed=0)
    assert sampled.shape == (2, 100, 3)
    for shape, points in zip(shapes, sampled):
        rows = [np.flatnonzero((shape == point).all(axis=1)) for point in points]
        assert all(len(row) == 1 for row in rows) and len({int(row[0]) for row in rows}) == 100
    np.testing.assert_array_equal(sample_reference_points(shapes, 100, seed=0), sampled)
    with pytest.raises(ValueError, match="between 1 and the 300 points"):
        sample_reference_points(shapes, 301, seed=0)
