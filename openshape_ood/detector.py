"""Known classes in, novelty out: :func:`score_novelty` and the scikit-learn-style :class:`NoveltyDetector`.

Scores are NOVELTY scores: higher = more novel. The 3DOS metrics take normality (higher =
known): pass them the negated scores. Inputs are L2-normalised shape embeddings ``(N, D)``
from a shape encoder; the known classes are class names (embedded with the paired CLIP
text tower; a class may have several names), their text embeddings ``(C, D)``, or labelled
reference shape embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import NotFittedError

from . import scores
from .registry import ModelEntry, get_entry
from .text import TextEncoder, check_class_names, lvis_categories, resolve_templates, spoken_name

TEXT_METHODS = ("max_cosine", "mcm", "energy", "negative_labels")
SHAPE_METHODS = ("prototype", "knn")
METHODS = TEXT_METHODS + SHAPE_METHODS + ("fused",)

# The options each method reads and their defaults; ``None`` in the constructor means "the default".
_DEFAULTS: dict[str, dict] = {
    "max_cosine": {},
    "mcm": {"temperature": 1.0},
    "energy": {"temperature": 1.0},
    "negative_labels": {"temperature": 0.01, "negatives": None, "negative_fraction": 0.15, "groups": 1, "seed": 0},
    "prototype": {"metric": "cosine"},
    "knn": {"k": 1, "metric": "euclidean"},
    "fused": {"weight": 0.5, "text_method": "max_cosine", "shape_method": "knn"},
}
_OPTIONS = (
    "temperature",
    "negatives",
    "negative_fraction",
    "groups",
    "seed",
    "metric",
    "k",
    "weight",
    "text_method",
    "shape_method",
)

Reference = tuple[np.ndarray, np.ndarray] | Mapping[str, np.ndarray]
# One entry per known class: its name, or several names of the same class (synonyms, merged classes).
KnownNames = Sequence[str | Sequence[str]]


class NoveltyScores(NamedTuple):
    """What :func:`score_novelty` returns.

    Attributes:
        scores: ``(N,)`` novelty scores, higher = more novel.
        predicted: ``(N,)`` index into ``classes`` of each sample's nearest known class.
        classes: the known classes: names, or ``0..C-1`` when given as bare embeddings.
    """

    scores: np.ndarray
    predicted: np.ndarray
    classes: np.ndarray


class NoveltyDetector:
    """Zero-shot novelty detection against known classes, in the style of scikit-learn.

    Scores are NOVELTY scores: higher = more novel. Fit it with the known classes
    (``known=``: class names or their text embeddings) and/or labelled reference shapes
    (``reference=``), then :meth:`score_samples`, or :meth:`calibrate` a threshold and
    :meth:`predict` (known class index, or -1 for novel).

    Args:
        method: one of :data:`METHODS`: ``"max_cosine"``, ``"mcm"``, ``"energy"``,
            ``"negative_labels"`` (text), ``"prototype"``, ``"knn"`` (reference shapes) or
            ``"fused"`` (both); see :mod:`openshape_ood.scores`.
        text_encoder: a :class:`TextEncoder` (or any object with ``embed_classes`` and
            ``embed_dim``) to embed class names.
        model: the shape encoder the embeddings come from: its registry name (``"vitl14"``),
            its :class:`ModelEntry`, or the encoder itself (anything with ``.entry``). Builds
            the paired text encoder when ``text_encoder`` is not given, and is checked
            against the embedding width.
        templates: prompt templates for class names (``"openshape64"``, ``"none"`` or a list).
        temperature: softmax temperature (mcm, energy: 1.0; negative_labels: 0.01).
        negatives: negative_labels: candidate negative names (default: the LVIS names), of
            which the ``negative_fraction`` (0.15) least similar to the known classes are kept
            (known names themselves are always dropped), or final negative embeddings ``(M, D)``.
        groups, seed: negative_labels: number of random groups of negatives (1) and their shuffle seed (0).
        metric: ``"cosine"`` or ``"euclidean"`` (prototype: cosine; knn: euclidean, as 3DOS).
        k: knn: which nearest neighbour (1).
        weight: fused: weight of the text score (0.5).
        text_method, shape_method: fused: the two scores combined (``"max_cosine"``, ``"knn"``).
        threshold: decision threshold on the novelty score; :meth:`calibrate` sets it from data.
        progress: show progress bars while embedding class names.
    """

    def __init__(
        self,
        method: str = "max_cosine",
        *,
        text_encoder=None,
        model=None,
        templates: str | Sequence[str] = "openshape64",
        temperature: float | None = None,
        negatives: Sequence[str] | np.ndarray | None = None,
        negative_fraction: float | None = None,
        groups: int | None = None,
        seed: int | None = None,
        metric: str | None = None,
        k: int | None = None,
        weight: float | None = None,
        text_method: str | None = None,
        shape_method: str | None = None,
        threshold: float | None = None,
        progress: bool = True,
    ):
        self.method = method
        self.text_encoder = text_encoder
        self.model = model
        self.templates = templates
        self.temperature = temperature
        self.negatives = negatives
        self.negative_fraction = negative_fraction
        self.groups = groups
        self.seed = seed
        self.metric = metric
        self.k = k
        self.weight = weight
        self.text_method = text_method
        self.shape_method = shape_method
        self.threshold = threshold
        self.progress = progress

    def fit(self, known: KnownNames | np.ndarray | None = None, reference: Reference | None = None) -> NoveltyDetector:
        """Learn the known classes.

        Args:
            known: class names, or their L2-normalised text embeddings ``(C, D)``; needed by
                the text methods and ``"fused"``. An entry may be a tuple of names of one
                class (``["bed", ("desk", "table")]``: two classes): every name is embedded
                and the class's cosine to a sample is its best name's, before any score.
            reference: labelled known shape embeddings, ``(embeddings (R, D), labels (R,))``
                or ``{class name: embeddings (n, D)}``; needed by ``"prototype"``, ``"knn"``
                and ``"fused"``.

        Fitted attributes: ``classes_`` (a class with several names as their tuple),
        ``embed_dim_``, ``text_embeddings_`` (one row per name), ``text_labels_`` (the class
        of each row, or ``None`` when every class has one row), ``negative_embeddings_``
        (and ``negative_names_`` when chosen from names), ``reference_``,
        ``reference_labels_``, ``threshold_``.
        """
        text_part, shape_part = self._parts()
        self._check_options(text_part, shape_part)
        resolve_templates(self.templates)
        if text_part is None and known is not None:
            raise ValueError(
                f"method {self.method!r} scores against reference shapes and does not use known=; "
                "pass reference= only, or use method='fused' to combine it with text"
            )
        if text_part is not None and known is None:
            raise ValueError(f"method {self.method!r} needs known=: known-class names or their text embeddings (C, D)")
        if shape_part is not None and reference is None:
            raise ValueError(
                f"method {self.method!r} needs reference=: labelled known shape embeddings, "
                "(embeddings, labels) or {class name: embeddings}"
            )
        if shape_part is None and reference is not None:
            raise ValueError(
                f"method {self.method!r} scores against text and does not use reference=; "
                "use method='knn', 'prototype' or 'fused' for reference shapes"
            )
        self.text_encoder_ = None
        self.text_embeddings_ = self.text_labels_ = self.negative_embeddings_ = self.negative_names_ = None
        self.reference_ = self.reference_labels_ = None
        if text_part is not None:
            self.text_embeddings_, self.text_labels_, self.classes_ = self._embed_known(known)
            self.embed_dim_ = self.text_embeddings_.shape[1]
            if text_part == "negative_labels":
                self.negative_embeddings_ = self._negative_embeddings(known)
        if shape_part is not None:
            self.reference_, self.reference_labels_, reference_classes = _as_reference(reference)
            if text_part is None:
                self.classes_ = reference_classes
                self.embed_dim_ = self.reference_.shape[1]
            else:
                _check_dim(self.reference_.shape[1], self.embed_dim_, "the reference shape embeddings")
        model_dim = _model_dim(self.model)
        if model_dim is not None:
            _check_dim(model_dim, self.embed_dim_, f"embeddings of the shape encoder {_model_label(self.model)}")
        if self.method == "fused":
            if shape_part == "knn" and len(self.reference_) <= self._option("k"):
                raise ValueError(f"fused with knn needs more than k={self._option('k')} reference samples")
            self.text_known_ = self._text_scores(self.reference_, text_part)
            self.shape_known_ = self._shape_scores(self.reference_, shape_part, leave_one_out=True)
        self.threshold_ = self.threshold
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Novelty scores ``(N,)`` of L2-normalised shape embeddings ``X (N, D)``: higher = more novel."""
        x = self._validate(X)
        text_part, shape_part = self._parts()
        if shape_part is None:
            return self._text_scores(x, text_part)
        if text_part is None:
            return self._shape_scores(x, shape_part)
        return scores.fused(
            self._text_scores(x, text_part),
            self._shape_scores(x, shape_part),
            self.text_known_,
            self.shape_known_,
            self._option("weight"),
        )

    def classify(self, X: np.ndarray) -> np.ndarray:
        """Index into ``classes_`` of each sample's nearest known class ``(N,)``, never -1."""
        x = self._validate(X)
        if self.text_embeddings_ is not None:
            return scores.class_similarity(x, self.text_embeddings_, self.text_labels_).argmax(axis=1)
        metric = self._option("metric")
        if self._parts()[1] == "prototype":
            return scores.prototype_distances(x, self.reference_, self.reference_labels_, metric).argmin(axis=1)
        return self.reference_labels_[scores.nearest_references(x, self.reference_, 1, metric)[1][:, 0]]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Known class index per sample ``(N,)``, or -1 where the novelty score exceeds ``threshold_``."""
        predicted = self.classify(X)
        if self.threshold_ is None:
            raise ValueError("no decision threshold: call calibrate(known_embeddings) first or pass threshold=")
        predicted[self.score_samples(X) > self.threshold_] = -1
        return predicted

    def calibrate(self, known_embeddings: np.ndarray, tpr: float = 0.95) -> NoveltyDetector:
        """Set ``threshold_`` so that a ``tpr`` share of these known samples is accepted as known.

        ``threshold_`` becomes the smallest novelty score with at least ``tpr`` of the
        samples at or below it; :meth:`predict` calls a sample novel when its score is above.
        """
        if not 0.0 < tpr <= 1.0:
            raise ValueError(f"tpr must be in (0, 1]; got {tpr}")
        self.threshold_ = float(np.quantile(self.score_samples(known_embeddings), tpr, method="inverted_cdf"))
        return self

    def _parts(self) -> tuple[str | None, str | None]:
        """The text method and the reference-shape method in use (either may be ``None``)."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; use one of {METHODS}")
        if self.method in TEXT_METHODS:
            return self.method, None
        if self.method in SHAPE_METHODS:
            return None, self.method
        text_part = self.text_method or _DEFAULTS["fused"]["text_method"]
        shape_part = self.shape_method or _DEFAULTS["fused"]["shape_method"]
        if text_part not in TEXT_METHODS:
            raise ValueError(f"unknown text_method {text_part!r}; use one of {TEXT_METHODS}")
        if shape_part not in SHAPE_METHODS:
            raise ValueError(f"unknown shape_method {shape_part!r}; use one of {SHAPE_METHODS}")
        return text_part, shape_part

    def _used_options(self, text_part: str | None, shape_part: str | None) -> dict:
        used = dict(_DEFAULTS[self.method])
        for part in (text_part, shape_part):
            if part is not None:
                used.update(_DEFAULTS[part])
        return used

    def _check_options(self, text_part: str | None, shape_part: str | None) -> None:
        used = self._used_options(text_part, shape_part)
        for name in _OPTIONS:
            if getattr(self, name) is not None and name not in used:
                users = [method for method in METHODS if name in _DEFAULTS[method]]
                raise ValueError(f"option {name}= does not apply to method {self.method!r}; it is an option of {users}")

    def _option(self, name: str):
        value = getattr(self, name)
        return value if value is not None else self._used_options(*self._parts())[name]

    def _encoder(self, why: str):
        if self.text_encoder_ is None:
            if self.text_encoder is not None:
                self.text_encoder_ = self.text_encoder
            elif self.model is not None:
                self.text_encoder_ = TextEncoder.from_pretrained(_model_entry(self.model), progress=self.progress)
            else:
                raise ValueError(
                    f"{why} need a text encoder: pass model= (the shape encoder, or its registry name "
                    "such as 'vitl14') or text_encoder=TextEncoder.from_pretrained('vitl14')"
                )
        return self.text_encoder_

    def _embed_known(self, known) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Text embeddings (one row per name), the class of each row (``None``: one row per class), classes."""
        if _is_names(known):
            groups = _name_groups(known)
            names = check_class_names([name for group in groups for name in group], "known class names")
            embeddings = self._encoder("class names").embed_classes(names, self.templates)
            embeddings = scores.as_embeddings(embeddings, "text embeddings from the text encoder")
            if all(len(group) == 1 for group in groups):
                return embeddings, None, np.array(names)
            classes = np.empty(len(groups), dtype=object)
            classes[:] = [group if len(group) > 1 else group[0] for group in groups]
            return embeddings, np.repeat(np.arange(len(groups)), [len(group) for group in groups]), classes
        embeddings = scores.as_embeddings(known, "known text embeddings")
        return embeddings, None, np.arange(len(embeddings))

    def _negative_embeddings(self, known) -> np.ndarray:
        negatives = self.negatives
        if negatives is not None and not _is_names(negatives):
            embeddings = scores.as_embeddings(negatives, "negative embeddings")
            _check_dim(embeddings.shape[1], self.embed_dim_, "the negative embeddings")
            return embeddings
        candidates = lvis_categories() if negatives is None else check_class_names(negatives, "negative names")
        if _is_names(known):
            taken = {spoken_name(name).casefold() for group in _name_groups(known) for name in group}
            candidates = [name for name in candidates if spoken_name(name).casefold() not in taken]
        if not candidates:
            raise ValueError("no negative names left once the known classes are removed; pass more negatives=")
        embeddings = self._encoder("negative names").embed_classes(candidates, self.templates)
        embeddings = scores.as_embeddings(embeddings, "negative embeddings from the text encoder", self.embed_dim_)
        keep = scores.least_similar(embeddings, self.text_embeddings_, self._option("negative_fraction"))
        self.negative_names_ = np.array([candidates[i] for i in keep])
        return embeddings[keep]

    def _text_scores(self, x: np.ndarray, part: str) -> np.ndarray:
        if part == "max_cosine":
            return scores.max_cosine(x, self.text_embeddings_, self.text_labels_)
        temperature = self._option("temperature")
        if part == "mcm":
            return scores.mcm(x, self.text_embeddings_, temperature, self.text_labels_)
        if part == "energy":
            return scores.energy(x, self.text_embeddings_, temperature, self.text_labels_)
        return scores.negative_labels(
            x,
            self.text_embeddings_,
            self.negative_embeddings_,
            temperature,
            self._option("groups"),
            self._option("seed"),
            self.text_labels_,
        )

    def _shape_scores(self, x: np.ndarray, part: str, leave_one_out: bool = False) -> np.ndarray:
        metric = self._option("metric")
        if part == "prototype":
            return scores.prototype(x, self.reference_, self.reference_labels_, metric)
        # A reference sample scored against its own bank is its own nearest neighbour: skip it.
        return scores.knn(x, self.reference_, self._option("k") + int(leave_one_out), metric)

    def _validate(self, X) -> np.ndarray:
        if not hasattr(self, "embed_dim_"):
            raise NotFittedError("this NoveltyDetector is not fitted yet; call fit(known=..., reference=...) first")
        x = scores.as_embeddings(X, "shape embeddings")
        _check_dim(x.shape[1], self.embed_dim_, "the shape embeddings")
        return x


def score_novelty(
    shape_embeddings: np.ndarray,
    known: KnownNames | np.ndarray | Reference,
    method: str = "max_cosine",
    *,
    reference: Reference | None = None,
    **options,
) -> NoveltyScores:
    """Novelty of each shape against known classes: higher = more novel.

    Args:
        shape_embeddings: L2-normalised shape embeddings ``(N, D)`` (``ShapeEncoder.embed``).
        known: class names (embedded with the text tower paired with ``model=``, or with
            ``text_encoder=``; an entry may be a tuple of names of one class, scored by its
            best name), their text embeddings ``(C, D)``, or labelled reference shape
            embeddings (``(embeddings, labels)`` or ``{class name: embeddings}``) for the
            ``"knn"`` and ``"prototype"`` methods.
        method: see :class:`NoveltyDetector`.
        reference: labelled reference shapes besides text ``known``, for ``method="fused"``.
        options: the other :class:`NoveltyDetector` arguments (``model``, ``text_encoder``,
            ``templates``, ``temperature``, ``k``, ...).

    Returns:
        :class:`NoveltyScores`: ``scores`` (higher = more novel), ``predicted`` (index of
        the nearest known class) and ``classes``.
    """
    detector = NoveltyDetector(method, **options)
    if _is_reference(known):
        if method in TEXT_METHODS:
            raise ValueError(
                f"known holds labelled reference shapes, which method {method!r} does not use; "
                "pass method='knn' or 'prototype', or class names / text embeddings as known"
            )
        if reference is not None:
            raise ValueError("known already holds the reference shapes; pass reference= only with text known classes")
        detector.fit(reference=known)
    else:
        detector.fit(known=known, reference=reference)
    return NoveltyScores(
        detector.score_samples(shape_embeddings), detector.classify(shape_embeddings), detector.classes_
    )


def _is_names(value) -> bool:
    """Names, or entries that are a name or a list/tuple of names (one class each)."""
    # An empty list counts as names so that it gets the "empty class list" error.
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and all(isinstance(v, str) or _is_name_list(v) for v in value)
    )


def _is_name_list(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _name_groups(known) -> list[tuple[str, ...]]:
    """The names of each known class, one tuple per entry of ``known``."""
    if isinstance(known, str):
        check_class_names(known, "known class names")  # raises: one string is not a list of classes
    groups = [(entry,) if isinstance(entry, str) else tuple(entry) for entry in known]
    empty = [i for i, group in enumerate(groups) if not group]
    if empty:
        raise ValueError(f"known classes {empty} have no names; give every class at least one name")
    return groups


def _is_reference(value) -> bool:
    return isinstance(value, Mapping) or (isinstance(value, tuple) and len(value) == 2 and np.ndim(value[0]) == 2)


def _as_reference(reference: Reference) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(embeddings (R, D), labels (R,) in 0..C-1, classes (C,))`` from either reference form."""
    if isinstance(reference, Mapping):
        names = check_class_names(list(reference), "reference class names")
        parts = [scores.as_embeddings(reference[name], f"reference embeddings of {name!r}") for name in names]
        widths = {part.shape[1] for part in parts}
        if len(widths) > 1:
            raise ValueError(f"reference embeddings have different widths {sorted(widths)}; use one shape encoder")
        labels = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
        return np.concatenate(parts), labels, np.array(names)
    if not (isinstance(reference, (tuple, list)) and len(reference) == 2):
        raise ValueError("reference must be (embeddings (R, D), labels (R,)) or {class name: embeddings (n, D)}")
    embeddings = scores.as_embeddings(reference[0], "reference embeddings")
    raw_labels = np.asarray(reference[1])
    if raw_labels.shape != (len(embeddings),):
        raise ValueError(
            f"reference labels must have shape ({len(embeddings)},), one per embedding; got {raw_labels.shape}"
        )
    classes, labels = np.unique(raw_labels, return_inverse=True)
    return embeddings, labels, classes


def _model_entry(model) -> ModelEntry:
    if isinstance(model, str):
        return get_entry(model)
    if isinstance(model, ModelEntry):
        return model
    entry = getattr(model, "entry", None)
    if not isinstance(entry, ModelEntry):
        raise ValueError(
            f"cannot find the registry entry of model {model!r}; pass a registry name such as 'vitl14', "
            "or text_encoder= explicitly"
        )
    return entry


def _model_dim(model) -> int | None:
    if model is None:
        return None
    if isinstance(model, str):
        return get_entry(model).embed_dim
    return getattr(model, "embed_dim", None)


def _model_label(model) -> str:
    return repr(model if isinstance(model, str) else getattr(model, "name", None) or type(model).__name__)


def _check_dim(dim: int, expected: int, what: str) -> None:
    if dim != expected:
        raise ValueError(
            f"{what} have dimension {dim} but the known classes have {expected}: shape and text embeddings "
            "must come from a registered pair; build the text side with TextEncoder.from_pretrained(<the shape "
            "encoder's registry name>) or model=<that name>"
        )
