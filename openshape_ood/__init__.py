"""openshape-ood: zero-shot, open-vocabulary novelty detection on 3D point clouds."""

from .detector import NoveltyDetector, NoveltyScores, score_novelty
from .encoder import ShapeEncoder
from .io import SUPPORTED_SUFFIXES, is_shape_file, load_points
from .metrics import closed_set_metrics, ood_metrics
from .model import PointBertConfig
from .registry import ModelEntry, get_entry, load_registry
from .text import OPENSHAPE_TEMPLATES, TextEncoder, lvis_categories

__all__ = [
    "OPENSHAPE_TEMPLATES",
    "SUPPORTED_SUFFIXES",
    "ModelEntry",
    "NoveltyDetector",
    "NoveltyScores",
    "PointBertConfig",
    "ShapeEncoder",
    "TextEncoder",
    "closed_set_metrics",
    "get_entry",
    "is_shape_file",
    "load_points",
    "load_registry",
    "lvis_categories",
    "ood_metrics",
    "score_novelty",
]
__version__ = "0.1.0"
