"""One shape encoder's detector: :class:`NoveltyDetector`, a scikit-learn estimator on :class:`~openshape_ood.detectors.base.BaseDetector`.

Import it from :mod:`openshape_ood` (or :mod:`openshape_ood.detectors.functional`). Its scores are
NOVELTY scores: higher = more novel (:meth:`NoveltyDetector.novelty`); scikit-learn's
names keep scikit-learn's meaning (``score_samples`` is the normality ``-novelty``, see
:mod:`openshape_ood.detectors.base`, which owns thresholds, p-values and verdicts). Inputs are
L2-normalised shape embeddings ``(N, D)`` from a shape encoder; the known classes are
class names (embedded with the paired CLIP text tower; a class may have several names),
their text embeddings ``(C, D)``, or labelled reference shape embeddings. The scoring
itself is a method object of :mod:`openshape_ood.methods`. Several shape encoders:
:class:`~openshape_ood.EnsembleDetector`, a sibling on the same base.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ..methods import scores
from ..methods.search import rescore
from ..classnames import check_class_names, is_class_names, resolve_templates
from .base import BaseDetector, check_progress, check_threshold
from .describe import Descriptions, check_k, nearest_names, vocabulary_embeddings
from ..methods import KnownClasses, NoveltyMethod, make_method, method_label
from ..encoders._registry import get_entry, model_entry
from ..encoders.text import TextEncoder

__all__ = ["KnownNames", "NoveltyDetector", "Reference"]

Reference = tuple[np.ndarray, np.ndarray] | Mapping[str, np.ndarray]
# One entry per known class: its name, or several names of the same class (synonyms, merged classes).
KnownNames = Sequence[str | Sequence[str]]


class NoveltyDetector(BaseDetector):
    """Zero-shot novelty detection against known classes, a scikit-learn estimator.

    Fit it with the known classes (``known=``: class names or their text embeddings)
    and/or labelled reference shapes (``reference=``), as the method needs. Then:

    * :meth:`novelty`: the library's NOVELTY score, higher = more novel (as :func:`score_novelty`);
    * :meth:`score_samples`: scikit-learn's normality, higher = more normal: ``-novelty``;
    * :meth:`decision_function`: ``score_samples - offset_``, negative = novel (needs a
      threshold: ``threshold=`` or :meth:`calibrate`);
    * :meth:`predict`: the known class index, or -1 for novel;
    * :meth:`classify`: the nearest known class, never -1;
    * after :meth:`calibrate`: :meth:`p_values` (split-conformal) and :meth:`select_novel`
      (Benjamini-Hochberg at a false discovery rate), see :mod:`openshape_ood.detectors.conformal`;
    * :meth:`describe`: the nearest names of each shape in an open vocabulary.

    Args:
        method: a method object of :mod:`openshape_ood.methods` (``MCM(temperature=0.01)``),
            or a name in :data:`~openshape_ood.methods.METHODS` for the method with its
            defaults: ``"max_cosine"``, ``"mcm"``, ``"energy"``, ``"negative_labels"``
            (class names), ``"prototype"``, ``"knn"`` (reference shapes), ``"fused"`` (both).
        model: the shape encoder the embeddings come from: its registry name (``"vitl14"``),
            its :class:`ModelEntry`, or the encoder itself (anything with ``.entry``). Builds
            the paired text encoder when ``text_encoder`` is not given, and is checked
            against the embedding width. Several shape encoders: use
            :class:`~openshape_ood.EnsembleDetector` (a list here is refused).
        text_encoder: a :class:`TextEncoder` (or any object with ``embed_classes`` and
            ``embed_dim``) to embed class names.
        templates: prompt templates for class names (``"openshape64"``, ``"none"`` or a list).
        threshold: decision threshold on the NOVELTY score (novel above it); :meth:`calibrate`
            sets one from known samples instead.
        progress: show progress bars while embedding class names; ``None``: when stderr is a terminal
            (or this runs in Jupyter).

    Fitted attributes: ``method_`` (a fitted clone of the method), ``classes_`` (a class
    with several names as their tuple), ``embed_dim_``, ``text_embeddings_`` (one row per
    name, or ``None``), ``text_labels_`` (the class of each row, or ``None`` when every
    class has one row), ``reference_``, ``reference_labels_``, ``threshold_`` (on the
    novelty) and ``offset_ = -threshold_`` (on ``score_samples``), ``None`` until set;
    ``calibration_novelty_`` (sorted novelty of the :meth:`calibrate` samples, or ``None``).
    """

    def __init__(
        self,
        method: NoveltyMethod | str = "max_cosine",
        *,
        model=None,
        text_encoder=None,
        templates: str | Sequence[str] = "openshape64",
        threshold: float | None = None,
        progress: bool | None = None,
    ):
        self.method = method
        self.model = model
        self.text_encoder = text_encoder
        self.templates = templates
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
                or ``{class name: embeddings (n, D)}``, or a reference bank
                (:class:`~openshape_ood.corpus.bank.ReferenceBank`, an embeddings file that ``"knn"``
                searches on disk; the other methods load its rows); needed by ``"prototype"``, ``"knn"``
                and ``"fused"``.
        """
        method = clone(make_method(self.method))
        method.check_params()  # before any class name is embedded
        resolve_templates(self.templates)
        check_threshold(self.threshold, type(self).__name__)
        check_progress(self.progress, type(self).__name__)
        _check_model(self.model)
        label = method_label(self.method)
        uses_text, uses_reference = "known" in method.needs, "reference" in method.needs
        if not uses_text and known is not None:
            raise ValueError(
                f"method {label} scores against reference shapes and does not use known=; "
                "pass reference= only, or use method='fused' to combine it with text"
            )
        if uses_text and known is None:
            raise ValueError(f"method {label} needs known=: known-class names or their text embeddings (C, D)")
        if uses_reference and reference is None:
            raise ValueError(
                f"method {label} needs reference=: labelled known shape embeddings, "
                "(embeddings, labels) or {class name: embeddings}"
            )
        if not uses_reference and reference is not None:
            raise ValueError(
                f"method {label} scores against text and does not use reference=; "
                "use method='knn', 'prototype' or 'fused' for reference shapes"
            )
        self.text_encoder_ = None
        self.text_embeddings_ = self.text_labels_ = self.reference_ = self.reference_labels_ = None
        names: tuple[str, ...] = ()
        if uses_text:
            self.text_embeddings_, self.text_labels_, self.classes_, names = self._embed_known(known)
            self.embed_dim_ = self.text_embeddings_.shape[1]
        if uses_reference:
            if _is_bank(reference) and not getattr(method, "searches_bank", False):
                reference = (reference.load(), reference.classes[reference.labels])  # this method needs the rows in memory
            self.reference_, self.reference_labels_, reference_classes = _as_reference(reference)
            if uses_text:
                _check_dim(self.reference_.shape[1], self.embed_dim_, "the reference shape embeddings")
            else:
                self.classes_ = reference_classes
                self.embed_dim_ = self.reference_.shape[1]
        model_dim = _model_dim(self.model)
        if model_dim is not None:
            _check_dim(model_dim, self.embed_dim_, f"embeddings of the shape encoder {_model_label(self.model)}")
        self.method_ = method.fit(
            KnownClasses(
                text=self.text_embeddings_,
                text_labels=self.text_labels_,
                names=names,
                reference=self.reference_,
                reference_labels=self.reference_labels_,
                embed_names=self._embed_names,
            )
        )
        self._reset_decisions()
        self._vocabularies = {}  # vocabulary -> (names, text embeddings), for describe
        return self

    def novelty(self, X: np.ndarray) -> np.ndarray:
        """The library's NOVELTY scores ``(N,)`` of L2-normalised shape embeddings ``X (N, D)``: higher = more novel.

        Equal to ``score_novelty(X, ...).scores`` for the same method, parameters and known classes.
        """
        x = self._validate(X)
        return self.method_.novelty(x)

    def classify(self, X: np.ndarray) -> np.ndarray:
        """Index into ``classes_`` of each sample's nearest known class ``(N,)``, never -1."""
        x = self._validate(X)
        return self.method_.classify(x)

    def similarity(self, X: np.ndarray) -> np.ndarray:
        """Cosine similarity ``(N,)`` of each sample to its nearest known class (:meth:`classify`).

        With text known classes, the cosine to the class's best-matching name; with
        reference shapes only, the cosine to the nearest reference shape of that class.
        Higher = closer; for ``max_cosine`` it is the negated novelty.
        """
        x = self._validate(X)
        if _is_bank(self.reference_) and self.text_embeddings_ is None:
            # The nearest reference's class is the class (KNN classifies so): its cosine, without an (N, R) matrix.
            nearest = self.method_.neighbours(x)[1][:, :1]  # the search novelty and classify made
            return 1.0 - rescore(x, self.reference_.embeddings, nearest, "cosine")[0][:, 0]
        return self._class_cosines(x)[np.arange(len(x)), self.method_.classify(x)]

    def class_similarity(self, X: np.ndarray) -> np.ndarray:
        """Cosine ``(N, C)`` of each sample to each known class (higher = closer), as in :meth:`similarity`."""
        return self._class_cosines(self._validate(X))

    def _class_cosines(self, x: np.ndarray) -> np.ndarray:
        if self.text_embeddings_ is not None:
            return scores.class_similarity(x, self.text_embeddings_, self.text_labels_)
        if _is_bank(self.reference_):
            raise ValueError(
                f"the cosines to every class of the reference bank {self.reference_.path} are not computed (a corpus "
                "is too large for them); use similarity() (the nearest class) or load the bank into an array"
            )
        cosine = scores.cosine_similarity(x, self.reference_)
        return np.stack([cosine[:, self.reference_labels_ == c].max(axis=1) for c in range(len(self.classes_))], axis=1)

    def describe(self, X, k: int = 3, vocabulary: Sequence[str] | None = None) -> Descriptions:
        """The ``k`` nearest names of each shape in an open vocabulary, with cosines (higher = closer).

        ``vocabulary``: candidate names, ``None`` for the 1,156 LVIS categories; embedded by this
        detector's text encoder with its templates, once per detector (and in the disk cache).
        """
        x = self._validate(X)
        check_k(k)
        names, embeddings = self._vocabulary(vocabulary)
        return nearest_names(x, embeddings, names, k)

    def vocabulary_similarity(self, X, vocabulary: Sequence[str] | None = None) -> tuple[tuple[str, ...], np.ndarray]:
        """The names of ``vocabulary`` (``None``: LVIS) and the cosine ``(N, V)`` of each sample to each (higher = closer)."""
        x = self._validate(X)
        names, embeddings = self._vocabulary(vocabulary)
        return names, x @ embeddings.T

    def _vocabulary(self, vocabulary: Sequence[str] | None) -> tuple[tuple[str, ...], np.ndarray]:
        if vocabulary is not None:
            check_class_names(vocabulary, "vocabulary")  # a list of names, not one string
        key = None if vocabulary is None else tuple(vocabulary)
        if key not in self._vocabularies:
            encoder = self._encoder("names of a vocabulary")
            self._vocabularies[key] = vocabulary_embeddings(encoder, vocabulary, self.templates)
        return self._vocabularies[key]

    def _encoder(self, why: str):
        if self.text_encoder_ is None:
            if self.text_encoder is not None:
                self.text_encoder_ = self.text_encoder
            elif self.model is not None:
                self.text_encoder_ = TextEncoder.from_pretrained(model_entry(self.model), progress=self.progress)
            else:
                raise ValueError(
                    f"{why} need a text encoder: pass model= (the shape encoder, or its registry name "
                    "such as 'vitl14') or text_encoder=TextEncoder.from_pretrained('vitl14')"
                )
        return self.text_encoder_

    def _embed_names(self, names: list[str]) -> np.ndarray:
        return self._encoder("negative names").embed_classes(names, self.templates)

    def _embed_known(self, known) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, tuple[str, ...]]:
        """Text embeddings (one row per name), the class of each row (``None``: one row per class), classes, names."""
        if is_class_names(known):
            groups = _name_groups(known)
            names = check_class_names([name for group in groups for name in group], "known class names")
            embeddings = self._encoder("class names").embed_classes(names, self.templates)
            embeddings = scores.as_embeddings(embeddings, "text embeddings from the text encoder")
            if all(len(group) == 1 for group in groups):
                return embeddings, None, np.array(names), tuple(names)
            classes = np.empty(len(groups), dtype=object)
            classes[:] = [group if len(group) > 1 else group[0] for group in groups]
            labels = np.repeat(np.arange(len(groups)), [len(group) for group in groups])
            return embeddings, labels, classes, tuple(names)
        embeddings = scores.as_embeddings(known, "known text embeddings")
        return embeddings, None, np.arange(len(embeddings)), ()

    def _check_fitted(self) -> None:
        if not hasattr(self, "method_"):
            raise NotFittedError("this NoveltyDetector is not fitted yet; call fit(known=..., reference=...) first")

    def _validate(self, X) -> np.ndarray:
        self._check_fitted()
        x = scores.as_embeddings(X, "shape embeddings")
        _check_dim(x.shape[1], self.embed_dim_, "the shape embeddings")
        return x


