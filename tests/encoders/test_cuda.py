"""The encoders and the exact search on a CUDA GPU give what they give on the CPU (and what upstream gives).

CI has no GPU: these tests skip there with the reason. Run them where one is: ``pytest tests/encoders/test_cuda.py``.
"""

import numpy as np
import pytest
import torch

from openshape_ood import ShapeEncoder
from openshape_ood.encoders import sampling
from openshape_ood.encoders.sampling import ball_query, farthest_point_sample, gather_points, knn_query
from openshape_ood.encoders.uni3d import FPS_SKIP_NORM_SQ
from openshape_ood.methods.search import exact_search

from ..helpers.parity import PARITY, PARITY_MODELS, assert_upstream_close, parity_config
from ..helpers.sampling_kernels import mismatches
from ..helpers.uni3d import CLOUDS, CONFIGS, FIXTURES as UNI3D_FIXTURES, MANIFEST, fixture_config, prepared

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")


@pytest.fixture(params=[True, False], ids=["kernels", "torch"])
def sampling_path(request, monkeypatch):
    """Sampling by the Triton kernels (the default on a GPU) and by the torch path."""
    monkeypatch.setattr(sampling, "use_kernels", request.param)
    return request.param


def test_the_sampling_kernels_pick_what_the_torch_path_picks_on_cuda():
    assert mismatches("cuda", points=10_000, batch=8) == []


@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_openshape_sampling_and_float32_embeddings_equal_upstream_on_cuda(
    key, parity_manifest, parity_expected, sampling_path
):
    config = parity_config(parity_manifest, key)
    xyz = torch.from_numpy(parity_expected["input"][:, :3]).transpose(1, 2).contiguous().cuda()
    centres = farthest_point_sample(xyz, config.patches)
    np.testing.assert_array_equal(centres.cpu().numpy(), parity_expected[f"{key}_fps_index"])
    groups = ball_query(xyz, gather_points(xyz, centres), config.radius, config.nsample)
    np.testing.assert_array_equal(groups.cpu().numpy(), parity_expected[f"{key}_group_index"])
    checkpoint = PARITY / parity_manifest["models"][key]["checkpoint"]
    encoder = ShapeEncoder.from_checkpoint(checkpoint, config, device="cuda", dtype="float32")
    out = encoder.encode_prepared(torch.from_numpy(parity_expected["input"]).cuda())
    assert_upstream_close(out.cpu(), parity_expected[f"{key}_embedding"])


@pytest.mark.parametrize("key", CONFIGS)
def test_uni3d_sampling_and_float32_embeddings_equal_upstream_on_cuda(key, uni3d_expected, sampling_path):
    spec = MANIFEST["configs"][key]
    encoder = ShapeEncoder.from_checkpoint(UNI3D_FIXTURES / spec["checkpoint"], fixture_config(key), device="cuda",
                                           dtype="float32")  # fmt: skip
    for cloud in CLOUDS:
        points = prepared(uni3d_expected, cloud).cuda()
        xyz = points[:, :3].transpose(1, 2).contiguous()
        centre_index = farthest_point_sample(xyz, spec["num_group"], skip_norm_sq=FPS_SKIP_NORM_SQ)
        np.testing.assert_array_equal(centre_index[0].cpu().numpy(), uni3d_expected[f"{key}/{cloud}/fps_idx"])
        neighbours = knn_query(xyz, gather_points(xyz, centre_index), spec["group_size"])
        np.testing.assert_array_equal(np.sort(neighbours[0].cpu().numpy(), axis=1),
                                      uni3d_expected[f"{key}/{cloud}/knn_idx_sorted"])  # fmt: skip
        out = encoder.encode_prepared(points)[0].cpu().numpy()
        assert np.abs(out - uni3d_expected[f"{key}/{cloud}/embedding"]).max() <= 1e-5, cloud


@pytest.mark.parametrize("name", ["vitb32", "uni3d-ti"])
def test_embed_on_cuda_matches_the_cpu_in_float32_and_bfloat16(name):
    """Raw clouds, prepared on the device: the same patches, so float32 agrees to rounding."""
    from openshape_ood import get_entry
    from openshape_ood.encoders.shape import build_encoder

    entry = get_entry(name)
    torch.manual_seed(0)
    model = build_encoder(entry.config)
    clouds = list(np.random.default_rng(0).normal(size=(6, 12_000, 3)).astype(np.float32))

    def embeddings(device, dtype):
        encoder = ShapeEncoder(model, entry.config, model_up_axis=entry.model_up_axis).to(device, dtype)
        out = encoder.embed(clouds, batch_size=4, progress=False)
        return torch.nn.functional.normalize(torch.as_tensor(np.asarray(out)).double(), dim=-1)

    cpu = embeddings("cpu", torch.float32)
    cuda = embeddings("cuda", torch.float32)
    bf16 = embeddings("cuda", torch.bfloat16)
    assert (cpu * cuda).sum(-1).min() >= 1 - 1e-6
    assert (cpu * bf16).sum(-1).min() >= 0.999  # the bound ShapeEncoder.to promises


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_search_on_cuda_finds_what_the_cpu_finds(metric):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(5000, 64)).astype(np.float32)
    queries = rng.normal(size=(300, 64)).astype(np.float32)
    cpu_distances, cpu_indices = exact_search(queries, reference, k=5, metric=metric)
    distances, indices = exact_search(queries, reference, k=5, metric=metric, device="cuda", block_bytes=1 << 20)
    np.testing.assert_array_equal(indices, cpu_indices)
    np.testing.assert_allclose(distances, cpu_distances, rtol=0, atol=1e-12)
