"""notebooks/02_sr1_benchmark.ipynb runs top to bottom, offline, on a synthetic release and the tiny models."""

import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .synthetic_3dos import make_synthetic_release

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "02_sr1_benchmark.ipynb"


def test_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebook_runs_on_a_synthetic_release(tiny_registry, tmp_path, monkeypatch):
    root = make_synthetic_release(tmp_path / "3D_OS_release_data", 1, seed=4)
    output = tmp_path / "out"
    # The kernel inherits this environment (tiny registry, temporary cache, offline Hub).
    monkeypatch.setenv("SR1_DATA_ROOT", str(root))
    monkeypatch.setenv("SR1_MODEL", "vitl14")
    monkeypatch.setenv("SR1_TEMPLATES", "none")  # the LVIS negatives with 64 templates take ~30 s
    monkeypatch.setenv("SR1_OUTPUT", str(output))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert text.count("Computing OOD metrics with") == 7
    assert "SR1 summary: AUROC / FPR95 in percent" in text and "[1] published: 3DOS paper" in text
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 1 + 2 * 7  # the overview, then ROC and histogram per method
    results = json.loads((output / "results.json").read_text())
    assert results["model"] == "vitl14" and results["counts"]["known"] == 10
