"""TextEncoder: parity with open_clip, text tower only, template ensembling, the disk cache."""

import json
import warnings
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import open_clip
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

import openshape_ood.encoders._hub
from openshape_ood.encoders import text as text_module
from openshape_ood.encoders._registry import get_entry
from openshape_ood.classnames import (
    OPENSHAPE_TEMPLATES,
    check_class_names,
    lvis_categories,
    resolve_templates,
    spoken_name,
)
from openshape_ood.encoders.text import TextEncoder

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
CONFIGS = {
    "oso-test-clip": TINY,
    "oso-test-custom": {**TINY, "custom_text": True},  # CustomTextCLIP: text keys under "text."
    "oso-test-quickgelu": {**TINY, "quick_gelu": True},
}


@pytest.fixture(scope="module")
def tiny_configs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("open_clip_configs")
    for name, config in CONFIGS.items():
        (folder / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(folder)
    return folder


def full_model(name: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    return open_clip.create_model(name, **kwargs).eval()


def save_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    if path.suffix == ".safetensors":
        save_torch(state, str(path))
    else:
        torch.save(state, path)
    return path


def reference_text(model, name, texts):
    with torch.no_grad():
        return model.encode_text(open_clip.get_tokenizer(name)(texts), normalize=True)


TEXTS = ["a chair", "a point cloud model of a teddy bear.", "There is a lamp in the scene."]


@pytest.mark.parametrize("name", ["oso-test-clip", "oso-test-custom", "oso-test-quickgelu"])
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_text_parity_with_open_clip(tiny_configs, tmp_path, name, suffix):
    model = full_model(name)
    path = save_checkpoint(model, tmp_path / f"weights{suffix}")
    encoder = TextEncoder(name, path, cache=False)
    ours = encoder.encode_text(encoder.tokenizer(TEXTS), normalize=True)
    torch.testing.assert_close(ours, reference_text(model, name, TEXTS), rtol=0, atol=1e-6)


def test_checkpoint_with_container_and_module_prefix(tiny_configs, tmp_path):
    model = full_model("oso-test-clip")
    path = tmp_path / "trained.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    encoder = TextEncoder("oso-test-clip", path, cache=False)
    torch.testing.assert_close(
        encoder.encode_text(encoder.tokenizer(TEXTS), normalize=True), reference_text(model, "oso-test-clip", TEXTS)
    )


def test_wrong_checkpoint_is_rejected(tiny_configs, tmp_path):
    path = save_checkpoint(full_model("oso-test-clip"), tmp_path / "weights.safetensors")
    bigger = {**TINY, "text_cfg": {**TINY["text_cfg"], "layers": 3}}
    (tiny_configs / "oso-test-deeper.json").write_text(json.dumps(bigger))
    open_clip.add_model_config(tiny_configs)
    with pytest.raises(ValueError, match="does not match the text tower"):
        TextEncoder("oso-test-deeper", path, cache=False).embed_classes(["chair"], "none")


def test_only_the_text_tower_is_built(tiny_configs, tmp_path, monkeypatch):
    model = full_model("oso-test-clip")
    path = save_checkpoint(model, tmp_path / "weights.safetensors")

    def no_image_tower(*args, **kwargs):
        raise AssertionError("the image tower must not be built")

    monkeypatch.setattr(open_clip.model, "_build_vision_tower", no_image_tower)
    tower = TextEncoder("oso-test-clip", path, cache=False).module
    names = {name for name, _ in tower.named_parameters()}
    expected = {name for name, _ in model.named_parameters() if not name.startswith("visual.")} - {"logit_scale"}
    assert names == expected
    assert sum(p.numel() for p in tower.parameters()) < sum(p.numel() for p in model.parameters())


def test_pretrained_tag_uses_open_clip_download_and_tag_quick_gelu(tiny_configs, tmp_path, monkeypatch):
    # A fake tag: weights trained with QuickGELU, as open_clip's table marks the OpenAI ones.
    model = full_model("oso-test-clip", force_quick_gelu=True)
    path = save_checkpoint(model, tmp_path / "open_clip_model.safetensors")
    monkeypatch.setitem(
        open_clip.pretrained._PRETRAINED, "oso-test-clip", {"faketag": {"hf_hub": "org/repo/", "quick_gelu": True}}
    )
    requested = []
    # The Hub answers (tests run with HF_HUB_OFFLINE=1, under which nothing uncached is fetched).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(openshape_ood.encoders._hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(open_clip, "download_pretrained", lambda cfg, **kw: requested.append(cfg) or str(path))
    encoder = TextEncoder("oso-test-clip", "faketag", cache_dir=tmp_path)
    assert encoder.quick_gelu and not requested  # nothing is fetched before it is needed
    ours = encoder.encode_text(encoder.tokenizer(TEXTS), normalize=True)
    assert requested and requested[0]["hf_hub"] == "org/repo/"
    torch.testing.assert_close(ours, reference_text(model, "oso-test-clip", TEXTS), rtol=0, atol=1e-6)


def test_a_torch_file_from_the_hub_cache_is_checked_before_it_is_unpickled(tiny_configs, tmp_path):
    from ..helpers.hub import put_in_hub_cache

    model = full_model("oso-test-clip")
    payload = save_checkpoint(model, tmp_path / "weights.pt").read_bytes()
    cached = put_in_hub_cache(tmp_path / "hub", "org/tiny-text", "open_clip_pytorch_model.bin", payload)
    encoder = TextEncoder("oso-test-clip", cached, cache=False)
    torch.testing.assert_close(
        encoder.encode_text(encoder.tokenizer(TEXTS), normalize=True), reference_text(model, "oso-test-clip", TEXTS)
    )
    damaged = bytearray(payload)
    damaged[len(damaged) // 2] ^= 1  # in the tensor data: torch would load it without a word
    cached.resolve().write_bytes(bytes(damaged))
    with pytest.raises(OSError, match=r"has SHA-256 [0-9a-f]{64} but the Hub stores it as [0-9a-f]{64}: the file is corrupt"):
        TextEncoder("oso-test-clip", cached, cache=False).module


def test_from_pretrained_reads_the_registry_pairing():
    for name, model, tag, quick in [
        ("vitb32", "ViT-B-32", "openai", True),
        ("vitl14", "ViT-L-14", "openai", True),
        ("vitg14", "ViT-bigG-14", "laion2b_s39b_b160k", False),
    ]:
        encoder = TextEncoder.from_pretrained(name)  # lazy: downloads nothing
        assert (encoder.model_name, encoder.pretrained, encoder.quick_gelu) == (model, tag, quick)
        assert encoder.embed_dim == get_entry(name).embed_dim


def test_bad_model_or_weights():
    with pytest.raises(ValueError, match="unknown open_clip model"):
        TextEncoder("ViT-Nope")
    with pytest.raises(ValueError, match="neither an open_clip tag"):
        TextEncoder("ViT-B-32", "no-such-tag")


@pytest.fixture()
def encoder_and_model(tiny_configs, tmp_path):
    model = full_model("oso-test-clip", seed=1)
    path = save_checkpoint(model, tmp_path / "weights.safetensors")
    return TextEncoder("oso-test-clip", path, cache_dir=tmp_path / "cache", progress=False), model


def test_template_ensembling(encoder_and_model):
    encoder, model = encoder_and_model
    templates = ["a point cloud model of {}.", "a photo of a {}.", "a toy {}."]
    got = encoder.embed_classes(["teddy_bear", "chair"], templates)
    for row, words in zip(got, ["teddy bear", "chair"]):
        each = reference_text(model, "oso-test-clip", [t.format(words) for t in templates])  # normalised
        mean = each.mean(dim=0)
        np.testing.assert_allclose(row, (mean / mean.norm()).numpy(), atol=1e-6)
    assert got.dtype == np.float32 and got.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_none_templates_speak_the_bare_name(encoder_and_model):
    encoder, model = encoder_and_model
    got = encoder.embed_classes(["flower_pot"], "none")
    np.testing.assert_allclose(got[0], reference_text(model, "oso-test-clip", ["flower pot"])[0].numpy(), atol=1e-6)


def test_openshape64_templates_are_the_default(encoder_and_model):
    encoder, _ = encoder_and_model
    default = encoder.embed_classes(["lamp"])
    explicit = encoder.embed_classes(["lamp"], list(OPENSHAPE_TEMPLATES))
    single = encoder.embed_classes(["lamp"], "none")
    np.testing.assert_array_equal(default, explicit)
    assert not np.allclose(default, single)


def test_cache_hit_does_not_load_clip(encoder_and_model, monkeypatch):
    encoder, _ = encoder_and_model
    first = encoder.embed_classes(["chair", "sofa"])
    again = TextEncoder("oso-test-clip", encoder.pretrained, cache_dir=encoder.cache_dir, progress=False)

    def no_clip(*args, **kwargs):
        raise AssertionError("a cache hit must not load CLIP")

    monkeypatch.setattr(TextEncoder, "_load_tower", no_clip)
    monkeypatch.setattr(open_clip, "get_tokenizer", no_clip)
    np.testing.assert_array_equal(again.embed_classes(["sofa", "chair"]), first[::-1])


def test_cache_key_includes_prompts_and_weights(encoder_and_model, tiny_configs, tmp_path):
    encoder, _ = encoder_and_model
    a = encoder.embed_classes(["chair"], "none")
    b = encoder.embed_classes(["chair"], ["a {}."])
    assert not np.allclose(a, b)
    other_weights = save_checkpoint(full_model("oso-test-clip", seed=2), tmp_path / "other.safetensors")
    other = TextEncoder("oso-test-clip", other_weights, cache_dir=encoder.cache_dir, progress=False)
    assert not np.allclose(other.embed_classes(["chair"], "none"), a)
    assert other._cache_path() != encoder._cache_path()


def test_corrupt_cache_is_rebuilt(encoder_and_model):
    encoder, _ = encoder_and_model
    good = encoder.embed_classes(["chair"], "none")
    path = encoder._cache_path()
    path.write_bytes(b"\x00garbage, not safetensors")
    with pytest.warns(RuntimeWarning, match="cannot be trusted"):
        np.testing.assert_allclose(encoder.embed_classes(["chair"], "none"), good, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.embed_classes(["chair"], "none")  # the rebuilt file is trusted again


def test_cache_with_bad_values_is_not_trusted(encoder_and_model):
    encoder, _ = encoder_and_model
    good = encoder.embed_classes(["chair"], "none")
    key = text_module._prompt_key(["chair"])
    save_numpy({key: np.full(16, np.nan, np.float32)}, str(encoder._cache_path()), metadata=encoder._cache_identity())
    with pytest.warns(RuntimeWarning, match="not a finite"):
        np.testing.assert_allclose(encoder.embed_classes(["chair"], "none"), good, atol=1e-6)


def test_interrupted_write_keeps_the_previous_cache(encoder_and_model, monkeypatch):
    encoder, _ = encoder_and_model
    encoder.embed_classes(["chair"], "none")
    before = encoder._cache_path().read_bytes()

    def interrupted(self, data):
        with open(self, "wb") as stream:
            stream.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        encoder.embed_classes(["sofa"], "none")
    assert encoder._cache_path().read_bytes() == before
    assert [p.name for p in encoder._cache_path().parent.iterdir()] == [encoder._cache_path().name]


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENSHAPE_OOD_CACHE", str(tmp_path / "elsewhere"))
    assert TextEncoder("ViT-B-32", "openai")._cache_path().is_relative_to(tmp_path / "elsewhere")


def test_random_weights_are_never_cached(tiny_configs, tmp_path):
    encoder = TextEncoder("oso-test-clip", None, cache_dir=tmp_path, progress=False)
    encoder.embed_classes(["chair"], "none")
    assert not encoder.cache and not any(tmp_path.iterdir())


def test_class_name_and_template_errors(encoder_and_model):
    encoder, _ = encoder_and_model
    with pytest.raises(ValueError, match="empty"):
        encoder.embed_classes([])
    with pytest.raises(ValueError, match="duplicate"):
        encoder.embed_classes(["teddy_bear", "Teddy bear"])
    with pytest.raises(ValueError, match="not one string"):
        encoder.embed_classes("chair")
    with pytest.raises(ValueError, match="unknown template set"):
        encoder.embed_classes(["chair"], "imagenet80")
    with pytest.raises(ValueError, match="exactly one"):
        encoder.embed_classes(["chair"], ["a photo."])
    with pytest.raises(ValueError, match="other braces"):
        resolve_templates(["a {} {x}"])


def test_names_and_vocabulary():
    assert spoken_name("Christmas_tree") == "Christmas tree"
    assert check_class_names(("a", "b")) == ["a", "b"]
    names = lvis_categories()
    assert len(names) == 1156 and names[0] == "Band_Aid" and "teddy_bear" in names
    assert len(OPENSHAPE_TEMPLATES) == 64 and len(set(OPENSHAPE_TEMPLATES)) == 64


def test_cache_with_a_flipped_sign_is_rebuilt(encoder_and_model):
    # A sign flip keeps a finite unit vector, so only the checksum can tell.
    encoder, _ = encoder_and_model
    good = encoder.embed_classes(["chair"], "none")
    path = encoder._cache_path()
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
        entries = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (not a dict)
    flipped = {key: -value for key, value in entries.items()}
    save_numpy(flipped, str(path), metadata=metadata)
    with pytest.warns(RuntimeWarning, match="do not match their checksum"):
        np.testing.assert_allclose(encoder.embed_classes(["chair"], "none"), good, atol=1e-6)


def test_unwritable_cache_folder_warns_and_goes_on(encoder_and_model, tmp_path):
    encoder, _ = encoder_and_model
    good = encoder.embed_classes(["chair"], "none")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    original = encoder.cache_dir
    encoder.cache_dir = blocked
    try:
        with pytest.warns(RuntimeWarning, match="text embedding cache .* cannot be written"):
            np.testing.assert_allclose(encoder.embed_classes(["chair"], "none"), good, atol=1e-6)
    finally:
        encoder.cache_dir = original
