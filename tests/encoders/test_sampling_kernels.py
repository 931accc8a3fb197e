"""The Triton sampling kernels pick what the torch path picks, checked on the CPU in Triton's interpreter.

On a GPU ``tests/encoders/test_cuda.py`` checks the compiled kernels on the same cases and more.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from openshape_ood.encoders import sampling

ROOT = Path(__file__).resolve().parents[2]


def test_the_kernels_pick_what_the_torch_path_picks_in_the_interpreter():
    pytest.importorskip("triton", reason="Triton comes with PyPI's CUDA build of torch, not with its CPU wheels")
    # The interpreter is chosen when Triton is first imported: a process of its own.
    result = subprocess.run(
        [sys.executable, "-m", "tests.helpers.sampling_kernels"],
        cwd=ROOT, env={**os.environ, "TRITON_INTERPRET": "1"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "", result.stdout


def test_cpu_tensors_never_reach_the_kernels(monkeypatch):
    monkeypatch.setattr(sampling, "use_kernels", True)
    assert sampling._kernels_for(torch.device("cpu")) is None


def test_a_kernel_that_fails_leaves_the_torch_path_and_says_so(monkeypatch):
    """Where Triton cannot compile (no C compiler, an unsupported GPU) the torch path gives the same indices."""

    class Broken:
        @staticmethod
        def farthest_point_sample(*args):
            raise RuntimeError("no compiler")

        @staticmethod
        def ball_query(*args):
            raise RuntimeError("no compiler")

    xyz = torch.randn(2, 500, 3, generator=torch.Generator().manual_seed(0)) * 0.05
    centres = sampling.gather_points(xyz, sampling.farthest_point_sample(xyz, 8))
    monkeypatch.setattr(sampling, "use_kernels", False)
    expected_centres = sampling.farthest_point_sample(xyz, 20, skip_norm_sq=1e-3)
    expected_groups = sampling.ball_query(xyz, centres, 0.02, 16)
    monkeypatch.setattr(sampling, "_kernels_for", lambda device: Broken if sampling.use_kernels else None)
    for run, expected in [
        (lambda: sampling.farthest_point_sample(xyz, 20, skip_norm_sq=1e-3), expected_centres),
        (lambda: sampling.ball_query(xyz, centres, 0.02, 16), expected_groups),
    ]:
        monkeypatch.setattr(sampling, "use_kernels", True)
        with pytest.warns(UserWarning, match="failed here"):
            assert torch.equal(run(), expected)
        assert sampling.use_kernels is False
