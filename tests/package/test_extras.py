"""Optional extras: the core install scores PLY and OBJ files; without [survey] a LAS file is one line of error.

The core is run in a subprocess in which the extras' modules cannot be imported (a meta path
finder refuses them, as for a fresh ``pip install openshape-ood`` without extras).
"""

import configparser
import subprocess
import sys

import numpy as np
import pytest

from openshape_ood.extras import EXTRAS, MissingExtraError, require
from openshape_ood.io import FORMATS, format_table

from ..helpers.cli import checkout_env, read_table
from ..helpers.data import ROOT, SAMPLES, SURVEY

CORE_ONLY = f"""
import sys

BLOCKED = {sorted(EXTRAS)!r}


class NotInstalled:
    \"\"\"A meta path finder for which the extras' modules do not exist.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
from openshape_ood.cli import main

code = main(sys.argv[1:])
leaked = sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)
assert not leaked, leaked
sys.exit(code)
"""


def test_the_core_scores_ply_and_obj_and_names_the_extra_for_a_las_file(tiny_registry, tmp_path):
    ply, obj = SAMPLES / "mikedh_trimesh" / "bunny.ply", SAMPLES / "mikedh_trimesh" / "rabbit.obj"
    las = SURVEY / "PDAL_PDAL" / "autzen-utm.las"
    done = subprocess.run(
        [sys.executable, "-c", CORE_ONLY, "score", str(ply), str(las), str(obj), "--known", "chair,table",
         "--model", "vitb32", "-q"],
        cwd=tmp_path, env=checkout_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]  # one file failed, the others were scored
    header, rows = read_table(done.stdout)
    assert header[:4] == ["file", "class", "similarity", "novelty"]
    assert sorted(row[0] for row in rows) == sorted([str(ply), str(obj)])
    assert all(np.isfinite(float(value)) for row in rows for value in row[2:4])
    assert "Traceback" not in done.stderr
    [error] = [line for line in done.stderr.splitlines() if str(las) in line]
    assert error == (
        f'openshape-ood: error: reading {las} needs laspy, which is not installed: pip install "openshape-ood[survey]"'
    )


def test_a_missing_extra_is_an_import_error_and_a_bad_file_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pye57", None)  # import pye57 now raises ImportError
    with pytest.raises(MissingExtraError) as caught:
        require("pye57", "reading scan.e57")
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, ValueError)
    assert str(caught.value) == 'reading scan.e57 needs pye57, which is not installed: pip install "openshape-ood[survey]"'


def test_the_reader_table_names_the_extra_of_each_format():
    extras = {fmt.name: fmt.extra for fmt in FORMATS}
    assert extras["LAS/LAZ"] == extras["E57"] == "survey"
    assert {name for name, extra in extras.items() if extra is None} >= {"PLY", "OBJ", "STL", "glTF", "PCD", "NumPy", "HDF5"}
    assert "| LAS/LAZ | `.las` `.laz` | `[survey]` |" in format_table()


def test_setup_cfg_extras_are_the_modules_extras():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extras = {name: set(config["options.extras_require"][name].split()) for name in ("survey", "plot", "html", "scale", "all")}
    # A requirement line's project name, without extras or version: "laspy[lazrs]>=2.5" -> laspy.
    project = {name: {req.split("[")[0].split(">")[0].split("=")[0] for req in reqs} for name, reqs in extras.items()}
    modules = {extra: {module for module, owner in EXTRAS.items() if owner == extra} for extra in ("survey", "plot", "html", "scale")}
    modules["survey"] -= {"lazrs"}  # installed by laspy[lazrs]
    modules["scale"] = {"faiss-cpu"}  # the module faiss, from the project faiss-cpu
    assert {extra: project[extra] for extra in modules} == modules
    assert extras["all"] == extras["survey"] | extras["plot"] | extras["html"] | extras["scale"]
    assert "openshape-ood[all]" in config["options.extras_require"]["test"].split()  # the suite needs every extra
    core = config["options"]["install_requires"]
    assert not any(module in core for module in EXTRAS)


def test_the_scene_colours_are_matplotlibs_viridis():
    # Oracle: matplotlib itself, which the PLY colours no longer import.
    matplotlib = pytest.importorskip("matplotlib")
    from openshape_ood.scenes.scene import novelty_colours

    unit = np.concatenate([[0.0, 0.5, 1.0, 1 / 256, 255 / 256], np.random.default_rng(0).random(2000)])
    np.testing.assert_array_equal(novelty_colours(unit, (0.0, 1.0)), matplotlib.colormaps["viridis"](unit)[:, :3])
