"""Torch device and compute dtype resolution: one rule for the encoders, the CLI and the benchmarks."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

import torch

from .config import DTYPE_ENV, DTYPES

__all__ = [
    "COMPUTE_DTYPES",
    "DtypeChoice",
    "InvalidDeviceError",
    "cpu_has_native_bf16",
    "dtype_name",
    "resolve_device",
    "resolve_dtype",
]

#: Dtypes the shape encoder may compute in (``ShapeEncoder.to(dtype=...)``); sampling stays float32.
COMPUTE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)

#: CPU flags (as /proc/cpuinfo names them) of instructions that multiply bfloat16 matrices
#: natively: AVX512-BF16 (AMD Zen 4 on, Intel Cooper Lake) and AMX (Intel Sapphire Rapids on).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


class InvalidDeviceError(ValueError):
    """The device string is not a torch device at all (a usage error, unlike a missing GPU)."""


def resolve_device(requested: str | torch.device | None = None) -> torch.device:
    """``requested`` as a torch device that exists here; ``None`` picks CUDA when available, else CPU."""
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise InvalidDeviceError(f"{str(requested)!r} is not a torch device ({exc}); use e.g. 'cpu' or 'cuda:0'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(requested)!r} was asked for, but torch sees no CUDA GPU here; use 'cpu'")
    return device


class DtypeChoice(NamedTuple):
    """The dtype the shape encoder computes in, and one line saying why it was chosen."""

    dtype: torch.dtype
    reason: str

    @property
    def name(self) -> str:
        """``"float32"`` or ``"bfloat16"``: the name recorded in files, caches and provenance."""
        return dtype_name(self.dtype)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``."""
    return str(dtype).removeprefix("torch.")


def resolve_dtype(requested: str | torch.dtype | None = "auto", device: str | torch.device = "cpu") -> DtypeChoice:
    """The compute dtype of the shape encoder on ``device``, and why.

    ``"auto"`` (or ``None``) takes ``$OPENSHAPE_OOD_DTYPE`` when set, and otherwise picks
    bfloat16 where ``device`` multiplies it natively (a CUDA GPU of compute capability 8.0 or more; a CPU
    with AVX512-BF16 or AMX, see :func:`cpu_has_native_bf16`) and float32 elsewhere.
    ``"float32"``, ``"bfloat16"`` or a torch dtype are taken as given. Sampling and point
    preparation are float32 whatever this returns.
    """
    if isinstance(requested, torch.dtype):
        if requested not in COMPUTE_DTYPES:
            raise ValueError(f"dtype {requested} is not supported; use one of {COMPUTE_DTYPES}")
        return DtypeChoice(requested, "asked for")
    requested = "auto" if requested is None else requested
    source = "asked for"
    if requested == "auto" and os.environ.get(DTYPE_ENV, "auto") != "auto":
        requested, source = os.environ[DTYPE_ENV], f"from ${DTYPE_ENV}"
        if requested not in DTYPES:
            raise ValueError(f"${DTYPE_ENV}={requested!r} is not one of {DTYPES}; unset it or pick one")
    if requested not in DTYPES:
        raise ValueError(f"dtype {requested!r} is not one of {DTYPES}")
    if requested != "auto":
        return DtypeChoice(getattr(torch, requested), source)
    device = torch.device(device)
    if device.type == "cuda":
        # Native bfloat16 tensor cores from Ampere (8.0) on; older GPUs only emulate it, slowly.
        major, minor = torch.cuda.get_device_capability(device)
        gpu = f"this CUDA GPU (compute capability {major}.{minor})"
        if major >= 8:
            return DtypeChoice(torch.bfloat16, f"auto: {gpu} has bfloat16")
        return DtypeChoice(torch.float32, f"auto: {gpu} has no native bfloat16")
    if device.type == "cpu":
        flags = cpu_has_native_bf16()
        if flags:
            return DtypeChoice(torch.bfloat16, f"auto: the CPU multiplies bfloat16 natively: {', '.join(flags)}")
        return DtypeChoice(torch.float32, f"auto: the CPU has none of {', '.join(BF16_CPU_FLAGS)}")
    return DtypeChoice(torch.float32, f"auto: float32 on {device.type} devices")


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> tuple[str, ...]:
    """The flags of :data:`BF16_CPU_FLAGS` this CPU has (empty when none, or when the OS does not say)."""
    return tuple(flag for flag in BF16_CPU_FLAGS if flag in _cpu_flags())


def _cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux); an empty set elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()
