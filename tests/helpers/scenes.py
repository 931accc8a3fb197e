"""Scene files built by hand."""

from __future__ import annotations

from pathlib import Path

import textwrap

import numpy as np
import plyfile


def write_labelled_ply(path: Path, xyz: np.ndarray, labels: np.ndarray, name: str = "instance") -> None:
    """A binary PLY of float32 points with one int32 per-point label property ``name``."""
    vertex = np.empty(len(xyz), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), (name, "i4")])
    vertex["x"], vertex["y"], vertex["z"] = xyz.T
    vertex[name] = labels
    plyfile.PlyData([plyfile.PlyElement.describe(vertex, "vertex")]).write(str(path))


def best_iou(labels: np.ndarray, thing: np.ndarray) -> float:
    """The IoU of ``thing`` (a mask of points) with the segment of ``labels`` holding most of it; 0 when none does."""
    held = labels[thing & (labels >= 0)]
    if len(held) == 0:
        return 0.0
    segment = labels == np.bincount(held).argmax()
    return float((thing & segment).sum() / (thing | segment).sum())


def record_scatter_levels(monkeypatch) -> list[bool]:
    """Whether each call of the segmentation's scatter level (``pipeline.flat_variation``) is by range;
    the calls still compute it."""
    from openshape_ood.segmentation import pipeline

    by_range, measure = [], pipeline.flat_variation

    def recorded(variation, flat, ranges=None):
        by_range.append(ranges is not None)
        return measure(variation, flat, ranges)

    monkeypatch.setattr(pipeline, "flat_variation", recorded)
    return by_range


def write_scan_folder(folder, info: dict):
    """A folder laid out like scenes_real: one synthetic room (Y up) and its own load_gt.py, whose
    ``info`` is ``info``."""
    from ..synthetic_scene import make_synthetic_scene

    points, truth = make_synthetic_scene(spacing=0.015, seed=3)
    np.save(folder / "points.npy", points)
    np.save(folder / "truth.npy", truth)
    (folder / "load_gt.py").write_text(textwrap.dedent(f'''
        import numpy as np
        def list_scenes():
            return ["room"]
        def info(name):
            return {info!r}
        def load(name):
            return np.load({str(folder / "points.npy")!r}), np.load({str(folder / "truth.npy")!r}), {{}}
    '''))
    return folder
