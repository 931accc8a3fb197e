"""The OpenShape PointBERT shape encoder (PPAT: point patch transformer).

Module names and state-dict keys follow the upstream code exactly, so the released
checkpoints load with ``strict=True``. This module does no file or network I/O: see
:mod:`openshape_ood.checkpoint` for loading weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .config import PointBertConfig
from .sampling import ball_query, farthest_point_sample, gather_points

__all__ = [
    "PointPatchTransformer",
    "ProjectedPointTransformer",
    "build_point_bert",
]


class PointNetSetAbstraction(nn.Module):
    """Patch embedding: FPS centres, ball-query groups, a shared point MLP, max-pool."""

    def __init__(self, patches: int, radius: float, nsample: int, in_channels: int, widths: list[int]):
        super().__init__()
        self.patches = patches
        self.radius = radius
        self.nsample = nsample
        self.mlp_convs = nn.ModuleList()
        self.mlp_bns = nn.ModuleList()
        for width in widths:
            self.mlp_convs.append(nn.Conv2d(in_channels, width, 1))
            self.mlp_bns.append(nn.BatchNorm2d(width))
            in_channels = width

    def forward(
        self, xyz: torch.Tensor, features: torch.Tensor, fps_start: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``xyz [B, N, 3]``, ``features [B, N, C]`` -> centres ``[B, S, 3]``, patch features ``[B, sa_dim, S]``."""
        centre_index = farthest_point_sample(xyz, self.patches, fps_start)
        centres = gather_points(xyz, centre_index)
        group_index = ball_query(xyz, centres, self.radius, self.nsample)
        grouped_xyz = gather_points(xyz, group_index)
        grouped = torch.cat(
            [grouped_xyz - centres.unsqueeze(2), gather_points(features, group_index)], dim=-1
        )
        x = grouped.permute(0, 3, 2, 1)  # [B, C, K, S]
        for conv, bn in zip(self.mlp_convs, self.mlp_bns):
            x = F.relu(bn(conv(x)))
        return centres, x.max(dim=2).values


class Permute(nn.Module):
    """Parameter-free ``[B, C, S] -> [B, S, C]``; kept as a module for upstream key numbering."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 1)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        # Indices 0 and 3 carry weights, as upstream (GELU and dropout in between).
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Identity(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Transformer(nn.Module):
    """Pre-norm transformer without a final norm."""

    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [PreNorm(dim, Attention(dim, heads, dim_head)), PreNorm(dim, FeedForward(dim, mlp_dim))]
            )
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attention, feed_forward in self.layers:
            x = x + attention(x)
            x = x + feed_forward(x)
        return x


class PointPatchTransformer(nn.Module):
    """PPAT: patch embedding, lift to ``dim``, CLS token, transformer; returns the CLS output."""

    def __init__(self, config: PointBertConfig):
        super().__init__()
        c = config
        self.sa = PointNetSetAbstraction(c.patches, c.radius, c.nsample, c.in_dim + 3, [64, 64, c.sa_dim])
        self.lift = nn.Sequential(nn.Conv1d(c.sa_dim + 3, c.dim, 1), Permute(), nn.LayerNorm(c.dim))
        self.cls_token = nn.Parameter(torch.randn(c.dim))
        self.transformer = Transformer(c.dim, c.depth, c.heads, c.dim_head, c.mlp_dim)

    def forward(self, points: torch.Tensor, fps_start: torch.Tensor | None = None) -> torch.Tensor:
        """``points [B, in_dim, N]`` (xyz first) -> ``[B, dim]``."""
        points = points.transpose(1, 2)
        centres, patch_features = self.sa(points[..., :3].contiguous(), points, fps_start)
        tokens = self.lift(torch.cat([centres.transpose(1, 2), patch_features], dim=1))
        cls = self.cls_token.expand(tokens.shape[0], 1, -1)
        return self.transformer(torch.cat([cls, tokens], dim=1))[:, 0]


class ProjectedPointTransformer(nn.Module):
    """A PPAT followed by a linear projection into the CLIP embedding space."""

    def __init__(self, config: PointBertConfig):
        super().__init__()
        if config.projection_out is None:
            raise ValueError("ProjectedPointTransformer needs config.projection_out")
        self.ppat = PointPatchTransformer(config)
        self.proj = nn.Linear(config.dim, config.projection_out)

    def forward(self, points: torch.Tensor, fps_start: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(self.ppat(points, fps_start))


def build_point_bert(config: PointBertConfig) -> nn.Module:
    """The encoder module for ``config``, with randomly initialised weights.

    Without a projection the module is the bare PPAT (upstream vitb32 keys); with one it
    wraps the PPAT as ``ppat`` and adds ``proj`` (upstream vitl14 / vitg14 keys).
    Forward: ``[B, in_dim, N]`` prepared points -> ``[B, embed_dim]`` raw (unnormalised)
    embeddings.
    """
    if config.projection_out is None:
        return PointPatchTransformer(config)
    return ProjectedPointTransformer(config)
