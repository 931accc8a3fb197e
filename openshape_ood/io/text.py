"""Text point lists: ``.xyz``/``.txt`` (one point a line) and ``.pts`` (with count lines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import Cloud, Request, decode_text, split_columns
from .formats import Format, register


def read_text(path: Path, request: Request) -> Cloud:
    return Cloud(*_read_text(path, path.suffix.lower()))


def _read_text(path: Path, suffix: str) -> tuple[np.ndarray, np.ndarray | None]:
    lines = decode_text(path.read_bytes()).replace(",", " ").splitlines()
    rows = [
        line
        for line in lines
        if line.strip() and not line.lstrip().startswith(("#", "//"))
    ]
    if suffix == ".pts":
        rows = _pts_rows(path, rows)
    if not rows:
        raise ValueError(f"{path} holds no points")
    try:
        table = np.loadtxt(rows, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"could not read {path}: {exc}") from None
    if table.shape[1] < 3:
        raise ValueError(f"{path} has {table.shape[1]} columns; need at least 3 (x y z)")
    rgb_start = 4 if suffix == ".pts" and table.shape[1] >= 7 else 3
    return split_columns(table, rgb_start)


def _pts_rows(path: Path, rows: list[str]) -> list[str]:
    """The point rows of a .pts file, checking each block against its count line."""
    points: list[str] = []
    declared, start = None, 0
    for line in rows + ["end"]:
        fields = line.split()
        if len(fields) != 1:
            points.append(line)
            continue
        if declared is not None and len(points) - start != declared:
            raise ValueError(
                f"{path}: a .pts block declares {declared} points but holds {len(points) - start}"
            )
        if line == "end":
            break
        try:
            declared = int(fields[0])
        except ValueError:
            raise ValueError(f"{path}: .pts count line {fields[0]!r} is not a whole number") from None
        start = len(points)
    return points



register(Format(
    "text", (".xyz", ".txt"), read_text,
    "whitespace- or comma-separated `x y z [r g b ...]`, `#`/`//` comments",
    "ragged rows; header lines such as `X,Y,Z`",
))
register(Format(
    "PTS", (".pts",), read_text,
    "Leica-style: count lines, then `x y z [intensity r g b]` rows",
    "blocks whose count line disagrees with their rows",
))
