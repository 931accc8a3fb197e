"""FPS and ball query against straightforward reference implementations of the upstream algorithms."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from openshape_ood.encoders import sampling
from openshape_ood.encoders.pointbert import PointBertConfig, build_point_bert
from openshape_ood.encoders.sampling import ball_query, farthest_point_sample, gather_points


def reference_fps(xyz: np.ndarray, count: int, start: int) -> list[int]:
    """dgl's CPU kernel, one cloud, point by point."""
    nearest = np.full(len(xyz), np.inf, dtype=np.float32)
    chosen = [start]
    for _ in range(count - 1):
        d = xyz - xyz[chosen[-1]]
        nearest = np.minimum(nearest, d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])
        chosen.append(int(np.argmax(nearest)))
    return chosen


def reference_ball_query(xyz: torch.Tensor, centres: torch.Tensor, radius: float, k: int) -> torch.Tensor:
    """PointNet++ query_ball_point as upstream runs it: mask, sort over N, pad with the first."""
    n = xyz.shape[1]
    sq = -2 * torch.matmul(centres, xyz.transpose(1, 2))
    sq += (centres**2).sum(-1).unsqueeze(-1)
    sq += (xyz**2).sum(-1).unsqueeze(1)
    index = torch.arange(n).expand(*sq.shape).clone()
    index[sq > radius**2] = n
    index = index.sort(dim=-1).values[..., :k]
    first = index[..., :1].expand_as(index)
    return torch.where(index == n, first, index)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fps_matches_reference_with_random_starts(seed):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(3, 500, 3)).astype(np.float32)
    starts = rng.integers(0, 500, 3)
    out = farthest_point_sample(torch.from_numpy(xyz), 32, torch.from_numpy(starts))
    for b in range(3):
        assert out[b].tolist() == reference_fps(xyz[b], 32, int(starts[b]))


def test_fps_ties_go_to_lowest_index():
    # Points 1 and 2 are equally far from point 0: the lower index wins.
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [-1, 0, 0], [0.5, 0, 0]]])
    assert farthest_point_sample(xyz, 3).tolist() == [[0, 1, 2]]


def test_fps_rejects_more_centres_than_points():
    with pytest.raises(ValueError, match="cannot sample 5 centres from 4 points"):
        farthest_point_sample(torch.zeros(1, 4, 3), 5)


@pytest.mark.parametrize("radius, k", [(0.3, 16), (0.05, 8), (2.0, 64)])
def test_ball_query_matches_sorting_reference(radius, k):
    generator = torch.Generator().manual_seed(0)
    xyz = torch.rand(2, 400, 3, generator=generator) * 2 - 1
    centres = gather_points(xyz, farthest_point_sample(xyz, 20))
    expected = reference_ball_query(xyz, centres, radius, k)
    np.testing.assert_array_equal(ball_query(xyz, centres, radius, k).numpy(), expected.numpy())


def test_ball_query_pads_small_groups_with_first_member():
    xyz = torch.tensor([[[0.0, 0, 0], [5, 0, 0], [0.1, 0, 0], [9, 9, 9]]])
    centres = xyz[:, [2, 3]]
    assert ball_query(xyz, centres, 0.5, 3).tolist() == [[[0, 2, 0], [3, 3, 3]]]


def test_ball_query_with_no_point_inside_any_ball_gives_point_0():
    xyz = torch.rand(2, 50, 3)
    centres = torch.full((2, 3, 3), 10.0)
    assert ball_query(xyz, centres, 0.1, 4).tolist() == [[[0] * 4] * 3] * 2


@pytest.mark.parametrize("patches, radius, k", [(64, 0.4, 256), (384, 0.2, 64)])  # vitb32 / vitl14, vitg14
def test_ball_query_at_the_released_sizes_matches_sorting_reference(patches, radius, k):
    """10,000-point prepared-like clouds (unit ball, some duplicated points), the released ball sizes."""
    generator = torch.Generator().manual_seed(patches)
    xyz = torch.randn(2, 10000, 3, generator=generator)
    xyz /= xyz.norm(dim=-1).amax(dim=1).view(-1, 1, 1)
    xyz[:, 5000:5100] = xyz[:, :100]  # duplicates: equal distances, as resampled clouds hold
    centres = gather_points(xyz, farthest_point_sample(xyz, patches))
    expected = reference_ball_query(xyz, centres, radius, k)
    np.testing.assert_array_equal(ball_query(xyz, centres, radius, k).numpy(), expected.numpy())


