"""Novelty scores over L2-normalised embeddings (numpy in, numpy out).

Every score here is a NOVELTY score: higher = more novel (less like the known classes).
The 3DOS metrics take normality (higher = known): pass them the negated scores.

Shapes: ``x`` is ``(N, D)`` shape embeddings, ``text`` is ``(C, D)`` known-class text
embeddings (or ``(K, D)`` with ``text_labels (K,)`` in ``0..C-1`` when a class has several
names), ``reference`` is ``(R, D)`` known shape embeddings with integer ``labels`` ``(R,)``
in ``0..C-1``. All embeddings must be L2-normalised rows. Scores are float64 ``(N,)``.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import logsumexp, softmax

from .search import exact_search

__all__ = [
    "METRICS",
    "as_embeddings",
    "class_prototypes",
    "class_similarity",
    "cosine_similarity",
    "energy",
    "fused",
    "knn",
    "least_similar",
    "max_cosine",
    "mcm",
    "nearest_references",
    "negative_labels",
    "prototype",
    "prototype_distances",
]

METRICS = ("cosine", "euclidean")


def real_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array, or a ``ValueError`` naming ``name``: complex values, text, ragged lists
    and other non-numbers are refused (numpy would drop an imaginary part with only a warning)."""
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nesting
        raise ValueError(f"{name} must be a numeric array; got a {type(x).__name__} numpy cannot read ({exc})") from None
    if np.iscomplexobj(array):
        raise ValueError(f"{name} hold complex numbers; pass real values (embeddings and scores are real)")
    if array.dtype.kind not in "iuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be a numeric array; got {type(x).__name__} of dtype {array.dtype}"
            ) from None
        if array.dtype.kind not in "iuf" or np.iscomplexobj(array):
            raise ValueError(f"{name} must be a numeric array; got {type(x).__name__}")
    return array.astype(np.float64, copy=False)


def as_embeddings(x, name: str, dim: int | None = None) -> np.ndarray:
    """``x`` as a float64 ``(n, D)`` array of finite, L2-normalised real rows; a ``ValueError`` says what to fix.

    ``x`` may be a torch tensor on any device, gradients recorded or not (they are not followed).
    """
    torch = sys.modules.get("torch")  # not imported here: a tensor can exist only if torch is
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    array = real_array(x, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, D); got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least one embedding")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{name} contain NaN or infinite values in rows {bad[:10].tolist()}"
            f"{' ...' if bad.size > 10 else ''}; drop those samples or embed them again"
        )
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} have dimension {array.shape[1]}, expected {dim}")
    norms = np.linalg.norm(array, axis=1)
    off = np.flatnonzero(np.abs(norms - 1.0) > 1e-3)
    if off.size:
        raise ValueError(
            f"{name} are not L2-normalised (row {off[0]} has norm {norms[off[0]]:.4g}); "
            "normalise them with x / np.linalg.norm(x, axis=1, keepdims=True)"
        )
    return array


def cosine_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cosine similarities ``(N, M)`` between L2-normalised rows of ``x (N, D)`` and ``y (M, D)``."""
    return np.asarray(x, dtype=np.float64) @ np.asarray(y, dtype=np.float64).T


def class_similarity(x: np.ndarray, text: np.ndarray, text_labels: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarities ``(N, C)`` of each sample to each known class.

    ``text (K, D)`` holds the class text embeddings; ``text_labels (K,)`` gives the class
    ``0..C-1`` of each row, so that a class may have several names (synonyms, or classes
    merged into one), and gets the cosine of its best-matching name. ``None``: one row
    per class.
    """
    similarity = cosine_similarity(x, text)
    if text_labels is None:
        return similarity
    labels = _check_labels(text_labels, len(text), "text embedding")
    counts = np.bincount(labels)
    if np.any(counts == 0):
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no text embedding; relabel 0..C-1")
    per_class = np.full((len(similarity), len(counts)), -np.inf)
    np.maximum.at(per_class.T, labels, similarity.T)
    return per_class


