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

from benchmarks import sr1, sr2, synthetic_to_real
from benchmarks.data import (
    MODELNET_FILES,
    RELEASE_COUNTS,
    RELEASE_REFERENCE_COUNTS,
    SCANOBJECTNN_CLASSES,
    SCANOBJECTNN_FILES,
    release_count_differences,
)
from benchmarks.provenance import registry_note, run_provenance
from benchmarks.report import COMPARISONS, format_report
from benchmarks.synthetic_to_real import (
    BenchmarkResult,
    evaluate_novelty,
    prepare_real_clouds,
    run_benchmark,
    sample_reference_points,
)
from openshape_ood import ShapeEncoder, TextEncoder, __version__, get_entry
from openshape_ood.methods import MCM, METHODS

TEXT_METHODS = [name for name, method in METHODS.items() if method.needs == ("known",)]

from ..helpers.data import FIXTURES, ROOT as REPO
from ..helpers.release import SPC
from ..synthetic_3dos import expected_counts, make_synthetic_release

FIXTURE = FIXTURES / "ood_metrics" / "ood_metrics_3dos.json"
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
    for plot in ("plot_roc", "plot_histograms", "plot_overview"):  # 300 dpi figures: tested once, end to end
        monkeypatch.setattr(synthetic_to_real, plot, lambda *args, **kwargs: [])
    return shape, text


def parse_blocks(stdout: str) -> dict[str, re.Match]:
    blocks = {match.group(1): match for match in BLOCK.finditer(stdout)}
    assert stdout.count("Computing OOD metrics with") == len(blocks)  # every block is well formed
    return blocks


