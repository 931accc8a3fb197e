"""Uni3D: parity with upstream (tests/fixtures/uni3d_parity), the released container, the registry, end to end."""

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import constants

from openshape_ood import EnsembleDetector, NoveltyDetector, ShapeEncoder, TextEncoder, Uni3DConfig, get_entry, load_registry
from openshape_ood.cli import main
from openshape_ood.encoders._checkpoint import CheckpointError
from openshape_ood.encoders._download import download_model
from openshape_ood.encoders._registry import HubSource
from openshape_ood.encoders.sampling import farthest_point_sample, knn_query
from openshape_ood.encoders.uni3d import FPS_SKIP_NORM_SQ, build_uni3d

from ..helpers.scenes import write_labelled_ply
from ..helpers.hub import put_in_hub_cache
from ..helpers.uni3d import (
    CLOUDS, CONFIGS, FIXTURES, MANIFEST, fixture_config, make_tiny_uni3d_registry, prepared, released_container,
)

RELEASED = json.loads((FIXTURES / "released_checkpoint_keys_expected.json").read_text())
# The manifest's recommended tolerances, tightened to the issue's 1e-5 (float32).
TOLERANCE = {"patch_features": 1e-5, "tokens_in": 1e-5, "cls_after_fc_norm": 1e-5, "embedding": 1e-5,
             "embedding_normalized": 1e-6}  # fmt: skip
RELEASED_NAMES = [f"uni3d-{size}{suffix}" for size in ("ti", "s", "b", "l", "g") for suffix in ("", "-no-lvis")]


_ENCODERS: dict[str, ShapeEncoder] = {}


def fixture_encoder(key: str) -> ShapeEncoder:
    if key not in _ENCODERS:
        checkpoint = FIXTURES / MANIFEST["configs"][key]["checkpoint"]
        _ENCODERS[key] = ShapeEncoder.from_checkpoint(checkpoint, fixture_config(key), dtype="float32")
    return _ENCODERS[key]


# ------------------------------------------------------------------------------ parity


@pytest.mark.parametrize("key", CONFIGS)
def test_encode_prepared_equals_upstream_on_every_cloud(key, uni3d_expected):
    encoder = fixture_encoder(key)
    assert encoder.family == "uni3d" and encoder.model_up_axis == "z" and encoder.embed_dim == 1024
    for cloud in CLOUDS:
        out = encoder.encode_prepared(prepared(uni3d_expected, cloud))
        assert out.shape == (1, 1024) and out.dtype == torch.float32
        truth = uni3d_expected[f"{key}/{cloud}/embedding"]
        assert np.abs(out[0].numpy() - truth).max() <= TOLERANCE["embedding"], cloud
        unit = torch.nn.functional.normalize(out, dim=-1)[0].numpy()
        assert np.abs(unit - uni3d_expected[f"{key}/{cloud}/embedding_normalized"]).max() <= TOLERANCE["embedding_normalized"]


@pytest.mark.parametrize("key", CONFIGS)
def test_every_intermediate_equals_upstream(key, uni3d_expected):
    encoder = fixture_encoder(key).model.point_encoder
    for cloud in CLOUDS:
        points = prepared(uni3d_expected, cloud).transpose(1, 2)
        with torch.inference_mode():
            centre_index, centres, neighbours = encoder.group(points[..., :3])
            features = encoder.patch_features(points, centres, neighbours)
            tokens = encoder.tokens(features, centres)
            cls = encoder.cls_feature(tokens)
        truth = {name: uni3d_expected[f"{key}/{cloud}/{name}"] for name in TOLERANCE}
        np.testing.assert_array_equal(centre_index[0].numpy(), uni3d_expected[f"{key}/{cloud}/fps_idx"])
        np.testing.assert_array_equal(centres[0].numpy(), uni3d_expected[f"{key}/{cloud}/centers"])
        # Group order is unspecified upstream (topk sorted=False): compare the sets.
        np.testing.assert_array_equal(np.sort(neighbours[0].numpy(), axis=1), uni3d_expected[f"{key}/{cloud}/knn_idx_sorted"])
        for name, value in (("patch_features", features), ("tokens_in", tokens), ("cls_after_fc_norm", cls)):
            assert np.abs(value[0].numpy() - truth[name]).max() <= TOLERANCE[name], (cloud, name)


