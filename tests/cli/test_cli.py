"""The openshape-ood command line, on the tiny registry: subprocess runs and main() in-process."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import textwrap
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import h5py
import huggingface_hub
import numpy as np
import pytest

from openshape_ood import NoveltyDetector, ShapeEncoder, load_points, score_novelty
from openshape_ood.cli import main
from openshape_ood.corpus.embedding_file import read_embeddings
from openshape_ood.encoders._registry import load_registry, packaged_registry_path

from ..helpers.cli import KNOWN, blob, checkout_env, expected_scores, read_table
from ..helpers.data import ROOT, SAMPLES


def run_cli(*args: str, cwd: Path, script: str | None = None) -> subprocess.CompletedProcess:
    """``python -m openshape_ood ARGS`` (or ``python -c SCRIPT ARGS``) on this checkout, in ``cwd``."""
    command = [sys.executable, "-c", script] if script else [sys.executable, "-m", "openshape_ood"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=checkout_env(), capture_output=True, text=True, timeout=300, check=False
    )


def make_inputs(root: Path) -> None:
    """shapes/ (a directory with a nested file and a non-shape file), extra/ for a glob, a corrupt file."""
    (root / "shapes" / "sub").mkdir(parents=True)
    (root / "extra").mkdir()
    np.save(root / "shapes" / "a.npy", blob(1))
    np.savetxt(root / "shapes" / "sub" / "b.xyz", blob(2))
    (root / "shapes" / "notes.md").write_text("not a shape")
    np.save(root / "extra" / "c.npy", blob(3))
    np.save(root / "extra" / "skip.npy", blob(4))
    (root / "bad.ply").write_bytes(b"this is no ply file\n")


# ------------------------------------------------------------------------- subprocess runs


def test_score_table_expands_paths_and_reports_bad_files(tiny_registry, tmp_path):
    make_inputs(tmp_path)
    result = run_cli(
        "score", "shapes", "extra/c*.npy", "bad.ply", "missing.ply",
        "--known", ",".join(KNOWN), "--model", "vitb32", "--threshold", "-0.1",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    header, rows = read_table(result.stdout)
    assert header == ["file", "class", "similarity", "novelty", "verdict"]
    files = [row[0] for row in rows]
    assert files == ["shapes/a.npy", "shapes/sub/b.xyz", "extra/c.npy"]
    _, expected = expected_scores(files, tmp_path)
    for row, score, predicted in zip(rows, expected.scores, expected.predicted):
        assert row[1] == KNOWN[predicted]
        # max_cosine: novelty is minus the cosine to the nearest class.
        assert float(row[2]) == pytest.approx(-score, abs=1e-4)
        assert float(row[3]) == pytest.approx(score, abs=1e-4)
        assert row[4] == ("novel" if score > -0.1 else "known")
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors[0] == "openshape-ood: error: no such file or directory: missing.ply"
    assert errors[1].startswith("openshape-ood: error: could not read bad.ply")
    assert errors[-1] == "openshape-ood: error: 2 input(s) failed (see above)"
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2_with_one_line_and_no_traceback(tiny_registry, tmp_path):
    np.save(tmp_path / "a.npy", blob(1))
    result = run_cli("score", "a.npy", "--known", "chair", "--model", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    names = ", ".join(sorted(load_registry()))  # the packaged models and the tiny ones
    assert result.stderr.splitlines()[-1] == f"openshape-ood score: error: unknown model 'nope'; registered models: {names}"
    assert "Traceback" not in result.stderr


KILL_AFTER = textwrap.dedent(
    """
    import os, signal, sys
    from openshape_ood import ShapeEncoder
    from openshape_ood.cli import main

    limit, calls, encode = int(os.environ["EMBED_CALLS_BEFORE_KILL"]), [], ShapeEncoder.encode_prepared

    def encode_then_die(self, *args, **kwargs):
        if len(calls) == limit:
            if os.environ.get("EMBED_KILL_WITH") == "SIGTERM":  # kill, a scheduler's time limit, torchrun
                os.kill(os.getpid(), signal.SIGTERM)
            os._exit(137)  # like SIGKILL: no finally blocks, no flush, no cleanup
        calls.append(1)
        return encode(self, *args, **kwargs)

    ShapeEncoder.encode_prepared = encode_then_die
    sys.exit(main(sys.argv[1:]))
    """
)


def test_embed_resumes_after_a_hard_kill(tiny_registry, tmp_path, monkeypatch):
    names = [f"shapes/s{i}.npy" for i in range(5)]
    (tmp_path / "shapes").mkdir()
    for i, name in enumerate(names):
        np.save(tmp_path / name, blob(i))
    # The output sits in the input folder: neither it nor its chunks (.h5, .npz) may become inputs.
    out = tmp_path / "shapes" / "out.h5"
    args = ["embed", "shapes", "--model", "vitb32", "--out", "shapes/out.h5", "--chunk-size", "2", "--batch-size", "1",
            "--quiet"]  # fmt: skip
    # A first complete run over two files, then a run over all five killed during its 4th file
    # (one file per forward pass): chunks of 2 files, so files 3-4 were saved as one chunk and
    # file 5 never started.
    monkeypatch.chdir(tmp_path)
    assert main([*args[:1], *names[:2], *args[2:]]) == 0
    before = out.read_bytes()
    monkeypatch.setenv("EMBED_CALLS_BEFORE_KILL", "2")
    killed = run_cli(*args, cwd=tmp_path, script=KILL_AFTER)
    assert killed.returncode == 137
    assert out.read_bytes() == before  # the output is untouched and readable
    assert read_embeddings(out)[1] == names[:2]
    assert len(list((tmp_path / "shapes" / "out.h5.partial").glob("chunk-*.npz"))) == 1

    # What a run killed while deleting its chunks leaves: neither an input nor there after the next run.
    discarded = tmp_path / "shapes" / ".out.h5.partial.discarded-0123"
    discarded.mkdir()
    np.savez(discarded / "chunk-0123.npz", data=blob(9))
    calls = []
    encode = ShapeEncoder.encode_prepared
    monkeypatch.setattr(ShapeEncoder, "encode_prepared", lambda self, *a, **k: calls.append(1) or encode(self, *a, **k))
    assert main(args) == 0
    assert len(calls) == 1  # only the file that was never embedded
    assert not discarded.exists()
    embeddings, files, attributes = read_embeddings(out)
    assert files == names
    assert not (tmp_path / "shapes" / "out.h5.partial").exists()
    assert (attributes["model"], attributes["seed"], attributes["up_axis"], attributes["embed_dim"]) == (
        "vitb32", 0, "y", 64,
    )  # fmt: skip
    # Each file's embedding depends on the file alone: the resumed file equals a one-go run.
    monkeypatch.setattr(ShapeEncoder, "encode_prepared", encode)
    expected, _ = expected_scores(names, tmp_path)
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)


# -------------------------------------------------------------------------- in-process


def test_score_json_with_calibration(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "known").mkdir()
    for i in range(8):
        np.save(tmp_path / "known" / f"k{i}.npy", blob(10 + i))
    np.save(tmp_path / "query.npy", blob(99))
    (tmp_path / "classes.txt").write_text("# known classes\nchair\n\ntable\nfloor_lamp\n")
    code = main(
        ["score", "query.npy", "--known", "@classes.txt", "--model", "vitl14", "--method", "mcm",
         "--calibrate", "known", "--tpr", "0.75", "--json", "--quiet"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert captured.err == ""
    encoder = ShapeEncoder.from_pretrained("vitl14")
    reference = np.stack(
        [encoder.embed(np.load(tmp_path / "known" / f"k{i}.npy"), seed=0)[0] for i in range(8)]
    )
    query = encoder.embed(np.load(tmp_path / "query.npy"), seed=0)
    detector = NoveltyDetector("mcm", model=encoder).fit(known=KNOWN)
    scores = detector.novelty(reference)
    threshold = np.sort(scores)[5]  # smallest score with 6 of 8 (75%) at or below it
    assert document["threshold"] == pytest.approx(threshold, abs=1e-6)
    assert (document["model"], document["method"], document["known"], document["tpr"]) == ("vitl14", "mcm", KNOWN, 0.75)
    assert document["errors"] == []
    [row] = document["results"]
    nearest = int(detector.classify(query)[0])
    assert row["file"] == "query.npy"
    assert row["class"] == KNOWN[nearest]
    assert row["similarity"] == pytest.approx(float(query[0] @ detector.text_embeddings_[nearest]), abs=1e-5)
    assert row["novelty"] == pytest.approx(float(detector.novelty(query)[0]), abs=1e-5)
    assert row["verdict"] == ("novel" if row["novelty"] > threshold else "known")


def test_score_real_files_without_threshold_has_no_verdict(tiny_registry, capsys):
    files = [str(SAMPLES / "mikedh_trimesh" / "teapot.stl"), str(SAMPLES / "PointCloudLibrary_pcl" / "bun0.pcd")]
    assert main(["score", *files, "--known", "teapot,rabbit", "--model", "vitg14", "--up", "z", "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["threshold"] is None
    assert [r["verdict"] for r in document["results"]] == [None, None]
    assert [r["file"] for r in document["results"]] == files
    assert "no --threshold or --calibrate given" in captured.err


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--known", "chair,,table"], "blank name"),
        (["--known", "chair,Chair"], "duplicate --known class names"),
        (["--known", "@missing.txt"], "cannot read the class names file missing.txt"),
        (["--known", "chair", "--tpr", "0.9"], "--tpr applies only with --calibrate"),
        (["--known", "chair", "--calibrate", "d", "--tpr", "1.5"], r"--tpr must be in \(0, 1\]"),
        (["--known", "chair", "--threshold", "0", "--calibrate", "d"], "not allowed with argument"),
        (["--known", "chair", "--method", "knn"], "invalid choice: 'knn'"),
        (["--known", "chair", "--seed", "-1"], "--seed must be an integer from 0 to 9223372036854775807, got -1"),
        (["--known", "chair", "--seed", str(2**63)], "--seed must be an integer from 0 to"),
        (["--known", "chair", "--threshold", "nan"], "--threshold must be a finite number, got nan"),
        ([], "the following arguments are required: --known"),
    ],
)
def test_bad_arguments_are_usage_errors(tiny_registry, tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    assert main(["score", "a.npy", *arguments]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: openshape-ood score")
    last = captured.err.splitlines()[-1]
    assert last.startswith("openshape-ood score: error: ")
    assert __import__("re").search(message, last), last


def test_runtime_errors_exit_1_with_one_line(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY broken")
    assert main(["score", "empty", "--known", "chair"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("openshape-ood: error: no shape files in directory empty (suffixes read: .npy ")
    assert lines[1:] == ["openshape-ood: error: no shape files to score"]
    # A file that cannot be read is an error even when it is the only input, and nothing is written.
    assert main(["embed", "broken.npy", "--model", "vitb32", "--out", "out.h5", "-q"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("openshape-ood: error: could not read broken.npy")
    assert err[1] == "openshape-ood: error: 1 input(s) failed (see above)"
    assert read_embeddings(tmp_path / "out.h5")[1] == []


def test_embed_stopped_by_sigterm_keeps_what_it_embedded(tiny_registry, tmp_path, monkeypatch):
    """SIGTERM ends the run as Ctrl-C does: the embeddings held in memory are saved for the next run."""
    names = [f"s{i}.npy" for i in range(4)]
    for i, name in enumerate(names):
        np.save(tmp_path / name, blob(i))
    monkeypatch.setenv("EMBED_CALLS_BEFORE_KILL", "2")
    monkeypatch.setenv("EMBED_KILL_WITH", "SIGTERM")
    args = ["embed", *names, "--model", "vitb32", "--out", "out.h5", "--chunk-size", "10", "--batch-size", "1"]
    stopped = run_cli(*args, cwd=tmp_path, script=KILL_AFTER)
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted; run the same command again to resume" in stopped.stderr
    chunks = list((tmp_path / "out.h5.partial").glob("chunk-*.npz"))
    assert sorted(name for chunk in chunks for name in np.load(chunk)["files"].tolist()) == names[:2]


def test_embed_refuses_other_settings_and_keeps_the_output(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    assert main(["embed", "a.npy", "--model", "vitb32", "--out", "out.h5", "-q"]) == 0
    before = (tmp_path / "out.h5").read_bytes()
    assert main(["embed", "a.npy", "--model", "vitb32", "--up", "z", "--out", "out.h5", "-q"]) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("openshape-ood: error: out.h5 holds embeddings made with other settings (up_axis='y' there, 'z' now)")
    assert (tmp_path / "out.h5").read_bytes() == before


BLOCK_IN_ENCODER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from openshape_ood import ShapeEncoder
    from openshape_ood.cli import main

    encode = ShapeEncoder.encode_prepared

    def encode_when_released(self, *args, **kwargs):
        Path("started").touch()
        while not Path("release").exists():
            time.sleep(0.05)
        return encode(self, *args, **kwargs)

    ShapeEncoder.encode_prepared = encode_when_released
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_second_embed_on_the_same_output_is_refused(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name, seed in [("a.npy", 1), ("b.npy", 2)]:
        np.save(tmp_path / name, blob(seed))
    args = ["embed", "--model", "vitb32", "--out", "out.h5", "--chunk-size", "1", "-q"]
    first = subprocess.Popen(
        [sys.executable, "-c", BLOCK_IN_ENCODER, *args, "a.npy"],
        cwd=tmp_path, env=checkout_env(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(1200):  # the first run is inside its forward pass, holding the output
            if (tmp_path / "started").exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert (tmp_path / "started").exists(), first.communicate()[1]
        assert main([*args, "a.npy", "b.npy"]) == 1
        assert capsys.readouterr().err.splitlines()[-1] == (
            "openshape-ood: error: out.h5 is being written by another run (it holds out.h5.lock); "
            "wait for that run to end, or write to another output file"
        )
        assert not (tmp_path / "out.h5.partial").exists()  # the refused run wrote nothing
    finally:
        (tmp_path / "release").touch()
        _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert read_embeddings(tmp_path / "out.h5")[1] == ["a.npy"]
    assert main([*args, "a.npy", "b.npy"]) == 0  # and once it is done, the next run goes ahead
    assert read_embeddings(tmp_path / "out.h5")[1] == ["a.npy", "b.npy"]


def test_hdf5_stacks_are_one_item_per_row_in_score_and_embed(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with h5py.File(tmp_path / "scans.h5", "w") as h5:  # the ModelNet/ScanObjectNN layout
        h5["data"] = np.stack([blob(20), blob(21), blob(22)])
        h5["label"] = np.arange(3)
    np.save(tmp_path / "flat.npy", np.full((40, 3), 2.0, np.float32))  # degenerate: all points identical
    rows = ["scans.h5#0", "scans.h5#1", "scans.h5#2"]
    clouds = [load_points("scans.h5", index=i) for i in range(3)]
    encoder = ShapeEncoder.from_pretrained("vitb32")
    expected = np.stack([encoder.embed(cloud, seed=0)[0] for cloud in clouds])
    oracle = score_novelty(expected, KNOWN, model=encoder)

    assert main(["score", "scans.h5#1", "flat.npy", "scans.h5", "--known", ",".join(KNOWN), "--model", "vitb32",
                 "--json", "-q"]) == 1  # fmt: skip
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert [r["file"] for r in document["results"]] == ["scans.h5#1", "scans.h5#0", "scans.h5#2"]
    for result, i in zip(document["results"], [1, 0, 2]):
        assert result["novelty"] == pytest.approx(oracle.scores[i], abs=1e-5)
    assert document["errors"] == [
        {"file": "flat.npy", "error": "flat.npy: all points are identical (40 of them); a shape needs some extent"}
    ]
    assert "openshape-ood: error: flat.npy: all points are identical" in captured.err

    assert main(["embed", "scans.h5", "flat.npy", "--model", "vitb32", "--out", "out.h5", "-q"]) == 1
    embeddings, files, _ = read_embeddings(tmp_path / "out.h5")
    assert files == rows
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)
    assert main(["embed", "scans.h5#7", "--model", "vitb32", "--out", "out.h5", "-q"]) == 1
    assert "index=7 is out of range for the 3 clouds" in capsys.readouterr().err


def test_embed_names_each_degenerate_file_and_goes_on(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    np.save(tmp_path / "b_same.npy", np.ones((30, 3), np.float32))
    np.savetxt(tmp_path / "c_one.xyz", [[1.0, 2.0, 3.0]])
    np.save(tmp_path / "d_nan.npy", np.full((30, 3), np.nan, np.float32))
    np.save(tmp_path / "e.npy", blob(2))
    args = ["embed", ".", "--model", "vitb32", "--out", "out.h5", "--batch-size", "5", "-q"]
    assert main(args) == 1
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[2].split()[0] for line in errors[:3]] == ["b_same.npy", "c_one.xyz", "d_nan.npy"]
    assert errors[3:] == ["openshape-ood: error: 3 input(s) failed (see above)"]
    assert read_embeddings(tmp_path / "out.h5")[1] == ["a.npy", "e.npy"]
    np.save(tmp_path / "b_same.npy", blob(3))  # fixed; the others stay bad, and the rerun is no worse
    assert main(args) == 1
    assert read_embeddings(tmp_path / "out.h5")[1] == ["a.npy", "e.npy", "b_same.npy"]


@pytest.mark.parametrize(
    "option, message",
    [(["--num-workers", "-1"], "--num-workers must be a non-negative integer, got -1"),
     (["--chunk-size", "0"], "--chunk-size must be at least 1, got 0")],
)  # fmt: skip
def test_embed_usage_errors(tiny_registry, tmp_path, monkeypatch, capsys, option, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    assert main(["embed", "a.npy", "--model", "vitb32", "--out", "out.h5", *option]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"openshape-ood embed: error: {message}"
    assert not (tmp_path / "out.h5").exists()


def test_embed_retries_only_failed_files(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    (tmp_path / "b.npy").write_bytes(b"")
    assert main(["embed", "a.npy", "b.npy", "--model", "vitb32", "--out", "out.h5", "-q"]) == 1
    assert "b.npy is empty" in capsys.readouterr().err
    assert read_embeddings(tmp_path / "out.h5")[1] == ["a.npy"]
    np.save(tmp_path / "b.npy", blob(2))
    calls = []
    encode = ShapeEncoder.encode_prepared
    monkeypatch.setattr(ShapeEncoder, "encode_prepared", lambda self, *a, **k: calls.append(len(a[0])) or encode(self, *a, **k))
    assert main(["embed", "a.npy", "b.npy", "--model", "vitb32", "--out", "out.h5"]) == 0
    assert calls == [1]  # one forward pass, of b.npy alone
    assert read_embeddings(tmp_path / "out.h5")[1] == ["a.npy", "b.npy"]
    assert "1 of 2 files were embedded into out.h5 before; skipped them" in capsys.readouterr().err


def test_models_lists_the_registry_and_the_hub_cache(tmp_path, monkeypatch, capsys):
    entry = textwrap.dedent(
        """
        [{name}]
        hf_repo = "someone/{name}"
        filename = "model.pt"
        revision = "main"
        sha256 = "{sha}"
        up_axis = "{up}"
        [{name}.architecture]
        dim = 64
        depth = 1
        heads = 2
        mlp_dim = 64
        sa_dim = 32
        patches = 8
        radius = 0.4
        nsample = 8
        projection_out = {dim}
        [{name}.text]
        model = "ViT-B-32"
        pretrained = "openai"
        """
    )
    registry = tmp_path / "registry.toml"
    here = entry.format(name="here", sha="0" * 64, up="z", dim=96) + 'hf_repo = "someone/text"\nsize = 605123456\n'
    here = here.replace('revision = "main"', 'revision = "main"\nsize = 101260675')
    registry.write_text(here + entry.format(name="away", sha="1" * 64, up="y", dim=32))
    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--here" / "snapshots" / ("c" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "model.pt").write_bytes(b"weights")
    (cache / "models--someone--here" / "refs").mkdir()
    (cache / "models--someone--here" / "refs" / "main").write_text("c" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))

    (cache / "models--someone--text" / "snapshots" / ("d" * 40)).mkdir(parents=True)
    (cache / "models--someone--text" / "snapshots" / ("d" * 40) / "open_clip_model.safetensors").write_bytes(b"w")
    (cache / "models--someone--text" / "refs").mkdir()
    (cache / "models--someone--text" / "refs" / "main").write_text("d" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))

    assert main(["models"]) == 0
    captured = capsys.readouterr()
    packaged = load_registry(packaged_registry_path())
    lines = captured.out.splitlines()
    assert [line.split()[0] for line in lines] == ["name", *packaged, "here", "away"]  # added after the packaged
    header = ["name", "dim", "up", "text", "tower", "size", "text", "size", "cached", "text", "cached", "source"]
    assert lines[0].split() == header
    tower = ["ViT-B-32", "/", "openai"]
    sizes = ["101.3", "MB", "605.1", "MB"]
    assert lines[-2].split() == ["here", "96", "z", *tower, *sizes, "yes", "yes", "hf://someone/here/model.pt"]
    assert lines[-1].split() == ["away", "32", "y", *tower, "unknown", "unknown", "no", "?", "hf://someone/away/model.pt"]
    assert captured.err == f"openshape-ood: registry: {packaged_registry_path()}{os.pathsep}{registry}\n"
    assert main(["models", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["registry"] == [str(packaged_registry_path()), str(registry)]
    rows = [(m["name"], m["embed_dim"], m["up_axis"], m["cached"], m["text_cached"]) for m in document["models"]]
    assert rows[-2:] == [("here", 96, "z", True, True), ("away", 32, "y", False, None)]
    sizes = [(m["size"], m["text_size"]) for m in document["models"]]
    assert sizes[0] == (101260675, None) and sizes[-2:] == [(101260675, 605123456), (None, None)]


def test_models_on_local_entries(tiny_registry, capsys):
    assert main(["models", "--json", "-q"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert [(m["name"], m["embed_dim"], m["up_axis"], m["cached"]) for m in models][:3] == [
        ("vitb32", 64, "y", True),
        ("vitl14", 96, "y", True),
        ("vitg14", 128, "z", True),
    ]
    assert models[0]["source"].endswith("b32_tiny.pt") and models[0]["text_model"] == "oso-tiny-text-64"


def test_console_script_entry_point_is_main():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = [line.strip() for line in config["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    assert scripts == ["openshape-ood = openshape_ood.cli:main"]
    name, value = (part.strip() for part in scripts[0].split("="))
    assert EntryPoint(name, value, "console_scripts").load() is main


def test_help_and_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("openshape-ood 0.")
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    assert all(command in help_text for command in ("score", "embed", "models"))
    assert main([]) == 2
