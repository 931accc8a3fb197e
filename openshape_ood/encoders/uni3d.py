"""The Uni3D point encoder (BAAI, "Uni3D: Exploring Unified 3D Representation at Scale", ICLR 2024).

Module names and state-dict keys are those of the upstream model (``baaivision/Uni3D``,
``models/uni3d.py`` and ``models/point_encoder.py``), so the released checkpoints' ``module``
dict loads with ``strict=True``, unused keys included. The transformer is timm's EVA /
EVA-02 model of the size named in :class:`~openshape_ood.config.Uni3DConfig` (upstream builds
it the same way), of which only the blocks and the final ``fc_norm`` run. This module does
no file or network I/O: see :mod:`openshape_ood.encoders._checkpoint` for loading weights.

Input preparation, as upstream's zero-shot evaluation does it (``prepare_batch`` does all of
it for :class:`~openshape_ood.ShapeEncoder`): xyz centred on the point mean and scaled into
the unit ball; rgb in [0, 1], 0.4 on every channel when a cloud has no colour; 10,000 points
(FPS needs at least ``num_group``); Z up (upstream feeds OpenShape's data unswapped, which is
Z-up; inferred from its code and data, upstream states no axis in words).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Uni3DConfig
from .sampling import farthest_point_sample, gather_points, knn_query

__all__ = ["FPS_SKIP_NORM_SQ", "PointcloudEncoder", "Uni3D", "build_uni3d"]

#: The ``pointnet2_ops`` CUDA kernel upstream calls never picks a point with squared norm at most
#: this (within about 0.0316 of the centroid after normalisation) as a later FPS centre.
FPS_SKIP_NORM_SQ = 1e-3


class MiniPointNet(nn.Module):
    """Upstream's per-group ``Encoder``: a two-stage PointNet with the group maximum fed back.

    ``[G', K, 6]`` groups -> ``[G', encoder_dim]``. The modules (and keys) are upstream's
    ``Conv1d`` 1x1 + ``BatchNorm1d`` stacks; the parameter-free ReLUs keep their indices (2).
    They run as matrix multiplies over a points-by-channels ``[G' K, C]`` layout, which is
    the same maths (measured 1.7x faster than the convolutions on a CPU).
    """

    def __init__(self, encoder_dim: int, in_dim: int = 6):
        super().__init__()
        self.first_conv = nn.Sequential(
            nn.Conv1d(in_dim, 128, 1), nn.BatchNorm1d(128), nn.ReLU(inplace=True), nn.Conv1d(128, 256, 1)
        )
        self.second_conv = nn.Sequential(
            nn.Conv1d(512, 512, 1), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Conv1d(512, encoder_dim, 1)
        )

    def forward(self, groups: torch.Tensor) -> torch.Tensor:
        num_groups, points, _ = groups.shape
        lift, lift_norm, _, expand = self.first_conv
        mix, mix_norm, _, out = self.second_conv
        rows = groups.reshape(num_groups * points, -1)
        lifted = F.relu(lift_norm(F.linear(rows, lift.weight[..., 0], lift.bias)))
        local = F.linear(lifted, expand.weight[..., 0], expand.bias).view(num_groups, points, -1)  # [G', K, 256]
        pooled = local.amax(dim=1, keepdim=True)
        # Upstream feeds [group maximum; point feature] to `mix`: as W [g; f] = W_g g + W_f f, the
        # group maximum's half is multiplied once per group instead of once per point.
        width = pooled.shape[-1]
        mixed = F.linear(local, mix.weight[:, width:, 0], mix.bias) + F.linear(pooled, mix.weight[:, :width, 0])
        hidden = F.relu(mix_norm(mixed.view(num_groups * points, -1)))
        return F.linear(hidden, out.weight[..., 0], out.bias).view(num_groups, points, -1).amax(dim=1)


class PointcloudEncoder(nn.Module):
    """Grouping, mini-PointNet, tokens, EVA blocks and projection (upstream ``point_encoder``)."""

    def __init__(self, config: Uni3DConfig):
        super().__init__()
        import timm  # here: building a model is the only thing that needs it

        c = config
        self.num_group = c.num_group
        self.group_size = c.group_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.width))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, c.width))
        self.encoder = MiniPointNet(c.encoder_dim, c.in_dim)
        self.encoder2trans = nn.Linear(c.encoder_dim, c.width)
        self.trans2embed = nn.Linear(c.width, c.embed_dim)
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, c.width))
        size = {} if c.img_size is None else {"img_size": c.img_size}
        self.visual = timm.create_model(
            c.timm_model, pretrained=False, embed_dim=c.width, depth=c.depth, num_heads=c.heads,
            drop_path_rate=0.0, **size,
        )  # fmt: skip

    def group(self, xyz: torch.Tensor, fps_start: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """``xyz [B, N, 3]`` -> centre indices ``[B, G]``, centres ``[B, G, 3]``, neighbour indices ``[B, G, K]``.

        In float32 whatever the parameters' dtype: FPS from ``fps_start`` (index 0 when
        ``None``, as upstream) skipping points at the centre, then k nearest neighbours.
        """
        if xyz.shape[1] < self.num_group:
            raise ValueError(
                f"Uni3D picks {self.num_group} patch centres but the cloud has only {xyz.shape[1]} points; "
                "resample it to more points (prepare_batch gives 10,000)"
            )
        xyz = xyz.to(torch.float32)
        centre_index = farthest_point_sample(xyz, self.num_group, fps_start, skip_norm_sq=FPS_SKIP_NORM_SQ)
        centres = gather_points(xyz, centre_index)
        return centre_index, centres, knn_query(xyz, centres, self.group_size)

    def patch_features(self, points: torch.Tensor, centres: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """``points [B, N, 6]`` grouped around ``centres`` -> mini-PointNet features ``[B, G, encoder_dim]``."""
        grouped = gather_points(points.to(torch.float32), neighbours)  # [B, G, K, 6]
        # Offsets from the centre, then colour: no absolute xyz channel, unlike OpenShape.
        grouped = torch.cat([grouped[..., :3] - centres.unsqueeze(2), grouped[..., 3:]], dim=-1)
        dtype = self.encoder2trans.weight.dtype
        features = self.encoder(grouped.flatten(0, 1).to(dtype))
        return features.view(*centres.shape[:2], -1)

    def tokens(self, patch_features: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """Transformer input ``[B, G + 1, width]``: ``[cls_token; encoder2trans(f)] + [cls_pos; pos_embed(c)]``."""
        batch = patch_features.shape[0]
        tokens = self.encoder2trans(patch_features)
        positions = self.pos_embed(centres.to(tokens.dtype))
        tokens = torch.cat([self.cls_token.expand(batch, -1, -1), tokens], dim=1)
        positions = torch.cat([self.cls_pos.expand(batch, -1, -1), positions], dim=1)
        return tokens + positions

    def cls_feature(self, tokens: torch.Tensor) -> torch.Tensor:
        """EVA blocks (no rotary embedding, as upstream calls them), then the CLS token's ``fc_norm``."""
        for block in self.visual.blocks:
            tokens = block(tokens)
        return self.visual.fc_norm(self.visual.norm(tokens[:, 0]))

    def forward(self, points: torch.Tensor, fps_start: torch.Tensor | None = None) -> torch.Tensor:
        """``points [B, 6, N]`` (xyz then rgb, prepared) -> raw embeddings ``[B, embed_dim]``."""
        points = points.transpose(1, 2)
        _, centres, neighbours = self.group(points[..., :3], fps_start)
        features = self.patch_features(points, centres, neighbours)
        return self.trans2embed(self.cls_feature(self.tokens(features, centres)))


class Uni3D(nn.Module):
    """The whole released model: the point encoder and the (unused) ``logit_scale``.

    Its state-dict keys are those of the released ``module`` dict, so that dict loads as is.
    """

    def __init__(self, config: Uni3DConfig):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.zeros(()))  # training temperature; scoring uses plain cosines
        self.point_encoder = PointcloudEncoder(config)

    def forward(self, points: torch.Tensor, fps_start: torch.Tensor | None = None) -> torch.Tensor:
        return self.point_encoder(points, fps_start)


def build_uni3d(config: Uni3DConfig) -> Uni3D:
    """The Uni3D module for ``config``, with randomly initialised weights.

    Forward: ``[B, in_dim, N]`` prepared points -> ``[B, embed_dim]`` raw (unnormalised) embeddings.
    """
    return Uni3D(config)
