"""Splitting touching objects where their surfaces meet at a concave edge."""

from __future__ import annotations

import numpy as np


def split_concave(objects: np.ndarray, centroids: np.ndarray, normals: np.ndarray, voxel_size: float) -> np.ndarray:
    """Objects split at their concave edges (placeholder: unchanged)."""
    return objects