def max_cosine(x: np.ndarray, text: np.ndarray, text_labels: np.ndarray | None = None) -> np.ndarray:
    """Novelty (higher = more novel): minus the highest cosine similarity to any known-class text embedding."""
    return -class_similarity(x, text, text_labels).max(axis=1)


def mcm(x: np.ndarray, text: np.ndarray, temperature: float = 1.0, text_labels: np.ndarray | None = None) -> np.ndarray:
    """Novelty (higher = more novel): minus the maximum concept matching score.

    MCM (Ming et al., NeurIPS 2022): the largest softmax probability of ``cosine / temperature``
    over the known classes; the published temperature is 1. With ``text_labels`` a class's
    cosine is its best name's (:func:`class_similarity`).
    """
    _check_positive(temperature, "temperature")
    return -softmax(class_similarity(x, text, text_labels) / temperature, axis=1).max(axis=1)


def energy(
    x: np.ndarray, text: np.ndarray, temperature: float = 1.0, text_labels: np.ndarray | None = None
) -> np.ndarray:
    """Novelty (higher = more novel): the energy ``-temperature * logsumexp(cosine / temperature)``.

    Energy score (Liu et al., NeurIPS 2020) with cosine similarities to the known-class text
    embeddings as logits (one per class: with ``text_labels``, its best name's, see
    :func:`class_similarity`).
    """
    _check_positive(temperature, "temperature")
    return -temperature * logsumexp(class_similarity(x, text, text_labels) / temperature, axis=1)


def negative_labels(
    x: np.ndarray,
    text: np.ndarray,
    negatives: np.ndarray,
    temperature: float = 0.01,
    groups: int = 1,
    seed: int = 0,
    text_labels: np.ndarray | None = None,
) -> np.ndarray:
    """Novelty (higher = more novel): the share of softmax mass that goes to negative labels.

    NegLabel-style (Jiang et al., ICLR 2024). The softmax of ``cosine / temperature`` runs over
    the known classes ``text (C, D)`` (with ``text_labels``, one logit per class from its best
    name, see :func:`class_similarity`) and the negative-label embeddings ``negatives (M, D)``
    together; the score is the mass on the negatives, in ``[0, 1]``. With ``groups > 1`` the
    negatives are shuffled (``seed``) into that many near-equal groups, the share is computed
    against each group and the shares are averaged.
    """
    _check_positive(temperature, "temperature")
    negatives = np.asarray(negatives, dtype=np.float64)
    if not 1 <= groups <= len(negatives):
        raise ValueError(f"groups must be between 1 and the number of negatives ({len(negatives)}); got {groups}")
    known = logsumexp(class_similarity(x, text, text_labels) / temperature, axis=1)
    negative_logits = cosine_similarity(x, negatives) / temperature
    order = np.random.default_rng(seed).permutation(len(negatives)) if groups > 1 else np.arange(len(negatives))
    shares = []
    for group in np.array_split(order, groups):
        rest = logsumexp(negative_logits[:, group], axis=1)
        shares.append(np.exp(rest - np.logaddexp(known, rest)))  # in log space: exp(100) overflows float32
    return np.mean(shares, axis=0)


def least_similar(candidates: np.ndarray, known: np.ndarray, fraction: float = 0.15) -> np.ndarray:
    """Indices of the ``fraction`` of ``candidates (M, D)`` least similar to the known classes ``known (C, D)``.

    A candidate is ranked by its highest cosine similarity to any known class, so the
    known classes themselves and their near-synonyms come last and are left out. Returns
    at least one index, most dissimilar first. Used to pick negative labels.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
    similarity = cosine_similarity(candidates, known).max(axis=1)
    count = max(1, round(fraction * len(similarity)))
    return np.argsort(similarity, kind="stable")[:count]


def class_prototypes(reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-class means ``(C, D)`` of ``reference (R, D)`` with ``labels (R,)`` in ``0..C-1`` (not renormalised)."""
    labels = _check_labels(labels, len(reference))
    counts = np.bincount(labels)
    if np.any(counts == 0):
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no reference sample; relabel 0..C-1")
    sums = np.zeros((len(counts), np.shape(reference)[1]))
    np.add.at(sums, labels, np.asarray(reference, dtype=np.float64))
    return sums / counts[:, None]


