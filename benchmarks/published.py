"""Published and reported 3DOS SR1/SR2 figures, to print beside the ones measured here.

The only numbers in this code base that it did not measure. They are copied from the
3DOS protocol notes (``docs/3dos_protocol.md``, section 5), which cite their origin; each
row says where it comes from and under which settings. Values are the AUROC and FPR95 of
the known set against both unknown sets ("SRC->TAR1+TAR2"), in percent, as papers report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["PROVENANCE", "ROWS", "Provenance", "PublishedRow", "rows_for"]


@dataclass(frozen=True)
class Provenance:
    """Where a group of figures comes from.

    Attributes:
        kind: ``"published"`` (a peer-reviewed paper) or ``"reported"`` (a project's own runs).
        description: the source and the settings that differ from this benchmark's.
    """

    kind: str
    description: str


@dataclass(frozen=True)
class PublishedRow:
    """One method's figures from one source.

    Attributes:
        label: the method as its source names it.
        provenance: key into :data:`PROVENANCE`.
        results: ``"SR1"`` / ``"SR2"`` -> ``(AUROC, FPR95)`` in percent, known vs both
            unknown sets; a source missing here was not reported.
    """

    label: str
    provenance: str
    results: Mapping[str, tuple[float, float]]


PROVENANCE: Mapping[str, Provenance] = MappingProxyType(
    {
        "3dos": Provenance(
            "published",
            "3DOS paper (Alliegro, Cappio Borlino, Tommasi, NeurIPS 2022 Datasets and Benchmarks): "
            "PointNet++ trained on the synthetic classes, mean of 3 seeds",
        ),
        "openshape-1nn": Provenance(
            "reported",
            "a course project, single run: OpenShape embeddings without fine-tuning, 1-nearest-neighbour "
            "Euclidean distance to the ModelNet reference bank, constant RGB 0, no y/z axis swap",
        ),
        "openshape-1nn-swap": Provenance(
            "reported",
            "another run of that 1-NN method on vitg14, with the y/z axis swap and RGB 0.4",
        ),
        "openshape-proto": Provenance(
            "reported",
            "cosine prototypes of the ModelNet reference bank, OpenShape vitb32 without fine-tuning, RGB 0.4",
        ),
    }
)

ROWS: tuple[PublishedRow, ...] = (
    PublishedRow("MSP", "3dos", {"SR1": (81.0, 79.6), "SR2": (70.3, 86.7)}),
    PublishedRow("ARPL+CS", "3dos", {"SR1": (82.8, 74.9), "SR2": (68.0, 89.3)}),
    PublishedRow("Cosine proto", "3dos", {"SR1": (79.9, 74.5), "SR2": (76.5, 77.8)}),
    PublishedRow("CE (L2)", "3dos", {"SR1": (79.7, 84.5), "SR2": (75.7, 80.2)}),
    PublishedRow("vitb32 1-NN", "openshape-1nn", {"SR1": (82.3, 68.2), "SR2": (60.5, 94.0)}),
    PublishedRow("vitl14 1-NN", "openshape-1nn", {"SR1": (78.5, 76.6), "SR2": (60.4, 94.0)}),
    PublishedRow("vitg14 1-NN", "openshape-1nn", {"SR1": (57.7, 96.9), "SR2": (56.8, 89.4)}),
    PublishedRow("vitg14 1-NN", "openshape-1nn-swap", {"SR1": (79.7, 81.6), "SR2": (61.2, 88.1)}),
    PublishedRow("vitb32 cosine proto", "openshape-proto", {"SR1": (86.7, 63.7)}),
)


def rows_for(source: str) -> list[PublishedRow]:
    """The rows with a figure for ``source`` (``"SR1"`` or ``"SR2"``), in table order."""
    return [row for row in ROWS if source in row.results]
