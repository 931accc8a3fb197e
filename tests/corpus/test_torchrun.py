"""``openshape-ood embed`` under torchrun (CPU, gloo): the same file as one process, and resumable with another count.

torchrun takes seconds to start, so this module holds two runs only: a complete one and
a killed one.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import trimesh

from openshape_ood import ShapeEncoder
from openshape_ood.cli import main
from openshape_ood.corpus.embedding_file import read_embeddings

from ..helpers.cli import blob, checkout_env

EMBED = ["embed", "shapes", "--model", "vitb32", "--chunk-size", "1", "--batch-size", "1", "-q"]
# Attributes a torchrun output shares with a one-process output (world_size differs by design).
SHARED = ("model", "checkpoint", "embed_dim", "model_up_axis", "up_axis", "seed", "num_points", "rgb", "fps_start", "mesh_samples")


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 ARGS``, run as ``python -m torch.distributed.run`` (what torchrun is)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    return subprocess.run(command, cwd=cwd, env=checkout_env(), capture_output=True, text=True, timeout=600)


@pytest.fixture
def corpus(tiny_registry, tmp_path, monkeypatch) -> Path:
    """shapes/: clouds, a mesh, a stack of three and a degenerate file; and a one-process run of them in one.h5."""
    shapes = tmp_path / "shapes"
    (shapes / "sub").mkdir(parents=True)
    for i in range(4):
        np.save(shapes / f"c{i}.npy", blob(i, n=200))
    np.savetxt(shapes / "sub" / "t.xyz", blob(7, n=150))
    trimesh.creation.icosphere(subdivisions=1).export(shapes / "sub" / "ball.obj")
    with h5py.File(shapes / "stack.h5", "w") as h5:
        h5["data"] = np.stack([blob(10 + i, n=100) for i in range(3)])
    np.save(shapes / "flat.npy", np.zeros((20, 3), np.float32))
    monkeypatch.chdir(tmp_path)
    assert main([*EMBED, "--out", "one.h5"]) == 1  # flat.npy cannot be embedded
    return tmp_path


def assert_same_output(path: Path, reference: Path, world_size: int) -> None:
    embeddings, files, attributes = read_embeddings(path)
    expected, expected_files, expected_attributes = read_embeddings(reference)
    assert files == expected_files
    np.testing.assert_allclose(embeddings, expected, rtol=0, atol=1e-6)
    assert {key: attributes[key] for key in SHARED} == {key: expected_attributes[key] for key in SHARED}
    assert attributes["world_size"] == world_size


def test_two_processes_write_what_one_writes(corpus):
    assert len(read_embeddings(corpus / "one.h5")[1]) == 9  # 4 .npy clouds, a text cloud, a mesh, 3 stack rows
    result = torchrun("-m", "openshape_ood", *EMBED, "--out", "two.h5", "--num-workers", "1", cwd=corpus)
    assert result.returncode == 1, result.stderr
    # flat.npy is named once, by the rank that tried it, and counted by rank 0.
    assert result.stderr.count("openshape-ood: error: shapes/flat.npy: all points are identical") == 1
    assert "openshape-ood: error: 1 input(s) failed (see above)" in result.stderr
    assert_same_output(corpus / "two.h5", corpus / "one.h5", world_size=2)
    assert sorted(path.name for path in corpus.iterdir()) == ["one.h5", "one.h5.lock", "shapes", "two.h5", "two.h5.lock"]


KILL_RANK_1 = textwrap.dedent(
    """
    import os, sys
    from openshape_ood import ShapeEncoder
    from openshape_ood.cli import main

    encode, calls = ShapeEncoder.encode_prepared, []

    def encode_then_die(self, *args, **kwargs):
        if os.environ["RANK"] == "1" and len(calls) == 2:
            os._exit(137)  # like SIGKILL: no finally blocks, no flush; torchrun then stops rank 0
        calls.append(1)
        return encode(self, *args, **kwargs)

    ShapeEncoder.encode_prepared = encode_then_die
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_killed_run_resumes_with_one_process(corpus, monkeypatch):
    (corpus / "kill.py").write_text(KILL_RANK_1)
    killed = torchrun("kill.py", *EMBED, "--out", "out.h5", cwd=corpus)
    assert killed.returncode != 0
    assert not (corpus / "out.h5").exists()
    saved = len(list((corpus / "out.h5.partial").glob("chunk-*.npz")))
    assert 2 <= saved < 9  # rank 1 saved two shapes; the run did not get to the end

    calls = []
    encode = ShapeEncoder.encode_prepared
    monkeypatch.setattr(ShapeEncoder, "encode_prepared", lambda self, *a, **k: calls.append(1) or encode(self, *a, **k))
    assert main([*EMBED, "--out", "out.h5"]) == 1  # flat.npy again
    assert len(calls) == 9 - saved  # only what the killed run had not saved
    assert_same_output(corpus / "out.h5", corpus / "one.h5", world_size=1)
    assert not (corpus / "out.h5.partial").exists()
