"""The table of methods, :data:`METHODS`; methods from names and specs; and :class:`Fused`, which builds its
text and shape parts from the table (so it lives beside it)."""

from __future__ import annotations

import ast
from importlib import import_module

import numpy as np
from sklearn.base import clone

from . import METHOD_CLASSES, scores
from ._base import KnownClasses, NoveltyMethod, _check_number

__all__ = ["METHODS", "Fused", "make_method", "method_label", "method_spec", "parse_method"]


class Fused(NoveltyMethod):
    """A text score and a reference-shape score on one scale, weighted (this library's baseline).

    Novelty ``weight * z_text + (1 - weight) * z_shape``, each score standardised by its
    mean and standard deviation on the reference shapes (the shape score leaving each
    reference out, see ``reference_novelty``): higher = more novel. Classifies by the text
    side. Needs the known classes and reference shapes.

    Args:
        text: a method that needs only the known classes (an object, or its name in
            :data:`METHODS`; default ``"max_cosine"``).
        shape: a method that needs only reference shapes (an object, or its name; default ``"knn"``).
        weight: weight of the text score, in ``[0, 1]``.

    The defaults are names, resolved into fresh objects in :meth:`fit`, so that no two
    instances share a method object; ``set_params(shape__k=5)`` on a part given by name
    first replaces it with its own fresh object.

    Fitted attributes: ``text_``, ``shape_`` (fitted clones), ``text_known_``,
    ``shape_known_`` (their scores on the reference shapes).
    """

    needs = ("known", "reference")

    def __init__(self, text: NoveltyMethod | str = "max_cosine", shape: NoveltyMethod | str = "knn", weight: float = 0.5):
        self.text = text
        self.shape = shape
        self.weight = weight

    def set_params(self, **params) -> Fused:
        """scikit-learn's ``set_params``; ``text__x=``/``shape__x=`` on a part given by name make it an object first."""
        for part in ("text", "shape"):
            nested = any(key.startswith(f"{part}__") for key in params)
            if nested and isinstance(getattr(self, part), str) and part not in params:
                setattr(self, part, _part(self, part, _NEEDS[part]))
        return super().set_params(**params)

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


def _method_class(where: str) -> type[NoveltyMethod]:
    module, _, name = where.rpartition(".")
    return getattr(import_module(f"{__package__}.{module}"), name)


#: Every method by name, its class: the table that the detector, the command line and the benchmark read,
#: resolved from :data:`~openshape_ood.methods.METHOD_CLASSES`.
METHODS: dict[str, type[NoveltyMethod]] = {name: _method_class(where) for name, where in METHOD_CLASSES.items()}


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
    if isinstance(method, type) and issubclass(method, NoveltyMethod):
        raise ValueError(f"method {method.__name__} is a class; pass an instance, {method.__name__}(), or its name")
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
    if not isinstance(spec, str):
        raise ValueError(f"a method spec is text such as 'mcm(temperature=0.01)'; got a {type(spec).__name__}")
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
        text = _spec_text(value)
        if text != _spec_text(defaults[name]):
            changed.append(f"{name}={text}")
    return names[type(method)] + (f"({', '.join(changed)})" if changed else "")


def method_label(method: NoveltyMethod | str) -> str:
    """How errors name a method: a name quoted, an object by its class."""
    return repr(method) if isinstance(method, str) else type(method).__name__


def _spec_text(value) -> str:
    """A parameter value as :func:`parse_method` reads it: a method (object or name) by its spec, else a literal.

    Numpy arrays (negatives given as embeddings) have no literal form and are refused.
    """
    if isinstance(value, NoveltyMethod):
        return method_spec(value)
    if isinstance(value, str) and value in METHODS:  # a part given by name (Fused's defaults): its bare name
        return value
    if isinstance(value, np.ndarray):
        raise ValueError("a method with array parameters (negatives as embeddings) has no text spec; use names")
    return repr(value)


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
    except (ValueError, TypeError):  # TypeError: an unhashable key in a literal dict or set
        raise ValueError(f"method {spec!r}: {ast.unparse(node)} is not a literal value") from None


_NEEDS = {"text": ("known",), "shape": ("reference",)}


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
