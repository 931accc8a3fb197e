"""Package faces that import their modules on first use (PEP 562).

``import openshape_ood`` and the command line's ``--help``, ``--version`` and ``models`` need no
torch: each package's ``__init__`` names what it exports and where, and a name's module is
imported only when the name is first looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[list[str], Callable, Callable]:
    """``(__all__, __getattr__, __dir__)`` for ``package`` whose public names live in ``exports``.

    ``exports`` maps each public name to its module, relative to ``package`` (``"shape"``).
    """
    module = import_module(package)

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{exports[name]}", package), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *exports})

    return sorted(exports), __getattr__, __dir__