def test_fps_skips_points_at_the_centre_as_the_cuda_kernel(uni3d_expected):
    xyz = torch.from_numpy(uni3d_expected["input/c3_fps_skip_603/prepared"][None, :, :3].copy())
    for key in CONFIGS:
        groups = MANIFEST["configs"][key]["num_group"]
        with_skip = farthest_point_sample(xyz, groups, skip_norm_sq=FPS_SKIP_NORM_SQ)[0].numpy()
        np.testing.assert_array_equal(with_skip, uni3d_expected[f"{key}/c3_fps_skip_603/fps_idx"])
        # The manifest: without the rule the indices differ for every config on this cloud.
        assert not np.array_equal(farthest_point_sample(xyz, groups)[0].numpy(), with_skip)
    # By hand: point 2 (norm^2 1e-4) is never picked after the first centre; point 0 is picked first
    # although it lies at the origin; ties go to the lowest index.
    line = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0.01, 0, 0], [-1, 0, 0]]])
    assert farthest_point_sample(line, 3, skip_norm_sq=1e-3).tolist() == [[0, 1, 3]]
    assert farthest_point_sample(line, 4).tolist() == [[0, 1, 3, 2]]


def test_knn_groups_are_the_nearest_points_centre_included():
    xyz = torch.tensor([[[float(i), 0.0, 0.0] for i in range(10)]])
    groups = knn_query(xyz, xyz[:, [0, 6]], 3)
    assert [sorted(group) for group in groups[0].tolist()] == [[0, 1, 2], [5, 6, 7]]
    assert knn_query(xyz, xyz[:, [6]], 3, max_chunk_bytes=1).tolist() == groups[:, 1:].tolist()


def test_fewer_points_than_groups_is_a_clear_error():
    encoder = fixture_encoder("ti_like")
    with pytest.raises(ValueError, match="picks 32 patch centres but the cloud has only 20 points"):
        encoder.encode_prepared(torch.rand(1, 6, 20))


def test_contract_fields_are_named_as_the_issue_says():
    names = [field.name for field in dataclasses.fields(Uni3DConfig)]
    assert names[:8] == ["timm_model", "width", "depth", "heads", "num_group", "group_size", "encoder_dim", "embed_dim"]


# ------------------------------------------------------------------------- the container


def _save(path: Path, payload) -> Path:
    torch.save(payload, path)
    return path


# One variant per block family: each fixture with its prefix toggled, and one in float32.
VARIANTS = [("ti_like", "add module."), ("b_like", "float32"), ("g_like", "drop module.")]


@pytest.mark.parametrize("key, variant", VARIANTS)
def test_with_or_without_module_prefix_and_in_float32_the_same_embeddings(key, variant, uni3d_expected, tmp_path):
    spec = MANIFEST["configs"][key]
    module = torch.load(FIXTURES / spec["checkpoint"], weights_only=True)["module"]
    assert all(k.startswith(spec["key_prefix"]) for k in module) and spec["key_prefix"] == ("module." if key == "g_like" else "")
    assert module[spec["key_prefix"] + "point_encoder.cls_token"].dtype == torch.float16
    bare = {k.removeprefix("module."): v for k, v in module.items()}
    payload = {
        "add module.": released_container(bare, "module."),
        "drop module.": released_container(bare, ""),
        "float32": {"module": {k: v.float() if v.is_floating_point() else v for k, v in module.items()}},
    }[variant]
    x = prepared(uni3d_expected, "c0_plain_1024")
    encoder = ShapeEncoder.from_checkpoint(_save(tmp_path / "variant.pt", payload), fixture_config(key), dtype="float32")
    assert torch.equal(encoder.encode_prepared(x), fixture_encoder(key).encode_prepared(x))


