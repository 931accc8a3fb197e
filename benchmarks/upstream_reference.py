"""The upstream OpenShape encoder algorithm, as a speed baseline for ``benchmarks.encoder_speed``.

Written from the description in the project docs (``openshape_reference.md``), step for
step as upstream runs it: the PointNet++ torch FPS loop standing in for dgl's kernel
(start index 0, distances summed per coordinate as dgl does, so the indices are
upstream's), ``query_ball_point`` with its ``[B, S, N]`` index tensor and sort over N,
grouping with ``index_points``, the patch MLP as ``Conv2d`` + ``BatchNorm2d`` + ReLU over a
``[B, C, K, S]`` layout, and attention as two matmuls and a softmax. It shares parameter
names with :mod:`openshape_ood.encoders.pointbert`, so ``load_state_dict(model.state_dict())`` gives the
same weights; ``tests/benchmarks/test_encoder_speed.py`` checks it against the parity fixtures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from openshape_ood.config import PointBertConfig

__all__ = ["build_upstream_reference"]


def _farthest_point_sample(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    batch, num_points, _ = xyz.shape
    device = xyz.device
    centroids = torch.zeros(batch, npoint, dtype=torch.long, device=device)
    distance = torch.ones(batch, num_points, device=device) * 1e10
    farthest = torch.zeros(batch, dtype=torch.long, device=device)
    batch_indices = torch.arange(batch, device=device)
    for i in range(npoint):
        centroids[:, i] = farthest
        centroid = xyz[batch_indices, farthest, :].view(batch, 1, 3)
        diff = xyz - centroid
        dist = diff[..., 0] ** 2 + diff[..., 1] ** 2 + diff[..., 2] ** 2
        mask = dist < distance
        distance[mask] = dist[mask]
        farthest = torch.max(distance, -1)[1]
    return centroids


def _index_points(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    batch = points.shape[0]
    view_shape = [batch] + [1] * (idx.dim() - 1)
    batch_indices = torch.arange(batch, device=points.device).view(view_shape).expand_as(idx)
    return points[batch_indices, idx, :]


def _square_distance(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    dist = -2 * torch.matmul(src, dst.permute(0, 2, 1))
    dist += torch.sum(src**2, -1).unsqueeze(-1)
    dist += torch.sum(dst**2, -1).unsqueeze(1)
    return dist


def _query_ball_point(radius: float, nsample: int, xyz: torch.Tensor, new_xyz: torch.Tensor) -> torch.Tensor:
    batch, num_points, _ = xyz.shape
    num_centres = new_xyz.shape[1]
    group_idx = torch.arange(num_points, dtype=torch.long, device=xyz.device).view(1, 1, num_points).repeat([batch, num_centres, 1])
    sqrdists = _square_distance(new_xyz, xyz)
    group_idx[sqrdists > radius**2] = num_points
    group_idx = group_idx.sort(dim=-1)[0][:, :, :nsample]
    group_first = group_idx[:, :, 0].view(batch, num_centres, 1).repeat([1, 1, nsample])
    mask = group_idx == num_points
    group_idx[mask] = group_first[mask]
    return group_idx


class _SetAbstraction(nn.Module):
    def __init__(self, npoint: int, radius: float, nsample: int, in_channel: int, mlp: list[int]):
        super().__init__()
        self.npoint, self.radius, self.nsample = npoint, radius, nsample
        self.mlp_convs = nn.ModuleList()
        self.mlp_bns = nn.ModuleList()
        for out_channel in mlp:
            self.mlp_convs.append(nn.Conv2d(in_channel, out_channel, 1))
            self.mlp_bns.append(nn.BatchNorm2d(out_channel))
            in_channel = out_channel

    def forward(self, xyz: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xyz = xyz.permute(0, 2, 1)
        points = points.permute(0, 2, 1)
        batch, _, channels = xyz.shape
        new_xyz = _index_points(xyz, _farthest_point_sample(xyz, self.npoint))
        idx = _query_ball_point(self.radius, self.nsample, xyz, new_xyz)
        grouped_xyz_norm = _index_points(xyz, idx) - new_xyz.view(batch, self.npoint, 1, channels)
        new_points = torch.cat([grouped_xyz_norm, _index_points(points, idx)], dim=-1)
        new_points = new_points.permute(0, 3, 2, 1)
        for conv, bn in zip(self.mlp_convs, self.mlp_bns):
            new_points = F.relu(bn(conv(new_points)))
        return new_xyz.permute(0, 2, 1), torch.max(new_points, 2)[0]


class _Permute(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, [0, 2, 1])


class _PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor, centroid_delta: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x), centroid_delta)


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_qkv = nn.Linear(dim, heads * dim_head * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, centroid_delta: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = (t.reshape(batch, tokens, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(batch, tokens, -1)
        return self.to_out(out)


class _FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, centroid_delta: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([_PreNorm(dim, _Attention(dim, heads, dim_head)), _PreNorm(dim, _FeedForward(dim, mlp_dim))])
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor, centroid_delta: torch.Tensor) -> torch.Tensor:
        for attn, ff in self.layers:
            x = attn(x, centroid_delta) + x
            x = ff(x, centroid_delta) + x
        return x


class _PointPatchTransformer(nn.Module):
    def __init__(self, c: PointBertConfig):
        super().__init__()
        self.sa = _SetAbstraction(c.patches, c.radius, c.nsample, c.in_dim + 3, [64, 64, c.sa_dim])
        self.lift = nn.Sequential(nn.Conv1d(c.sa_dim + 3, c.dim, 1), _Permute(), nn.LayerNorm([c.dim]))
        self.cls_token = nn.Parameter(torch.randn(c.dim))
        self.transformer = _Transformer(c.dim, c.depth, c.heads, c.dim_head, c.mlp_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        centroids, feature = self.sa(features[:, :3], features)
        x = self.lift(torch.cat([centroids, feature], dim=1))
        x = torch.cat([self.cls_token.expand(x.shape[0], 1, -1), x], dim=-2)
        # Upstream builds the pairwise centre offsets for a relative position encoding that
        # the released models switch off; it is computed all the same.
        centroids = torch.cat([centroids.new_zeros(centroids.shape[0], 3, 1), centroids], dim=-1)
        centroid_delta = centroids.unsqueeze(-1) - centroids.unsqueeze(-2)
        return self.transformer(x, centroid_delta)[:, 0]


class _Projected(nn.Module):
    def __init__(self, c: PointBertConfig):
        super().__init__()
        self.ppat = _PointPatchTransformer(c)
        self.proj = nn.Linear(c.dim, c.projection_out)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(self.ppat(features))


def build_upstream_reference(config: PointBertConfig) -> nn.Module:
    """Upstream's encoder for ``config`` (eval mode, random weights; same state-dict keys as ours).

    Forward: ``[B, in_dim, N]`` prepared points -> ``[B, embed_dim]`` raw embeddings, FPS
    starting at index 0.
    """
    model = _PointPatchTransformer(config) if config.projection_out is None else _Projected(config)
    return model.eval()
