"""Where the test data live, from any test folder: the checkout, tests/data and tests/fixtures."""

from __future__ import annotations

import os
import re
from pathlib import Path

from openshape_ood.io import is_shape_file

#: The checkout's root (README.md, benchmarks/, openshape_ood/).
ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
DATA = TESTS / "data"
FIXTURES = TESTS / "fixtures"
#: Sample files of common formats, with SOURCES.md.
SAMPLES = DATA / "real_samples"
#: Files written by other tools (assimp's test models and more), with expected.json.
WILD = DATA / "real_samples_wild"
#: Survey and LiDAR files whose licence allows a copy, with expected.json.
SURVEY = DATA / "real_samples_survey"
#: The read-only folder of data shared between checkouts (../shared/data), or where
#: OPENSHAPE_OOD_SHARED_DATA points; tests that need it skip when it is not there.
SHARED = Path(os.environ.get("OPENSHAPE_OOD_SHARED_DATA", ROOT.parent / "shared" / "data"))


def sources_and_shape_files(folder: Path) -> tuple[dict[str, str], set[str]]:
    """``({file: sha256} listed in folder/SOURCES.md, {shape files on disk})``, paths relative to ``folder``."""
    sources = (folder / "SOURCES.md").read_text()
    listed = dict(re.findall(r"^## (\S+)\n.*?sha256 ([0-9a-f]{64})", sources, flags=re.S | re.M))
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if is_shape_file(p)
    }
    return listed, on_disk
