"""benchmarks.embedding_cache: keyed, validated, atomically written shape-embedding cache."""

import dataclasses
import os
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from benchmarks import embedding_cache
from benchmarks.embedding_cache import (
    cached_embeddings,
    content_fingerprint,
    default_embedding_cache_dir,
)
from openshape_ood import get_entry


def unit_rows(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def setup(tiny_registry, tmp_path):
    """A data file, the tiny vitb32 entry, and ``get``: cached_embeddings of 5 rows, recording computations."""
    data = tmp_path / "data.h5"
    data.write_bytes(b"some data")
    entry = get_entry("vitb32")
    calls = []

    def compute(seed=0):
        def run():
            calls.append(seed)
            return unit_rows(5, entry.embed_dim, seed)

        return run

    def get(preparation=None, compute_fn=None, model=entry):
        return cached_embeddings(
            tmp_path / "cache", model, "set", [data], preparation or {"seed": 0}, 5, compute_fn or compute()
        )

    return SimpleNamespace(get=get, calls=calls, data=data, entry=entry, cache=tmp_path / "cache", compute=compute)


def test_miss_then_hit(setup):
    get, calls, cache = setup.get, setup.calls, setup.cache
    first, hit = get()
    assert not hit and calls == [0]
    second, hit = get()
    assert hit and calls == [0]
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32 and first.shape == (5, 64)
    assert [path.name[:11] for path in cache.iterdir()] == ["vitb32-set-"]  # one file, no temporaries


def test_key_covers_preparation_data_file_and_model(setup):
    get, calls, data, compute = setup.get, setup.calls, setup.data, setup.compute
    get()
    get({"seed": 1}, compute_fn=compute(1))
    assert calls == [0, 1]
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same content
    assert get()[1] and calls == [0, 1]
    other = dataclasses.replace(setup.entry, sha256="0" * 64)  # other weights under the same name
    get(model=other)
    assert calls == [0, 1, 0]
    get()
    assert calls == [0, 1, 0]


def test_other_content_of_the_same_size_and_mtime_is_encoded_again(setup):
    get, calls, data = setup.get, setup.calls, setup.data
    get()
    stat = data.stat()
    data.write_bytes(b"some DATA")  # as cp -p / rsync -a / tar -x leave a replaced file
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_size == stat.st_size and data.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.warns(RuntimeWarning, match=r"data files changed since it was written \(other content fingerprint\)"):
        _, hit = get()
    assert not hit and calls == [0, 0]
    assert get()[1] and calls == [0, 0]  # the rebuilt entry holds the new fingerprint
    assert len(list(setup.cache.iterdir())) == 1  # rebuilt in place, not beside the stale one


def test_large_hdf5_file_is_fingerprinted_by_labels_and_sampled_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_cache, "WHOLE_FILE_BYTES", 0)  # every file counts as large
    monkeypatch.setattr(embedding_cache, "SAMPLED_ROWS", 3)
    data = np.arange(10 * 4 * 3, dtype=np.float32).reshape(10, 4, 3)  # 480 bytes: sampled as a "large" dataset
    monkeypatch.setattr(embedding_cache, "_SMALL_DATASET_BYTES", 100)

    def fingerprint(points, labels):
        path = tmp_path / "f.h5"
        with h5py.File(path, "w") as handle:
            handle["data"], handle["label"] = points, labels
        return content_fingerprint(path)

    labels = np.arange(10)
    base = fingerprint(data, labels)
    assert base.startswith("h5rows:")
    assert fingerprint(data, labels) == base
    assert fingerprint(data, labels[::-1]) != base  # labels are hashed whole
    sampled = data.copy()
    sampled[9, 0, 0] += 1  # rows 0, 4 (rounded 4.5), 9 are sampled
    assert fingerprint(sampled, labels) != base
    unsampled = data.copy()
    unsampled[1, 0, 0] += 1
    assert fingerprint(unsampled, labels) == base  # the price of not reading gigabytes
    monkeypatch.setattr(embedding_cache, "WHOLE_FILE_BYTES", 1 << 30)
    assert fingerprint(unsampled, labels).startswith("sha256:") and fingerprint(unsampled, labels) != fingerprint(data, labels)


@pytest.mark.parametrize(
    "tensors, metadata, reason",
    [
        (None, None, "unreadable"),
        ({"embeddings": unit_rows(4, 64)}, "same", r"float32 \[4, 64\], not float32 \[5, 64\]"),
        ({"embeddings": 2 * unit_rows(5, 64)}, "same", "not L2-normalised"),
        ({"embeddings": np.full((5, 64), np.nan, np.float32)}, "same", "NaN"),
        ({"other": unit_rows(5, 64)}, "same", "holds no 'embeddings' tensor"),
        ({"embeddings": unit_rows(5, 64)}, {"key": "{}"}, "written for another model"),
        ({"embeddings": -unit_rows(5, 64)}, "same", "do not match their checksum"),  # still unit rows
    ],
)
def test_untrustworthy_file_is_rebuilt(setup, tensors, metadata, reason):
    get, calls = setup.get, setup.calls
    expected, _ = get()
    (path,) = setup.cache.iterdir()
    if tensors is None:
        path.write_bytes(b"\x00" * 20)
    else:
        with safe_open(str(path), framework="numpy") as handle:
            key_metadata = handle.metadata()
        save_file(tensors, str(path), metadata=key_metadata if metadata == "same" else metadata)
    with pytest.warns(RuntimeWarning, match=f"cannot be trusted.*{reason}"):
        rebuilt, hit = get()
    assert not hit and calls == [0, 0]
    np.testing.assert_array_equal(rebuilt, expected)
    assert get()[1]  # the rebuilt file is trusted again


def test_bad_embeddings_are_not_cached(setup):
    get, cache = setup.get, setup.cache
    with pytest.raises(ValueError, match="not L2-normalised; they are not cached"):
        get(compute_fn=lambda: np.ones((5, 64), np.float32))
    with pytest.raises(ValueError, match=r"float32 \[3, 64\], not float32 \[5, 64\]"):
        get(compute_fn=lambda: unit_rows(3, 64))
    assert not cache.exists() or not any(cache.iterdir())


def test_default_directory_follows_the_cache_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENSHAPE_OOD_CACHE", str(tmp_path))
    assert default_embedding_cache_dir() == tmp_path / "embeddings"


def test_unwritable_cache_folder_warns_and_computes(setup):
    setup.cache.write_text("a file where the cache folder should be")
    with pytest.warns(RuntimeWarning, match="embedding cache .* cannot be written"):
        embeddings, hit = setup.get()
    assert not hit and setup.calls == [0]
    np.testing.assert_array_equal(embeddings, unit_rows(5, 64))
