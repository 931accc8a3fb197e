"""Novelty methods: one scikit-learn estimator per method, each owning its parameters.

Every method scores L2-normalised shape embeddings ``x (N, D)`` with a NOVELTY score,
higher = more novel, through the pure functions of :mod:`openshape_ood.scores`. A method
says what it is fitted on in :attr:`~NoveltyMethod.needs`: ``"known"`` (the known-class
text embeddings, from class names), ``"reference"`` (labelled known shape embeddings)
or both. Parameters are checked in :meth:`~NoveltyMethod.fit`, with a ``ValueError``
that names the parameter, its allowed values and the value given.

:class:`~openshape_ood.NoveltyDetector` turns class names into text embeddings and
hands a method a :class:`KnownClasses`; use a method on its own when you have the
embeddings already. :data:`METHODS` is the one table of methods that the detector, the
command line and the benchmark read: a new method is one class here and one row there.

Example::

    from openshape_ood import NoveltyDetector
    from openshape_ood.methods import MCM

    detector = NoveltyDetector(MCM(temperature=0.01), model="vitl14").fit(known=["chair", "table"])
"""

from __future__ import annotations

import abc
import ast
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from . import scores
from .classnames import check_class_names, lvis_categories, spoken_name

__all__ = [
    "METHODS",
    "KNN",
    "MCM",
    "Energy",
    "Fused",
    "KnownClasses",
    "MaxCosine",
    "NegativeLabels",
    "NoveltyMethod",
    "Prototype",
    "make_method",
    "method_label",
    "method_spec",
    "parse_method",
]


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
        """Novelty ``(R,)`` of the reference shapes themselves, each scored as if it were not among them.

        The known-sample statistics of :class:`Fused`.
        """
        self._check_fitted()
        return self._novelty(self.reference_)


class MaxCosine(_TextMethod):
    """Maximum cosine similarity to a known class: MCM's score before its softmax (Ming et al., NeurIPS 2022).

    Novelty ``-max_c cos(x, t_c)`` over the known classes' text embeddings ``t_c``: higher
    = more novel, in ``[-1, 1]``. Needs the known classes. No parameters.
    """

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.max_cosine(x, self.text_, self.text_labels_)


class MCM(_TextMethod):
    """Maximum concept matching (Ming et al., "Delving into out-of-distribution detection with
    vision-language representations", NeurIPS 2022).

    Novelty ``-max_c softmax_c(cos(x, t_c) / temperature)``: higher = more novel, in
    ``[-1, -1/C]``. Needs the known classes.

    Args:
        temperature: softmax temperature, > 0 (the paper uses 1).
    """

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def _check_params(self) -> None:
        _check_number(self, "temperature", low=0.0, low_open=True)

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.mcm(x, self.text_, self.temperature, self.text_labels_)


class Energy(_TextMethod):
    """Energy score (Liu et al., "Energy-based out-of-distribution detection", NeurIPS 2020).

    Novelty ``-temperature * logsumexp_c(cos(x, t_c) / temperature)``, the cosine
    similarities to the known classes as logits: higher = more novel. Needs the known classes.

    Args:
        temperature: > 0 (1 as in the paper).
    """

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def _check_params(self) -> None:
        _check_number(self, "temperature", low=0.0, low_open=True)

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.energy(x, self.text_, self.temperature, self.text_labels_)


