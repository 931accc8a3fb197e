"""A run whose class embeddings are all in the disk cache never imports open_clip (seconds of import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import torch
from safetensors.torch import save_file

from openshape_ood.encoders.text import TextEncoder

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}

_SECOND_RUN = """
import json, sys
import numpy as np
from openshape_ood.encoders.text import TextEncoder
encoder = TextEncoder("oso-hostile-clip", sys.argv[1], cache_dir=sys.argv[2], progress=False)
rows = encoder.embed_classes(["sofa", "chair"])
print(json.dumps({"open_clip": "open_clip" in sys.modules, "rows": rows.tolist(), "dim": encoder.embed_dim}))
"""


def test_a_text_cache_hit_never_imports_open_clip(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "oso-hostile-clip.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(tmp_path / "configs")
    torch.manual_seed(0)
    model = open_clip.create_model("oso-hostile-clip").eval()
    weights = tmp_path / "weights.safetensors"
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(weights))
    first = TextEncoder("oso-hostile-clip", weights, cache_dir=tmp_path / "cache", progress=False)
    expected = first.embed_classes(["chair", "sofa"])  # computed: fills the cache and remembers the tower

    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", _SECOND_RUN, str(weights), str(tmp_path / "cache")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)
    assert second["open_clip"] is False and second["dim"] == 16
    np.testing.assert_array_equal(np.asarray(second["rows"], dtype=np.float32), expected[::-1])
