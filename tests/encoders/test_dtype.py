"""The encoder's compute dtype: "auto" picks bfloat16 only where the device computes it natively."""

import pytest
import torch

from openshape_ood import ShapeEncoder
from openshape_ood import device as device_module
from openshape_ood.corpus.embed import embedding_settings
from openshape_ood.device import resolve_dtype

from ..helpers.parity import PARITY, PARITY_MODELS, assert_upstream_close, parity_config


@pytest.fixture
def cpu_flags(monkeypatch):
    """Set the CPU flags resolve_dtype sees; "auto" is not pinned by the environment here."""
    monkeypatch.delenv("OPENSHAPE_OOD_DTYPE", raising=False)

    def set_flags(*flags):
        monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"sse4_2", "avx2", *flags})
        device_module.cpu_has_native_bf16.cache_clear()

    yield set_flags
    device_module.cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize("flags", [("avx512_bf16",), ("amx_bf16",), ("avx512f", "avx512_bf16", "amx_bf16")])
def test_auto_is_bfloat16_on_a_cpu_with_native_bf16(cpu_flags, flags):
    cpu_flags(*flags)
    choice = resolve_dtype("auto", "cpu")
    assert choice.dtype == torch.bfloat16 and choice.name == "bfloat16"
    assert all(flag in choice.reason for flag in flags if flag != "avx512f")


@pytest.mark.parametrize("flags", [(), ("avx512f", "avx512_vnni")])
def test_auto_is_float32_on_a_cpu_without_native_bf16(cpu_flags, flags):
    cpu_flags(*flags)
    choice = resolve_dtype("auto", "cpu")
    assert choice.dtype == torch.float32
    assert "avx512_bf16" in choice.reason  # says what it looked for


@pytest.mark.parametrize(
    "capability, expected",
    [((9, 0), torch.bfloat16), ((8, 0), torch.bfloat16), ((7, 5), torch.float32), ((6, 0), torch.float32)],
)
def test_auto_on_cuda_follows_the_gpu(cpu_flags, monkeypatch, capability, expected):
    cpu_flags("avx512_bf16")  # the CPU's flags do not matter for a GPU
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: asked.append(device) or capability)
    choice = resolve_dtype("auto", "cuda:1")
    assert choice.dtype == expected and f"{capability[0]}.{capability[1]}" in choice.reason
    assert asked == [torch.device("cuda:1")]  # the GPU asked about is the one the encoder runs on


def test_explicit_choices_and_the_environment(cpu_flags, monkeypatch):
    cpu_flags("avx512_bf16")
    assert resolve_dtype("float32", "cpu").dtype == torch.float32
    assert resolve_dtype(torch.bfloat16, "cpu").dtype == torch.bfloat16
    monkeypatch.setenv("OPENSHAPE_OOD_DTYPE", "float32")
    choice = resolve_dtype("auto", "cpu")
    assert choice.dtype == torch.float32 and "OPENSHAPE_OOD_DTYPE" in choice.reason
    assert resolve_dtype(None, "cpu").dtype == torch.float32
    assert resolve_dtype("bfloat16", "cpu").dtype == torch.bfloat16  # an explicit choice wins over the variable
    monkeypatch.setenv("OPENSHAPE_OOD_DTYPE", "half")
    with pytest.raises(ValueError, match=r"\$OPENSHAPE_OOD_DTYPE='half' is not one of"):
        resolve_dtype("auto", "cpu")
    with pytest.raises(ValueError, match="'fp8' is not one of"):
        resolve_dtype("fp8", "cpu")
    with pytest.raises(ValueError, match="not supported"):
        resolve_dtype(torch.int8, "cpu")


def test_cpu_flags_are_read_from_proc_cpuinfo(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(info if path == "/proc/cpuinfo" else path, *a, **k))
    assert device_module._cpu_flags() == {"fpu", "sse", "avx512_bf16", "amx_tile"}
    info.unlink()
    assert device_module._cpu_flags() == set()


def _tiny(key, parity_manifest, **kwargs) -> ShapeEncoder:
    spec = parity_manifest["models"][key]
    return ShapeEncoder.from_checkpoint(PARITY / spec["checkpoint"], parity_config(parity_manifest, key), **kwargs)


@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_auto_encoder_computes_in_bfloat16_close_to_float32(key, cpu_flags, parity_manifest, parity_expected):
    cpu_flags("avx512_bf16")
    encoder = _tiny(key, parity_manifest)
    assert encoder.dtype == torch.bfloat16 and "avx512_bf16" in encoder.dtype_reason
    assert "bfloat16" in repr(encoder)
    out = encoder.encode_prepared(torch.from_numpy(parity_expected["input"]))
    assert out.dtype == torch.float32  # embeddings are float32 whatever the model computes in
    expected = torch.from_numpy(parity_expected[f"{key}_embedding"])
    assert torch.nn.functional.cosine_similarity(out, expected).min() > 0.999
    assert not torch.equal(out, expected)  # it did compute in bfloat16


@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_float32_stays_exact_to_upstream_on_a_bf16_cpu(key, cpu_flags, parity_manifest, parity_expected):
    cpu_flags("avx512_bf16", "amx_bf16")
    encoder = _tiny(key, parity_manifest, dtype="float32")
    assert encoder.dtype == torch.float32
    out = encoder.encode_prepared(torch.from_numpy(parity_expected["input"])).numpy()
    assert_upstream_close(out, parity_expected[f"{key}_embedding"])


def test_from_pretrained_takes_the_dtype_and_refuses_an_unknown_one(tiny_registry, cpu_flags):
    cpu_flags()
    assert ShapeEncoder.from_pretrained("vitb32").dtype == torch.float32
    assert ShapeEncoder.from_pretrained("vitb32", dtype="bfloat16").dtype == torch.bfloat16
    with pytest.raises(ValueError, match="'float64' is not one of"):
        ShapeEncoder.from_pretrained("vitb32", dtype="float64")


def test_the_dtype_is_an_embedding_setting(tiny_registry):
    float32 = embedding_settings(ShapeEncoder.from_pretrained("vitb32", dtype="float32"))
    bfloat16 = embedding_settings(ShapeEncoder.from_pretrained("vitb32", dtype="bfloat16"))
    assert (float32["dtype"], bfloat16["dtype"]) == ("float32", "bfloat16")
    assert {k: v for k, v in float32.items() if k != "dtype"} == {k: v for k, v in bfloat16.items() if k != "dtype"}
