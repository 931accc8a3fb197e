"""Point sampling and grouping for the PointBERT patch embedding.

Farthest point sampling and ball query, written to reproduce the upstream OpenShape
results index for index (dgl's CPU FPS kernel, PointNet++'s ``query_ball_point``)
while staying vectorised over the batch and never sorting or materialising an int64
``[B, S, N]`` tensor.
"""

from __future__ import annotations

import torch

__all__ = [
    "ball_query",
    "farthest_point_sample",
    "gather_points",
]


def farthest_point_sample(
    xyz: torch.Tensor, num_samples: int, start: torch.Tensor | None = None
) -> torch.Tensor:
    """Greedy farthest point sampling.

    Args:
        xyz: ``[B, N, 3]`` coordinates.
        num_samples: number of centres ``S`` to pick (``S <= N``).
        start: ``[B]`` index of the first centre per cloud; index 0 when ``None``.

    Returns:
        ``[B, S]`` int64 indices. Each next centre is the point whose squared distance
        to its nearest chosen centre is largest (ties go to the lowest index), with
        distances summed per coordinate in float32 exactly as dgl's CPU kernel does.
    """
    batch, num_points, _ = xyz.shape
    if not 0 < num_samples <= num_points:
        raise ValueError(f"cannot sample {num_samples} centres from {num_points} points")
    batch_index = torch.arange(batch, device=xyz.device)
    current = (
        torch.zeros(batch, dtype=torch.long, device=xyz.device)
        if start is None
        else start.to(device=xyz.device, dtype=torch.long)
    )
    chosen = torch.empty(batch, num_samples, dtype=torch.long, device=xyz.device)
    nearest = torch.full((batch, num_points), float("inf"), dtype=xyz.dtype, device=xyz.device)
    x, y, z = xyz.unbind(-1)
    for i in range(num_samples):
        chosen[:, i] = current
        centre = xyz[batch_index, current]
        dx = x - centre[:, 0:1]
        dy = y - centre[:, 1:2]
        dz = z - centre[:, 2:3]
        # Summed in this order (not with .sum) so the float32 rounding matches dgl.
        dist = dx * dx + dy * dy + dz * dz
        nearest = torch.minimum(nearest, dist)
        current = nearest.argmax(dim=1)  # first maximum: ties go to the lowest index
    return chosen


def ball_query(
    xyz: torch.Tensor, centres: torch.Tensor, radius: float, num_neighbours: int
) -> torch.Tensor:
    """For each centre, the ``num_neighbours`` lowest-index points within ``radius``.

    Args:
        xyz: ``[B, N, 3]`` points.
        centres: ``[B, S, 3]`` query centres.
        radius: ball radius; a point is inside when its squared distance is
            ``<= radius**2``, with distances computed as ``|a|^2 - 2 a.b + |b|^2``
            in float32 like upstream.
        num_neighbours: group size ``K``.

    Returns:
        ``[B, S, K]`` int64 indices in increasing order; groups with fewer than ``K``
        points inside are padded with their first (lowest-index) member.
    """
    sq_dist = -2 * torch.matmul(centres, xyz.transpose(1, 2))
    sq_dist += (centres**2).sum(-1).unsqueeze(-1)
    sq_dist += (xyz**2).sum(-1).unsqueeze(1)
    inside = sq_dist <= radius**2
    del sq_dist
    # Rank of each inside point among the inside points of its row (1-based), in
    # int32: the first K ranks are the K lowest indices, with no sort over N.
    rank = torch.cumsum(inside, dim=-1, dtype=torch.int32)
    selected = inside & (rank <= num_neighbours)
    b, s, n = selected.nonzero(as_tuple=True)
    slot = rank[b, s, n].long() - 1
    batch, num_centres, _ = centres.shape
    group = torch.zeros(batch, num_centres, num_neighbours, dtype=torch.long, device=xyz.device)
    group[b, s, slot] = n
    count = selected.sum(-1, keepdim=True)
    slots = torch.arange(num_neighbours, device=xyz.device)
    return torch.where(slots < count, group, group[..., :1])


def gather_points(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gather ``[B, N, C]`` values at ``[B, ...]`` indices -> ``[B, ..., C]``."""
    batch = values.shape[0]
    flat = index.reshape(batch, -1)
    gathered = torch.gather(values, 1, flat.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
    return gathered.reshape(*index.shape, values.shape[-1])
