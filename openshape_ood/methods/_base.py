"""The base of the novelty methods: :class:`NoveltyMethod`, what it is fitted on (:class:`KnownClasses`),
the text and shape bases, and the scikit-learn-style parameter checks they share."""

from __future__ import annotations

import abc
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from . import scores

__all__ = ["KnownClasses", "NoveltyMethod"]


@dataclass(frozen=True)
class KnownClasses:
    """What a method is fitted on; a method reads the parts named in its ``needs``.

    Attributes:
        text: ``(K, D)`` L2-normalised text embeddings of the known classes, one row per name.
        text_labels: ``(K,)`` class ``0..C-1`` of each row of ``text``, or ``None`` when each
            class has exactly one row (a class with several names scores by its best name).
        names: every known class name, when the classes were given by name (used to keep
            them out of the negative labels); empty otherwise.
        reference: ``(R, D)`` L2-normalised embeddings of labelled known shapes.
        reference_labels: ``(R,)`` integer class ``0..C-1`` of each reference embedding.
        embed_names: the text tower: class names -> ``(M, D)`` L2-normalised embeddings,
            for methods that embed names of their own (negative labels); ``None`` if absent.
    """

    text: np.ndarray | None = None
    text_labels: np.ndarray | None = None
    names: tuple[str, ...] = ()
    reference: np.ndarray | None = None
    reference_labels: np.ndarray | None = None
    embed_names: Callable[[list[str]], np.ndarray] | None = None


class NoveltyMethod(BaseEstimator, abc.ABC):
    """Base of the novelty methods: ``fit(known)``, then ``novelty(x)`` (higher = more novel) and ``classify(x)``.

    Attributes:
        needs: what :meth:`fit` reads from :class:`KnownClasses`: ``("known",)`` (text
            embeddings of the known classes), ``("reference",)`` (labelled known shapes)
            or both.
    """

    needs: ClassVar[tuple[str, ...]] = ()

    def fit(self, known: KnownClasses) -> NoveltyMethod:
        """Check the parameters, then learn what the method needs from ``known``; returns self."""
        if not isinstance(known, KnownClasses):
            raise ValueError(
                f"{type(self).__name__}.fit takes a KnownClasses(text=..., reference=...), not a "
                f"{type(known).__name__}; to fit on class names, use NoveltyDetector({type(self).__name__}(...))"
            )
        self.check_params()
        for part, attribute in (("known", "text"), ("reference", "reference")):
            if part in self.needs and getattr(known, attribute) is None:
                raise ValueError(f"{type(self).__name__} needs {part}= ({_PARTS[part]}); none was given")
        self._fit(known)
        return self

    def novelty(self, x: np.ndarray) -> np.ndarray:
        """Novelty scores ``(N,)`` of L2-normalised shape embeddings ``x (N, D)``: higher = more novel."""
        self._check_fitted()
        return self._novelty(np.asarray(x, dtype=np.float64))

    def classify(self, x: np.ndarray) -> np.ndarray:
        """Index ``0..C-1`` of each sample's nearest known class ``(N,)``."""
        self._check_fitted()
        return self._classify(np.asarray(x, dtype=np.float64))

    def check_params(self) -> None:
        """Raise a ``ValueError`` naming the first invalid parameter; :meth:`fit` calls it.

        Call it yourself to refuse a bad parameter before costly work (embedding data).
        """
        self._check_params()

    def _check_params(self) -> None:
        """Subclasses check their parameters here."""

    @abc.abstractmethod
    def _fit(self, known: KnownClasses) -> None:
        """Learn from ``known`` what the method scores against (defined by each method)."""

    @abc.abstractmethod
    def _novelty(self, x: np.ndarray) -> np.ndarray:
        """Novelty ``(N,)`` of float64 ``x (N, D)``: higher = more novel (defined by each method)."""

    @abc.abstractmethod
    def _classify(self, x: np.ndarray) -> np.ndarray:
        """Nearest known class ``(N,)`` of float64 ``x (N, D)`` (defined by each method)."""

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(KnownClasses(...)) first")


_PARTS = {
    "known": "known-class names or their text embeddings (C, D)",
    "reference": "labelled known shape embeddings, (embeddings, labels) or {class name: embeddings}",
}


class _TextMethod(NoveltyMethod):
    """A method scored against the known classes' text embeddings."""

    needs = ("known",)

    def _fit(self, known: KnownClasses) -> None:
        self.text_ = known.text
        self.text_labels_ = known.text_labels
        self.fitted_ = True

    def _classify(self, x: np.ndarray) -> np.ndarray:
        return scores.class_similarity(x, self.text_, self.text_labels_).argmax(axis=1)


class _ShapeMethod(NoveltyMethod):
    """A method scored against labelled reference shape embeddings."""

    needs = ("reference",)

    def _fit(self, known: KnownClasses) -> None:
        self.reference_ = known.reference
        self.reference_labels_ = known.reference_labels
        self.fitted_ = True

    def reference_novelty(self) -> np.ndarray:
        """Novelty ``(R,)`` of the reference shapes themselves (higher = more novel), each scored as if it were not
        among them.

        The known-sample statistics of :class:`Fused`.
        """
        self._check_fitted()
        return self._novelty(self.reference_)


def _check_number(
    estimator: BaseEstimator,
    name: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> None:
    """Raise a scikit-learn-style ``ValueError`` unless parameter ``name`` is a number in the range."""
    value = getattr(estimator, name)
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low)) and (high is None or value <= high)
    if not ok:
        lower = f"{'(' if low_open else '['}{low if low is not None else '-inf'}"
        interval = f"{lower}, {high}]" if high is not None else f"{lower}, inf)"
        raise ValueError(
            f"The {name!r} parameter of {type(estimator).__name__} must be {'an int' if integer else 'a float'} "
            f"in the range {interval}; got {value!r}."
        )


def _check_choice(estimator: BaseEstimator, name: str, options: Sequence[str]) -> None:
    value = getattr(estimator, name)
    if value not in options:
        raise ValueError(
            f"The {name!r} parameter of {type(estimator).__name__} must be one of {list(options)}; got {value!r}."
        )


def _are_names(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
