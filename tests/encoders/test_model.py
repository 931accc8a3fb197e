"""The fast encoder path against the upstream algorithm (benchmarks.upstream_reference).

The reference runs upstream's operations as written (Conv2d + BatchNorm2d over [B, C, K, S],
matmul attention, sorting ball query); tests/encoders/test_parity.py checks it and us against the
real upstream outputs.
"""

import pytest
import torch

from benchmarks.upstream_reference import build_upstream_reference
from openshape_ood import ShapeEncoder
from openshape_ood.encoders.pointbert import PointBertConfig, build_point_bert

from ..helpers.parity import PARITY, PARITY_MODELS, assert_upstream_close, parity_config

CONFIG = PointBertConfig(dim=64, depth=2, heads=2, mlp_dim=96, sa_dim=48, patches=12, radius=0.5, nsample=16,
                         dim_head=32, projection_out=40)

def random_batch_norm_statistics(model: torch.nn.Module, seed: int) -> None:
    """Running statistics and affine weights far from the identity, so that folding them matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                width = module.num_features
                module.running_mean.copy_(torch.randn(width, generator=generator))
                module.running_var.copy_(torch.rand(width, generator=generator) * 3 + 0.1)
                module.weight.copy_(torch.randn(width, generator=generator))
                module.bias.copy_(torch.randn(width, generator=generator))

def model_pair(seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    model = build_point_bert(CONFIG)
    random_batch_norm_statistics(model, seed)
    reference = build_upstream_reference(CONFIG)
    reference.load_state_dict(model.state_dict())
    return model.eval(), reference.eval()

def clouds(batch: int = 3, points: int = 700, seed: int = 0) -> torch.Tensor:
    x = torch.rand(batch, 6, points, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return x / x[:, :3].norm(dim=1).amax(dim=1)[:, None, None].clamp(min=1)

def test_eval_forward_matches_upstream_algorithm():
    model, reference = model_pair()
    x = clouds()
    with torch.inference_mode():
        assert_upstream_close(model(x), reference(x))

def test_folded_layers_follow_new_and_changed_weights():
    model, _ = model_pair(0)
    other, other_reference = model_pair(1)
    x = clouds()
    with torch.inference_mode():
        model(x)  # folds the first weights
    model.load_state_dict(other.state_dict(), strict=True)
    with torch.inference_mode():
        assert_upstream_close(model(x), other_reference(x))
    with torch.no_grad():  # an in-place change, as an optimiser step makes
        for m in (model, other_reference):
            bn = (m.ppat.sa.mlp_bns if hasattr(m, "ppat") else m.sa.mlp_bns)[1]
            bn.running_var.mul_(4)
    with torch.inference_mode():
        assert_upstream_close(model(x), other_reference(x))

def test_training_mode_matches_upstream_algorithm_and_trains():
    model, reference = model_pair()
    model.train()
    reference.train()
    x = clouds()
    out, expected = model(x), reference(x)
    assert_upstream_close(out.detach(), expected.detach())
    for ours, theirs in zip(model.ppat.sa.mlp_bns, reference.ppat.sa.mlp_bns):  # same batch statistics
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)
    out.sum().backward()
    assert model.ppat.sa.mlp_convs[0].weight.grad.abs().sum() > 0

@pytest.mark.parametrize("key", sorted(PARITY_MODELS))
def test_bfloat16_embeddings_within_cosine_0999_of_float32(key, parity_manifest, parity_expected):
    spec = parity_manifest["models"][key]
    encoder = ShapeEncoder.from_checkpoint(PARITY / spec["checkpoint"], parity_config(parity_manifest, key))
    x = torch.from_numpy(parity_expected["input"])
    full = encoder.encode_prepared(x)
    half = encoder.to(dtype=torch.bfloat16).encode_prepared(x)
    assert encoder.dtype == torch.bfloat16 and half.dtype == torch.float32
    assert not torch.equal(half, full)  # it did compute in bfloat16
    assert torch.nn.functional.cosine_similarity(half, full).min() >= 0.999

def test_to_rejects_unsupported_dtype():
    encoder = ShapeEncoder(build_point_bert(CONFIG), CONFIG)
    with pytest.raises(ValueError, match="float64 is not supported"):
        encoder.to(dtype=torch.float64)


def test_eval_mode_with_autograd_matches_and_gives_gradients():
    """Frozen-statistics fine-tuning and input saliency work (through the unfolded modules)."""
    model, reference = model_pair()
    x = clouds()
    with torch.inference_mode():
        model(x)  # caches a fold made under inference mode
    x.requires_grad_(True)
    out = model(x)
    assert_upstream_close(out.detach(), reference(x).detach())
    out.sum().backward()
    assert x.grad.abs().sum() > 0
    assert model.ppat.sa.mlp_convs[0].weight.grad.abs().sum() > 0
