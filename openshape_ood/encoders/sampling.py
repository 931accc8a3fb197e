"""Point sampling and grouping for the patch embeddings of both encoder families.

Farthest point sampling, ball query (OpenShape) and k nearest neighbours (Uni3D), written
to reproduce the upstream results index for index (dgl's CPU FPS kernel, PointNet++'s
``query_ball_point``, the ``pointnet2_ops`` CUDA FPS kernel's skip of points at the
centre, Uni3D's ``knn_point``) while staying vectorised over the batch. On a CUDA GPU farthest
point sampling and the ball query run as Triton kernels (``_kernels``) that pick the same indices.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

import torch

__all__ = ["ball_query", "default_chunk_bytes", "farthest_point_sample", "gather_points", "knn_query"]

# Whether CUDA tensors are sampled by the Triton kernels of ``_kernels`` (the same indices, fewer launches
# and bytes); False after they failed to import or compile here, and in tests that time the torch path.
use_kernels = True


def _kernels_for(device: torch.device) -> ModuleType | None:
    """The Triton kernels' module for tensors on ``device``, or ``None``: not CUDA, turned off, or no Triton."""
    global use_kernels
    if device.type != "cuda" or not use_kernels:
        return None
    try:
        return importlib.import_module("._kernels", __package__)
    except ImportError as exc:  # a torch built without Triton
        use_kernels = False
        warnings.warn(f"Triton is not usable here ({exc}); sampling on the GPU takes the slower torch path", stacklevel=3)
        return None


def _kernel_failed(exc: Exception) -> None:
    """Turn the kernels off after a failure to compile or launch them, saying so once."""
    global use_kernels
    use_kernels = False
    warnings.warn(f"the Triton sampling kernels failed here ({exc!r}); using the slower torch path", stacklevel=3)


def _initial_nearest(planes: torch.Tensor, skip_norm_sq: float | None) -> torch.Tensor:
    """``[B, N]`` float32 squared distances to the nearest chosen centre before any is chosen: +inf, and
    -inf (never picked: argmax never lands there unless all are) for points within ``skip_norm_sq`` of the
    origin, their float32 squared norm ``(x*x + y*y) + z*z`` compared in float64."""
    batch, _, num_points = planes.shape
    nearest = torch.full((batch, num_points), float("inf"), dtype=torch.float32, device=planes.device)
    if skip_norm_sq is not None:
        norm_sq = (planes[:, 0] * planes[:, 0] + planes[:, 1] * planes[:, 1]) + planes[:, 2] * planes[:, 2]
        nearest.masked_fill_(norm_sq.double() <= skip_norm_sq, float("-inf"))
    return nearest


def default_chunk_bytes(device: torch.device) -> int:
    """Ball-query distance blocks of at most this size: small enough to stay in a CPU's
    cache (measured 2-3x faster than one block), and on a GPU large enough for few
    kernel launches while bounding memory at large batches (vitg14 at batch 512 would
    otherwise need an 8 GB block)."""
    return 1 << 21 if device.type == "cpu" else 1 << 28


def farthest_point_sample(
    xyz: torch.Tensor,
    num_samples: int,
    start: torch.Tensor | None = None,
    *,
    skip_norm_sq: float | None = None,
) -> torch.Tensor:
    """Greedy farthest point sampling.

    Args:
        xyz: ``[B, N, 3]`` coordinates (computed in float32 whatever their dtype).
        num_samples: number of centres ``S`` to pick (``S <= N``).
        start: ``[B]`` index of the first centre per cloud; index 0 when ``None``.
        skip_norm_sq: points whose float32 squared norm ``(x*x + y*y) + z*z`` is at most
            this (compared in float64) are never picked after the first centre, as the
            ``pointnet2_ops`` CUDA kernel that Uni3D calls does with ``1e-3``; ``None``
            skips nothing (dgl, OpenShape). The first centre is ``start`` regardless.

    Returns:
        ``[B, S]`` int64 indices. Each next centre is the point whose squared distance
        to its nearest chosen centre is largest (ties go to the lowest index), with
        distances summed per coordinate in float32 exactly as dgl's CPU kernel does.
    """
    batch, num_points, _ = xyz.shape
    if not 0 < num_samples <= num_points:
        raise ValueError(f"cannot sample {num_samples} centres from {num_points} points")
    device = xyz.device
    current = (
        torch.zeros(batch, dtype=torch.long, device=device)
        if start is None
        else start.to(device=device, dtype=torch.long)
    )
    # One contiguous row per coordinate, and buffers reused by every step: each step is
    # then a handful of in-place passes over [B, N], with nothing allocated.
    planes = xyz.detach().transpose(1, 2).to(torch.float32).contiguous()  # indices have no gradient
    nearest = _initial_nearest(planes, skip_norm_sq)
    kernels = _kernels_for(device)
    if kernels is not None:
        try:
            return kernels.farthest_point_sample(planes, nearest, current, num_samples)
        except Exception as exc:  # noqa: BLE001 - a compiler missing or failing: the torch path below
            _kernel_failed(exc)
            nearest = _initial_nearest(planes, skip_norm_sq)  # the kernel may have begun on it
    squares = torch.empty_like(planes)
    dist = torch.empty_like(nearest)
    chosen = [current]
    for _ in range(num_samples - 1):
        centre = planes.gather(2, current.view(batch, 1, 1).expand(batch, 3, 1))
        torch.sub(planes, centre, out=squares).square_()
        # Summed as x + y, then + z (not with .sum) so the float32 rounding matches dgl.
        torch.add(squares[:, 0], squares[:, 1], out=dist).add_(squares[:, 2])
        torch.minimum(nearest, dist, out=nearest)
        # max's indices, not argmax: the same first maximum (ties go to the lowest index), and on a
        # CPU half the time (torch 2.14, [8, 10,000] float32: 51 against 99 microseconds a step).
        current = nearest.max(dim=1).indices
        chosen.append(current)
    return torch.stack(chosen, dim=1)


