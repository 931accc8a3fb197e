"""``openshape-ood index`` and ``score --reference FILE.h5``: a reference bank embedded by ``embed``, scored
as the same reference shapes given as a folder; its index built once and refused when stale."""

import json
import subprocess
import sys

import numpy as np
import pytest

from openshape_ood.cli import main

from ..helpers.reference_bank import write_reference_shapes

CLASSES = {"chair": [30, 31, 32], "table": [40, 41, 42]}


def _json(capsys, arguments):
    code = main([*arguments, "--json", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture()
def bank_file(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    queries = write_reference_shapes(tmp_path / "reference", CLASSES)
    assert main(["embed", "reference", "--out", "refs.h5", "--model", "vitb32", "--quiet"]) == 0
    capsys.readouterr()
    return tmp_path / "refs.h5", queries


def test_score_with_an_embeddings_file_equals_the_reference_folder(bank_file, capsys):
    path, queries = bank_file
    summary = _json(capsys, ["index", str(path)])
    assert (summary["rows"], summary["classes"], summary["model"]) == (6, 2, "vitb32")
    common = ["score", *queries, "--model", "vitb32", "--method", "knn(k=2)"]
    from_file = _json(capsys, [*common, "--reference", str(path)])
    from_folder = _json(capsys, [*common, "--reference", "reference"])
    assert [r["class"] for r in from_file["results"]] == [r["class"] for r in from_folder["results"]]
    for key in ("novelty", "similarity"):
        np.testing.assert_allclose([r[key] for r in from_file["results"]], [r[key] for r in from_folder["results"]],
                                   atol=1e-5)  # fmt: skip


def test_index_builds_an_approximate_index_that_score_uses(bank_file, capsys):
    pytest.importorskip("faiss")
    path, queries = bank_file
    summary = _json(capsys, ["index", str(path), "--approximate", "hnsw", "--m", "8"])
    assert summary["settings"]["m"] == 8 and path.with_name("refs.h5.hnsw-euclidean.index.npz").is_file()
    common = ["score", *queries, "--model", "vitb32", "--reference", str(path)]
    approximate = _json(capsys, [*common, "--method", "knn(index='hnsw')"])
    exact = _json(capsys, [*common, "--method", "knn"])
    assert approximate["method"] == "knn(index='hnsw')"
    np.testing.assert_allclose([r["novelty"] for r in approximate["results"]], [r["novelty"] for r in exact["results"]])
    assert main(["index", str(path), "--nlist", "4"]) == 2
    assert "--nlist applies only with --approximate ivfpq" in capsys.readouterr().err


def test_a_model_mismatch_is_refused_naming_the_file(bank_file, capsys):
    path, queries = bank_file
    code = main(["score", *queries, "--model", "vitl14", "--method", "knn", "--reference", str(path), "--quiet"])
    assert code == 1 and f"--reference {path} holds" in capsys.readouterr().err


def test_the_index_command_starts_without_torch_or_faiss():
    code = "import sys; from openshape_ood.cli import main; main(['index', '--help']); " \
           "print(sorted(m for m in ('torch', 'faiss') if m in sys.modules))"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")
