"""Code run again in a fresh interpreter with numpy's SIMD extensions and OpenBLAS's kernels held to their oldest.

Machines here are AVX2-only or AVX-512: a figure measured on one must hold on the other. The environment variables
are read at import, so the code runs in its own interpreter, which then prints what it ran on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .data import ROOT

# Appended to the code run: prints which of numpy's SIMD extensions are on and which kernels OpenBLAS runs.
_KERNELS_USED = """
import json
import numpy as np
from threadpoolctl import threadpool_info
umath = (getattr(np, "_core", None) or np.core)._multiarray_umath
on = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
print(json.dumps({"simd": on, "blas": sorted({str(pool.get("architecture")) for pool in threadpool_info()})}))
"""


def run_elsewhere(code: str, args: list[str], env: dict[str, str] | None = None) -> dict:
    """Runs ``code`` (``sys.argv[1:]`` being ``args``) in a fresh interpreter at the checkout's root with ``env``
    added; returns the SIMD extensions it had on and the OpenBLAS kernels it ran."""
    run = subprocess.run(
        [sys.executable, "-c", code + _KERNELS_USED, *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(run.stdout.splitlines()[-1])


def oldest_kernels(used_here: dict) -> dict[str, str]:
    """The environment that holds numpy to its baseline (off: every extension ``used_here`` had on) and OpenBLAS
    to its kernels for a Pentium III."""
    return {"NPY_DISABLE_CPU_FEATURES": " ".join(used_here["simd"]), "OPENBLAS_CORETYPE": "Katmai"}


def skip_unless_other_kernels(used_here: dict, used_there: dict) -> None:
    """Skips where the oldest kernels are the ones this machine runs anyway; asserts numpy's extensions were off."""
    if used_there == used_here:
        pytest.skip(f"this numpy and OpenBLAS run the same kernels with {oldest_kernels(used_here)}: {used_there}")
    assert not used_there["simd"], used_there
