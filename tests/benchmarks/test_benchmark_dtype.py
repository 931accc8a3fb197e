"""The 3DOS benchmark computes in float32 unless asked, and keys its cache and provenance by the dtype."""

import torch

from benchmarks.synthetic_to_real import run_benchmark
from openshape_ood import ShapeEncoder
from openshape_ood import device as device_module


def test_float32_unless_asked_and_the_dtype_keys_the_cache(release, tiny_registry, tmp_path, monkeypatch):
    # A CPU on which "auto" would pick bfloat16: the benchmark must still default to float32.
    monkeypatch.delenv("OPENSHAPE_OOD_DTYPE", raising=False)
    monkeypatch.setattr(device_module, "_cpu_flags", lambda: {"avx512_bf16"})
    device_module.cpu_has_native_bf16.cache_clear()
    dtypes = []
    embed = ShapeEncoder.embed
    monkeypatch.setattr(ShapeEncoder, "embed", lambda self, clouds, **kw: dtypes.append(self.dtype) or embed(self, clouds, **kw))

    def run(**kwargs):
        return run_benchmark("SR1", "vitb32", data_root=release, methods=["max_cosine"], templates="none",
                             cache_dir=tmp_path / "cache", progress=False, **kwargs)  # fmt: skip

    try:
        first = run()
        assert first.provenance["dtype"] == "float32" and set(dtypes) == {torch.float32}
        dtypes.clear()
        second = run(dtype="bfloat16")  # another dtype: another cache entry, encoded again
        assert second.provenance["dtype"] == "bfloat16" and set(dtypes) == {torch.bfloat16}
        dtypes.clear()
        assert run(dtype="auto").provenance["dtype"] == "bfloat16"  # auto is keyed by what it resolves to
        assert run().provenance["dtype"] == "float32"
        assert dtypes == []  # both from the cache
        assert len(list((tmp_path / "cache").glob("vitb32-scanobjectnn-*.safetensors"))) == 2
    finally:
        device_module.cpu_has_native_bf16.cache_clear()
