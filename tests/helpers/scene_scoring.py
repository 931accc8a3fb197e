"""Builders for the tests of scene scoring: a toy scene and an encoder whose embeddings are set by hand."""

from __future__ import annotations

import numpy as np


class HandMadeEncoder:
    """Stands in for a ShapeEncoder: object i (by its mean x) gets embedding ROWS[i]; records its calls."""

    def __init__(self, rows: dict[int, np.ndarray]):
        self.rows = rows
        self.embed_dim = len(next(iter(rows.values()))) if rows else 3
        self.calls = []

    def embed(self, clouds, *, up_axis, seed, batch_size, progress):
        self.calls.append((clouds, up_axis, seed))
        return np.stack([self.rows[int(round(cloud[:, 0].mean()))] for cloud in clouds]).astype(np.float32)


def unit(*values) -> np.ndarray:
    vector = np.array(values, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def toy_scene() -> tuple[np.ndarray, np.ndarray]:
    """Three objects of 10, 20, 30 points centred at x = 0, 1, 2, with colours, and 5 background points."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2, -1], [10, 20, 30, 5])
    xyz = rng.normal(0, 0.05, (len(labels), 3)) + np.where(labels >= 0, labels, 5)[:, None] * [1.0, 0, 0]
    rgb = rng.uniform(0, 1, (len(labels), 3))
    return np.concatenate([xyz, rgb], axis=1), labels
