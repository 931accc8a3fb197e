"""Quiet by default: labelled bars on stderr only on a terminal (or asked for), no third-party noise."""

import logging
import os
import subprocess
import sys

from openshape_ood import progress
from openshape_ood.progress import bar_class, progress_bar, show_progress

from ..tiny_models import make_tiny_registry
from ..helpers.data import ROOT


def test_bars_show_on_a_terminal_or_when_asked(monkeypatch):
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: False)
    assert not show_progress(None) and show_progress(True) and not show_progress(False)
    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: True)
    assert show_progress(None) and not show_progress(False)
    assert not progress.in_notebook()  # pytest is no Jupyter kernel


def test_bars_are_labelled_and_go_to_stderr(capsys):
    for _ in progress_bar(range(3), desc="Doing things", unit="thing", progress=True):
        pass
    captured = capsys.readouterr()
    assert captured.out == "" and "Doing things: 100%" in captured.err and "3/3" in captured.err
    # A library's bar (huggingface_hub passes its own desc and a name) gets our label.
    with bar_class("vitb32 checkpoint", progress=True)(total=10, desc="model.pt", name="hub", unit="B") as bar:
        bar.update(10)
    assert "vitb32 checkpoint: 100%" in capsys.readouterr().err
    with bar_class("hidden", progress=False)(total=10) as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""


def test_the_tiny_models_are_made_without_third_party_warnings(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG):
        make_tiny_registry(tmp_path)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_score_on_the_tiny_models_prints_no_bars_or_warnings_into_a_log(tmp_path, tiny_registry_file):
    env = {
        **os.environ,
        "OPENSHAPE_OOD_REGISTRY": str(tiny_registry_file),
        "OPENSHAPE_OOD_CACHE": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    sample = ROOT / "tests/data/real_samples/mikedh_trimesh/Duck.glb"
    command = [sys.executable, "-m", "openshape_ood", "score", str(sample), "--known", "chair,duck", "--model", "vitb32"]
    done = subprocess.run([*command, "--threshold", "-0.1"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and "Duck.glb" in done.stdout
    assert done.stderr == ""  # stderr is a pipe: no bars; the tiny models raise no warnings
    shown = subprocess.run([*command, "--progress"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "Embedding shapes: 100%" in shown.stderr and "Embedding class names" not in shown.stderr  # names cached


def test_notebook_bars_in_jupyter_when_widgets_are_installed(monkeypatch):
    from tqdm import tqdm as text_bar
    from tqdm.notebook import tqdm as notebook_bar

    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: object() if name == "ipywidgets" else None)
    assert issubclass(bar_class("x"), notebook_bar) and show_progress(None)
    monkeypatch.setattr(progress.importlib.util, "find_spec", lambda name: None)
    assert not issubclass(bar_class("x"), notebook_bar) and issubclass(bar_class("x"), text_bar)
