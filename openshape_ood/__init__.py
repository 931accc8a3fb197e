"""openshape-ood: zero-shot, open-vocabulary novelty detection on 3D point clouds."""

from .encoder import ShapeEncoder
from .metrics import closed_set_metrics, ood_metrics
from .model import PointBertConfig
from .registry import ModelEntry, get_entry, load_registry

__all__ = [
    "ModelEntry",
    "PointBertConfig",
    "ShapeEncoder",
    "closed_set_metrics",
    "get_entry",
    "load_registry",
    "ood_metrics",
]
__version__ = "0.1.0"
