"""The point contract every reader keeps and :mod:`openshape_ood.prepare` relies on.

Readers return colours in [0, 1] (:func:`rgb_to_unit`), sample :data:`MESH_SAMPLES` points from a
mesh surface, and take seeds that :func:`check_seed` accepts; faces or clouds without colour are
:data:`DEFAULT_RGB` grey. Defined here, at the first stage, so that no reader imports a later one.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_NUM_POINTS", "DEFAULT_RGB", "MAX_SEED", "MESH_SAMPLES", "check_seed", "rgb_to_unit"]

#: Points per cloud fed to the encoder, as upstream OpenShape.
DEFAULT_NUM_POINTS = 10000
#: Points sampled from a mesh surface when a mesh file is read: as many as the encoder takes.
MESH_SAMPLES = DEFAULT_NUM_POINTS
#: The grey of points and faces without colour, as upstream OpenShape.
DEFAULT_RGB = 0.4

#: Seeds are stored as 64-bit signed integers (HDF5 attributes, caches): ``0 <= seed < 2**63``.
MAX_SEED = 2**63 - 1


def check_seed(seed: object, name: str = "seed") -> None:
    """Raise ``ValueError`` naming ``name`` unless ``seed`` is ``None`` or an integer in ``[0, MAX_SEED]``."""
    if seed is None:
        return
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be an integer from 0 to {MAX_SEED}, got {seed!r}")


def rgb_to_unit(rgb: np.ndarray) -> np.ndarray | None:
    """Colours in [0, 1]: kept when already there, divided by 255 when in [0, 255], ``None`` otherwise.

    ``None`` means the values are not colours (negative, above 255 or not finite).
    """
    if not (np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 255):
        return None
    return rgb / 255.0 if rgb.max() > 1 else rgb
