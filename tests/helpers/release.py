"""The synthetic 3DOS release the benchmark tests share (the ``release`` fixture of tests/benchmarks)."""

from __future__ import annotations

from pathlib import Path

from ..synthetic_3dos import make_synthetic_release

SPC = 2  # samples per class: 20 real samples per set, 10 ModelNet40 shapes per SR training file


def make_release(folder: Path) -> Path:
    """The release under ``folder``/3D_OS_release_data, ``SPC`` samples per class."""
    return make_synthetic_release(folder / "3D_OS_release_data", SPC, seed=2)
