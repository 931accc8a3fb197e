"""openshape-ood: zero-shot, open-vocabulary novelty detection on 3D point clouds.

The names below are imported on first use (PEP 562), so that ``import openshape_ood``
and the command line's ``--help``, ``--version`` and ``models`` need no torch.
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "OPENSHAPE_TEMPLATES": "classnames",
    "lvis_categories": "classnames",
    "PointBertConfig": "config",
    "Decisions": "decision",
    "NoveltyDetector": "detector",
    "NoveltyScores": "detector",
    "score_novelty": "detector",
    "EnsembleDetector": "ensemble",
    "ShapeEncoder": "encoder",
    "PointCloud": "io",
    "SUPPORTED_SUFFIXES": "io",
    "find_shape_files": "io",
    "is_shape_file": "io",
    "load_points": "io",
    "read_cloud": "io",
    "METHODS": "methods",
    "closed_set_metrics": "metrics",
    "ood_metrics": "metrics",
    "ModelEntry": "registry",
    "UnknownModelError": "registry",
    "get_entry": "registry",
    "load_registry": "registry",
    "TextEncoder": "text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