def _broken(tmp_path: Path, change) -> Path:
    module = torch.load(FIXTURES / "ti_like.pt", weights_only=True)["module"]
    change(module)
    return _save(tmp_path / "broken.pt", {"module": module, "epoch": 3})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.pop("point_encoder.cls_pos"), r"missing keys: point_encoder\.cls_pos\b"),
        (lambda m: m.update({"point_encoder.extra.weight": torch.zeros(2)}), r"unexpected keys: point_encoder\.extra\.weight"),
        (lambda m: m.update({"point_encoder.trans2embed.bias": torch.zeros(512)}),
         r"wrong shape keys: point_encoder\.trans2embed\.bias: file \(512,\) vs model \(1024,\)"),
    ],
)  # fmt: skip
def test_a_key_list_that_differs_says_exactly_what_differs(tmp_path, change, message):
    path = _broken(tmp_path, change)
    with pytest.raises(CheckpointError, match=message) as failure:
        ShapeEncoder.from_checkpoint(path, fixture_config("ti_like"))
    assert str(path) in str(failure.value)


def test_several_differences_are_all_listed_with_their_count(tmp_path):
    def change(module):
        for key in [k for k in module if k.startswith("point_encoder.visual.blocks.1.")]:
            del module[key]

    with pytest.raises(CheckpointError, match=r"missing keys: point_encoder\.visual\.blocks\.1\..*\(\d+ in all\)"):
        ShapeEncoder.from_checkpoint(_broken(tmp_path, change), fixture_config("ti_like"))