def _name_groups(known) -> list[tuple[str, ...]]:
    """The names of each known class, one tuple per entry of ``known``."""
    if isinstance(known, str):
        check_class_names(known, "known class names")  # raises: one string is not a list of classes
    groups = [(entry,) if isinstance(entry, str) else tuple(entry) for entry in known]
    empty = [i for i, group in enumerate(groups) if not group]
    if empty:
        raise ValueError(f"known classes {empty} have no names; give every class at least one name")
    return groups


def _is_bank(reference) -> bool:
    """A reference bank (:class:`openshape_ood.corpus.bank.ReferenceBank`): searched in place, never loaded whole."""
    return hasattr(reference, "neighbour_search") and hasattr(reference, "labels")


def _as_reference(reference: Reference) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(embeddings (R, D), labels (R,) in 0..C-1, classes (C,))`` from any reference form (a bank as it is)."""
    if _is_bank(reference):
        return reference, reference.labels, reference.classes
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
    if raw_labels.dtype.kind == "f" and not np.isfinite(raw_labels).all():
        raise ValueError("reference labels hold NaN or infinite values; give every reference embedding its class")
    if raw_labels.dtype.kind not in "iuUSfb" and not all(isinstance(v, (str, numbers.Integral)) for v in raw_labels):
        raise ValueError(
            f"reference labels must be class names or integers; got dtype {raw_labels.dtype}"
        )
    classes, labels = np.unique(raw_labels, return_inverse=True)
    return embeddings, labels, classes


def _check_model(model) -> None:
    if isinstance(model, (list, tuple)):
        raise ValueError(
            f"model= is a list of {len(model)} shape encoders: NoveltyDetector scores in one embedding space; "
            "use EnsembleDetector(method, model=[...]) for several"
        )


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
