"""Novelty methods: one scikit-learn estimator per method, each owning its parameters.

Every method scores L2-normalised shape embeddings ``x (N, D)`` with a NOVELTY score,
higher = more novel, through the pure functions of :mod:`openshape_ood.methods.scores`. A method
says what it is fitted on in :attr:`~NoveltyMethod.needs`: ``"known"`` (the known-class
text embeddings, from class names), ``"reference"`` (labelled known shape embeddings)
or both. Parameters are checked in :meth:`~NoveltyMethod.fit`, with a ``ValueError``
that names the parameter, its allowed values and the value given.

:class:`~openshape_ood.NoveltyDetector` turns class names into text embeddings and
hands a method a :class:`KnownClasses`; use a method on its own when you have the
embeddings already. :data:`METHODS` is the one table of methods that the detector, the
command line and the benchmark read: a new method is one class and one row there.

The package: :mod:`._base` (the base class, :class:`KnownClasses`, parameter checks),
:mod:`.text` (methods on class names), :mod:`.shape` (methods on reference shapes),
:mod:`.table` (:data:`METHODS`, names and specs, and :class:`Fused`, which builds its
parts from the table).

Example::

    from openshape_ood import NoveltyDetector
    from openshape_ood.methods import MCM

    detector = NoveltyDetector(MCM(temperature=0.01), model="vitl14").fit(known=["chair", "table"])
"""

from ._base import KnownClasses, NoveltyMethod
from .shape import KNN, Prototype
from .table import METHODS, Fused, make_method, method_label, method_spec, parse_method
from .text import MCM, Energy, MaxCosine, NegativeLabels

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