class NegativeLabels(_TextMethod):
    """Negative labels, NegLabel-style (Jiang et al., "Negative label guided OOD detection with
    pretrained vision-language models", ICLR 2024).

    Novelty: the share of the softmax mass of ``cos / temperature`` over the known classes
    and a set of negative labels that goes to the negatives, in ``[0, 1]``: higher = more
    novel. Needs the known classes (and a text encoder when negatives are names).

    Args:
        temperature: softmax temperature, > 0.
        negatives: candidate negative names (``None``: the 1,156 LVIS categories), of which
            the ``fraction`` least similar to the known classes are kept (the known names
            themselves are dropped first); or the final negative embeddings ``(M, D)``.
        fraction: share of the candidate names kept, in ``(0, 1]``.
        groups: number of random groups of negatives whose shares are averaged, an integer
            from 1 to the number of negatives.
        seed: seed of the shuffle into groups, a non-negative integer.

    Fitted attributes: ``negative_embeddings_`` ``(M, D)``, ``negative_names_`` (the names
    kept, or ``None`` when negatives were given as embeddings).
    """

    def __init__(
        self,
        temperature: float = 0.01,
        negatives: Sequence[str] | np.ndarray | None = None,
        fraction: float = 0.15,
        groups: int = 1,
        seed: int = 0,
    ):
        self.temperature = temperature
        self.negatives = negatives
        self.fraction = fraction
        self.groups = groups
        self.seed = seed

    def _check_params(self) -> None:
        _check_number(self, "temperature", low=0.0, low_open=True)
        _check_number(self, "fraction", low=0.0, high=1.0, low_open=True)
        _check_number(self, "groups", integer=True, low=1)
        _check_number(self, "seed", integer=True, low=0)
        negatives = self.negatives
        if not (negatives is None or _are_names(negatives) or np.ndim(negatives) == 2):
            raise ValueError(
                f"The 'negatives' parameter of {type(self).__name__} must be None, a list of class names or "
                f"an (M, D) array of embeddings; got {_short(negatives)}."
            )

    def _fit(self, known: KnownClasses) -> None:
        super()._fit(known)
        dim = known.text.shape[1]
        if self.negatives is not None and not _are_names(self.negatives):
            self.negative_embeddings_ = scores.as_embeddings(self.negatives, "negative embeddings", dim)
            self.negative_names_ = None
        else:
            candidates = lvis_categories() if self.negatives is None else check_class_names(self.negatives, "negatives")
            taken = {spoken_name(name).casefold() for name in known.names}
            candidates = [name for name in candidates if spoken_name(name).casefold() not in taken]
            if not candidates:
                raise ValueError("no negative names are left once the known classes are removed; pass more negatives=")
            if known.embed_names is None:
                raise ValueError(
                    f"{type(self).__name__} with negative names needs a text encoder to embed them: pass model= or "
                    "text_encoder= to the detector, or negatives= as embeddings (M, D)"
                )
            embeddings = scores.as_embeddings(
                known.embed_names(candidates), "negative embeddings from the text encoder", dim
            )
            keep = scores.least_similar(embeddings, known.text, self.fraction)
            self.negative_names_ = np.array([candidates[i] for i in keep])
            self.negative_embeddings_ = embeddings[keep]
        if self.groups > len(self.negative_embeddings_):
            raise ValueError(
                f"The 'groups' parameter of {type(self).__name__} must be at most the number of negatives "
                f"({len(self.negative_embeddings_)}); got {self.groups}."
            )

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.negative_labels(
            x, self.text_, self.negative_embeddings_, self.temperature, self.groups, self.seed, self.text_labels_
        )


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

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.prototype(x, self.reference_, self.reference_labels_, self.metric)

    def _classify(self, x: np.ndarray) -> np.ndarray:
        return scores.prototype_distances(x, self.reference_, self.reference_labels_, self.metric).argmin(axis=1)


class KNN(_ShapeMethod):
    """Distance to the k-th nearest reference shape (Sun et al., "Out-of-distribution detection
    with deep nearest neighbors", ICML 2022; 3DOS's nearest-neighbour baseline with ``k=1``).

    Novelty: the ``metric`` distance to the ``k``-th nearest reference embedding, higher =
    more novel (3DOS reports the normality ``1 / novelty``). Needs reference shapes.

    Args:
        k: which neighbour, an integer from 1 to the number of reference shapes.
        metric: ``"euclidean"`` or ``"cosine"`` (``1 - cos``).
    """

    def __init__(self, k: int = 1, metric: str = "euclidean"):
        self.k = k
        self.metric = metric

    def _check_params(self) -> None:
        _check_number(self, "k", integer=True, low=1)
        _check_choice(self, "metric", scores.METRICS)

    def _fit(self, known: KnownClasses) -> None:
        if self.k > len(known.reference):
            raise ValueError(
                f"The 'k' parameter of {type(self).__name__} must be at most the number of reference shapes "
                f"({len(known.reference)}); got {self.k}."
            )
        super()._fit(known)

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.knn(x, self.reference_, self.k, self.metric)

    def _classify(self, x: np.ndarray) -> np.ndarray:
        return self.reference_labels_[scores.nearest_references(x, self.reference_, 1, self.metric)[1][:, 0]]

    def reference_novelty(self) -> np.ndarray:
        """Novelty ``(R,)`` of each reference shape, leaving itself out (its own nearest neighbour)."""
        self._check_fitted()
        if self.k + 1 > len(self.reference_):
            raise ValueError(
                f"scoring the reference shapes with k={self.k} leaving each one out needs more than {self.k} of them; "
                f"got {len(self.reference_)}"
            )
        return scores.knn(self.reference_, self.reference_, self.k + 1, self.metric)


class Fused(NoveltyMethod):
    """A text score and a reference-shape score on one scale, weighted (this library's baseline).

    Novelty ``weight * z_text + (1 - weight) * z_shape``, each score standardised by its
    mean and standard deviation on the reference shapes (the shape score leaving each
    reference out, see ``reference_novelty``): higher = more novel. Classifies by the text
    side. Needs the known classes and reference shapes.

    Args:
        text: a method that needs only the known classes (an object, or its name in :data:`METHODS`).
        shape: a method that needs only reference shapes (an object, or its name).
        weight: weight of the text score, in ``[0, 1]``.

    Fitted attributes: ``text_``, ``shape_`` (fitted clones), ``text_known_``,
    ``shape_known_`` (their scores on the reference shapes).
    """

    needs = ("known", "reference")

    def __init__(
        self, text: NoveltyMethod | str = MaxCosine(), shape: NoveltyMethod | str = KNN(), weight: float = 0.5
    ):
        self.text = text
        self.shape = shape
        self.weight = weight

    def _check_params(self) -> None:
        _part(self, "text", ("known",))
        _part(self, "shape", ("reference",))
        _check_number(self, "weight", low=0.0, high=1.0)

    def _fit(self, known: KnownClasses) -> None:
        self.text_ = _part(self, "text", ("known",)).fit(known)
        self.shape_ = _part(self, "shape", ("reference",)).fit(known)
        self.text_known_ = self.text_.novelty(known.reference)
        self.shape_known_ = self.shape_.reference_novelty()
        self.fitted_ = True

    def _novelty(self, x: np.ndarray) -> np.ndarray:
        return scores.fused(
            self.text_.novelty(x), self.shape_.novelty(x), self.text_known_, self.shape_known_, self.weight
        )

    def _classify(self, x: np.ndarray) -> np.ndarray:
        return self.text_.classify(x)


