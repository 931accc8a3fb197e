"""Plain settings that need no torch: encoder architectures and the gravity axes.

The registry, the point preparation and the command line read them from here, so that
``openshape-ood models`` and ``--help`` never import torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DTYPES", "DTYPE_ENV", "UP_AXES", "PointBertConfig", "check_up_axis"]

#: The gravity axes a model or a dataset can have.
UP_AXES = ("x", "y", "z")

#: The compute dtypes of the shape encoder a user can ask for (``--dtype``): ``auto`` is
#: bfloat16 where the device computes it natively, else float32 (``device.resolve_dtype``).
DTYPES = ("auto", "float32", "bfloat16")
#: Environment variable that replaces ``auto`` with one of :data:`DTYPES`.
DTYPE_ENV = "OPENSHAPE_OOD_DTYPE"


def check_up_axis(axis: str, name: str) -> str:
    """``axis`` lower-cased; a ``ValueError`` naming the argument ``name`` unless it is one of :data:`UP_AXES`."""
    if not isinstance(axis, str) or axis.lower() not in UP_AXES:
        raise ValueError(f"{name} {axis!r} is not one of {UP_AXES}")
    return axis.lower()


@dataclass(frozen=True)
class PointBertConfig:
    """Hyperparameters of a PointBERT (PPAT) encoder.

    Attributes:
        dim: transformer width.
        depth: number of transformer blocks.
        heads: attention heads.
        mlp_dim: hidden width of the feed-forward blocks.
        sa_dim: output width of the set-abstraction (patch) MLP.
        patches: number of patch centres picked by farthest point sampling.
        radius: ball-query radius (in unit-ball coordinates).
        nsample: points per patch.
        in_dim: input channels per point (6: xyz + rgb).
        dim_head: width of each attention head.
        projection_out: output width of the final linear projection, or ``None`` when
            the model has none (the embedding is then the ``dim``-wide CLS token).
    """

    dim: int
    depth: int
    heads: int
    mlp_dim: int
    sa_dim: int
    patches: int
    radius: float
    nsample: int
    in_dim: int = 6
    dim_head: int = 64
    projection_out: int | None = None

    @property
    def embed_dim(self) -> int:
        """Width of the embedding the encoder outputs."""
        return self.projection_out if self.projection_out is not None else self.dim

    @classmethod
    def from_dict(cls, values: dict) -> "PointBertConfig":
        """Build a config from a mapping, rejecting unknown or missing fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown PointBertConfig fields {unknown}; expected a subset of {sorted(names)}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"incomplete PointBertConfig {dict(values)}: {exc}") from None