@pytest.mark.parametrize("lowest_inside", [sampling._lowest_inside_listed, sampling._lowest_inside_counted])
def test_both_ways_of_finding_the_lowest_inside_points_agree_with_a_scan(lowest_inside):
    """The CPU's way (nonzero) and the GPU's (running count): each row's k lowest True columns, then N."""
    generator = torch.Generator().manual_seed(1)
    for share in (0.0, 0.02, 0.5, 1.0):
        inside = torch.rand(30, 200, generator=generator) < share
        expected = [(row.nonzero().flatten().tolist() + [200] * 8)[:8] for row in inside]
        assert lowest_inside(inside, 8).tolist() == expected


def test_ball_query_on_a_gpu_path_matches_sorting_reference(monkeypatch):
    """The GPU's running-count way, run on the CPU, at vitg14's sizes."""
    monkeypatch.setattr(sampling, "_lowest_inside_listed", sampling._lowest_inside_counted)
    generator = torch.Generator().manual_seed(384)
    xyz = torch.randn(2, 10000, 3, generator=generator)
    xyz /= xyz.norm(dim=-1).amax(dim=1).view(-1, 1, 1)
    centres = gather_points(xyz, farthest_point_sample(xyz, 384))
    expected = reference_ball_query(xyz, centres, 0.2, 64)
    np.testing.assert_array_equal(ball_query(xyz, centres, 0.2, 64).numpy(), expected.numpy())


class Int64TensorRecorder(TorchDispatchMode):
    """Records the shape of every int64 tensor an operation produces."""

    def __init__(self):
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.dtype == torch.int64:
                self.shapes.append(tuple(t.shape))
        return out


def test_g14_size_encoder_never_materialises_int64_bsn_index():
    """8 clouds x 10000 points through a vitg14-size model (random weights)."""
    config = PointBertConfig(512, 12, 8, 1536, 256, 384, 0.2, 64, projection_out=1280)
    model = build_point_bert(config).eval()
    batch, points = 8, 10000
    x = torch.rand(batch, 6, points, generator=torch.Generator().manual_seed(0)) * 2 - 1
    recorder = Int64TensorRecorder()
    with torch.inference_mode(), recorder:
        out = model(x)
    assert out.shape == (batch, 1280) and torch.isfinite(out).all()
    largest = max(np.prod(s) for s in recorder.shapes)
    assert largest < batch * config.patches * points
    assert (batch, config.patches, config.nsample) in recorder.shapes  # the recorder does see the groups


class DistanceBlockRecorder(TorchDispatchMode):
    """Records the byte size of every new float ``[B', S', N]`` tensor (S' > 1) an operation produces."""

    def __init__(self, num_points: int):
        super().__init__()
        self.num_points = num_points
        self.sizes: list[int] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if (
                not func.is_view
                and isinstance(t, torch.Tensor)
                and t.is_floating_point()
                and t.ndim == 3
                and t.shape[-1] == self.num_points
                and t.shape[1] > 1
            ):
                self.sizes.append(t.numel() * t.element_size())
        return out


@pytest.mark.parametrize("budget", [1, 3 * 400 * 4, 7 * 400 * 4, 2 * 20 * 400 * 4, 1 << 30])
def test_chunked_ball_query_equals_reference_and_keeps_to_the_budget(budget):
    """Chunks of one centre, of 3 and of 7 (a partial last chunk), of whole clouds, and one block."""
    generator = torch.Generator().manual_seed(1)
    xyz = torch.rand(3, 400, 3, generator=generator) * 2 - 1
    centres = gather_points(xyz, farthest_point_sample(xyz, 20))
    recorder = DistanceBlockRecorder(400)
    with recorder:
        out = ball_query(xyz, centres, 0.4, 24, max_chunk_bytes=budget)
    np.testing.assert_array_equal(out.numpy(), reference_ball_query(xyz, centres, 0.4, 24).numpy())
    assert max(recorder.sizes, default=0) <= budget
    if budget >= 3 * 20 * 400 * 4:
        assert recorder.sizes  # the recorder does see the distance block
