"""Novelty methods: one scikit-learn estimator per method, each owning its parameters.

Every method scores L2-normalised shape embeddings ``x (N, D)`` with a NOVELTY score,
higher = more novel, through the pure functions of :mod:`openshape_ood.methods.scores`. A method
says what it is fitted on in :attr:`~NoveltyMethod.needs`: ``"known"`` (the known-class
text embeddings, from class names), ``"reference"`` (labelled known shape embeddings)
or both. Parameters are checked in :meth:`~NoveltyMethod.fit`, with a ``ValueError``
that names the parameter, its allowed values and the value given.

:class:`~openshape_ood.NoveltyDetector` turns class names into text embeddings and
hands a method a :class:`KnownClasses`; use a method on its own when you have the
embeddings already. :data:`METHOD_CLASSES` is the one table of methods (name and class) and
:data:`METHODS` its classes, which the detector, the command line and the benchmark read: a new
method is one class and one row there. The package is a lazy face: its modules, and
scikit-learn, are imported when a name is first used.

The package: :mod:`._base` (the base class, :class:`KnownClasses`, parameter checks),
:mod:`.text` (methods on class names), :mod:`.shape` (methods on reference shapes),
:mod:`.table` (:data:`METHODS`, names and specs, and :class:`Fused`, which builds its
parts from the table).

Example::

    from openshape_ood import NoveltyDetector
    from openshape_ood.methods import MCM

    detector = NoveltyDetector(MCM(temperature=0.01), model="vitl14").fit(known=["chair", "table"])
"""

from .._lazy import lazy_exports

#: Every method's name and the class that implements it (module.Class): the one table of methods.
#: :data:`METHODS` holds the classes; the names are read from here without importing scikit-learn
#: (the command line's ``--help`` lists them).
METHOD_CLASSES: dict[str, str] = {
    "max_cosine": "text.MaxCosine",
    "mcm": "text.MCM",
    "energy": "text.Energy",
    "negative_labels": "text.NegativeLabels",
    "prototype": "shape.Prototype",
    "knn": "shape.KNN",
    "fused": "table.Fused",
}

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "KnownClasses": "_base",
        "NoveltyMethod": "_base",
        "METHODS": "table",
        "make_method": "table",
        "method_label": "table",
        "method_spec": "table",
        "parse_method": "table",
        **{where.rpartition(".")[2]: where.rpartition(".")[0] for where in METHOD_CLASSES.values()},
    },
)
__all__.append("METHOD_CLASSES")
