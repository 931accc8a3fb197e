"""The registry: packaged entries build exactly the released architectures."""

import dataclasses
import json
import os

import open_clip
import pytest

from openshape_ood import PointBertConfig, get_entry, load_registry
from openshape_ood.encoders.pointbert import build_point_bert
from openshape_ood.encoders._registry import (
    HubSource,
    LocalSource,
    UnknownModelError,
    packaged_registry_path,
    registry_paths,
)

from ..helpers.parity import PARITY

RELEASED = json.loads((PARITY / "released_checkpoint_keys.json").read_text())


@pytest.fixture(autouse=True)
def packaged_registry(monkeypatch):
    monkeypatch.delenv("OPENSHAPE_OOD_REGISTRY", raising=False)


def test_packaged_registry_lists_the_three_released_models():
    registry = {n: e for n, e in load_registry().items() if e.family == "openshape-pointbert"}
    assert sorted(registry) == ["vitb32", "vitg14", "vitl14"]
    assert {n: e.embed_dim for n, e in registry.items()} == {"vitb32": 512, "vitl14": 768, "vitg14": 1280}
    assert {n: e.model_up_axis for n, e in registry.items()} == {"vitb32": "y", "vitl14": "y", "vitg14": "z"}
    assert registry["vitg14"].source == HubSource("OpenShape/openshape-pointbert-vitg14-rgb", "model.pt", "main")
    assert (registry["vitg14"].text_model, registry["vitg14"].text_pretrained) == (
        "ViT-bigG-14",
        "laion2b_s39b_b160k",
    )
    assert registry["vitl14"].sha256 == "2ce4eb7a6997aed26390c7fd0ed5edfeb833eb7f160f1f790cc87dc733cd432a"


@pytest.mark.parametrize("name", ["vitb32", "vitl14", "vitg14"])
def test_registry_config_builds_released_keys_shapes_and_parameter_count(name):
    entry = get_entry(name)
    released = RELEASED[name]
    assert (entry.container, entry.prefix) == (released["container"], released["prefix"])
    model = build_point_bert(entry.config)
    built = {entry.prefix + k: list(v.shape) for k, v in model.state_dict().items()}
    assert built == released["keys"]
    assert sum(p.numel() for p in model.parameters()) == released["parameters"]


def test_registry_file_can_be_replaced_by_environment(monkeypatch, tiny_registry_file):
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(tiny_registry_file))
    entry = get_entry("vitb32")
    assert entry.source == LocalSource((PARITY / "b32_tiny.pt").resolve())
    assert entry.config == PointBertConfig(64, 2, 2, 128, 32, 16, 0.4, 32, 6, 32, None)
    assert entry.text_model == "oso-tiny-text-64"
    assert entry.text_config == tiny_registry_file.parent / "oso-tiny-text-64.json"
    assert entry.text_pretrained == str(tiny_registry_file.parent / "oso-tiny-text-64.safetensors")


def test_unknown_model_lists_registered_names():
    names = ", ".join(sorted(load_registry()))
    assert "uni3d-b, " in names and names.endswith("vitb32, vitg14, vitl14")
    with pytest.raises(UnknownModelError, match=names) as raised:
        get_entry("vit-huge")
    assert isinstance(raised.value, KeyError)
    assert str(raised.value) == f"unknown model 'vit-huge'; registered models: {names}"  # no quotes


def test_user_registries_add_entries_and_keep_the_packaged_ones(tmp_path, monkeypatch):
    mine, other = tmp_path / "mine.toml", tmp_path / "other.toml"
    mine.write_text(ENTRY.format(up="z", embed_dim=8))
    # A second file replaces a packaged entry, as open_clip.add_model_config replaces a config.
    other.write_text(ENTRY.format(up="x", embed_dim=8).replace("[mine", "[vitb32"))
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", os.pathsep.join([str(mine), str(other)]))
    registry = load_registry()
    assert list(registry) == [*load_registry(packaged_registry_path()), "mine"]
    assert list(registry)[:3] == ["vitb32", "vitl14", "vitg14"]
    assert registry["mine"].source == LocalSource(tmp_path / "weights.pt")
    assert registry["vitb32"].model_up_axis == "x" and registry["vitb32"].source == LocalSource(tmp_path / "weights.pt")
    assert registry["vitl14"] == load_registry(packaged_registry_path())["vitl14"]
    assert registry_paths() == [packaged_registry_path(), mine, other]
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="missing.toml does not exist; fix or unset OPENSHAPE_OOD_REGISTRY"):
        load_registry()


def test_packaged_text_towers_name_the_hub_repositories_open_clip_uses():
    for entry in load_registry().values():
        config = open_clip.get_pretrained_cfg(entry.text_model, entry.text_pretrained)
        assert entry.text_hf_repo == config["hf_hub"].strip("/") and not entry.text_is_file