def prototype_distances(x: np.ndarray, reference: np.ndarray, labels: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Distances ``(N, C)`` from each sample to each class prototype (higher = farther).

    ``"cosine"``: ``1 - cosine`` to the prototype direction (the normalised class mean);
    ``"euclidean"``: Euclidean distance to the class mean itself.
    """
    _check_metric(metric)
    prototypes = class_prototypes(reference, labels)
    if metric == "cosine":
        return 1.0 - cosine_similarity(x, prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True))
    return cdist(np.asarray(x, dtype=np.float64), prototypes)


def prototype(x: np.ndarray, reference: np.ndarray, labels: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Novelty (higher = more novel): distance to the nearest class prototype (per-class mean of the reference).

    ``metric`` as in :func:`prototype_distances`. 3DOS's "cosine proto" normality is
    ``1 - 0.5 * novelty`` of the cosine variant.
    """
    return prototype_distances(x, reference, labels, metric).min(axis=1)


def nearest_references(
    x: np.ndarray, reference: np.ndarray, k: int = 1, metric: str = "euclidean"
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices ``(N, k)`` of the ``k`` nearest reference embeddings, nearest first.

    ``"cosine"`` distance is ``1 - cosine``; ``"euclidean"`` is the Euclidean distance. Exact: blocked
    matrix multiplies, the neighbours found scored again in float64
    (:func:`~openshape_ood.methods.search.exact_search`); equal distances in reference order.
    """
    _check_metric(metric)
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= len(reference):
        raise ValueError(
            f"k must be an integer between 1 and the number of reference samples ({len(reference)}); got {k}"
        )
    return exact_search(np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64), k, metric)


def knn(x: np.ndarray, reference: np.ndarray, k: int = 1, metric: str = "euclidean") -> np.ndarray:
    """Novelty (higher = more novel): distance to the ``k``-th nearest reference embedding.

    With ``k=1`` and the default Euclidean metric this is 3DOS's nearest-neighbour score
    (3DOS reports the normality ``1 / novelty``).
    """
    return nearest_references(x, reference, k, metric)[0][:, k - 1]


def fused(
    text_scores: np.ndarray,
    shape_scores: np.ndarray,
    text_known: np.ndarray,
    shape_known: np.ndarray,
    weight: float = 0.5,
) -> np.ndarray:
    """Novelty (higher = more novel): ``weight * text + (1 - weight) * shape`` on a common scale.

    Both inputs are novelty scores of the same samples, one from the text side (e.g.
    :func:`max_cosine`) and one from the reference shapes (e.g. :func:`knn`). Each is first
    standardised with the mean and standard deviation of the same score on known samples
    (``text_known``, ``shape_known``; e.g. the reference shapes), so one unit is one
    known-sample standard deviation on both sides.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1]; got {weight}")
    return weight * _standardise(text_scores, text_known, "text_known") + (1.0 - weight) * _standardise(
        shape_scores, shape_known, "shape_known"
    )


def _standardise(scores: np.ndarray, known: np.ndarray, name: str) -> np.ndarray:
    known = np.asarray(known, dtype=np.float64)
    spread = known.std()
    if known.size < 2 or not spread > 0:
        raise ValueError(
            f"the known-sample scores {name} are all equal (or fewer than two), so they set no scale; "
            "use more, and more varied, known samples"
        )
    return (np.asarray(scores, dtype=np.float64) - known.mean()) / spread


def _check_labels(labels: np.ndarray, count: int, item: str = "reference sample") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer) or (count and labels.min() < 0):
        raise ValueError(f"labels must be {count} non-negative integers, one per {item}")
    return labels


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")


def _check_positive(value: float, name: str) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive; got {value}")
