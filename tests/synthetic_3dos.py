"""A tiny synthetic 3DOS data root, in the exact layout, keys, dtypes and label ids of the release.

Every ScanObjectNN class gets ``samples_per_class`` clouds in each of the two main-split
files, and every ModelNet40 class of SR1 and SR2 gets ``samples_per_class`` shapes in
each cache file, so the sizes of all sets follow from ``samples_per_class`` (see
:func:`expected_counts`). Each real class is a noisy ellipsoid with its own axes, and a
ModelNet40 class has the same ellipsoid as its ScanObjectNN counterpart, so a method
that matches real clouds to the synthetic references can do better than chance.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from benchmarks.data import (
    CLASS_SETS,
    MODELNET_POINTS,
    MODELNET_SPLITS,
    SCANOBJECTNN_CLASSES,
    SCANOBJECTNN_FILES,
    SCANOBJECTNN_POINTS,
    SOURCES,
    modelnet_reference_file,
)

# ModelNet40 class of the SR sets -> ScanObjectNN id of the same object kind.
MODELNET_TO_SCANOBJECTNN = {
    "chair": 4, "bookshelf": 8, "door": 7, "sink": 12, "sofa": 13,
    "bed": 10, "toilet": 14, "desk": 5, "monitor": 6, "table": 9,
}  # fmt: skip


def _class_axes(seed: int) -> np.ndarray:
    """Ellipsoid half-axes per ScanObjectNN id, ``[15, 3]``, distinct per class."""
    return np.random.default_rng([seed, 1]).uniform(0.2, 1.0, size=(len(SCANOBJECTNN_CLASSES), 3))


def _clouds(rng: np.random.Generator, axes: np.ndarray, num_points: int) -> np.ndarray:
    """One noisy ellipsoid surface per row of ``axes`` (``[n, 3]``) -> ``[n, num_points, 3]``."""
    directions = rng.normal(size=(len(axes), num_points, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    noise = rng.normal(scale=0.02, size=directions.shape)
    return (directions * axes[:, None, :] + noise).astype(np.float32)


def _write_h5(path: Path, data: np.ndarray, label: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with h5py.File(temporary, "w") as handle:
        handle.create_dataset("data", data=data, dtype=np.float32)
        handle.create_dataset("label", data=label, dtype=np.int64)
    os.replace(temporary, path)


def make_synthetic_release(root: str | Path, samples_per_class: int = 3, seed: int = 0) -> Path:
    """Write a synthetic 3DOS release under ``root`` and return ``root`` as a Path.

    Files written (the release's paths, keys ``data`` float32 and ``label`` int64):

    - ``ScanObjectNN/h5_files/main_split/{training,test}_objectdataset.h5``: all 15
      ScanObjectNN classes, ``samples_per_class`` each, ``[n, 2048, 3]``, label = class id,
      samples shuffled.
    - ``modelnet40_normal_resampled/ood_sets_cache/SR{1,2}_{train,test}.h5``:
      ``samples_per_class`` shapes per ModelNet40 class of the set, ``[n, 10000, 3]``,
      label = SR label (SR2: desk and table both 2, so label 2 has twice as many).
    """
    if samples_per_class < 1:
        raise ValueError(f"samples_per_class must be at least 1, got {samples_per_class}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    axes = _class_axes(seed)
    for relative in SCANOBJECTNN_FILES:
        ids = rng.permutation(np.repeat(np.arange(len(SCANOBJECTNN_CLASSES)), samples_per_class))
        _write_h5(root / relative, _clouds(rng, axes[ids], SCANOBJECTNN_POINTS), ids)
    for source in SOURCES:
        synthetic = CLASS_SETS[source].synthetic_labels
        for split in MODELNET_SPLITS:
            names = list(synthetic) * samples_per_class
            points = _clouds(rng, axes[[MODELNET_TO_SCANOBJECTNN[n] for n in names]], MODELNET_POINTS)
            labels = np.array([synthetic[n] for n in names], np.int64)
            _write_h5(root / modelnet_reference_file(source, split), points, labels)
    return root


def expected_counts(samples_per_class: int = 3) -> dict[str, int]:
    """Real samples per set in a synthetic release (both files together)."""
    return {
        name: 2 * samples_per_class * len(class_set.real_labels)
        for name, class_set in CLASS_SETS.items()
    }
