"""``python -m benchmarks.sr1 --model uni3d-b`` end to end on a tiny random-weight Uni3D model."""

import json
import os
import re
import subprocess
import sys

from openshape_ood import get_entry

from ..helpers.data import ROOT
from ..helpers.uni3d import make_tiny_uni3d_registry


def test_sr1_runs_with_a_uni3d_model(release, tiny_registry_file, tmp_path):
    uni3d_registry = make_tiny_uni3d_registry(tmp_path / "tiny_uni3d")
    output = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OPENSHAPE_OOD_REGISTRY": os.pathsep.join([str(tiny_registry_file), str(uni3d_registry)]),
        "OPENSHAPE_OOD_CACHE": str(tmp_path / "cache"),
    }
    # One text method and bare class names: the run's cost is the encoder, which is what is tested.
    command = [sys.executable, "-m", "benchmarks.sr1", "--model", "uni3d-b", "--data-root", str(release),
               "--methods", "max_cosine", "--templates", "none", "--output", str(output), "--quiet"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads((output / "results.json").read_text())
    assert (results["model"], list(results["methods"])) == ("uni3d-b", ["max_cosine"])
    assert results["provenance"]["checkpoint_sha256"] == get_entry("uni3d-b", uni3d_registry).sha256
    both = results["methods"]["max_cosine"]["comparisons"]["known_vs_unknown_1_and_2"]
    assert 0.0 <= both["auroc"] <= 1.0 and 0.0 <= both["fpr95"] <= 1.0
    assert re.search(rf"\nmax_cosine +{100 * both['auroc']:.1f} +{100 * both['fpr95']:.1f}  measured\n", done.stdout)
