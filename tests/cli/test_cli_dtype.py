"""--dtype on the commands that encode, and --verbose saying what "auto" chose."""

import numpy as np

from openshape_ood import ShapeEncoder
from openshape_ood.cli import main
from openshape_ood.corpus.embedding_file import read_embeddings

from ..helpers.cli import blob


def test_embed_records_the_dtype_and_never_mixes_dtypes(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    np.save(tmp_path / "b.npy", blob(2))
    assert main(["embed", "a.npy", "--model", "vitb32", "--out", "out.h5", "--dtype", "bfloat16", "-v"]) == 0
    assert "vitb32 on cpu computes in bfloat16 (asked for)" in capsys.readouterr().err
    assert read_embeddings(tmp_path / "out.h5")[2]["dtype"] == "bfloat16"
    assert main(["embed", "a.npy", "b.npy", "--model", "vitb32", "--out", "out.h5", "--dtype", "float32", "-q"]) == 1
    assert "dtype='bfloat16' there, 'float32' now" in capsys.readouterr().err.splitlines()[-1]
    # "auto" is pinned to float32 for the suite by $OPENSHAPE_OOD_DTYPE, and says so.
    assert main(["embed", "a.npy", "--model", "vitb32", "--out", "auto.h5", "-v"]) == 0
    assert "computes in float32 (from $OPENSHAPE_OOD_DTYPE)" in capsys.readouterr().err
    assert read_embeddings(tmp_path / "auto.h5")[2]["dtype"] == "float32"


def test_score_uses_the_dtype_asked_for(tiny_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "a.npy", blob(1))
    dtypes = []
    encode = ShapeEncoder.encode_prepared
    monkeypatch.setattr(ShapeEncoder, "encode_prepared", lambda self, *a, **k: dtypes.append(self.dtype) or encode(self, *a, **k))
    arguments = ["score", "a.npy", "--model", "vitb32", "--known", "chair,table", "--templates", "none", "-q"]
    assert main([*arguments, "--dtype", "bfloat16"]) == 0
    assert main(arguments) == 0
    assert [str(d) for d in dtypes] == ["torch.bfloat16", "torch.float32"]


def test_an_unknown_dtype_is_a_usage_error(tiny_registry, capsys):
    assert main(["embed", "a.npy", "--out", "o.h5", "--dtype", "float16"]) == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err


def test_models_verbose_says_what_auto_picks(capsys):
    assert main(["models", "-v"]) == 0
    assert "--dtype auto on cpu: float32 (from $OPENSHAPE_OOD_DTYPE)" in capsys.readouterr().err
