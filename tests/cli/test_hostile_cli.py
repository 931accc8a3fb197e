"""Hostile inputs at the command line: one line per bad input, and the run goes on with the others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from openshape_ood.cli import main

from ..helpers.hostile_files import patch

SURVEY = Path(__file__).resolve().parents[1] / "data" / "real_samples_survey"
REPO = Path(__file__).resolve().parents[2]


def _shape(path: Path, seed: int) -> Path:
    np.save(path, np.random.default_rng(seed).normal(size=(300, 3)))
    return path


def test_embed_out_under_a_file_says_which_is_a_file(tiny_registry, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    shape = _shape(tmp_path / "q.npy", 0)
    assert main(["embed", str(shape), "--model", "vitb32", "--out", str(tmp_path / "a_file" / "o.h5"), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert f"{tmp_path / 'a_file'} is a file, not a folder" in error and "Errno" not in error


def test_a_lazrs_panic_in_a_batch_is_one_line_and_the_rest_is_scored(tiny_registry, tmp_path, capsys):
    bad = Path(shutil.copy(SURVEY / "laspy_laspy" / "simple.laz", tmp_path / "bad.laz"))
    patch(bad, 294, "<B", 0x01)  # its laszip VLR's chunk size 50000 -> 336: lazrs panics, "capacity overflow"
    good = _shape(tmp_path / "good.npy", 1)
    code = main(["score", str(bad), str(good), "--model", "vitb32", "--known", "chair,table", "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "good.npy" in captured.out and "bad.laz" not in captured.out
    errors = [line for line in captured.err.splitlines() if str(bad) in line]
    assert len(errors) == 1 and "its LAZ data are damaged" in errors[0]
    assert "Traceback" not in captured.err and "PanicException" not in captured.err


def test_a_lazrs_panic_is_one_stderr_line_from_the_command_line(tiny_registry, tmp_path):
    # Rust's panic hook writes its report (3 lines; a 50-line backtrace under RUST_BACKTRACE=1) to file
    # descriptor 2 itself: only a separate process shows what the terminal gets. scene reads the scan before
    # it imports torch, so the error comes in a second or two.
    bad = Path(shutil.copy(SURVEY / "laspy_laspy" / "simple.laz", tmp_path / "bad.laz"))
    patch(bad, 294, "<B", 0x01)  # its laszip VLR's chunk size 50000 -> 336: lazrs panics, "capacity overflow"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RUST_BACKTRACE": "1"}
    argv = ["scene", str(bad), "--model", "vitb32", "--known", "chair,table", "--out", str(tmp_path / "o.ply")]
    done = subprocess.run([sys.executable, "-m", "openshape_ood", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"openshape-ood: error: could not read {bad}: its LAZ data are damaged (the decoder failed: capacity overflow)"
    ]


def test_rust_backtraces_only_with_debug(monkeypatch):
    # lazrs's panic would print a 50-line Rust backtrace where RUST_BACKTRACE=1 is set (as on this machine).
    from openshape_ood.cli import _rust_backtraces

    monkeypatch.setenv("RUST_BACKTRACE", "1")
    with _rust_backtraces(False):
        assert os.environ["RUST_BACKTRACE"] == "0"
    assert os.environ["RUST_BACKTRACE"] == "1"
    with _rust_backtraces(True):
        assert os.environ["RUST_BACKTRACE"] == "1"
    monkeypatch.delenv("RUST_BACKTRACE")
    with _rust_backtraces(False):
        assert os.environ["RUST_BACKTRACE"] == "0"
    assert "RUST_BACKTRACE" not in os.environ
