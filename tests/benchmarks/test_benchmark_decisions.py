"""The SR benchmark with test-time views and a model ensemble, on the synthetic release and the tiny models."""

import json

import numpy as np
import pytest

from benchmarks import sr1
from benchmarks.synthetic_to_real import run_benchmark
from openshape_ood import ShapeEncoder

from ..synthetic_3dos import make_synthetic_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_synthetic_release(tmp_path_factory.mktemp("release") / "3D_OS_release_data", 1, seed=5)


@pytest.fixture()
def views_seen(monkeypatch, tiny_registry):
    """Swap the tiny encoders' forward pass for a cheap one: each cloud's normalised spread, turned a
    little per extra view, in the model's width. Records the ``views`` every call asked for."""
    seen = []

    def embed(self, clouds, *, views=1, **kwargs):
        seen.append(views)
        clouds = np.asarray(clouds, dtype=np.float64)
        out = np.zeros((len(clouds), self.embed_dim))
        out[:, :3] = (clouds - clouds.mean(axis=1, keepdims=True)).std(axis=1)
        out[:, 3] = 0.1 * (views - 1) + 0.01 * (self.embed_dim % 7)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    monkeypatch.setattr(ShapeEncoder, "embed", embed)
    return seen


def test_ensemble_is_reported_beside_its_members(release, views_seen, tmp_path):
    kwargs = {"data_root": release, "methods": ["max_cosine", "knn"], "templates": "none", "progress": False}
    single = run_benchmark("SR1", "vitb32", cache_dir=tmp_path / "cache", **kwargs)
    both = run_benchmark("SR1", "vitb32+vitl14", cache_dir=tmp_path / "cache", **kwargs)
    models = ("vitb32", "vitl14", "vitb32+vitl14")
    expected = [f"{method}@{model}" for method in ("max_cosine", "knn") for model in models]
    assert list(both.methods) == expected
    # a member's row is that model run alone
    for method in ("max_cosine", "knn"):
        for name in ("known", "unknown_1", "unknown_2"):
            member = both.methods[f"{method}@vitb32"].novelty[name]
            np.testing.assert_array_equal(member, single.methods[method].novelty[name])
    # the ensemble's novelty is the members' average (no standardising samples in the benchmark)
    for name in ("known", "unknown_1", "unknown_2"):
        members = [both.methods[f"knn@{m}"].novelty[name] for m in ("vitb32", "vitl14")]
        np.testing.assert_allclose(both.methods["knn@vitb32+vitl14"].novelty[name], np.mean(members, axis=0))
    assert set(both.settings["encoder_preparation"]) == {"vitb32", "vitl14"}


def test_views_reach_the_encoder_and_the_outputs(release, views_seen, tmp_path, capsys):
    output = tmp_path / "out"
    args = ["--model", "vitb32+vitl14", "--views", "2", "--data-root", str(release), "--methods", "max_cosine",
            "--templates", "none", "--output", str(output), "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    assert sr1.main(args) == 0
    printed = capsys.readouterr().out
    assert "max_cosine@vitb32+vitl14" in printed and "vitb32+vitl14 (2 test-time views)" in printed
    results = json.loads((output / "results.json").read_text())
    # the real clouds of each model, in batches: every call asks for two views
    assert results["settings"]["views"] == 2 and len(views_seen) >= 2 and set(views_seen) == {2}
    calls = len(views_seen)
    assert results["settings"]["encoder_preparation"]["vitl14"]["views"] == 2
    assert set(results["methods"]) == {"max_cosine@vitb32", "max_cosine@vitl14", "max_cosine@vitb32+vitl14"}
    # one view is cached apart from two: asking for it encodes again, with views=1
    run_benchmark("SR1", "vitb32", data_root=release, methods=["max_cosine"], templates="none",
                  cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    assert len(views_seen) > calls and set(views_seen[calls:]) == {1}
