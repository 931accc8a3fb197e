"""Builders of reference banks for the tests: embeddings files in embed's format, with one folder per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openshape_ood import __version__
from openshape_ood.corpus.embedding_file import SETTING_KEYS, ResumableEmbeddingWriter


def unit_rows(count: int, dim: int, seed: int) -> np.ndarray:
    """``count`` random unit vectors of width ``dim``."""
    rows = np.random.default_rng(seed).normal(size=(count, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write_bank(path: Path, rows: np.ndarray, classes: list[str], model: str = "synthetic") -> Path:
    """An embeddings file written by embed's writer: row i is the file ``<classes[i]>/<i>.npy``."""
    settings = {key: "synthetic" for key in SETTING_KEYS} | {"embed_dim": rows.shape[1], "model": model}
    with ResumableEmbeddingWriter(path, settings, version=__version__, chunk_size=1000) as writer:
        for i, (row, cls) in enumerate(zip(rows, classes)):
            writer.add(f"{cls}/{i}.npy", row)
        writer.finish([f"{cls}/{i}.npy" for i, cls in enumerate(classes)])
    return path


def write_reference_shapes(folder: Path, classes: dict[str, list[int]]) -> list[str]:
    """Point clouds ``<folder>/<class>/r<seed>.npy`` (random blobs) and queries ``<folder>/../queries/q<i>.npy``
    (seeds of the first class plus 100). Returns the query files."""
    for cls, seeds in classes.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            np.save(folder / cls / f"r{seed}.npy", _blob(seed))
    queries = []
    (folder.parent / "queries").mkdir(exist_ok=True)
    for i, seed in enumerate(next(iter(classes.values()))):
        queries.append(str(folder.parent / "queries" / f"q{i}.npy"))
        np.save(queries[-1], _blob(seed + 100))
    return queries


def _blob(seed: int, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) * rng.uniform(0.5, 2.0, size=3)).astype(np.float32)