#: Every method by name: the one table that the detector, the command line and the benchmark read.
METHODS: dict[str, type[NoveltyMethod]] = {
    "max_cosine": MaxCosine,
    "mcm": MCM,
    "energy": Energy,
    "negative_labels": NegativeLabels,
    "prototype": Prototype,
    "knn": KNN,
    "fused": Fused,
}


def make_method(method: NoveltyMethod | str, **params) -> NoveltyMethod:
    """A method object: ``method`` itself (no ``params`` allowed), or the method named ``method`` with ``params``.

    A parameter the method does not have raises a ``ValueError`` that lists the ones it has.
    """
    if isinstance(method, NoveltyMethod):
        if params:
            raise ValueError(
                f"parameters {sorted(params)} were given besides the method object {method!r}; "
                "set them on the object instead"
            )
        return method
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {list(METHODS)} or a method object")
    cls = METHODS[method]
    accepted = sorted(cls._get_param_names())
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        users = {name: [m for m, c in METHODS.items() if name in c._get_param_names()] for name in unknown}
        raise ValueError(
            f"option {unknown[0]}= does not apply to method {method!r} (its parameters: {accepted or 'none'}); "
            f"it is a parameter of {users[unknown[0]] or 'no method'}"
        )
    return cls(**params)


def parse_method(spec: str) -> NoveltyMethod:
    """A method object from text such as ``"knn"``, ``"mcm(temperature=0.01)"`` or ``"fused(text=mcm(), weight=0.3)"``.

    Keyword values are Python literals (numbers, strings, lists, ``None``) or other method
    specs; nothing is evaluated (``ast.literal_eval``). A ``ValueError`` says what is wrong.
    """
    try:
        tree = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"cannot read the method {spec!r}; write e.g. knn or 'mcm(temperature=0.01)'") from None
    return _method_from_node(tree, spec)


def method_spec(method: NoveltyMethod) -> str:
    """The text :func:`parse_method` reads back into ``method``: its name in :data:`METHODS` and the
    parameters that differ from the defaults (``"knn"``, ``"mcm(temperature=0.01)"``).
    """
    names = {cls: name for name, cls in METHODS.items()}
    if type(method) not in names:
        raise ValueError(f"{type(method).__name__} is not in METHODS; add it there to name it")
    defaults = type(method)().get_params(deep=False)
    changed = []
    for name, value in method.get_params(deep=False).items():
        text = method_spec(value) if isinstance(value, NoveltyMethod) else repr(value)
        default = defaults[name]
        if text != (method_spec(default) if isinstance(default, NoveltyMethod) else repr(default)):
            changed.append(f"{name}={text}")
    return names[type(method)] + (f"({', '.join(changed)})" if changed else "")


def method_label(method: NoveltyMethod | str) -> str:
    """How errors name a method: a name quoted, an object by its class."""
    return repr(method) if isinstance(method, str) else type(method).__name__


def _method_from_node(node: ast.expr, spec: str) -> NoveltyMethod:
    if isinstance(node, ast.Name):
        return make_method(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        params = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise ValueError(f"method {spec!r}: ** is not allowed; name each parameter")
            params[keyword.arg] = _value_from_node(keyword.value, spec)
        return make_method(node.func.id, **params)
    raise ValueError(
        f"cannot read the method {spec!r}: write a method name with keyword parameters, "
        f"e.g. 'mcm(temperature=0.01)'; methods: {', '.join(METHODS)}"
    )


def _value_from_node(node: ast.expr, spec: str):
    if isinstance(node, (ast.Call, ast.Name)) and not (isinstance(node, ast.Name) and node.id == "None"):
        return _method_from_node(node, spec)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"method {spec!r}: {ast.unparse(node)} is not a literal value") from None


def _part(fused: Fused, name: str, needs: tuple[str, ...]) -> NoveltyMethod:
    """A fresh clone of the ``text`` or ``shape`` method of ``fused``, checked to need exactly ``needs``."""
    value = getattr(fused, name)
    if isinstance(value, str) and value in METHODS:
        value = METHODS[value]()
    if not isinstance(value, NoveltyMethod) or value.needs != needs:
        allowed = [m for m, cls in METHODS.items() if cls.needs == needs]
        raise ValueError(
            f"The {name!r} parameter of {type(fused).__name__} must be a method that needs only "
            f"{needs[0]}= (one of {allowed}, as an object or a name); got {value!r}."
        )
    return clone(value)


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
