"""Several shape encoders, one novelty: :class:`EnsembleDetector`.

The three OpenShape encoders (vitb32, vitl14, vitg14) were trained with different CLIP
towers and see different things. An ensemble scores each sample in every member's own
embedding space, with that member's own text tower, and combines the members' NOVELTY
scores (higher = more novel) into one on a common scale:

* **standardised** (``fit(..., standardize=known samples)``): each member's novelty minus
  its mean on those known samples, divided by its standard deviation there, then averaged.
  This is the right rule when the members' scores spread differently (energy, k-NN
  distances, or one encoder far more confident than another) and known samples are at hand.
* **raw average** (no samples): the members' novelty scores averaged as they are. This
  needs nothing because every member runs the *same* method, so the scores share their
  units (cosines for ``max_cosine``, probabilities for ``mcm``), and it leaves a
  one-member ensemble exactly equal to its member.

Everything downstream (thresholds, conformal p-values, FDR selection) works on the
combined novelty, so its guarantees hold for the ensemble as for one model, provided the
:meth:`~EnsembleDetector.calibrate` samples are not the ``standardize`` samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import clone

from sklearn.exceptions import NotFittedError

from ..classnames import is_class_names
from .base import BaseDetector, check_progress, check_threshold
from .describe import Descriptions, check_k, top_names
from ..methods import NoveltyMethod, make_method, method_label
from ..encoders._registry import model_entry
from .single import KnownNames, NoveltyDetector, _is_bank

__all__ = ["EnsembleDetector"]


class EnsembleDetector(BaseDetector):
    """Novelty over several shape encoders, higher = more novel; a sibling of :class:`~openshape_ood.NoveltyDetector`.

    Its members are :class:`~openshape_ood.NoveltyDetector` objects, one per shape encoder,
    used through their public methods only (as scikit-learn's ``VotingClassifier`` uses its
    estimators); the decisions come from the shared :class:`~openshape_ood.detectors.base.BaseDetector`.
    Every method of the single-model detector works the same (``novelty``, ``score_samples`` =
    normality, ``decision_function``, ``predict``, ``calibrate``, ``p_values``,
    ``select_novel``, ``describe``), except that every input of shape embeddings is one
    array per member: a list in the order of ``model``, or a dict keyed by registry name
    (``{"vitb32": x_b, "vitl14": x_l}``).

    Args:
        method: as for :class:`~openshape_ood.NoveltyDetector`; each member gets its own copy.
        model: the shape encoders, two or more (one works too): registry names, registry
            entries or the encoders themselves.
        text_encoder: ``None`` (each member builds the text tower paired with its model) or
            one text encoder per model, in order.
        templates: as for :class:`~openshape_ood.NoveltyDetector`.
        threshold: as for :class:`~openshape_ood.NoveltyDetector`.
        progress: as for :class:`~openshape_ood.NoveltyDetector`.

    Fitted attributes: ``members_`` (one fitted :class:`~openshape_ood.NoveltyDetector` per
    model), ``classes_``, ``location_`` and ``scale_`` (``(M,)`` mean and standard deviation
    of each member's novelty on the ``standardize`` samples, or ``None``), and the
    threshold and calibration attributes of the single-model detector.
    """

    def __init__(
        self,
        method: NoveltyMethod | str = "max_cosine",
        *,
        model: Sequence = (),
        text_encoder: Sequence | None = None,
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

    def fit(
        self,
        known: KnownNames | Sequence[np.ndarray] | Mapping[str, np.ndarray] | None = None,
        reference: Sequence | Mapping | None = None,
        *,
        standardize: Sequence[np.ndarray] | Mapping[str, np.ndarray] | None = None,
    ) -> EnsembleDetector:
        """Fit every member on the known classes, and optionally learn each member's novelty scale.

        Args:
            known: class names, shared by all members; or the known classes' text embeddings,
                one array per member (each in its own text space).
            reference: labelled reference shapes, one per member (each embedded by that
                member's encoder; any form :meth:`NoveltyDetector.fit` takes). A reference bank is loaded by
                the methods that load one (``prototype``, ``fused``) and refused for ``knn``, which would
                search it on disk: the ensemble's similarity needs cosines to every class.
            standardize: known-class shape embeddings, one array per member (the same shapes),
                whose novelty mean and spread put the members on a common scale; ``None``
                averages the raw scores. Keep them apart from the :meth:`calibrate` samples.
        """
        check_threshold(self.threshold, type(self).__name__)
        check_progress(self.progress, type(self).__name__)
        models = list(self.model) if isinstance(self.model, (list, tuple)) else None
        if not models:
            raise ValueError("model= must be a non-empty list of shape encoders, e.g. ['vitb32', 'vitl14']")
        self._labels = [_label(model) for model in models]
        if len(set(self._labels)) != len(self._labels):
            raise ValueError(f"model= names a shape encoder twice: {self._labels}; list each once")
        encoders = self._per_model(self.text_encoder, "text_encoder") if self.text_encoder else [None] * len(models)
        knowns = [known] * len(models) if known is None or is_class_names(known) else self._per_model(known, "known")
        references = [None] * len(models) if reference is None else self._per_model(reference, "reference")
        method = make_method(self.method)
        banks = [label for label, member in zip(self._labels, references) if _is_bank(member)]
        if banks and getattr(method, "searches_bank", False):
            raise ValueError(
                f"the reference of member(s) {banks} is a reference bank, which {method_label(method)} searches on "
                "disk for the nearest reference only; an ensemble's similarity needs each member's cosine to every "
                "class, which a bank does not give. Load the banks into memory (reference=[(bank.load(), "
                "bank.classes[bank.labels]), ...]) if they fit, or score each model with its own NoveltyDetector"
            )
        self.members_ = [
            NoveltyDetector(
                clone(method), model=model, text_encoder=encoder, templates=self.templates, progress=self.progress
            ).fit(member_known, member_reference)
            for model, encoder, member_known, member_reference in zip(models, encoders, knowns, references)
        ]
        self.classes_ = self.members_[0].classes_
        for label, member in zip(self._labels, self.members_):
            if not np.array_equal(member.classes_, self.classes_):
                raise ValueError(
                    f"member {label} has known classes {list(member.classes_)} but {self._labels[0]} has "
                    f"{list(self.classes_)}; give every member the same classes"
                )
        self.location_ = self.scale_ = None
        if standardize is not None:
            novelty = self._member_novelty(standardize, "standardize")
            scale = novelty.std(axis=1, ddof=1) if novelty.shape[1] > 1 else np.zeros(len(novelty))
            flat = [label for label, value in zip(self._labels, scale) if not value > 0]
            if flat:
                raise ValueError(
                    f"the standardize samples give member(s) {flat} no spread of novelty; pass at least two "
                    "different known shapes per member"
                )
            self.location_, self.scale_ = novelty.mean(axis=1), scale
        self._reset_decisions()
        return self

    def novelty(self, X) -> np.ndarray:
        """Combined novelty ``(N,)``, higher = more novel: the members' (standardised) novelty averaged.

        ``X``: one ``(N, D_m)`` array of L2-normalised embeddings per member (list or dict).
        """
        novelty = self._member_novelty(X, "X")
        if self.location_ is not None:
            novelty = (novelty - self.location_[:, None]) / self.scale_[:, None]
        return novelty.mean(axis=0)

    def classify(self, X) -> np.ndarray:
        """The known class most members pick ``(N,)``; a tie goes to the earliest member's pick."""
        self._check_fitted()
        picks = [member.classify(x) for member, x in zip(self.members_, self._per_model(X, "X"))]
        votes = np.zeros((len(picks[0]), len(self.classes_)))
        rows = np.arange(len(picks[0]))
        for position, pick in enumerate(picks):
            # Each vote counts 1; the bonuses 1/2, 1/4, ... sum below 1, so they only break ties.
            votes[rows, pick] += 1 + 0.5 ** (position + 1)
        return votes.argmax(axis=1)

    def similarity(self, X) -> np.ndarray:
        """Cosine ``(N,)`` to the ensemble's nearest known class (:meth:`classify`), averaged over members."""
        nearest = self.classify(X)
        rows = np.arange(len(nearest))
        cosines = [
            member.class_similarity(x)[rows, nearest] for member, x in zip(self.members_, self._per_model(X, "X"))
        ]
        return np.mean(cosines, axis=0)

    def describe(self, X, k: int = 3, vocabulary: Sequence[str] | None = None) -> Descriptions:
        """The ``k`` names with the highest cosine averaged over members, each member in its own text space."""
        self._check_fitted()
        check_k(k)  # before any member embeds the vocabulary
        cosines = 0.0
        for member, x in zip(self.members_, self._per_model(X, "X")):
            names, member_cosines = member.vocabulary_similarity(x, vocabulary)
            cosines = cosines + member_cosines
        return top_names(cosines / len(self.members_), names, k)

    def _member_novelty(self, X, what: str) -> np.ndarray:
        """``(M, N)`` novelty of each member on its own embeddings."""
        self._check_fitted()
        novelty = [member.novelty(x) for member, x in zip(self.members_, self._per_model(X, what))]
        sizes = {len(part) for part in novelty}
        if len(sizes) > 1:
            counts = dict(zip(self._labels, map(len, novelty)))
            raise ValueError(f"{what} has different numbers of samples per member {counts}; embed the same shapes")
        return np.stack(novelty)

    def _per_model(self, value, what: str) -> list:
        """``value`` as a list aligned with the members: from a list/tuple in order, or a dict keyed by model name."""
        if isinstance(value, Mapping):
            missing = [label for label in self._labels if label not in value]
            extra = sorted(set(value) - set(self._labels))
            if missing or extra:
                raise ValueError(
                    f"{what} is keyed by {sorted(value)} but the members are {self._labels}; "
                    f"missing {missing}, unexpected {extra}"
                )
            return [value[label] for label in self._labels]
        if isinstance(value, (list, tuple)) and len(value) == len(self._labels):
            return list(value)
        raise ValueError(
            f"{what} must hold one entry per member {self._labels}: a list in that order or a dict keyed by model name"
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("this EnsembleDetector is not fitted yet; call fit(known=..., reference=...) first")


def _label(model) -> str:
    """The registry name of a member model."""
    if isinstance(model, str):
        return model
    return model_entry(model).name
