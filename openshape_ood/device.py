"""Torch device resolution, one rule for the shape encoder, the text encoder, the CLI and the benchmark."""

from __future__ import annotations

import torch

__all__ = ["InvalidDeviceError", "resolve_device"]


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
