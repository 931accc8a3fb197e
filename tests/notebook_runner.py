"""Run a notebook top to bottom with ``jupyter execute`` from ``notebooks/``, for the tests of the notebooks.

Use it from any notebook test::

    from .notebook_runner import NOTEBOOKS, run_notebook

    def test_my_notebook(tiny_registry):  # sets OPENSHAPE_OOD_REGISTRY, which the kernel inherits
        notebook = run_notebook(NOTEBOOKS / "02_sr1_benchmark.ipynb")
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run_notebook(
    path: str | os.PathLike, *, env: dict[str, str] | None = None, timeout: int = 300
) -> nbformat.NotebookNode:
    """Execute every cell of the notebook at ``path`` as a user would, and return it with its outputs.

    Runs ``jupyter execute`` in the notebook's folder (where Jupyter starts its kernels), with
    this process's environment plus ``env`` and without ``PYTHONPATH``: the notebook must find
    this checkout's code by itself, as it does for a user. A failing cell fails the run, and
    the :class:`AssertionError` shows jupyter's report of the cell and its traceback;
    ``timeout`` is per cell, in seconds.
    """
    path = Path(path).resolve()
    kernel_env = {**os.environ, **(env or {})}
    kernel_env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory() as folder:
        executed = Path(folder) / "executed"
        done = subprocess.run(
            [sys.executable, "-m", "jupyter", "execute", path.name, f"--output={executed}", f"--timeout={timeout}"],
            cwd=path.parent,
            env=kernel_env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"jupyter execute {path.name} failed:\n{done.stderr[-6000:]}"
        return nbformat.read(executed.with_suffix(".ipynb"), as_version=4)


def output_text(notebook: nbformat.NotebookNode) -> str:
    """All text the notebook's cells printed or displayed, in order."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)
