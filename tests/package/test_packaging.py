"""What a user installs, and what the light commands import."""

import os
import shutil
import stat
import subprocess
import sys
import zipfile

import pytest

from ..helpers.data import ROOT as REPO


def test_wheel_holds_only_the_library_with_a_real_registry_file(tmp_path):
    # Build from a copy, so that the build's egg-info and build/ folders stay out of the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "checkpoints.toml"):
        shutil.copy2(REPO / name, source / name, follow_symlinks=False)
    for name in ("openshape_ood", "benchmarks"):
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("openshape_ood-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert {name.split("/")[0] for name in names} == {"openshape_ood", wheel.name.split("-py3")[0] + ".dist-info"}
        info = archive.getinfo("openshape_ood/checkpoints.toml")
        assert stat.S_ISREG(info.external_attr >> 16)
        assert archive.read(info) == (REPO / "openshape_ood" / "checkpoints.toml").read_bytes()
        assert "openshape_ood/data/lvis_categories.txt" in names
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: open_clip_torch>=2.29" in metadata.splitlines()


def test_packaged_registry_is_a_regular_file_and_the_top_level_one_points_at_it():
    packaged = REPO / "openshape_ood" / "checkpoints.toml"
    assert packaged.is_file() and not packaged.is_symlink()
    assert (REPO / "checkpoints.toml").resolve() == packaged.resolve()


HEAVY = ("torch", "open_clip")


#: What --help, --version and models answer without: each would cost them tenths of a second.
SCIENTIFIC = ("numpy", "scipy", "sklearn", "trimesh", "h5py", "plyfile", "laspy", "pye57")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["models"]])
def test_light_commands_import_no_scientific_stack(argv, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENSHAPE_OOD_REGISTRY": "", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "openshape_ood", *argv],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "openshape_ood.cli" in imported  # the importtime report was read
    assert not {name for name in imported if name.split(".")[0] in HEAVY + SCIENTIFIC}
    assert done.stdout


#: What no command's --help may import: torch and open_clip, and the 2-4 s of scipy, scikit-learn and trimesh
#: (scipy.stats and scikit-learn made score, scene and embed --help take 2-4 s; issue 29).
HEAVY_FOR_HELP = (*HEAVY, "scipy", "sklearn", "trimesh")


def test_every_help_imports_neither_torch_nor_open_clip_nor_scipy_nor_sklearn(tmp_path):
    script = (
        "import sys\n"
        "from openshape_ood.cli import COMMANDS, main\n"
        "for argv in (['--help'], *([name, '--help'] for name in COMMANDS)):\n"
        "    assert main(argv) == 0\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY_FOR_HELP)!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Each help still says what the tables behind it hold: the methods, the readers' suffixes, the settings.
    for words in ("usage: openshape-ood score", "methods: max_cosine, mcm,", ".las", "usage: openshape-ood scene",
                  "--min-size", "usage: openshape-ood embed", "usage: openshape-ood index", "--nlist"):  # fmt: skip
        assert words in " ".join(done.stdout.split())  # argparse wraps lines
    assert done.stdout.splitlines()[-1] == "[]"