def test_truncated_file_and_wrong_sha256_name_the_file(tmp_path):
    payload = (FIXTURES / "ti_like.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(CheckpointError, match=f"could not read {truncated} as a PyTorch checkpoint"):
        ShapeEncoder.from_checkpoint(truncated, fixture_config("ti_like"))
    with pytest.raises(CheckpointError, match=f"{FIXTURES / 'ti_like.pt'} has SHA-256 .* but the registry expects 0+"):
        ShapeEncoder.from_checkpoint(FIXTURES / "ti_like.pt", fixture_config("ti_like"), sha256="0" * 64)


# ---------------------------------------------------------------------------- registry


@pytest.fixture
def packaged(monkeypatch):
    monkeypatch.delenv("OPENSHAPE_OOD_REGISTRY", raising=False)


def test_packaged_entries_name_family_hub_file_text_tower_and_licences(packaged):
    registry = load_registry()
    assert [n for n, e in registry.items() if e.family == "uni3d"] == RELEASED_NAMES
    for name in RELEASED_NAMES:
        entry = registry[name]
        size = name.split("-")[1]
        assert entry.source == HubSource("BAAI/Uni3D", f"modelzoo/{name}/model.pt", "main")
        assert entry.size == RELEASED[f"uni3d-{size}"]["released_file_bytes"] and len(entry.sha256) == 64
        assert (entry.container, entry.prefix, entry.model_up_axis, entry.embed_dim) == ("module", None, "z", 1024)
        assert (entry.text_model, entry.text_pretrained) == ("EVA02-E-14-plus", "laion2b_s9b_b144k")
        assert (entry.licences.code, entry.licences.weights) == ("MIT", "none stated")
        assert "baaivision/Uni3D" in entry.licences.code_source and "BAAI/Uni3D" in entry.licences.weights_source
    assert registry["uni3d-b"].sha256 == "bb533f918957e939f0e500376bef5166437883443da10fd9adccde0d1b512fba"
    assert len({registry[name].sha256 for name in RELEASED_NAMES}) == len(RELEASED_NAMES)
    assert registry["vitb32"].licences.weights == "MIT" and registry["vitl14"].licences.weights == "none stated"


@pytest.mark.parametrize("size", ["ti", "s", "b", "l", "g"])
def test_packaged_configs_build_exactly_the_expected_released_key_list(packaged, size):
    released = RELEASED[f"uni3d-{size}"]
    config = get_entry(f"uni3d-{size}").config
    assert get_entry(f"uni3d-{size}-no-lvis").config == config
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        state = build_uni3d(config).state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == [[k, shape] for k, shape, _ in released["keys"]]
    assert sum(v.numel() for v in state.values() if v.is_floating_point()) == released["n_float_values"]


def test_models_verbose_shows_each_entrys_licences(packaged, capsys):
    assert main(["models", "--verbose", "-q"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("uni3d-b (uni3d):"):].splitlines()
    assert block[1].startswith("  code: MIT (github.com/baaivision/Uni3D LICENSE")
    assert block[2].startswith("  weights: none stated (huggingface.co/BAAI/Uni3D has no model card")
    assert "vitl14 (openshape-pointbert):" in out
    assert main(["models", "--json", "-q"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}
    assert rows["uni3d-g"]["family"] == "uni3d" and rows["uni3d-g"]["licences"]["weights"] == "none stated"
    assert rows["uni3d-g"]["size"] == 2034909361


def test_without_network_fails_at_once_with_the_line_openshape_models_give(packaged, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    lines = {}
    for name in ("vitb32", "uni3d-b"):
        start = time.monotonic()
        with pytest.raises(CheckpointError) as failure:
            ShapeEncoder.from_pretrained(name, cache_dir=tmp_path / "empty")
        assert time.monotonic() - start < 5
        lines[name] = str(failure.value)
    assert "\n" not in lines["uni3d-b"]
    assert "BAAI/Uni3D/modelzoo/uni3d-b/model.pt (revision main); HF_HUB_OFFLINE is set" in lines["uni3d-b"]
    same = lines["vitb32"].replace("OpenShape/openshape-pointbert-vitb32-rgb/model.pt", "BAAI/Uni3D/modelzoo/uni3d-b/model.pt")
    assert same.replace("vitb32", "uni3d-b") == lines["uni3d-b"]


# ------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def uni3d_registry_file(tmp_path_factory) -> Path:
    return make_tiny_uni3d_registry(tmp_path_factory.mktemp("tiny_uni3d"))


@pytest.fixture
def both_families(monkeypatch, tiny_registry_file, uni3d_registry_file, tmp_path):
    """The tiny OpenShape models and the tiny Uni3D ones (uni3d-ti, uni3d-b, uni3d-g) registered together."""
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", os.pathsep.join([str(tiny_registry_file), str(uni3d_registry_file)]))
    monkeypatch.setenv("OPENSHAPE_OOD_CACHE", str(tmp_path / "cache"))
    return uni3d_registry_file


def _cloud(seed: int, n: int = 900) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)) * [1.0, 0.5 + seed % 3, 0.3]


def test_hub_download_path_checks_and_loads_offline(both_families, tmp_path, monkeypatch):
    payload = (both_families.parent / "uni3d-b-tiny.pt").read_bytes()
    registry = tmp_path / "hub.toml"
    tiny = get_entry("uni3d-b")
    table = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in vars(tiny.config).items() if v is not None)
    registry.write_text(
        f'[hubbed]\nfamily = "uni3d"\nhf_repo = "BAAI/Uni3D"\nfilename = "modelzoo/uni3d-b/model.pt"\nrevision = "main"\n'
        f'sha256 = "{hashlib.sha256(payload).hexdigest()}"\nsize = {len(payload)}\ncontainer = "module"\nup_axis = "z"\n'
        f'[hubbed.architecture]\n{table}\n[hubbed.text]\nmodel = "EVA02-E-14-plus"\npretrained = "laion2b_s9b_b144k"\n'
    )
    cache = tmp_path / "hub"
    put_in_hub_cache(cache, "BAAI/Uni3D", "modelzoo/uni3d-b/model.pt", payload)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    encoder = ShapeEncoder.from_pretrained("hubbed", registry=registry)
    reference = ShapeEncoder.from_pretrained("uni3d-b")
    x = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 6, 300)).astype(np.float32))
    assert torch.equal(encoder.encode_prepared(x), reference.encode_prepared(x))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(registry))
    fetched = download_model("hubbed")
    assert fetched[0].checked_against == "the registry" and fetched[0].size == len(payload)
    registry.write_text(registry.read_text().replace(hashlib.sha256(payload).hexdigest(), "1" * 64))
    with pytest.raises(CheckpointError, match="model.pt has SHA-256 .* but the registry expects 1+"):
        ShapeEncoder.from_pretrained("hubbed", registry=registry)


