"""Run a notebook top to bottom in a fresh Jupyter kernel, for the tests of ``notebooks/``.

Use it from any notebook test::

    from .notebook_runner import NOTEBOOKS, run_notebook

    def test_my_notebook(tiny_registry):  # sets OPENSHAPE_OOD_REGISTRY, which the kernel inherits
        notebook = run_notebook(NOTEBOOKS / "02_sr1_benchmark.ipynb")
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_notebook(
    path: str | os.PathLike, *, env: dict[str, str] | None = None, timeout: int = 300
) -> nbformat.NotebookNode:
    """Execute every cell of the notebook at ``path`` and return it with its outputs.

    The kernel starts in the notebook's folder (as Jupyter does, so relative paths in the
    notebook work) with this process's environment plus ``env``, and with this checkout
    first on ``PYTHONPATH`` so that it imports this code rather than an installed copy.
    The first failing cell raises :class:`nbclient.exceptions.CellExecutionError`, which
    shows the cell and its traceback; ``timeout`` is per cell, in seconds.
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    kernel_env = {**os.environ, **(env or {})}
    kernel_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), kernel_env.get("PYTHONPATH")]))
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=kernel_env)
    return notebook


def output_text(notebook: nbformat.NotebookNode) -> str:
    """All text the notebook's cells printed or displayed, in order."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)
