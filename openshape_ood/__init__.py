"""openshape-ood: zero-shot, open-vocabulary novelty detection on 3D point clouds.

The names below are imported on first use (PEP 562), so that ``import openshape_ood``
and the command line's ``--help``, ``--version`` and ``models`` need no torch.
"""

from ._lazy import lazy_exports

__version__ = "0.1.0"

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    # Public name -> the module that defines it.
    {
        "OPENSHAPE_TEMPLATES": "classnames",
        "lvis_categories": "classnames",
        "PointBertConfig": "config",
        "Uni3DConfig": "config",
        "Decisions": "detectors.base",
        "NoveltyDetector": "detectors.single",
        "NoveltyScores": "detectors.functional",
        "score_novelty": "detectors.functional",
        "EnsembleDetector": "detectors.ensemble",
        "ShapeEncoder": "encoders.shape",
        "PointCloud": "io",
        "SUPPORTED_SUFFIXES": "io",
        "find_shape_files": "io",
        "is_shape_file": "io",
        "load_points": "io",
        "read_cloud": "io",
        "METHODS": "methods",
        "closed_set_metrics": "metrics",
        "ood_metrics": "metrics",
        "ModelEntry": "encoders._registry",
        "UnknownModelError": "encoders._registry",
        "get_entry": "encoders._registry",
        "load_registry": "encoders._registry",
        "TextEncoder": "encoders.text",
    },
)