def ball_query(
    xyz: torch.Tensor,
    centres: torch.Tensor,
    radius: float,
    num_neighbours: int,
    *,
    max_chunk_bytes: int | None = None,
) -> torch.Tensor:
    """For each centre, the ``num_neighbours`` lowest-index points within ``radius``.

    Args:
        xyz: ``[B, N, 3]`` points.
        centres: ``[B, S, 3]`` query centres.
        radius: ball radius; a point is inside when its squared distance is
            ``<= radius**2``, with distances computed as ``-2 a.b + |a|^2 + |b|^2``
            in float32 like upstream.
        num_neighbours: group size ``K``.
        max_chunk_bytes: centres are processed in chunks so that the float32 distance
            block of a chunk, ``[B', S', N]``, stays within this many bytes (at least one
            centre of one cloud per chunk); ``None``: :func:`default_chunk_bytes`.
            On a CPU the indices of a chunk's inside points take 16 bytes each, so with
            balls that hold a share ``p`` of the points they take ``4 p`` times the budget
            as well. The result does not depend on it.

    Returns:
        ``[B, S, K]`` int64 indices in increasing order; groups with fewer than ``K``
        points inside are padded with their first (lowest-index) member.
    """
    batch, num_points, _ = xyz.shape
    num_centres = centres.shape[1]
    xyz = xyz.detach().to(torch.float32)  # indices have no gradient
    centres = centres.detach().to(torch.float32)
    xyz_t = xyz.transpose(1, 2)
    xyz_sq = (xyz**2).sum(-1).unsqueeze(1)
    centre_sq = (centres**2).sum(-1).unsqueeze(-1)
    kernels = _kernels_for(xyz.device)
    if kernels is not None:
        try:
            return kernels.ball_query(
                xyz_t.contiguous(), xyz_sq.view(batch, num_points), centres.contiguous(),
                centre_sq.view(batch, num_centres), radius**2, num_neighbours,
            )
        except Exception as exc:  # noqa: BLE001 - a compiler missing or failing: the torch path below
            _kernel_failed(exc)
    if max_chunk_bytes is None:
        max_chunk_bytes = default_chunk_bytes(xyz.device)
    row_bytes = num_points * 4
    clouds_per_chunk = max(1, min(batch, max_chunk_bytes // (row_bytes * num_centres)))
    centres_per_chunk = max(1, min(num_centres, max_chunk_bytes // (row_bytes * clouds_per_chunk)))
    lowest_inside = _lowest_inside_listed if xyz.device.type == "cpu" else _lowest_inside_counted
    group = torch.empty(batch, num_centres, num_neighbours, dtype=torch.long, device=xyz.device)
    for b in range(0, batch, clouds_per_chunk):
        bs = slice(b, b + clouds_per_chunk)
        for s in range(0, num_centres, centres_per_chunk):
            ss = slice(s, s + centres_per_chunk)
            # Upstream's square_distance, -2 a.b + |a|^2 + |b|^2, rounded as it rounds: scaling
            # by -2 is exact, so baddbmm's -2 (a.b) + |a|^2 is its first two steps in one pass.
            sq_dist = torch.baddbmm(centre_sq[bs, ss], centres[bs, ss], xyz_t[bs], alpha=-2)
            sq_dist += xyz_sq[bs]
            inside = (sq_dist <= radius**2).view(-1, num_points)
            del sq_dist
            group[bs, ss] = lowest_inside(inside, num_neighbours).view(*group[bs, ss].shape)
    # Balls with fewer than K points inside hold N after their members: pad with the first.
    first = group[..., :1]
    first.masked_fill_(first == num_points, 0)  # an empty ball (never in practice): point 0
    return torch.where(group < num_points, group, first)


def _lowest_inside_listed(inside: torch.Tensor, k: int) -> torch.Tensor:
    """``[R, k]``: the ``k`` lowest column indices of each row's ``True`` entries, then ``N``.

    ``nonzero`` lists the inside points row by row in increasing column order, so a row's
    j-th lowest index sits j places after the row's first entry: no sort, no ``[R, N]``
    int64 and no scan over every entry (measured 4x faster than :func:`_lowest_inside_counted`
    on a CPU). On a GPU ``nonzero`` waits for the device, so the counted way is used there.
    """
    num_points = inside.shape[1]
    take = torch.arange(k, device=inside.device)
    rows, columns = inside.nonzero().unbind(1)
    counts = torch.bincount(rows, minlength=len(inside))
    position = (counts.cumsum(0) - counts).unsqueeze(1) + take
    found = columns[position.clamp_(max=max(len(columns) - 1, 0))] if len(columns) else position
    return torch.where(take < counts.unsqueeze(1), found, num_points)


def _lowest_inside_counted(inside: torch.Tensor, k: int) -> torch.Tensor:
    """What :func:`_lowest_inside_listed` returns, without waiting for a GPU.

    The rank of a row's j-th inside point is j, so searching its running count of inside
    points for 1..k finds the k lowest inside indices (``N`` where there are fewer).
    """
    rank = torch.cumsum(inside, dim=-1, dtype=torch.int32)
    targets = torch.arange(1, k + 1, dtype=torch.int32, device=inside.device).expand(len(inside), -1).contiguous()
    return torch.searchsorted(rank, targets)


def knn_query(
    xyz: torch.Tensor, centres: torch.Tensor, num_neighbours: int, *, max_chunk_bytes: int | None = None
) -> torch.Tensor:
    """For each centre, the ``num_neighbours`` points nearest to it (itself included), as Uni3D groups.

    Squared distances are computed in float32 with upstream's formula and rounding order,
    ``(-2 c.p + |c|^2) + |p|^2``, so that near-ties at the K-th neighbour resolve as there;
    the order of indices within a group is unspecified (upstream's ``topk(sorted=False)``).

    Args:
        xyz: ``[B, N, 3]`` points.
        centres: ``[B, S, 3]`` query centres.
        num_neighbours: group size ``K`` (``K <= N``).
        max_chunk_bytes: clouds are processed in chunks whose float32 ``[B', S, N]`` distance
            block stays within this many bytes (at least one cloud); ``None``:
            :func:`default_chunk_bytes`. The result does not depend on it.

    Returns:
        ``[B, S, K]`` int64 indices.
    """
    batch, num_points, _ = xyz.shape
    if not 0 < num_neighbours <= num_points:
        raise ValueError(f"cannot take {num_neighbours} neighbours from {num_points} points")
    xyz = xyz.detach().to(torch.float32)  # indices have no gradient
    centres = centres.detach().to(torch.float32)
    xyz_t = xyz.transpose(1, 2)
    xyz_sq = torch.sum(xyz**2, -1).unsqueeze(1)
    centre_sq = torch.sum(centres**2, -1).unsqueeze(-1)
    if max_chunk_bytes is None:
        max_chunk_bytes = default_chunk_bytes(xyz.device)
    step = max(1, max_chunk_bytes // (num_points * centres.shape[1] * 4))
    groups = []
    for b in range(0, batch, step):
        bs = slice(b, b + step)
        # Not baddbmm: upstream adds |c|^2 after the product is rounded, and so must we.
        sq_dist = torch.bmm(centres[bs], xyz_t[bs]).mul_(-2)
        sq_dist += centre_sq[bs]
        sq_dist += xyz_sq[bs]
        groups.append(torch.topk(sq_dist, num_neighbours, dim=-1, largest=False, sorted=False).indices)
    return torch.cat(groups)


def gather_points(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gather ``[B, N, C]`` values at ``[B, ...]`` indices -> ``[B, ..., C]``."""
    batch = values.shape[0]
    flat = index.reshape(batch, -1)
    gathered = torch.gather(values, 1, flat.unsqueeze(-1).expand(-1, -1, values.shape[-1]))
    return gathered.reshape(*index.shape, values.shape[-1])
