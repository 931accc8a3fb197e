"""Nearest reference embeddings at corpus scale: exact search by blocked matrix multiplies, and approximate
indexes (faiss IVF-PQ or HNSW, the optional extra ``pip install "openshape-ood[scale]"``).

:func:`exact_search` finds the ``k`` nearest rows of ``reference (R, D)`` to each row of ``x (N, D)``: the
references are read in blocks (a memory-mapped or HDF5 array is never loaded whole), each block is multiplied
with the queries in float32 by torch (the machine's matrix-multiply library), the best ``k`` per query are kept
across blocks, and the ``k`` found are scored again in float64, so the distances returned are exact and equal
distances are ordered by reference index. It returns the same neighbours as scikit-learn's brute force
(``NearestNeighbors(algorithm="brute")``) but for references within float32 rounding (~1e-6) of each other.

:class:`ApproximateIndex` wraps a faiss index (:data:`INDEXES` lists the kinds and their settings, the one
table that checks, the command line and the docs read): it proposes ``rerank`` candidates per query, which are
then scored exactly against the reference rows. :func:`neighbour_search` is what :class:`~openshape_ood.methods.KNN`
calls: an exact search or an index over in-memory references, or the saved index of a reference bank
(:class:`openshape_ood.corpus.bank.ReferenceBank`).

Distances: ``"euclidean"`` (``||x - r||``) or ``"cosine"`` (``1 - cos``); smaller = nearer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..extras import install_command, require

__all__ = [
    "INDEXES",
    "SCALE_EXTRA",
    "ApproximateIndex",
    "ExactSearch",
    "IndexSetting",
    "check_index",
    "exact_search",
    "import_faiss",
    "neighbour_search",
]

#: What to install for the approximate indexes.
SCALE_EXTRA = install_command("faiss")
#: Bytes of one float32 score block (queries x references) and of one block of references read at a time.
BLOCK_BYTES = 64 << 20
#: Bytes of float64 candidate rows scored at a time: small enough to stay in cache (measured 10x faster than 64 MiB).
RESCORE_BYTES = 4 << 20


@dataclass(frozen=True)
class IndexSetting:
    """One setting of an approximate index: its default (``None``: chosen from the data, see ``help``),
    whether it is fixed when the index is built (``build``) or may change per search, and what it does."""

    default: Any
    build: bool
    help: str


#: Every search kind and its settings: the one table that checks, the command line and the docs read.
#: Defaults follow faiss's guidelines (github.com/facebookresearch/faiss/wiki/Guidelines-to-choose-an-index).
INDEXES: dict[str, dict[str, IndexSetting]] = {
    "exact": {},
    "ivfpq": {
        "nlist": IndexSetting(None, True, "inverted lists (k-means cells); default about sqrt(R), the low end of "
                              "faiss's 1-16 sqrt(R) because k-means training time grows with it"),
        "m": IndexSetting(None, True, "product-quantiser sub-vectors, a divisor of D; default the divisor nearest "
                          "D/16 (16 dimensions per byte of code)"),
        "nbits": IndexSetting(8, True, "bits per sub-vector code"),
        "train_size": IndexSetting(None, True, "references the quantisers are trained on, drawn at random; default "
                                   "64 per list and at least 40 per code (faiss asks for 39)"),
        "nprobe": IndexSetting(16, False, "lists searched per query"),
        "rerank": IndexSetting(32, False, "candidates per query scored exactly against the references"),
    },
    "hnsw": {
        "m": IndexSetting(32, True, "graph neighbours per node"),
        "ef_construction": IndexSetting(64, True, "candidate list while building"),
        "ef_search": IndexSetting(64, False, "candidate list while searching"),
        "rerank": IndexSetting(32, False, "candidates per query scored exactly against the references"),
    },
}
_METRICS = ("cosine", "euclidean")


def import_faiss():
    """The ``faiss`` module, or a :class:`~openshape_ood.extras.MissingExtraError` naming the extra to install."""
    return require("faiss", "the approximate reference indexes (ivfpq, hnsw; index='exact' needs nothing more)")


def check_index(kind: str, options: Mapping | None, owner: str = "the search") -> dict:
    """``options`` of index ``kind`` checked against :data:`INDEXES`, as a plain dict (unknown keys refused)."""
    if kind not in INDEXES:
        raise ValueError(f"unknown index {kind!r} for {owner}; use one of {list(INDEXES)}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(INDEXES[kind]))
    if unknown:
        allowed = list(INDEXES[kind]) or "none"
        raise ValueError(f"index {kind!r} of {owner} has no setting {unknown[0]!r}; its settings: {allowed}")
    for name, value in options.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"index setting {name} of {owner} must be a whole number of at least 1; got {value!r}")
    return options


def exact_search(
    x: np.ndarray,
    reference,
    k: int = 1,
    metric: str = "euclidean",
    *,
    block_bytes: int = BLOCK_BYTES,
    device=None,
    progress: bool | None = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices ``(N, k)`` of the ``k`` nearest rows of ``reference`` to each row of ``x``, nearest first.

    Args:
        x: ``(N, D)`` queries.
        reference: ``(R, D)`` references: a numpy array, a ``np.memmap`` or an ``h5py`` dataset (read in blocks
            of ``block_bytes``; anything with ``shape`` and row slicing).
        k: neighbours per query, 1 to R.
        metric: ``"euclidean"`` or ``"cosine"`` (``1 - cos``).
        block_bytes: memory of one block of float32 references and of one block of scores.
        device: torch device of the multiplies (``"cuda"``); default CPU.
        progress: a progress bar over the reference blocks.

    Returns:
        float64 distances (exact, scored again in float64) and int64 indices; equal distances by index.
    """
    import torch

    from ..progress import progress_bar

    x = np.asarray(x)
    _check_search(x, reference, k, metric)
    count, width = reference.shape
    queries = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)
    if metric == "cosine":
        queries = torch.nn.functional.normalize(queries, dim=1)
    rows = max(k, min(count, block_bytes // (4 * width)))  # references per block
    query_rows = max(1, min(len(x), block_bytes // (4 * rows)))  # queries per score block
    best = torch.full((len(x), k), -math.inf, device=queries.device)
    found = torch.zeros((len(x), k), dtype=torch.int64, device=queries.device)
    starts = range(0, count, rows)
    for start in progress_bar(starts, desc="exact search", unit="block", progress=progress):
        block = torch.as_tensor(np.ascontiguousarray(reference[start : start + rows], dtype=np.float32)).to(queries.device)
        if metric == "cosine":
            block = torch.nn.functional.normalize(block, dim=1)
            offset = None
        else:  # ||x - r||^2 = ||x||^2 - (2 x.r - ||r||^2): the nearest maximise 2 x.r - ||r||^2
            offset = -(block * block).sum(dim=1, keepdim=True)
        take = min(k, len(block))
        for first in range(0, len(x), query_rows):
            part = slice(first, first + query_rows)
            # References as rows, (block, queries): measured 1.5-2x faster here than (queries, block) with a
            # transposed reference block, which is the shape most BLAS libraries handle worst.
            if offset is None:
                similarity = block @ queries[part].T
            else:
                similarity = torch.addmm(offset, block, queries[part].T, alpha=2.0)
            values, indices = similarity.topk(take, dim=0) if take > 1 else similarity.max(dim=0, keepdim=True)
            values, indices = values.T, indices.T
            merged = torch.cat([best[part], values], dim=1).topk(k, dim=1)
            best[part] = merged.values
            found[part] = torch.cat([found[part], indices + start], dim=1).gather(1, merged.indices)
    return rescore(x, reference, found.cpu().numpy(), metric)


def rescore(x: np.ndarray, reference, candidates: np.ndarray, metric: str, k: int | None = None):
    """Exact float64 distances of ``x (N, D)`` to its ``candidates (N, c)`` (reference row indices, -1 = none),
    sorted (equal distances by index); the best ``k`` (default all ``c``) as ``(distances, indices)``.

    Queries are scored in groups whose gathered rows take at most :data:`RESCORE_BYTES`.
    """
    k = candidates.shape[1] if k is None else k
    distances = np.empty(candidates.shape)
    group = max(1, RESCORE_BYTES // (8 * candidates.shape[1] * reference.shape[1]))
    for first in range(0, len(x), group):
        chosen = candidates[first : first + group]
        present = np.unique(chosen[chosen >= 0])
        rows = np.asarray(reference[present], dtype=np.float64)  # increasing indices: what h5py datasets need
        vectors = rows[np.searchsorted(present, np.maximum(chosen, 0))]  # (n, c, D)
        queries = np.asarray(x[first : first + group], dtype=np.float64)[:, None, :]
        if metric == "cosine":
            cosines = np.einsum("ncd,ncd->nc", vectors, queries)
            part = 1.0 - cosines / (np.linalg.norm(vectors, axis=2) * np.linalg.norm(queries, axis=2))
        else:
            part = np.linalg.norm(vectors - queries, axis=2)
        part[chosen < 0] = np.inf
        distances[first : first + group] = part
    order = np.lexsort((candidates, distances), axis=1)[:, :k]  # by distance, then by index
    return np.take_along_axis(distances, order, axis=1), np.take_along_axis(candidates, order, axis=1)


class ExactSearch:
    """Exact search over ``reference`` (kept as given, not copied): :func:`exact_search` behind ``search(x, k)``."""

    kind = "exact"

    def __init__(self, reference, metric: str = "euclidean", device=None):
        self.reference = reference
        self.metric = metric
        self.device = device

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices ``(N, k)``, nearest first (:func:`exact_search`)."""
        return exact_search(x, self.reference, k, self.metric, device=self.device)


class ApproximateIndex:
    """A faiss index over references (``kind`` ``"ivfpq"`` or ``"hnsw"``, settings from :data:`INDEXES`) whose
    candidates are scored exactly against the reference rows: ``search(x, k)`` as :func:`exact_search`.

    Build it with :meth:`train` (on a sample of references) and :meth:`add` (every reference, in order, in
    blocks), or :meth:`build` for both; :meth:`to_bytes` / :meth:`from_bytes` save and restore it.

    Args:
        kind: ``"ivfpq"`` or ``"hnsw"``.
        metric: ``"euclidean"`` or ``"cosine"``.
        options: settings of ``kind`` (:data:`INDEXES`), missing ones at their defaults.
        count, dim: the number and width of the references (the data-dependent defaults need them).
    """

    def __init__(self, kind: str, metric: str, options: Mapping | None, count: int, dim: int):
        if kind == "exact" or kind not in INDEXES:
            raise ValueError(f"unknown approximate index {kind!r}; use one of {[k for k in INDEXES if k != 'exact']}")
        if metric not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {_METRICS}")
        self._faiss = import_faiss()  # first: without faiss, nothing else matters
        self.kind, self.metric, self.count, self.dim = kind, metric, count, dim
        self.options = resolved_options(kind, options, count, dim)
        self.reference = None
        self._index = None

    @property
    def build_options(self) -> dict:
        """The settings fixed when the index is built (a saved index must match them)."""
        return {name: value for name, value in self.options.items() if INDEXES[self.kind][name].build}

    def train(self, sample: np.ndarray) -> None:
        """Create the faiss index and train it on ``sample (n, D)`` references (HNSW needs no training)."""
        faiss, options = self._faiss, self.options
        faiss_metric = faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
        if self.kind == "hnsw":
            self._index = faiss.IndexHNSWFlat(self.dim, options["m"], faiss_metric)
            self._index.hnsw.efConstruction = options["ef_construction"]
            return
        quantiser = faiss.IndexFlat(self.dim, faiss_metric)
        self._index = faiss.IndexIVFPQ(quantiser, self.dim, options["nlist"], options["m"], options["nbits"], faiss_metric)
        self._index.own_fields = True
        quantiser.this.disown()  # the IVF index owns and frees it (own_fields)
        self._index.train(self._vectors(sample))

    def add(self, block: np.ndarray) -> None:
        """Add the next block of references (rows in file order)."""
        self._index.add(self._vectors(block))

    @property
    def size(self) -> int:
        """References added so far."""
        return 0 if self._index is None else int(self._index.ntotal)

    @classmethod
    def build(
        cls, reference, kind: str, metric: str = "euclidean", options: Mapping | None = None, *, seed: int = 0,
        progress: bool | None = False,
    ) -> ApproximateIndex:
        """An index over ``reference (R, D)`` (any array :func:`exact_search` takes), trained and filled."""
        from ..progress import progress_bar

        index = cls(kind, metric, options, *reference.shape)
        index.train(index.training_sample(reference, seed))
        rows = max(1, BLOCK_BYTES // (4 * index.dim))
        for start in progress_bar(range(0, index.count, rows), desc=f"{kind} index", unit="block", progress=progress):
            index.add(np.asarray(reference[start : start + rows]))
        return index.attach(reference)

    def training_sample(self, reference, seed: int = 0) -> np.ndarray:
        """The references the quantisers are trained on: ``train_size`` rows drawn at random (all if fewer)."""
        if self.kind == "hnsw":  # a graph needs no training
            return np.empty((0, self.dim), dtype=np.float32)
        size = self.options["train_size"]
        if size >= self.count:
            return np.asarray(reference[: self.count])
        chosen = np.sort(np.random.default_rng(seed).choice(self.count, size, replace=False))
        return np.asarray(reference[chosen])

    def attach(self, reference) -> ApproximateIndex:
        """Use ``reference`` (the rows indexed, in order) to score candidates exactly; returns self."""
        if tuple(reference.shape) != (self.count, self.dim):
            raise ValueError(f"the index holds {self.count} x {self.dim} references; got {tuple(reference.shape)}")
        if self.size != self.count:
            raise ValueError(f"the index holds {self.size} of its {self.count} references; finish building it")
        self.reference = reference
        return self

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices ``(N, k)``, nearest first: the index's ``rerank`` candidates scored exactly.

        Rows of ``x`` with fewer than ``k`` candidates get index -1 and distance ``inf`` in the missing places.
        """
        if self.reference is None:
            raise ValueError("the index has no references to score candidates against; call attach(reference)")
        x = np.asarray(x)
        _check_search(x, self.reference, k, self.metric)
        candidates = max(k, self.options["rerank"])
        if self.kind == "ivfpq":
            self._index.nprobe = self.options["nprobe"]
        else:
            self._index.hnsw.efSearch = max(self.options["ef_search"], candidates)
        _, found = self._index.search(self._vectors(x), candidates)
        return rescore(x, self.reference, found.astype(np.int64), self.metric, k)

    def to_bytes(self) -> bytes:
        """The faiss index, serialised (faiss's own format: arrays of numbers, nothing executable)."""
        return self._faiss.serialize_index(self._index).tobytes()

    def load_bytes(self, data: bytes) -> ApproximateIndex:
        """Restore the faiss index from :meth:`to_bytes`; returns self."""
        self._index = self._faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8).copy())
        if self._index.d != self.dim:
            raise ValueError(f"the saved index has dimension {self._index.d}, not {self.dim}")
        return self

    def _vectors(self, block) -> np.ndarray:
        vectors = np.ascontiguousarray(block, dtype=np.float32)
        if self.metric == "cosine":
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def resolved_options(kind: str, options: Mapping | None, count: int, dim: int) -> dict:
    """Every setting of ``kind``: those given, the rest at their defaults, data-dependent ones chosen for
    ``count`` references of width ``dim`` (see :data:`INDEXES`)."""
    given = {name: value for name, value in check_index(kind, options).items() if value is not None}
    resolved = {name: setting.default for name, setting in INDEXES[kind].items()} | given
    if kind == "ivfpq":
        if resolved["nlist"] is None:
            resolved["nlist"] = max(1, min(count // 39, round(math.sqrt(count))))
        if resolved["m"] is None:
            divisors = [m for m in range(1, dim + 1) if dim % m == 0]
            resolved["m"] = min(divisors, key=lambda m: (abs(m - dim / 16), m))
        if dim % resolved["m"]:
            raise ValueError(f"ivfpq setting m={resolved['m']} must divide the dimension {dim}")
        if resolved["train_size"] is None:
            # faiss warns below 39 training points per centroid: the lists' and the codes' (2**nbits).
            resolved["train_size"] = min(count, max(64 * resolved["nlist"], 40 * 2 ** resolved["nbits"]))
        needed = max(resolved["nlist"], 2 ** resolved["nbits"])
        if resolved["train_size"] < needed:
            raise ValueError(
                f"ivfpq with nlist={resolved['nlist']} and nbits={resolved['nbits']} needs at least {needed} training "
                f"references, has {resolved['train_size']} (of {count}); lower nlist or nbits, or use index='exact'"
            )
    return resolved


def neighbour_search(reference, kind: str = "exact", metric: str = "euclidean", options: Mapping | None = None,
                     progress: bool | None = False):
    """The search :class:`~openshape_ood.methods.KNN` uses: ``search(x, k) -> (distances, indices)``.

    ``reference`` is an array (exact search over it, or an :class:`ApproximateIndex` built on it) or a
    reference bank (anything with ``neighbour_search(kind, metric, options, progress)``: its saved index).
    """
    check_index(kind, options)
    if hasattr(reference, "neighbour_search"):
        return reference.neighbour_search(kind, metric, options, progress)
    if kind == "exact":
        return ExactSearch(reference, metric)
    return ApproximateIndex.build(reference, kind, metric, options, progress=progress)


def _check_search(x: np.ndarray, reference, k: int, metric: str) -> None:
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {_METRICS}")
    if x.ndim != 2 or len(reference.shape) != 2 or x.shape[1] != reference.shape[1]:
        raise ValueError(
            f"queries {x.shape} and references {tuple(reference.shape)} must be (N, D) and (R, D) of one width D"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= reference.shape[0]:
        raise ValueError(
            f"k must be an integer between 1 and the number of reference samples ({reference.shape[0]}); got {k}"
        )
