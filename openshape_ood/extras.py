"""Optional dependencies: the extra that installs each, imported only when a file or a feature needs it.

The core install reads PLY, OBJ, STL, glTF, OFF, PCD, NPY/NPZ, HDF5, text and raw LiDAR files
and writes PLY. Survey formats (LAS/LAZ/COPC, E57) need ``[survey]``, the scene picture
(``--png``) ``[plot]``, the interactive page (``--html``) ``[html]``; ``[all]`` is all three.
Without one, using it raises :class:`MissingExtraError`: one line naming the file or feature
and the ``pip install`` that fixes it. setup.cfg's ``extras_require`` lists the same
(a test keeps the two equal).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "install_command", "require"]

#: Importable module -> the extra of ``openshape-ood`` that installs it.
EXTRAS = {
    "laspy": "survey",
    "lazrs": "survey",
    "pye57": "survey",
    "matplotlib": "plot",
    "plotly": "html",
    "faiss": "scale",
}


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is not installed.

    An ``ImportError`` (what it is) and a ``ValueError`` (what a file that cannot be read
    raises), so that a run over many files reports the file and goes on to the next.
    """


def install_command(module: str) -> str:
    """``pip install "openshape-ood[EXTRA]"`` for the extra that installs ``module``."""
    return f'pip install "openshape-ood[{EXTRAS[module]}]"'


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (a key of :data:`EXTRAS`) for ``purpose`` (``"reading scan.las"``).

    Raises:
        MissingExtraError: ``module`` cannot be imported; the message names ``purpose``, the
            module and the install command.
    """
    try:
        return import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs {module}, which is not installed: {install_command(module)}"
        ) from exc
