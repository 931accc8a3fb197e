"""Plain settings that need no torch: encoder architectures and the gravity axes.

The registry, the point preparation and the command line read them from here, so that
``openshape-ood models`` and ``--help`` never import torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DTYPES", "DTYPE_ENV", "FAMILIES", "UP_AXES", "PointBertConfig", "Uni3DConfig", "check_up_axis"]

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
        return _from_dict(cls, values)


@dataclass(frozen=True)
class Uni3DConfig:
    """Hyperparameters of a Uni3D point encoder (BAAI, ICLR 2024).

    Attributes:
        timm_model: the timm EVA / EVA-02 architecture whose transformer blocks it uses
            (``"eva02_tiny_patch14_224"`` for Uni3D-Ti ... ``"eva_giant_patch14_560"`` for Uni3D-g).
        width: transformer width (timm ``embed_dim``; upstream ``--pc-feat-dim``).
        depth: number of transformer blocks.
        heads: attention heads.
        num_group: patch centres picked by farthest point sampling (512 in every release).
        group_size: points per patch, its k nearest neighbours (64 in every release).
        encoder_dim: output width of the per-patch mini-PointNet (upstream ``--pc-encoder-dim``, 512).
        embed_dim: width of the output embedding (1024: the EVA02-E-14-plus text space).
        img_size: the timm backbone's image size, which sets only the shape of its (unused)
            position table in the checkpoint; ``None`` for the architecture's default.
        in_dim: input channels per point (6: xyz + rgb).
    """

    timm_model: str
    width: int
    depth: int
    heads: int
    num_group: int = 512
    group_size: int = 64
    encoder_dim: int = 512
    embed_dim: int = 1024
    img_size: int | None = None
    in_dim: int = 6

    @classmethod
    def from_dict(cls, values: dict) -> "Uni3DConfig":
        """Build a config from a mapping, rejecting unknown or missing fields."""
        return _from_dict(cls, values)


#: The encoder families a registry entry can name (``family = ...``), each with its architecture table.
FAMILIES = {"openshape-pointbert": PointBertConfig, "uni3d": Uni3DConfig}


def _from_dict(cls, values: dict):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {unknown}; expected a subset of {sorted(names)}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"incomplete {cls.__name__} {dict(values)}: {exc}") from None
