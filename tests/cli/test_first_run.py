"""An offline first run fails in a second: the checkpoint is looked up before torch, open_clip, scipy and scikit-learn
are imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs the command as `python -m openshape_ood` does, then prints which heavy modules it imported.
_RUN = """
import json, runpy, sys
sys.argv = ["openshape-ood", *sys.argv[1:]]
try:
    runpy.run_module("openshape_ood", run_name="__main__")
except SystemExit as exit_:
    code = exit_.code
print(json.dumps(sorted(name for name in ("torch", "open_clip", "scipy", "sklearn") if name in sys.modules)))
sys.exit(code)
"""


def test_offline_score_with_an_empty_cache_fails_before_importing_torch(tmp_path):
    sample = tmp_path / "a.xyz"
    sample.write_text("0 0 0\n1 0 0\n0 1 0\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENSHAPE_OOD_REGISTRY"}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "empty-hub"),
        "OPENSHAPE_OOD_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", _RUN, "score", str(sample), "--model", "vitb32", "--known", "chair,table"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    # Neither torch nor open_clip, nor scipy and scikit-learn (--method and the decision rule: 3 s of a 6 s failure
    # on the loaded 2-core machine).
    assert json.loads(done.stdout) == []
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("openshape-ood: error: checkpoint for 'vitb32' is not in the local Hub cache")
    assert str(tmp_path / "empty-hub") in lines[0] and "HF_HUB_OFFLINE is set" in lines[0]
