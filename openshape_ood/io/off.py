"""OFF (Geomview's Object File Format), with vertex and face colours."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from .contract import DEFAULT_RGB, rgb_to_unit
from .common import (
    Cloud,
    Request,
    Surface,
    check_indices,
    decode_text,
    face_colouring,
    fan,
    fan_owner,
    vertex_colouring,
)
from .formats import Format, register


def read_off(path: Path, request: Request) -> Cloud | list[Surface]:
    """An OFF file (Geomview's format) with optional vertex and face colours."""
    text = decode_text(path.read_bytes())
    lines = [line.split("#", 1)[0].split() for line in text.splitlines()]
    lines = [words for words in lines if words]
    match = re.fullmatch(r"(ST)?(C)?(N)?(4)?(n)?OFF(.*)", " ".join(lines[0]) if lines else "")
    if match is None:
        raise ValueError(f"could not read {path}: it does not start with an OFF keyword")
    if match.group(4) or match.group(5):
        raise ValueError(f"{path}: 4D and nD OFF files are not supported")
    first = match.group(6).split()
    counts, rest = (first, lines[1:]) if first else (lines[1] if len(lines) > 1 else [], lines[2:])
    try:
        num_vertices, num_faces = int(counts[0]), int(counts[1])
    except (IndexError, ValueError):
        raise ValueError(f"{path}: the OFF counts line must give vertex and face counts") from None
    if num_vertices < 1 or num_faces < 0 or num_vertices + num_faces > len(rest):
        raise ValueError(
            f"{path}: the OFF header declares {num_vertices} vertices and {num_faces} faces, "
            f"but the file holds {len(rest)} data lines"
        )
    skip = 3 + 3 * bool(match.group(3))  # xyz, then normals
    try:
        vertex_rows = [[float(v) for v in words] for words in rest[:num_vertices]]
    except ValueError as exc:
        raise ValueError(f"could not read {path}: bad OFF vertex line ({exc})") from None
    if min(len(r) for r in vertex_rows) < 3:
        raise ValueError(f"{path}: an OFF vertex line has fewer than 3 coordinates")
    xyz = np.array([r[:3] for r in vertex_rows], dtype=np.float64)
    end = -2 if match.group(1) else None  # texture coordinates close an STOFF vertex line
    vertex_rgb = _off_colours([r[skip:end] for r in vertex_rows]) if match.group(2) else None

    polygons, face_colours = [], []
    for words in rest[num_vertices : num_vertices + num_faces]:
        try:
            size = int(words[0])
            polygons.append(np.array([int(w) for w in words[1 : 1 + size]], dtype=np.int64))
            face_colours.append([float(w) for w in words[1 + size :]])
        except ValueError as exc:
            raise ValueError(f"could not read {path}: bad OFF face line ({exc})") from None
        if len(polygons[-1]) != size:
            raise ValueError(f"{path}: an OFF face declares {size} corners but lists {len(polygons[-1])}")
    triangles = fan(polygons)
    if not len(triangles):
        return Cloud(xyz, vertex_rgb)
    check_indices(path, triangles, len(xyz))
    face_rgb = _face_colours(path, face_colours, polygons, vertex_rgb)
    if face_rgb is not None:
        colour = face_colouring(face_rgb[fan_owner(polygons)])
    elif vertex_rgb is not None:
        colour = vertex_colouring(triangles, vertex_rgb)
    else:
        colour = None
    return [Surface(xyz, triangles, colour)]


def _off_colours(rows: list[list[float]]) -> np.ndarray | None:
    """RGB(A) rows as colours in [0, 1], or None unless every row has 3 or 4 values."""
    if not rows or any(len(r) not in (3, 4) for r in rows):
        return None
    return rgb_to_unit(np.array([r[:3] for r in rows], dtype=np.float64))


def _face_colours(
    path: Path, rows: list[list[float]], polygons: list[np.ndarray], vertex_rgb: np.ndarray | None
) -> np.ndarray | None:
    """Face colours in [0, 1] when any face has one; a face with a missing or short colour warns.

    Such a face takes the mean of its vertices' colours when the file has them, else the
    neutral grey of faces without colour (:data:`~openshape_ood.io.contract.DEFAULT_RGB`).
    """
    good = [i for i, row in enumerate(rows) if len(row) in (3, 4)]
    if not good:
        return None
    colours = _off_colours([rows[i] for i in good])
    if colours is None:
        return None
    if len(good) == len(rows):
        return colours
    bad = sorted(set(range(len(rows))) - set(good))
    warnings.warn(
        f"{path}: {len(bad)} of {len(rows)} faces have a missing or short colour (first: face {bad[0]}); "
        "they are coloured from their vertices or grey, the other faces keep theirs",
        stacklevel=5,
    )
    result = np.full((len(rows), 3), DEFAULT_RGB)
    result[good] = colours
    if vertex_rgb is not None:
        for i in bad:
            result[i] = vertex_rgb[polygons[i]].mean(axis=0)
    return result


register(Format(
    "OFF", (".off",), read_off,
    "`OFF`, `COFF`, `NOFF`, `STOFF` (keyword may touch the counts); vertex and face colours (a face with a missing or "
    "short colour warns and the others keep theirs); polygons triangulated; without faces a point cloud",
    "fewer lines than declared; indices out of range; 4D/nD OFF",
))