def assert_figure_files(stem: Path) -> None:
    """A valid 300 dpi PNG and a PDF of the same figure."""
    png, pdf = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")
    with Image.open(png) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(png) as image:
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert image.width > 1000 and image.height > 1000  # inches x 300
    assert pdf.read_bytes()[:5] == b"%PDF-" and b"%%EOF" in pdf.read_bytes()[-32:]


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
    provenance = results["provenance"]
    checkpoint = get_entry("vitb32", tiny_registry).source.path
    assert provenance["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert provenance["registry"]["file"] == str(tiny_registry) and provenance["registry"]["packaged"] is False
    assert provenance["registry"]["sha256"] == hashlib.sha256(tiny_registry.read_bytes()).hexdigest()
    text_weights = Path(provenance["text_tower"]["weights_file"])
    assert provenance["text_tower"]["sha256"] == hashlib.sha256(text_weights.read_bytes()).hexdigest()
    assert (provenance["device"], provenance["dtype"], provenance["seed"]) == ("cpu", "float32", 0)
    assert set(provenance["versions"]) == {"openshape_ood", "torch", "open_clip", "numpy", "python"}
    assert results["class_counts"] == {
        "known": dict.fromkeys(["chair", "shelf", "door", "sink", "sofa"], 2 * SPC),
        "unknown_1": {"bed": 2 * SPC, "toilet": 2 * SPC, "desk+table": 4 * SPC, "display": 2 * SPC},
        "unknown_2": dict.fromkeys(["bag", "bin", "box", "cabinet", "pillow"], 2 * SPC),
        "reference": dict.fromkeys(["chair", "bookshelf", "door", "sink", "sofa"], SPC),
    }
    assert results["comparable_to_published"] is False  # a synthetic release has other set sizes
    assert "known (SR1) 20, release 1255" in results["count_differences"]
    assert "  known (SR1): 20 = chair 4, shelf 4, door 4, sink 4, sofa 4\n" in done.stdout
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

    above_table = done.stdout[: done.stdout.index("SR1 summary:")].splitlines()[-2:]
    assert above_table[0] == (
        f"note: vitb32 is taken from the registry {tiny_registry}, not the packaged one "
        "(tiny vitb32-layout test model (random weights)): these are not the published OpenShape weights "
        "unless that file says so"
    )
    assert above_table[1].startswith("note: the set sizes differ from the 3DOS release (known (SR1) 20, release 1255;")
    assert above_table[1].endswith("this run is NOT comparable to the published rows; check that the release is "
                                   "completely downloaded and extracted")  # fmt: skip
    summary = done.stdout[done.stdout.index("SR1 summary:") :]
    assert f"measured: this run, vitb32 (weights sha256 {provenance['checkpoint_sha256'][:12]}...)" in summary
    for method in METHODS:
        both = results["methods"][method]["comparisons"]["known_vs_unknown_1_and_2"]
        assert re.search(rf"\n{method} +{100 * both['auroc']:.1f} +{100 * both['fpr95']:.1f}  measured\n", summary)
    assert re.search(r"\nMSP +81\.0 +79\.6  \[1\]\n", summary)
    assert "[1] published: 3DOS paper" in summary

    stems = [f"roc_{m}" for m in METHODS] + [f"hist_{m}" for m in METHODS] + ["overview"]
    figures = sorted(path.name for path in output.iterdir() if path.name != "results.json")
    assert figures == sorted(f"{stem}.{fmt}" for stem in stems for fmt in ("png", "pdf"))
    for stem in stems:
        assert_figure_files(output / stem)
    assert not list(output.glob(".*"))  # no temporary files left behind


def test_sr2_scores_desk_and_table_as_one_class(fakes, release, tmp_path):
    shape, text = fakes
    result = run_benchmark("SR2", "vitb32", data_root=release, methods=["max_cosine"], templates="none",
                           cache_dir=tmp_path, progress=False)  # fmt: skip
    assert text.calls == [["bed", "toilet", "desk", "table", "display"]]
    assert sum(shape.calls) == sum(COUNTS.values())  # every real cloud once, no reference shapes

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
    assert (sum(embeds), len(loads)) == (real + reference, 1)
    second = run(methods=("mcm", "prototype", "knn"))
    assert (sum(embeds), len(loads)) == (real + reference, 1)  # no encoding, not even a model load
    np.testing.assert_array_equal(second.methods["knn"].novelty["known"], first.methods["knn"].novelty["known"])
    run("SR2", methods=("max_cosine",))
    assert sum(embeds) == real + reference  # the real clouds are shared by SR1 and SR2
    run("SR2", methods=("knn",))
    assert sum(embeds) == real + 2 * reference  # SR2 has references of its own
    run(seed=1)
    assert sum(embeds) == 2 * real + 3 * reference  # another seed is another preparation

    for path in (tmp_path / "cache").glob("vitb32-scanobjectnn-*.safetensors"):
        path.write_bytes(b"not a safetensors file")
    with pytest.warns(RuntimeWarning, match="cannot be trusted.*rebuilding"):
        rebuilt = run(methods=("max_cosine",))
    assert sum(embeds) == 3 * real + 3 * reference
    np.testing.assert_allclose(rebuilt.methods["max_cosine"].novelty["known"],
                               first.methods["max_cosine"].novelty["known"], atol=1e-6)  # fmt: skip


def test_data_swapped_under_the_cache_with_size_and_mtime_kept_gives_a_fresh_cache_result(fakes, tmp_path, capsys):
    root = make_synthetic_release(tmp_path / "root", SPC, seed=5)
    other = make_synthetic_release(tmp_path / "other", SPC, seed=6)  # other clouds, same shapes: same file sizes

    def run(name, cache):
        argv = ["--model", "vitb32", "--data-root", str(root), "--methods", "max_cosine,knn", "--templates", "none",
                "--output", str(tmp_path / name), "--cache-dir", str(tmp_path / cache), "--quiet"]  # fmt: skip
        assert sr1.main(argv) == 0
        return json.loads((tmp_path / name / "results.json").read_text())["methods"], capsys.readouterr().err

    before, _ = run("before", "cache")
    for relative in (*SCANOBJECTNN_FILES, MODELNET_FILES[0]):  # as cp -p, rsync -a or tar -x would leave them
        stat = (root / relative).stat()
        (root / relative).write_bytes((other / relative).read_bytes())
        os.utime(root / relative, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert ((root / relative).stat().st_size, (root / relative).stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    after, err = run("after", "cache")
    fresh, _ = run("fresh", "fresh_cache")
    assert after == fresh
    assert after != before  # the swap changes the result, so the equality above can fail
    notes = [line for line in err.splitlines() if "changed since" in line]
    assert len(notes) == 2  # the real clouds and the reference shapes, one line each
    assert all(re.fullmatch(r"python -m benchmarks\.sr1: warning: embedding cache vitb32-(scanobjectnn|SR1_train)-\w+"
                            r"\.safetensors: the data files changed since it was written \(other content fingerprint\); "
                            r"encoding them again", line) for line in notes)  # fmt: skip


def test_one_empty_scanobjectnn_file_makes_the_run_not_comparable(fakes, tmp_path, capsys):
    root = make_synthetic_release(tmp_path / "root", SPC, seed=5)
    write_h5(root / SCANOBJECTNN_FILES[1], data=np.zeros((0, 2048, 3), np.float32), label=np.zeros(0, np.int64))
    argv = ["--model", "vitb32", "--data-root", str(root), "--methods", "max_cosine", "--templates", "none",
            "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert sr1.main(argv) == 0
    captured = capsys.readouterr()
    half = {name: n // 2 for name, n in COUNTS.items()}  # the training file alone
    note = (f"note: the set sizes differ from the 3DOS release (known (SR1) {half['SR1']}, release 1255; unknown set 1 "
            f"(SR2) {half['SR2']}, release 788; unknown set 2 (common) {half['common']}, release 847): this run is NOT "
            "comparable to the published rows; check that the release is completely downloaded and extracted")  # fmt: skip
    assert note in captured.err.splitlines()
    assert captured.out[: captured.out.index("SR1 summary:")].splitlines()[-1] == note  # right above the table
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["comparable_to_published"] is False and note in results["notes"]
    assert results["counts"] == {"known": half["SR1"], "unknown_1": half["SR2"], "unknown_2": half["common"]}


def test_release_counts_are_comparable_and_others_are_not():
    for source, other in (("SR1", "SR2"), ("SR2", "SR1")):
        counts = {"known": RELEASE_COUNTS[source], "unknown_1": RELEASE_COUNTS[other],
                  "unknown_2": RELEASE_COUNTS["common"], "reference": RELEASE_REFERENCE_COUNTS[source]}  # fmt: skip
        assert release_count_differences(source, counts) == []
        assert release_count_differences(source, {**counts, "reference": 100}) == [
            f"reference ({source}_train) 100, release {RELEASE_REFERENCE_COUNTS[source]}"
        ]
    assert (RELEASE_COUNTS["SR1"], RELEASE_COUNTS["SR2"], RELEASE_COUNTS["common"]) == (1255, 788, 847)


def test_provenance_of_the_packaged_registry_raises_no_flag(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENSHAPE_OOD_REGISTRY", raising=False)
    entry = get_entry("vitb32")
    provenance = run_provenance(entry, templates="openshape64", seed=3, device="cpu", dtype="float32")
    assert provenance["registry"]["packaged"] is True and registry_note(provenance) is None
    assert provenance["checkpoint_sha256"] == "491a08f1922713df67099dfb7ffceaa6e039fd3953f99f80ecd7178d727c7f3f"
    assert provenance["text_tower"] == {"model": "ViT-B-32", "pretrained": "openai"}
    copy = tmp_path / "copy.toml"  # the same entries in another file: it could have been edited
    copy.write_bytes(Path(provenance["registry"]["file"]).read_bytes())
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(copy))
    copied = run_provenance(get_entry("vitb32"), templates="openshape64", seed=3, device="cpu", dtype="float32")
    assert copied["registry"]["packaged"] is False
    assert registry_note(copied).startswith(f"note: vitb32 is taken from the registry {copy}, not the packaged one")


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
        (None, ["--model", "nope"], r"unknown model 'nope'; registered models: uni3d-\S+, .*vitb32, vitg14, vitl14"),
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
    assert len(lines) == 1 and lines[0].startswith("python -m benchmarks.sr1: error: ") and re.search(message, lines[0]), captured.err
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_is_one_line(release, tiny_registry, tmp_path, monkeypatch, capsys):
    entry = get_entry("vitb32", tiny_registry)
    registry = tmp_path / "registry.toml"
    registry.write_text(tiny_registry.read_text().replace(f'path = "{entry.source.path}"', 'path = "gone.pt"', 1))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    argv = ["--model", "vitb32", "--data-root", str(release), "--methods", "max_cosine",
            "--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert sr1.main(argv) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == (
        f"python -m benchmarks.sr1: error: checkpoint for 'vitb32' not found at {tmp_path / 'gone.pt'}; "
        "fix the 'path' of [vitb32] in the registry"
    )
    assert not any("Traceback" in line for line in lines)


def test_missing_data_exits_cleanly_from_the_shell(tiny_registry, tmp_path):
    command = [sys.executable, "-m", "benchmarks.sr2", "--model", "vitb32", "--data-root", str(tmp_path / "none")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("python -m benchmarks.sr2: error: the data root")
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
