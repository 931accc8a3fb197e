"""The reader table: one row per file format, registered by the format's own module.

Everything that depends on which formats exist reads this table: :func:`load_points`
picks the reader by suffix and words its unknown-suffix error from it, file discovery
(:func:`is_shape_file`, :func:`find_shape_files`) asks it which files to take, and the
README's format table is :func:`format_table` (a test keeps the two equal). A new format
is one module that calls :func:`register`, imported in ``openshape_ood/io/__init__.py``.
A format whose library is optional names it in ``needs``: the module imports it when a file is
read, and :func:`load_points` checks for it first (see :mod:`openshape_ood.extras`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..extras import EXTRAS
from .common import Cloud, Request, Surface

__all__ = ["FORMATS", "OPTIONS", "Format", "format_for", "format_table", "register", "supported_suffixes"]

#: Reader options of :func:`load_points` beyond the common ones, and what they apply to
#: (the words of the error when one is passed for a format that takes no such option).
OPTIONS = {
    "dataset": ".npz and HDF5 files only",
    "index": "stacked arrays in .npy/.npz/HDF5 files only",
    "layout": "raw LiDAR dumps (.bin) only",
    "max_points": "LAS/LAZ, E57 and raw LiDAR files only (read in chunks)",
    "voxel_size": "LAS/LAZ, E57 and raw LiDAR files only (read in chunks)",
}


@dataclass(frozen=True)
class Format:
    """One file format :func:`load_points` reads.

    Attributes:
        name: short name shown in the README table.
        suffixes: lower-case suffixes, compound ones (``.pcd.bin``) included; the longest
            one a file name ends with picks the format.
        reader: ``reader(path, request)`` -> a :class:`Cloud` or the :class:`Surface` list of a mesh.
        reads: what is read (one README cell).
        refuses: what is refused (one README cell).
        options: the :data:`OPTIONS` it takes.
        discover: whether a file of this suffix found in a folder is a shape file
            (default: every file); formats whose suffix other tools use too (``.bin``) say no
            to the files that are not theirs.
        needs: the optional modules (keys of :data:`~openshape_ood.extras.EXTRAS`) the reader
            imports; none for the formats of the core install.
    """

    name: str
    suffixes: tuple[str, ...]
    reader: Callable[[Path, Request], Cloud | list[Surface]]
    reads: str
    refuses: str
    options: frozenset[str] = field(default_factory=frozenset)
    discover: Callable[[Path], bool] | None = None
    needs: tuple[str, ...] = ()

    @property
    def extra(self) -> str | None:
        """The extra of ``openshape-ood`` that installs what the reader needs (``"survey"``), or ``None``."""
        extras = sorted({EXTRAS[module] for module in self.needs})
        return extras[0] if extras else None


#: Every registered format, in registration order (the order of the README table).
FORMATS: list[Format] = []


def register(fmt: Format) -> Format:
    """Add ``fmt`` to the table; a suffix belongs to one format only."""
    taken = {suffix for other in FORMATS for suffix in other.suffixes}
    clash = taken.intersection(fmt.suffixes)
    if clash:
        raise ValueError(f"suffixes {sorted(clash)} of {fmt.name} are registered already")
    unknown = set(fmt.options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"{fmt.name} names unknown options {sorted(unknown)}")
    extras = {EXTRAS.get(module) for module in fmt.needs}
    if None in extras or len(extras) > 1:
        raise ValueError(f"{fmt.name} needs {list(fmt.needs)}: modules of one extra of openshape_ood.extras.EXTRAS")
    FORMATS.append(fmt)
    return fmt


def supported_suffixes() -> tuple[str, ...]:
    """Every registered suffix, in table order."""
    return tuple(suffix for fmt in FORMATS for suffix in fmt.suffixes)


def format_for(path: str | Path) -> tuple[Format, str] | None:
    """The format of ``path`` and the suffix that chose it (longest match, case ignored), or ``None``."""
    name = Path(path).name.lower()
    matches = [(len(s), fmt, s) for fmt in FORMATS for s in fmt.suffixes if name.endswith(s) and len(name) > len(s)]
    if not matches:
        return None
    _, fmt, suffix = max(matches, key=lambda match: match[0])
    return fmt, suffix


def format_table() -> str:
    """The README's format table (Markdown), rendered from :data:`FORMATS`."""
    rows = ["| format | suffixes | extra | what is read | what is refused |", "|---|---|---|---|---|"]
    for fmt in FORMATS:
        suffixes = " ".join(f"`{s}`" for s in fmt.suffixes)
        extra = f"`[{fmt.extra}]`" if fmt.extra else "core"
        rows.append(f"| {fmt.name} | {suffixes} | {extra} | {fmt.reads} | {fmt.refuses} |")
    return "\n".join(rows) + "\n"
