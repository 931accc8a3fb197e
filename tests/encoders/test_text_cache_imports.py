"""A run whose class embeddings are all in the disk cache never imports open_clip (seconds of import)."""

from __future__ import annotations

import json
import sys

import numpy as np
import open_clip
import torch
from safetensors.torch import save_file

from openshape_ood.encoders.text import TextEncoder

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def test_a_text_cache_hit_never_imports_open_clip(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "oso-hostile-clip.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(tmp_path / "configs")
    torch.manual_seed(0)
    model = open_clip.create_model("oso-hostile-clip").eval()
    weights = tmp_path / "weights.safetensors"
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(weights))
    first = TextEncoder("oso-hostile-clip", weights, cache_dir=tmp_path / "cache", progress=False)
    expected = first.embed_classes(["chair", "sofa"])  # computed: fills the cache and remembers the tower

    # As in a new process that has not imported open_clip: any `import open_clip` now raises ImportError,
    # and the module already imported (by a reference held since) fails on use.
    def used(*args, **kwargs):
        raise AssertionError("open_clip was used on a cache hit")

    for name in ("get_model_config", "is_pretrained_cfg", "get_pretrained_cfg", "get_tokenizer", "build_zero_shot_classifier"):
        monkeypatch.setattr(open_clip, name, used)
    monkeypatch.setitem(sys.modules, "open_clip", None)
    again = TextEncoder("oso-hostile-clip", weights, cache_dir=tmp_path / "cache", progress=False)
    assert again.embed_dim == 16 and again.cache
    np.testing.assert_array_equal(again.embed_classes(["sofa", "chair"]), expected[::-1])
