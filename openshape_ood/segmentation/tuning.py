"""The segmentation's constants that are chosen by leave-one-scan-out, and the values tried.

Each is a module constant read when a scan is segmented; ``python -m benchmarks.scenes`` tries every
combination of the values below, chooses for each scan the combination that finds the most objects on
the other scans of its kind, and prints that figure beside the one of the defaults. The defaults
(the constants as written in their modules) are the combination chosen on all the scans, except where
that choice is only the tie-break (the same objects found on every scan, fewer false segments) and the
copies and virtual frames of ``benchmarks.scenes`` find fewer with it: then the scenes guide says so
(``BOUNDING_SHARE``, docs/scenes-segmentation.md).
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple


class Tuned(NamedTuple):
    """A constant chosen by leave-one-scan-out: its module and name, the values tried, and why they
    are the ones worth trying."""

    module: str
    name: str
    values: tuple
    reason: str


#: Constants chosen by leave-one-scan-out (benchmarks.scenes).
TUNED = {
    "bounding_share": Tuned(
        "planes", "BOUNDING_SHARE", (1.0, 0.05),
        "share of a scan behind an upright plane, within its span, up to which the plane is structure; 1.0 "
        "removes every large plane (no test), 0.05 only those with at most stray points behind them",
    ),
    "min_part": Tuned(
        "clustering", "MIN_PART", (0.05, 0.1, 0.2),
        "share of an oversized cluster's voxels a part must hold to be split off; 1/20 to 1/5",
    ),
    "inside": Tuned(
        "colour", "INSIDE", (0.5, 0.75, 2.0),
        "share of the cells around a group of another colour in a removed plane that must be plane for it "
        "to be an object lying in the plane: half, three quarters, or 2.0 (never: colour not used)",
    ),
}  # fmt: skip


def current() -> dict:
    """The values the constants have now."""
    return {key: getattr(_module(spec), spec.name) for key, spec in TUNED.items()}


def combinations() -> list[dict]:
    """Every combination of the values tried, the current values first."""
    now = current()
    keys = list(TUNED)
    grid = [dict(zip(keys, values)) for values in itertools.product(*(TUNED[k].values for k in keys))]
    return [now] + [values for values in grid if values != now]


@contextmanager
def tuned(values: dict) -> Iterator[None]:
    """Segment with ``values`` (a dict of :data:`TUNED` keys) in place of the constants, restored after."""
    before = current()
    try:
        for key, value in values.items():
            setattr(_module(TUNED[key]), TUNED[key].name, value)
        yield
    finally:
        for key, value in before.items():
            setattr(_module(TUNED[key]), TUNED[key].name, value)


def _module(spec: Tuned):
    return importlib.import_module(f"{__package__}.{spec.module}")
