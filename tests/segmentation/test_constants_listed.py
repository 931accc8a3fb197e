"""Every constant of the segmentation is named on the guide's page (docs/scenes-segmentation.md), so that a reader
knows which numbers the method holds and why; and every constant the page names exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import openshape_ood.segmentation as segmentation

_PACKAGE = Path(segmentation.__file__).parent
_PAGE = Path(__file__).resolve().parents[2] / "docs" / "scenes-segmentation.md"


def _numeric_constants() -> set[str]:
    """``module.NAME`` of each upper-case name assigned a number at the top of a module of the package."""
    found = set()
    for path in sorted(_PACKAGE.glob("*.py")):
        module = importlib.import_module(f"{segmentation.__name__}.{path.stem}")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            for target in node.targets if isinstance(node, ast.Assign) else []:
                if isinstance(target, ast.Name) and re.fullmatch(r"_?[A-Z][A-Z0-9_]*", target.id):
                    value = getattr(module, target.id)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        found.add(f"{path.stem}.{target.id}")
    return found


def test_every_numeric_constant_is_named_on_the_page():
    page = _PAGE.read_text(encoding="utf-8")
    constants = _numeric_constants()
    assert {"geometry._SCATTER", "settings.MAX_VOXELS", "planes.RAYLEIGH_99"} <= constants  # the scan works
    missing = sorted(name for name in constants if f"`{name}`" not in page)
    assert not missing, f"add these to a table of docs/scenes-segmentation.md with their reasons: {missing}"


def test_every_constant_the_page_names_exists():
    modules = "|".join(path.stem for path in _PACKAGE.glob("*.py") if path.stem != "__init__")
    named = set(re.findall(rf"`((?:{modules})\.[A-Z_][A-Z0-9_]*)`", _PAGE.read_text(encoding="utf-8")))
    assert len(named) > 50
    stale = sorted(
        name for name in named
        if not hasattr(importlib.import_module(f"{segmentation.__name__}.{name.split('.')[0]}"), name.split(".")[1])
    )
    assert not stale, f"docs/scenes-segmentation.md names constants the code no longer has: {stale}"
