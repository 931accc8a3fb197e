"""Deterministic stand-ins for the shape and text encoders, and hand-placed embeddings."""

from __future__ import annotations

import hashlib

import numpy as np

from openshape_ood.encoders._registry import get_entry


def unit(dim: int, *axes: float) -> np.ndarray:
    """The unit vector of width ``dim`` along ``axes`` (the first coordinates, the rest zero)."""
    vector = np.zeros(dim)
    vector[: len(axes)] = axes
    return vector / np.linalg.norm(vector)


class FakeTextEncoder:
    """TextEncoder stand-in: fixed vectors for some names, a seeded random unit vector for any other."""

    def __init__(self, dim: int, fixed: dict[str, np.ndarray] | None = None):
        self.embed_dim = dim
        self.fixed = fixed or {}
        self.calls: list[tuple[list[str], object]] = []

    def embed_classes(self, names, templates="openshape64"):
        self.calls.append((list(names), templates))
        return np.stack([self._vector(name) for name in names]).astype(np.float32)

    def _vector(self, name: str) -> np.ndarray:
        if name in self.fixed:
            return self.fixed[name]
        seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        vector = np.random.default_rng(seed).normal(size=self.embed_dim)
        return vector / np.linalg.norm(vector)


class FakeShapeEncoder:
    """ShapeEncoder stand-in: the embedding is the normalised mean point, zero-padded to the model's width."""

    def __init__(self, name: str = "vitb32"):
        self.name = name
        self.entry = get_entry(name)
        self.embed_dim = self.entry.embed_dim

    def embed(self, clouds: np.ndarray, up_axis: str = "y") -> np.ndarray:
        assert up_axis == "y"
        means = np.asarray(clouds, dtype=np.float64).mean(axis=1)
        padded = np.zeros((len(means), self.embed_dim), dtype=np.float32)
        padded[:, :3] = means / np.linalg.norm(means, axis=1, keepdims=True)
        return padded


DIM = 512  # vitb32
CHAIR, TABLE, NOVEL = unit(DIM, 1, 0, 0), unit(DIM, 0, 1, 0), unit(DIM, 0, 0, 1)
