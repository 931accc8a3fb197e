"""Builders of the command-line tests: inputs, the class names they score against, oracles and parsers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from openshape_ood import ShapeEncoder, load_points, score_novelty

from .data import ROOT

KNOWN = ["chair", "table", "floor_lamp"]
#: A small vocabulary keeps the tiny text tower quick; the LVIS default is tested in test_describe.
VOCABULARY = ["bucket", "trash_can", "flowerpot", "stool", "lamp"]


def blob(seed: int, n: int = 400) -> np.ndarray:
    """A seeded Gaussian blob ``(n, 3)`` float32, stretched differently along each axis."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) * rng.uniform(0.5, 2.0, size=3)).astype(np.float32)


def checkout_env() -> dict[str, str]:
    """This environment, with this checkout first on the import path of a subprocess."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def assert_usage_error(main, argv: list[str], message: str, capsys) -> None:
    """``main(argv)`` stops as argparse's ``parser.error`` does: exit code 2, with ``message`` on stderr."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def expected_scores(files: list[str], cwd: Path, model: str = "vitb32"):
    """Oracle: the library run file by file, as the CLI promises to."""
    encoder = ShapeEncoder.from_pretrained(model)
    embeddings = np.stack([encoder.embed(load_points(cwd / f, seed=0), seed=0)[0] for f in files])
    return embeddings, score_novelty(embeddings, KNOWN, model=encoder)


def read_table(stdout: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the table ``score`` prints, split on whitespace."""
    header, *rows = stdout.splitlines()
    return header.split(), [row.split() for row in rows]


def write_shapes(folder: Path) -> None:
    """q0..q2.npy to score and known/ (calibration shapes) in ``folder``."""
    (folder / "known").mkdir()
    for i in range(9):
        np.save(folder / "known" / f"k{i}.npy", blob(10 + i))
    for i in range(3):
        np.save(folder / f"q{i}.npy", blob(90 + i))
