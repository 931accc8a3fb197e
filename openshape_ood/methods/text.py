"""Novelty methods scored against the known classes' text embeddings: max cosine, MCM, energy, negative labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import scores
from ..classnames import check_class_names, lvis_categories, spoken_name
from ._base import KnownClasses, _are_names, _check_number, _short, _TextMethod

__all__ = ["MCM", "Energy", "MaxCosine", "NegativeLabels"]


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
