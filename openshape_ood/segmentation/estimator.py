"""``SceneSegmenter``: :func:`~openshape_ood.segmentation.segment_scene` as a scikit-learn style estimator."""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator

from .pipeline import segment_scene
from .settings import SETTINGS, SegmentationSettings

__all__ = ["SceneSegmenter"]


class SceneSegmenter(BaseEstimator):
    """Segment a scan into objects (see :func:`~openshape_ood.segmentation.segment_scene`).

    Parameters are ``up_axis`` (``"x"``, ``"y"``, ``"z"`` or ``None`` to find the support plane),
    every setting of :data:`~openshape_ood.segmentation.settings.SETTINGS` (``None``: chosen from the
    scan) and ``seed``; they are stored as given and checked in :meth:`fit`. The keyword list is made
    from the settings table, so each setting is written once.

    Attributes:
        labels_: ``(N,)`` int64 object id of every point, ``0..K-1`` by decreasing size, -1 background.
        settings_: the :class:`~openshape_ood.segmentation.settings.SegmentationSettings` used: every
            value, what was measured on the scan, and ``source`` saying which were given and which chosen.

    Example::

        segmenter = SceneSegmenter("z", max_size=2.0).fit(points)
        segmenter.labels_, segmenter.settings_.voxel_size
    """

    labels_: np.ndarray
    settings_: SegmentationSettings

    def __init__(self, up_axis=None, **params):  # the signature is set below from SETTINGS
        self.up_axis = up_axis
        unknown = set(params) - set(_PARAMETERS)
        if unknown:
            raise TypeError(f"SceneSegmenter got unknown parameters {sorted(unknown)}; it takes {['up_axis', *_PARAMETERS]}")
        for name, default in _PARAMETERS.items():
            setattr(self, name, params.get(name, default))

    def fit(self, points, y=None) -> SceneSegmenter:
        """Segment ``points`` ``(N, 3)`` or ``(N, C >= 3)``, xyz first in metres; ``y`` is ignored."""
        settings = {setting.name: getattr(self, setting.name) for setting in SETTINGS}
        self.labels_, self.settings_ = segment_scene(
            points, self.up_axis, seed=self.seed, return_settings=True, **settings
        )
        return self

    def fit_predict(self, points, y=None) -> np.ndarray:
        """:meth:`fit`, then the labels of the points."""
        return self.fit(points).labels_


_PARAMETERS = {**{setting.name: None for setting in SETTINGS}, "seed": 0}
SceneSegmenter.__init__.__signature__ = inspect.Signature(
    [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("up_axis", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
        *(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value) for name, value in _PARAMETERS.items()),
    ]
)
