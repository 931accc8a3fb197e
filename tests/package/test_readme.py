"""Every Python snippet of the README and of the documentation pages runs as written, on the tiny models.

The pages are README.md and every ``docs/**/*.md`` (globbed, so a page added later is covered).
Each page's snippets run in order in one namespace of their own (later ones use earlier names,
as a reader's session would), in a scratch folder that links to every entry of the repository
root, so that their relative paths (``tests/data/...``, ``../shared/...``) resolve as from the
root; their outputs go to temporary folders (``tempfile``), here inside the test's own folder. The files a snippet reads that
a page makes elsewhere are made first: ``shapes.h5`` by the ``embed`` command the page shows, and
``my_model.pt`` (your own checkpoint) with random weights at the snippet's architecture.
"""

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from openshape_ood import PointBertConfig, get_entry, load_registry
from openshape_ood.cli import main
from openshape_ood.encoders.pointbert import build_point_bert

from ..helpers.data import ROOT

SNIPPET = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def python_snippets(page: Path) -> list[str]:
    return SNIPPET.findall(page.read_text(encoding="utf-8"))


def test_every_page_has_its_snippets():
    """The extraction finds them all (a changed fence would otherwise let the snippets go untested)."""
    for page in PAGES:
        assert len(python_snippets(page)) == page.read_text(encoding="utf-8").count("```python\n"), page_name(page)
    assert len(python_snippets(ROOT / "README.md")) >= 2
    assert sum(len(python_snippets(page)) for page in PAGES) >= 12


def _shapes_are_embeddings(ns: dict) -> None:
    assert ns["shapes"].shape == (3, get_entry("vitl14").embed_dim)
    assert np.allclose(np.linalg.norm(ns["shapes"], axis=1), 1.0, atol=1e-5)  # L2-normalised


def _p_values(ns: dict) -> None:
    assert ((ns["p"] > 0) & (ns["p"] <= 1)).all() and ns["p"].shape == (3,)


def _readme(ns: dict) -> None:
    _shapes_are_embeddings(ns)
    _p_values(ns)


def _decisions(ns: dict) -> None:
    _p_values(ns)  # the ensemble's
    assert ns["names"].shape == ns["cosines"].shape and ns["names"].shape[1:] == (3,)


def _scenes(ns: dict) -> None:
    assert len(ns["labels"]) == len(ns["points"])  # the scene's, per point
    assert (Path(ns["out"]) / "scene.ply").is_file()


# What the snippets of a page promise about their results, beyond running.
PROMISES = {
    "README.md": _readme,
    "docs/quickstart.md": _shapes_are_embeddings,
    "docs/methods.md": _shapes_are_embeddings,
    "docs/decisions.md": _decisions,
    "docs/scenes.md": _scenes,
    "docs/corpora.md": lambda ns: (ns["out"] / "corpus.h5").is_file() or pytest.fail("no corpus.h5"),
    "docs/cli.md": lambda ns: len(ns["files"]) == len(ns["embeddings"]) or pytest.fail("files and embeddings differ"),
}


def as_repository_root(tmp_path: Path) -> Path:
    """A scratch folder that reads as the repository root: a link to each of its entries (and to
    ``../shared`` beside it, where the checkout has one), so that a snippet's relative paths resolve
    as from the root while the files it writes there land in the scratch folder."""
    scratch = tmp_path / "root"
    scratch.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (scratch / entry.name).symlink_to(entry)
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    return scratch


