"""Naming what a shape looks like: its nearest names in an open vocabulary.

A novel shape is, by definition, none of the known classes; the names it sits closest to in
a large vocabulary (the 1,156 LVIS categories by default) hint at what it is instead. The
vocabulary is embedded by the text tower paired with the shape encoder, with the same
prompt templates as the known classes, and kept in the text encoder's disk cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..classnames import check_class_names, lvis_categories, spoken_name
from ..methods.search import exact_search

__all__ = ["Descriptions", "check_k", "describe", "format_description", "nearest_names", "top_names", "vocabulary_embeddings"]


class Descriptions(NamedTuple):
    """What :func:`describe` returns, best match first in each row.

    Attributes:
        names: ``(N, k)`` vocabulary names (as given in the vocabulary).
        cosines: ``(N, k)`` cosine of each shape to each of its names (higher = closer): float64, computed
            exactly by :func:`nearest_names`; float32 where :meth:`EnsembleDetector.describe
            <openshape_ood.detectors.ensemble.EnsembleDetector.describe>` averages the members' cosines.
    """

    names: np.ndarray
    cosines: np.ndarray


def nearest_names(
    embeddings: np.ndarray, name_embeddings: np.ndarray, names: Sequence[str], k: int = 3
) -> Descriptions:
    """The ``k`` names whose L2-normalised embeddings have the highest cosine to each shape embedding, found by
    :func:`~openshape_ood.methods.search.exact_search` (blocks of names, never a full sort); names whose cosines are equal in float32 may come in any order.

    Args:
        embeddings: ``(N, D)`` L2-normalised shape embeddings.
        name_embeddings: ``(V, D)`` L2-normalised text embeddings of ``names``, same space.
        names: the ``V`` names.
        k: names per shape, at most ``V``.
    """
    x, text = np.asarray(embeddings), np.asarray(name_embeddings)
    if x.ndim != 2 or text.ndim != 2:
        raise ValueError(f"expected (N, D) shape and (V, D) name embeddings; got {x.shape} and {text.shape}")
    if x.shape[1] != text.shape[1]:
        raise ValueError(
            f"shape embeddings have dimension {x.shape[1]} but the vocabulary's have {text.shape[1]}: embed the "
            "vocabulary with the text tower paired with the shape encoder"
        )
    if len(names) != len(text):
        raise ValueError(f"{len(names)} names for {len(text)} name embeddings; pass one name per row")
    _check_vocabulary_k(k, len(names))
    # The blocked top-k of the reference search: no (N, V) matrix for a large vocabulary, no full sort, and the
    # k cosines found scored again in float64. Names within float32 rounding of each other (exact ties among
    # them) may come in any order, as in exact_search.
    distances, indices = exact_search(x, text, k, "cosine")
    return Descriptions(np.asarray(names, dtype=object)[indices], 1.0 - distances)


def check_k(k) -> None:
    """A ``ValueError`` unless ``k``, a number of names to give, is a whole number of at least 1.

    Called before any vocabulary is embedded; :func:`top_names` checks it against the vocabulary size.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number of names of at least 1; got {k!r}")


def top_names(cosines: np.ndarray, names: Sequence[str], k: int = 3) -> Descriptions:
    """The ``k`` names with the highest cosine in each row of ``cosines (N, V)``; ties keep vocabulary order."""
    _check_vocabulary_k(k, len(names))
    order = np.argsort(-cosines, axis=1, kind="stable")[:, :k]
    return Descriptions(np.asarray(names, dtype=object)[order], np.take_along_axis(cosines, order, axis=1))


def _check_vocabulary_k(k, size: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= size:
        raise ValueError(f"k must be a whole number from 1 to the vocabulary size {size}, got {k!r}")


def vocabulary_embeddings(
    text_encoder, vocabulary: Sequence[str] | None = None, templates: str | Sequence[str] = "openshape64"
) -> tuple[tuple[str, ...], np.ndarray]:
    """The vocabulary's names (``None``: the 1,156 LVIS categories) and their ``(V, D)`` text embeddings.

    ``text_encoder`` is anything with ``embed_classes(names, templates)``; a
    :class:`~openshape_ood.encoders.text.TextEncoder` keeps the embeddings in its disk cache.
    """
    names = tuple(lvis_categories() if vocabulary is None else check_class_names(vocabulary, "vocabulary"))
    return names, np.asarray(text_encoder.embed_classes(list(names), templates), dtype=np.float32)


def describe(
    embeddings: np.ndarray,
    text_encoder,
    *,
    k: int = 3,
    vocabulary: Sequence[str] | None = None,
    templates: str | Sequence[str] = "openshape64",
) -> Descriptions:
    """The ``k`` nearest names of each shape in an open vocabulary, with their cosines.

    Args:
        embeddings: ``(N, D)`` L2-normalised shape embeddings.
        text_encoder: the :class:`~openshape_ood.encoders.text.TextEncoder` paired with the shape encoder
            (anything with ``embed_classes(names, templates)``).
        k: names per shape.
        vocabulary: candidate names; ``None`` for the 1,156 LVIS categories.
        templates: prompt templates, as for the known classes (``"openshape64"``, ``"none"`` or a list).
    """
    names, name_embeddings = vocabulary_embeddings(text_encoder, vocabulary, templates)
    return nearest_names(embeddings, name_embeddings, names, k)


def format_description(names: Sequence[str], cosines: Sequence[float]) -> str:
    """One shape's names as ``"bucket 0.31, trash can 0.29"`` (underscores spoken as spaces)."""
    return ", ".join(f"{spoken_name(name)} {cosine:.2f}" for name, cosine in zip(names, cosines))
