"""notebooks/02_sr1_benchmark.ipynb runs top to bottom, offline, on a synthetic release and the tiny models."""

import json

from ..notebook_runner import NOTEBOOKS, output_text, run_notebook
from ..synthetic_3dos import make_synthetic_release


def test_sr1_notebook_runs_on_a_synthetic_release(tiny_registry, tmp_path):
    root = make_synthetic_release(tmp_path / "3D_OS_release_data", 1, seed=4)
    output = tmp_path / "out"
    env = {
        "OPENSHAPE_OOD_3DOS_ROOT": str(root),
        "OPENSHAPE_OOD_MODEL": "vitl14",
        "OPENSHAPE_OOD_TEMPLATES": "none",  # the LVIS negatives with the 64 templates take ~30 s
        "OPENSHAPE_OOD_RESULTS": str(output),
    }
    notebook = run_notebook(NOTEBOOKS / "02_sr1_benchmark.ipynb", env=env, timeout=180)

    text = output_text(notebook)
    assert text.count("Computing OOD metrics with") == 7
    assert "SR1 summary: AUROC / FPR95 in percent" in text and "[1] published: 3DOS paper" in text
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1 + 2 * 7  # the overview, then ROC and histogram per method
    results = json.loads((output / "results.json").read_text())
    assert results["model"] == "vitl14" and results["counts"]["known"] == 10