@pytest.mark.parametrize("page", [p for p in PAGES if python_snippets(p)], ids=page_name)
def test_every_python_snippet_runs_as_written(page, tiny_registry, tmp_path, monkeypatch):
    scratch = as_repository_root(tmp_path)
    monkeypatch.chdir(scratch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the snippets' scratch folders
    name = page_name(page)
    namespace: dict = {}
    for index, snippet in enumerate(python_snippets(page)):
        if 'h5py.File("shapes.h5")' in snippet:  # the page's embed example made it
            samples = "tests/data/real_samples"
            command = ["embed", f"{samples}/mikedh_trimesh", "--model", "vitg14"]
            assert main([*command, "--up", "z", "--out", "shapes.h5", "-q"]) == 0
        if 'from_checkpoint("my_model.pt"' in snippet:
            config = re.search(r"PointBertConfig\((.*?)\)\n", snippet, re.DOTALL).group(1)
            model = build_point_bert(eval(f"PointBertConfig({config})", {"PointBertConfig": PointBertConfig}))
            torch.save(model.state_dict(), "my_model.pt")
        try:
            exec(compile(snippet, f"{name} python snippet {index + 1}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - name the snippet that failed
            pytest.fail(f"{name} python snippet {index + 1} failed: {type(exc).__name__}: {exc}\n{snippet}")
    PROMISES.get(name, lambda ns: None)(namespace)


def console_example(command: str) -> list[str]:
    """The lines a page shows after ``$ command`` in a console block, up to the next prompt or the block's end."""
    text = next(t for t in (p.read_text(encoding="utf-8") for p in PAGES) if f"$ {command}\n" in t)
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


SCENE_COMMAND = "openshape-ood scene PointCloudLibrary_pcl/table_scene_mug_stereo_textured.pcd"


def test_the_scene_example_is_what_scene_prints_on_the_tiny_models(tiny_registry, tmp_path, monkeypatch, capsys):
    """The scene example's output, in full on the scenes page and abridged (``...``) in the README, is the command's."""
    monkeypatch.chdir(tmp_path)  # its outputs (scene.ply, scene.png) land here, beside a link to the samples
    (tmp_path / "PointCloudLibrary_pcl").symlink_to(ROOT / "tests" / "data" / "real_samples" / "PointCloudLibrary_pcl")
    shown = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        if f"{SCENE_COMMAND} \\\n" in text:
            start = text.index(SCENE_COMMAND)
            block = text[start : text.index("```", start)].splitlines()
            command, lines = (block[0].rstrip("\\") + block[1]).split(), block[2:]
            shown[page_name(page)] = (command, lines)
    assert {"README.md", "docs/scenes.md"} <= shown.keys()
    command = shown["docs/scenes.md"][0]
    assert all(c == command for c, _ in shown.values())
    assert main(command[1:]) == 0
    out, err = capsys.readouterr()
    printed = err.splitlines() + out.splitlines()
    assert shown["docs/scenes.md"][1] == printed
    assert [line for line in shown["README.md"][1] if line.strip() != "..."] == [
        line for line in printed if line in shown["README.md"][1]
    ]
    assert (tmp_path / "scene.ply").is_file() and (tmp_path / "scene.png").is_file()


def test_the_readme_model_table_is_the_registrys(monkeypatch):
    monkeypatch.delenv("OPENSHAPE_OOD_REGISTRY", raising=False)  # the packaged registry
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("[start:models]") : readme.index("[end:models]")]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `")]
    assert [row[0].strip(" `") for row in rows] == [name for name in load_registry() if "no-lvis" not in name]
    for name, _, embedding, _, text_tower, download, code, weights in ([cell.strip() for cell in row] for row in rows):
        entry = get_entry(name.strip("`"))
        assert int(embedding) == entry.embed_dim
        assert download == f"{entry.size / 1e6:,.1f} MB"
        assert text_tower.endswith(entry.text_model)
        assert code == (entry.licences.code or "not recorded")
        assert weights.startswith(entry.licences.weights or "none stated")


def test_the_readme_segmentation_figures_are_the_guides():
    """The README's table of how well scenes are segmented quotes the guide's measured table, not figures of
    its own."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "scenes-segmentation.md").read_text(encoding="utf-8")
    section = readme[readme.index("**How well it finds objects.**") :]
    quoted = {}  # README kind -> (objects, in-sample found, false, left-out found, false)
    row = r"^\| (table top|room|street) \| ([^|]+)\| ([^|]+)\| ([^|]+)\|"
    for kind, scans, in_sample, left_out in re.findall(row, section, re.M):
        quoted[kind] = (re.search(r"\((\d+)\)", scans)[1], *re.fullmatch(r"(\S+) \((\S+)\) ", in_sample).groups(),
                        *re.fullmatch(r"(\S+) \((\S+)\) ", left_out).groups())
    measured = {}  # guide kind -> the same, from its table of in-sample and leave-one-scan-out figures
    row = r"^\| (table-top|room|LiDAR) \([^,]+, (\d+)\) \| (\S+)/\d+ \([^)]*\) \| (\S+)/\d+ \([^)]*\) \| [^|]+\| (\S+) / (\S+) / "
    for kind, objects, in_sample, left_out, in_false, left_out_false in re.findall(row, guide, re.M):
        measured[kind] = (objects, in_sample, in_false, left_out, left_out_false)
    assert len(quoted) == len(measured) == 3
    assert quoted == {"table top": measured["table-top"], "room": measured["room"], "street": measured["LiDAR"]}
