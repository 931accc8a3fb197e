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
