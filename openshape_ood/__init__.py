"""openshape-ood: zero-shot, open-vocabulary novelty detection on 3D point clouds."""

from .encoder import ShapeEncoder
from .model import PointBertConfig
from .registry import ModelEntry, get_entry, load_registry

__all__ = ["ModelEntry", "PointBertConfig", "ShapeEncoder", "get_entry", "load_registry"]
__version__ = "0.1.0"
