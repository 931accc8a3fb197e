"""Novelty methods scored against labelled reference shapes: class prototypes and k nearest neighbours."""

from __future__ import annotations

import hashlib

import numpy as np

from . import scores, search
from ._base import KnownClasses, _check_choice, _check_number, _ShapeMethod

__all__ = ["KNN", "Prototype"]


class Prototype(_ShapeMethod):
    """Distance to the nearest class prototype, the per-class mean of the reference shapes
    (the "cosine proto" baseline of 3DOS, Alliegro et al., NeurIPS 2022 Datasets and Benchmarks).

    Novelty ``min_c d(x, mean_c)``: higher = more novel. ``"cosine"``: ``1 - cos`` to the
    prototype's direction; ``"euclidean"``: the distance to the mean itself. Needs reference shapes.

    Args:
        metric: ``"cosine"`` or ``"euclidean"``.
    """

    def __init__(self, metric: str = "cosine"):
        self.metric = metric

    def _check_params(self) -> None:
        _check_choice(self, "metric", scores.METRICS)

    def _fit(self, known: KnownClasses) -> None:
        if self.metric == "cosine":
            # A class whose reference embeddings cancel out has no prototype direction: refuse it, never NaN.
            means = scores.class_prototypes(known.reference, known.reference_labels)
            flat = np.flatnonzero(np.linalg.norm(means, axis=1) < 1e-6)
            if flat.size:
                raise ValueError(
                    f"the reference embeddings of class(es) {flat.tolist()} cancel out (their mean is ~0), so "
                    "Prototype(metric='cosine') has no direction for them; add reference shapes of those classes "
                    "or use metric='euclidean' or KNN()"
                )
        super()._fit(known)

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.prototype(x, self.reference_, self.reference_labels_, self.metric)

    def _classify(self, x: np.ndarray) -> np.ndarray:
        return scores.prototype_distances(x, self.reference_, self.reference_labels_, self.metric).argmin(axis=1)


class KNN(_ShapeMethod):
    """Distance to the k-th nearest reference shape (Sun et al., "Out-of-distribution detection
    with deep nearest neighbors", ICML 2022; 3DOS's nearest-neighbour baseline with ``k=1``).

    Novelty: the ``metric`` distance to the ``k``-th nearest reference embedding, higher =
    more novel (3DOS reports the normality ``1 / novelty``). Needs reference shapes: an array, or a
    reference bank (:class:`openshape_ood.corpus.bank.ReferenceBank`, an embeddings file searched in blocks).

    Args:
        k: which neighbour, an integer from 1 to the number of reference shapes.
        metric: ``"euclidean"`` or ``"cosine"`` (``1 - cos``).
        index: how the neighbours are found (:data:`~openshape_ood.methods.search.INDEXES`): ``"exact"``
            (blocked matrix multiplies, the default), or the approximate ``"ivfpq"`` or ``"hnsw"`` (faiss, the
            extra ``pip install "openshape-ood[scale]"``), whose candidates are scored exactly. A reference
            bank uses the index saved beside its file (built and saved on first use).
        index_options: settings of ``index`` (``{"nprobe": 32}``); missing ones at their defaults.

    Fitted attributes: ``search_``, the search (``search(x, k) -> (distances, indices)``); :meth:`neighbours`
    calls it once per set of queries.
    """

    #: A reference bank is searched where it lies, not loaded (the detector passes it as it is).
    searches_bank = True

    def __init__(self, k: int = 1, metric: str = "euclidean", index: str = "exact", index_options: dict | None = None):
        self.k = k
        self.metric = metric
        self.index = index
        self.index_options = index_options

    def _check_params(self) -> None:
        _check_number(self, "k", integer=True, low=1)
        _check_choice(self, "metric", scores.METRICS)
        _check_choice(self, "index", list(search.INDEXES))
        if self.index_options is not None and not isinstance(self.index_options, dict):
            raise ValueError(
                f"The 'index_options' parameter of {type(self).__name__} must be a dict of index settings or None; "
                f"got {self.index_options!r}."
            )
        try:
            search.check_index(self.index, self.index_options, type(self).__name__)
        except ValueError as exc:
            raise ValueError(f"The 'index_options' parameter of {type(self).__name__} is invalid: {exc}.") from None

    def _fit(self, known: KnownClasses) -> None:
        if self.k > len(known.reference):
            raise ValueError(
                f"The 'k' parameter of {type(self).__name__} must be at most the number of reference shapes "
                f"({len(known.reference)}); got {self.k}."
            )
        super()._fit(known)
        self.search_ = search.neighbour_search(known.reference, self.index, self.metric, self.index_options)
        self._last_search = None

    def neighbours(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices ``(N, k)`` of the ``k`` nearest reference shapes to ``x``, nearest first.

        The last search is kept, keyed by a digest of ``x``: novelty, class and similarity of the same shapes
        (what ``score_novelty`` and ``openshape-ood score`` ask for) share one search, which takes minutes
        against a corpus-sized reference bank.
        """
        self._check_fitted()
        x = np.ascontiguousarray(x)
        key = (x.shape, x.dtype.str, hashlib.blake2b(x.data, digest_size=16).digest())
        if self._last_search is None or self._last_search[0] != key:
            self._last_search = (key, self.search_.search(x, self.k))
        return self._last_search[1]

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return self.neighbours(x)[0][:, self.k - 1]

    def _classify(self, x: np.ndarray) -> np.ndarray:
        return self.reference_labels_[self.neighbours(x)[1][:, 0]]

    def reference_novelty(self) -> np.ndarray:
        """Novelty ``(R,)`` of each reference shape (higher = more novel), leaving itself out (its own nearest
        neighbour)."""
        self._check_fitted()
        if self.k + 1 > len(self.reference_):
            raise ValueError(
                f"scoring the reference shapes with k={self.k} leaving each one out needs more than {self.k} of them; "
                f"got {len(self.reference_)}"
            )
        reference = getattr(self.reference_, "embeddings", self.reference_)  # a bank's rows, or the array
        rows = max(1, search.BLOCK_BYTES // (4 * reference.shape[1]))
        return np.concatenate([
            self.search_.search(np.asarray(reference[start : start + rows]), self.k + 1)[0][:, self.k]
            for start in range(0, len(reference), rows)
        ])