ENTRY = """
[mine]
path = "weights.pt"
up_axis = "{up}"
embed_dim = {embed_dim}
[mine.architecture]
dim = 8
depth = 1
heads = 1
mlp_dim = 8
sa_dim = 8
patches = 4
radius = 0.4
nsample = 4
[mine.text]
model = "ViT-B-32"
pretrained = "openai"
"""


@pytest.mark.parametrize(
    "up, embed_dim, message",
    [("w", 8, "up_axis 'w'"), ("y", 16, "embed_dim = 16 but its architecture outputs 8")],
)
def test_invalid_entries_are_rejected_with_the_reason(tmp_path, up, embed_dim, message):
    path = tmp_path / "registry.toml"
    path.write_text(ENTRY.format(up=up, embed_dim=embed_dim))
    with pytest.raises(ValueError, match=message):
        load_registry(path)


def test_local_entry_path_is_relative_to_registry_file(tmp_path):
    path = tmp_path / "registry.toml"
    path.write_text(ENTRY.format(up="z", embed_dim=8))
    entry = load_registry(path)["mine"]
    assert entry.source == LocalSource(tmp_path / "weights.pt")
    assert entry.sha256 is None and entry.container == "flat" and entry.prefix == ""


def test_hub_entry_without_sha256_is_rejected(tmp_path):
    path = tmp_path / "registry.toml"
    path.write_text(ENTRY.format(up="y", embed_dim=8).replace('path = "weights.pt"', 'hf_repo = "a/b"\nfilename = "m.pt"'))
    with pytest.raises(ValueError, match="needs a sha256"):
        load_registry(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ('model = "ViT-B-32"', "needs exactly one of 'pretrained'"),
        ('model = "ViT-B-32"\npretrained = "openai"\npath = "w.safetensors"', "needs exactly one of 'pretrained'"),
        ('model = "tiny-text"\nconfig = "other.json"\npath = "w.safetensors"', "must be named tiny-text.json"),
    ],
)
def test_text_tower_table_is_validated(tmp_path, text, message):
    path = tmp_path / "registry.toml"
    path.write_text(ENTRY.format(up="y", embed_dim=8).split("[mine.text]")[0] + "[mine.text]\n" + text + "\n")
    with pytest.raises(ValueError, match=message):
        load_registry(path)


def test_a_local_copy_is_two_lines_extending_a_packaged_entry(tmp_path, monkeypatch):
    mine = tmp_path / "mine.toml"
    mine.write_text('[vitb32]\nextends = "vitb32"\npath = "copy.pt"\n\n[b32-other]\nextends = "vitb32"\npath = "/x.pt"\nsha256 = "AB"\n')
    monkeypatch.setenv("OPENSHAPE_OOD_REGISTRY", str(mine))
    packaged = load_registry(packaged_registry_path())["vitb32"]
    registry = load_registry()
    copy = registry["vitb32"]
    assert copy.source == LocalSource(tmp_path / "copy.pt") and copy.registry_file == mine
    # Everything else, the hash and size of the released file included, comes from the packaged entry.
    assert dataclasses.replace(copy, source=packaged.source, registry_file=packaged.registry_file) == packaged
    # An entry may extend one defined before it in the same file; its own sha256 drops the other's size.
    other = registry["b32-other"]
    assert other.name == "b32-other" and other.sha256 == "ab" and other.size is None
    assert other.config == packaged.config and other.text_pretrained == packaged.text_pretrained
    assert load_registry(mine)["vitb32"] == copy  # read on its own, it extends the packaged file


@pytest.mark.parametrize(
    "table, message",
    [
        ('extends = "vitb32"', r"extends 'vitb32' but lacks required key 'path' \(path = "),
        ('extends = "vit-huge"\npath = "a.pt"', "extends 'vit-huge', which no earlier entry defines; registered: uni3d-b, "),
        ('extends = "vitb32"\npath = "a.pt"\nup_axis = "z"', "may set only path, sha256, size, description, not up_axis"),
    ],
)
def test_bad_extending_entries_say_what_is_wrong(tmp_path, table, message):
    path = tmp_path / "registry.toml"
    path.write_text(f"[mine]\n{table}\n")
    with pytest.raises(ValueError, match=message):
        load_registry(path)


def test_an_incomplete_entry_names_the_key_and_shows_the_two_line_form(tmp_path):
    path = tmp_path / "registry.toml"
    path.write_text('[mine]\npath = "copy.pt"\n')
    with pytest.raises(ValueError) as failure:
        load_registry(path)
    message = str(failure.value)
    assert "entry [mine] lacks required key 'architecture'" in message
    assert 'two lines: extends = "vitb32" (or vitl14, vitg14) and path = "/your/copy.pt"' in message