def test_from_pretrained_embeds_and_records_provenance(both_families, tmp_path, monkeypatch):
    encoder = ShapeEncoder.from_pretrained("uni3d-g", dtype="auto")  # the conftest pins auto to float32
    assert (encoder.name, encoder.family, encoder.model_up_axis, encoder.dtype) == ("uni3d-g", "uni3d", "z", torch.float32)
    assert encoder.checkpoint == both_families.parent / "uni3d-g-tiny.pt"  # keys carry "module." in this one
    assert encoder.entry.registry_file == both_families
    out = encoder.embed([_cloud(0), _cloud(1, 1500)])
    assert out.shape == (2, 1024) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(out[:1], encoder.embed(_cloud(0)), atol=1e-6)  # nor on the other clouds
    # A user registry's two-line local copy of a Uni3D entry.
    copy = tmp_path / "copy.toml"
    copy.write_text(f'[mine]\nextends = "uni3d-g"\npath = "{encoder.checkpoint}"\n')
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", f"{os.environ['OPENSHAPE_OOD_REGISTRY']}{os.pathsep}{copy}")
    mine = ShapeEncoder.from_pretrained("mine")
    assert mine.entry.family == "uni3d" and np.array_equal(mine.embed(_cloud(0)), encoder.embed(_cloud(0)))
    assert TextEncoder.from_pretrained("uni3d-g").embed_classes(["chair"]).shape == (1, 1024)


def test_packaged_text_tower_is_eva02_e_14_plus_text_only(packaged):
    text = TextEncoder.from_pretrained("uni3d-b")
    assert (text.model_name, text.pretrained, text.embed_dim) == ("EVA02-E-14-plus", "laion2b_s9b_b144k", 1024)
    assert text._tower is None  # nothing built or fetched until class names are embedded


def test_an_ensemble_across_families(both_families):
    detector = EnsembleDetector(model=["vitb32", "uni3d-b"]).fit(["chair", "table", "lamp"])
    clouds = [_cloud(i) for i in range(3)]
    x_open, x_uni = (ShapeEncoder.from_pretrained(name).embed(clouds) for name in ("vitb32", "uni3d-b"))
    assert (x_open.shape[1], x_uni.shape[1]) == (64, 1024)
    # Without standardize= the ensemble averages its members' raw novelty, each in its own space.
    members = [NoveltyDetector(model=name).fit(["chair", "table", "lamp"]) for name in ("vitb32", "uni3d-b")]
    expected = (members[0].novelty(x_open) + members[1].novelty(x_uni)) / 2
    np.testing.assert_allclose(detector.novelty({"vitb32": x_open, "uni3d-b": x_uni}), expected, rtol=1e-12)
    # Each member keeps its own embedding space: the first member (64 wide) refuses Uni3D's 1024.
    with pytest.raises(ValueError, match="the shape embeddings have dimension 1024 but the known classes have 64"):
        detector.novelty([x_uni, x_open])


def test_command_line_score_and_embed_with_a_uni3d_model(both_families, tmp_path, capsys):
    for i in range(2):
        np.save(tmp_path / f"shape{i}.npy", _cloud(i).astype(np.float32))
    files = [str(tmp_path / f"shape{i}.npy") for i in range(2)]
    assert main(["score", *files, "--known", "chair,table", "--model", "uni3d-b", "--device", "cpu", "-q"]) == 0
    assert "shape0.npy" in capsys.readouterr().out
    out = tmp_path / "emb.h5"
    assert main(["embed", *files, "--model", "uni3d-b", "--device", "cpu", "-q", "--out", str(out)]) == 0
    import h5py

    with h5py.File(out) as h5:
        assert h5.attrs["model"] == "uni3d-b"
        assert h5.attrs["checkpoint"] == f"sha256:{get_entry('uni3d-b').sha256}"


def test_command_line_scene_with_a_uni3d_model(both_families, tmp_path, capsys):
    xyz = np.concatenate([_cloud(0, 600), _cloud(1, 600) + [5.0, 0.0, 0.0]]).astype(np.float32)
    scan = tmp_path / "scan.ply"
    write_labelled_ply(scan, xyz, np.repeat([0, 1], 600))
    out = tmp_path / "scene.ply"
    argv = ["scene", str(scan), "--known", "chair,table", "--model", "uni3d-b", "--device", "cpu", "--json", "-q"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = json.loads(capsys.readouterr().out)["objects"]
    assert [(row["id"], row["points"]) for row in rows] == [(0, 600), (1, 600)]
    assert all(row["class"] in ("chair", "table") and np.isfinite(row["novelty"]) for row in rows)
    assert out.is_file()
