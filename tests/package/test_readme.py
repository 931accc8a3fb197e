"""Every Python snippet of the README runs as written, in order, on the tiny models.

The snippets share one namespace (later ones use earlier names, as a reader's session
would) and run in a scratch folder where ``tests/`` is the repository's, so that their
relative paths (``tests/data/...``) resolve as from the repository root and their outputs
(``results/...``) land in the scratch folder. The files a snippet reads that the README
makes elsewhere are made first: ``shapes.h5`` by the ``embed`` command it shows, and
``my_model.pt`` (your own checkpoint) with random weights at the snippet's architecture.
"""

import json
import re

import numpy as np
import pytest
import torch

from openshape_ood import PointBertConfig, get_entry
from openshape_ood.cli import main
from openshape_ood.encoders.pointbert import build_point_bert

from ..helpers.data import ROOT

SNIPPET = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_snippets() -> list[str]:
    return SNIPPET.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_its_snippets():
    """The extraction finds them all (a changed fence would otherwise let the snippets go untested)."""
    assert len(python_snippets()) == (ROOT / "README.md").read_text(encoding="utf-8").count("```python\n") >= 9


def test_every_python_snippet_runs_as_written(tiny_registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    snippets = python_snippets()
    namespace: dict = {}
    for index, snippet in enumerate(snippets):
        if 'h5py.File("shapes.h5")' in snippet:  # the README's embed example made it
            samples = "tests/data/real_samples"
            command = ["embed", f"{samples}/mikedh_trimesh", "--model", "vitg14"]
            assert main([*command, "--up", "z", "--out", "shapes.h5", "-q"]) == 0
        if 'from_checkpoint("my_model.pt"' in snippet:
            config = re.search(r"PointBertConfig\((.*?)\)\n", snippet, re.DOTALL).group(1)
            model = build_point_bert(eval(f"PointBertConfig({config})", {"PointBertConfig": PointBertConfig}))
            torch.save(model.state_dict(), "my_model.pt")
        try:
            exec(compile(snippet, f"README.md python snippet {index + 1}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - name the snippet that failed
            pytest.fail(f"README python snippet {index + 1} failed: {type(exc).__name__}: {exc}\n{snippet}")
    # What the snippets promise about their results.
    assert namespace["shapes"].shape == (3, get_entry("vitl14").embed_dim)
    assert np.allclose(np.linalg.norm(namespace["shapes"], axis=1), 1.0, atol=1e-5)  # L2-normalised
    assert ((namespace["p"] > 0) & (namespace["p"] <= 1)).all() and namespace["p"].shape == (3,)
    assert namespace["names"].shape == namespace["cosines"].shape and namespace["names"].shape[1:] == (3,)
    assert len(namespace["labels"]) == len(namespace["points"])  # the scene's, per point
    assert (tmp_path / "results" / "scene.ply").is_file() and (tmp_path / "results" / "corpus.h5").is_file()


def console_example(command: str) -> list[str]:
    """The lines the README shows after ``$ command`` in a console block, up to the next prompt or the block's end."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"$ {command}\n") + len(command) + 3
    block = text[start : text.index("```", start)]
    return block.split("\n$ ")[0].rstrip("\n").splitlines()


def test_the_models_example_is_what_models_prints(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENSHAPE_OOD_REGISTRY", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))  # nothing downloaded yet
    assert main(["models"]) == 0
    shown = console_example("openshape-ood models")
    assert capsys.readouterr().out.splitlines() == shown[:-1]
    assert shown[-1] == "openshape-ood: registry: <install folder>/openshape_ood/checkpoints.toml"


def test_the_json_example_is_what_score_prints_on_the_tiny_models(tiny_registry, monkeypatch, capsys):
    command = "openshape-ood score mikedh_trimesh/teapot.stl --known rabbit,duck,teapot --method mcm --threshold -0.34 --json --quiet"
    monkeypatch.chdir(ROOT / "tests" / "data" / "real_samples")
    assert main(command.split()[1:]) == 0
    printed = json.loads(capsys.readouterr().out)
    shown = json.loads("\n".join(console_example(command)))
    assert printed.keys() == shown.keys() and printed["results"][0].keys() == shown["results"][0].keys()
    # Equal, the numbers to 1e-6 (float rounding may differ between machines).
    assert {k: v for k, v in printed.items() if k != "results"} == {k: v for k, v in shown.items() if k != "results"}
    for got, want in zip(printed["results"], shown["results"], strict=True):
        assert got == {k: pytest.approx(v, abs=1e-6) if isinstance(v, float) else v for k, v in want.items()}
