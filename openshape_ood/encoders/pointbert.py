"""The OpenShape PointBERT shape encoder (PPAT: point patch transformer).

Module names and state-dict keys follow the upstream code exactly, so the released
checkpoints load with ``strict=True``. This module does no file or network I/O: see
:mod:`openshape_ood.encoders._checkpoint` for loading weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import PointBertConfig
from .sampling import ball_query, farthest_point_sample, gather_points

__all__ = [
    "PointPatchTransformer",
    "ProjectedPointTransformer",
    "build_point_bert",
]


class PointNetSetAbstraction(nn.Module):
    """Patch embedding: FPS centres, ball-query groups, a shared point MLP, max-pool.

    The MLP keeps upstream's ``Conv2d`` 1x1 + ``BatchNorm2d`` + ReLU modules, and so their
    state-dict keys. In eval mode it runs as plain matrix multiplies over a
    points-by-channels ``[groups * K, C]`` layout, with each BatchNorm folded into its
    convolution (the folded weights are made when weights are loaded, and again
    whenever the module's tensors change), in chunks of groups small enough to stay in
    a CPU cache; that is how :class:`~openshape_ood.ShapeEncoder` runs it (inference
    mode). In training mode, or while autograd records, the modules run as they are, on
    the same layout.
    """

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
        self._folded: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._folded_from: tuple = ()
        self.register_load_state_dict_post_hook(_fold_after_load)

    def folded_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The eval-mode MLP as ``(weight [C_in, C_out], bias [C_out])`` per layer, BatchNorm folded in.

        Folded in float64 and rounded once to the parameters' dtype. Cached, and made
        again when any convolution or BatchNorm tensor has been replaced or changed
        in place (a new state dict, ``.to()``, an optimiser step).
        """
        pairs = list(zip(self.mlp_convs, self.mlp_bns))
        tensors = [t for pair in pairs for m in pair for t in (*m.parameters(), *m.buffers())]
        source = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)
        if source != self._folded_from:
            with torch.no_grad():
                self._folded = [_fold_batch_norm(conv, bn) for conv, bn in pairs]
            self._folded_from = source
        return self._folded

    def forward(
        self, xyz: torch.Tensor, features: torch.Tensor, fps_start: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``xyz [B, N, 3]``, ``features [B, N, C]`` -> centres ``[B, S, 3]``, patch features ``[B, S, sa_dim]``.

        Sampling and grouping run in float32 whatever the parameters' dtype.
        """
        centre_index = farthest_point_sample(xyz, self.patches, fps_start)
        centres = gather_points(xyz, centre_index)
        group_index = ball_query(xyz, centres, self.radius, self.nsample)
        grouped = gather_points(features, group_index)  # [B, S, K, C]
        # Upstream's channel order: offsets from the centre, then the point's own features.
        grouped = torch.cat([grouped[..., :3] - centres.unsqueeze(2), grouped], dim=-1)
        weight_dtype = self.mlp_convs[0].weight.dtype
        rows = grouped.reshape(-1, grouped.shape[-1]).to(weight_dtype)
        folded = not self.training and not torch.is_grad_enabled()
        pooled = self._point_mlp(rows) if folded else self._point_mlp_modules(rows)
        return centres, pooled.view(*centres.shape[:2], -1)

    def _point_mlp(self, rows: torch.Tensor) -> torch.Tensor:
        """Eval mode, no autograd: ``[groups * K, C_in]`` -> ``[groups, C_out]``, max over each group's K rows."""
        *hidden, (last_weight, last_bias) = self.folded_layers()
        num_groups = rows.shape[0] // self.nsample
        pooled = rows.new_empty(num_groups, last_weight.shape[1])
        step = max(1, _mlp_chunk_rows(rows.device) // self.nsample)
        for start in range(0, num_groups, step):
            x = rows[start * self.nsample : (start + step) * self.nsample]
            for weight, bias in hidden:
                x = torch.addmm(bias, x, weight).relu_()
            # max_k relu(x_k w + b) = relu(max_k(x_k w) + b): bias and ReLU after the pool.
            torch.amax(torch.mm(x, last_weight).view(-1, self.nsample, last_weight.shape[1]), dim=1,
                       out=pooled[start : start + step])
        return pooled.add_(last_bias).relu_()

    def _point_mlp_modules(self, rows: torch.Tensor) -> torch.Tensor:
        """Training mode or autograd: the modules themselves, each row a 1x1 image."""
        x = rows.view(*rows.shape, 1, 1)
        for conv, bn in zip(self.mlp_convs, self.mlp_bns):
            x = F.relu(bn(conv(x)))
        return x.view(-1, self.nsample, x.shape[1]).amax(dim=1)


def _mlp_chunk_rows(device: torch.device) -> int:
    """Rows of the point MLP per chunk: on a CPU its activations then stay in cache (measured:
    2x faster than one chunk); on a GPU, few launches with memory bounded at large batches."""
    return 2048 if device.type == "cpu" else 1 << 20


def _fold_after_load(module: PointNetSetAbstraction, incompatible_keys) -> None:
    module.folded_layers()


def _fold_batch_norm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``bn(conv(x))`` with running statistics, as ``x @ weight + bias`` (``weight`` is ``[C_in, C_out]``)."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    weight = conv.weight.double().flatten(1) * scale[:, None]
    bias = (conv.bias.double() - bn.running_mean.double()) * scale + bn.bias.double()
    dtype = conv.weight.dtype
    return weight.t().contiguous().to(dtype), bias.to(dtype)


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

    def forward(self, x: torch.Tensor, queries: int | None = None) -> torch.Tensor:
        """Self-attention over all tokens of ``x``, output for its first ``queries`` tokens (all when ``None``)."""
        batch, tokens, _ = x.shape
        queries = tokens if queries is None else queries
        # Rows of to_qkv are q, k, v ("(3 h d)", as upstream chunks them): q only for the
        # tokens asked for; k and v as strided views of one projection, fed to torch's
        # fused attention kernel without copies.
        inner = self.to_qkv.out_features // 3
        q_weight, kv_weight = self.to_qkv.weight[:inner], self.to_qkv.weight[inner:]
        q = F.linear(x[:, :queries], q_weight).view(batch, queries, self.heads, -1).transpose(1, 2)
        k, v = F.linear(x, kv_weight).view(batch, tokens, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.to_out(out.transpose(1, 2).reshape(batch, queries, -1))


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

    def forward(self, x: torch.Tensor, outputs: int | None = None) -> torch.Tensor:
        """``[B, T, dim]`` -> ``[B, T, dim]``, or only its first ``outputs`` tokens.

        With ``outputs``, the last block computes just those rows (the other tokens still
        serve as keys and values): the same values, without the work nothing reads.
        """
        *blocks, (last_attention, last_feed_forward) = self.layers
        for attention, feed_forward in blocks:
            x = x + attention(x)
            x = x + feed_forward(x)
        x = x[:, :outputs] + last_attention.fn(last_attention.norm(x), outputs)
        return x + last_feed_forward(x)


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
        points = points.transpose(1, 2).contiguous()
        centres, patch_features = self.sa(points[..., :3], points, fps_start)
        # The lift's Conv1d 1x1, applied to points-by-channels tokens as a linear map.
        conv, _, norm = self.lift
        tokens = torch.cat([centres.to(patch_features.dtype), patch_features], dim=-1)
        tokens = norm(F.linear(tokens, conv.weight.flatten(1), conv.bias))
        cls = self.cls_token.expand(tokens.shape[0], 1, -1)
        return self.transformer(torch.cat([cls, tokens], dim=1), outputs=1)[:, 0]


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
