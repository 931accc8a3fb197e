"""Input preparation and ShapeEncoder.embed: forms accepted, determinism, conventions, errors."""

import numpy as np
import pytest
import torch

from openshape_ood import ShapeEncoder
from openshape_ood.prepare import convert_up_axis, prepare_cloud, resample_indices

from ..helpers.parity import PARITY, parity_config


@pytest.fixture(scope="module")
def encoder(parity_manifest) -> ShapeEncoder:
    return ShapeEncoder.from_checkpoint(PARITY / "l14_tiny.pt", parity_config(parity_manifest, "l14"))


def cloud(n: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5] + [3.0, -1.0, 2.0]
    if channels == 6:
        points = np.concatenate([points, rng.uniform(0, 1, size=(n, 3))], axis=1)
    return points.astype(np.float32)


def test_prepare_centres_scales_fills_colour_and_resamples():
    points = np.array([[1.0, 1, 1], [3, 1, 1], [2, 1, 1], [2, 3, 1]])
    out = prepare_cloud(points, np.random.default_rng(0), num_points=10)
    assert out.shape == (6, 10) and out.dtype == np.float32
    # mean (2, 1.5, 1); farthest point (2, 3, 1) at distance 1.5
    expected = {(-2 / 3, -1 / 3, 0.0), (2 / 3, -1 / 3, 0.0), (0.0, -1 / 3, 0.0), (0.0, 1.0, 0.0)}
    got = {tuple(np.round(p, 6)) for p in out[:3].T.astype(np.float64)}
    assert got == {tuple(np.round(p, 6)) for p in expected}
    np.testing.assert_array_equal(out[3:], np.float32(0.4))


def test_resampling_keeps_every_point_when_upsampling_and_subsets_when_downsampling():
    rng = np.random.default_rng(0)
    up = resample_indices(7, 20, rng)
    assert len(up) == 20 and set(up) == set(range(7))
    down = resample_indices(50, 20, rng)
    assert len(down) == 20 and len(set(down)) == 20 and down.max() < 50


def test_colours_in_0_255_equal_colours_in_0_1():
    base = cloud(300, channels=6)
    scaled = base.copy()
    scaled[:, 3:] = np.round(scaled[:, 3:] * 255)
    unit = scaled.copy()
    unit[:, 3:] /= 255
    a = prepare_cloud(scaled, np.random.default_rng(1), num_points=64)
    b = prepare_cloud(unit, np.random.default_rng(1), num_points=64)
    np.testing.assert_allclose(a, b, atol=1e-7)


def test_up_axis_conversion_swaps_the_two_axes():
    xyz = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(convert_up_axis(xyz, "y", "z"), [[1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(convert_up_axis(xyz, "x", "y"), [[2.0, 1.0, 3.0]])
    np.testing.assert_array_equal(convert_up_axis(xyz, "z", "z"), xyz)


def test_embed_returns_unit_float32_rows_for_every_input_form(encoder):
    one = encoder.embed(cloud(500))
    assert one.shape == (1, 96) and one.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1, atol=1e-6)
    batch = np.stack([cloud(500, 1), cloud(500, 2)])
    assert encoder.embed(batch).shape == (2, 96)
    mixed = encoder.embed([cloud(300, 3), cloud(12000, 4, channels=6), cloud(5, 5)])
    assert mixed.shape == (3, 96)
    as_torch = encoder.embed(torch.from_numpy(batch))
    assert isinstance(as_torch, torch.Tensor) and as_torch.dtype == torch.float32
    np.testing.assert_allclose(as_torch.numpy(), encoder.embed(batch), atol=1e-6)


def test_same_seed_same_embedding_regardless_of_batching(encoder):
    clouds = [cloud(800, s) for s in range(5)]
    a = encoder.embed(clouds, seed=7, batch_size=2)
    b = encoder.embed(clouds, seed=7, batch_size=5)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_array_equal(encoder.embed(clouds, seed=7, batch_size=2), a)
    assert not np.allclose(encoder.embed(clouds, seed=8), a)
    starts = encoder.embed(clouds, seed=7, random_fps_start=True)
    np.testing.assert_array_equal(encoder.embed(clouds, seed=7, random_fps_start=True), starts)
    assert not np.allclose(starts, a)


def test_a_clouds_embedding_does_not_depend_on_the_other_clouds(encoder):
    a, b, c = cloud(700, 1), cloud(900, 2), cloud(400, 3, channels=6)
    alone = encoder.embed(a, seed=5)
    np.testing.assert_allclose(encoder.embed([b, a], seed=5)[1:], alone, atol=1e-6)
    np.testing.assert_allclose(encoder.embed([c, b, a], seed=5, batch_size=1)[2:], alone, atol=1e-6)
    random_start = encoder.embed(a, seed=5, random_fps_start=True)
    np.testing.assert_allclose(encoder.embed([c, a], seed=5, random_fps_start=True)[1:], random_start, atol=1e-6)


def test_embed_equals_manual_preparation(encoder):
    """embed = prepare_cloud with the same generator, then the raw forward pass, normalised."""
    points = cloud(2000, 9, channels=6)
    manual = prepare_cloud(points, np.random.default_rng(3), up_axis="z", model_up_axis="y")
    raw = encoder.encode_prepared(torch.from_numpy(manual)[None])
    expected = torch.nn.functional.normalize(raw, dim=-1).numpy()
    np.testing.assert_allclose(encoder.embed(points, seed=3, up_axis="z"), expected, atol=1e-6)


def test_rotating_the_data_and_stating_its_up_axis_cancel(encoder):
    points = cloud(1500, 11)
    z_up = points[:, [0, 2, 1]]
    np.testing.assert_allclose(encoder.embed(z_up, up_axis="z"), encoder.embed(points, up_axis="y"), atol=1e-6)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 3)), "cloud 0 is empty"),
        (np.array([[0.0, np.nan, 1], [1, 2, 3]]), "NaN or infinite"),
        (np.array([[0.0, np.inf, 1], [1, 2, 3]]), "NaN or infinite"),
        (np.zeros((10, 4)), r"expected \(N, 3\) xyz or \(N, 6\) xyz\+rgb"),
        (np.ones((10, 3)), "all points are identical"),
        (np.concatenate([np.eye(3), [[0.5, 0.5, 300]] * 3], axis=1), r"RGB in \[0, 1\] or in \[0, 255\]"),
        (np.concatenate([np.eye(3), [[0.5, -0.1, 0.2]] * 3], axis=1), r"RGB in \[0, 1\] or in \[0, 255\]"),
        (np.zeros((2, 3, 4, 3)), "got an array of shape"),
        ([], "no point clouds given"),
    ],
)
def test_invalid_clouds_are_rejected(encoder, bad, message):
    with pytest.raises(ValueError, match=message):
        encoder.embed(bad)


def test_invalid_cloud_is_reported_with_its_index_before_any_encoding(encoder, monkeypatch):
    monkeypatch.setattr(encoder, "encode_prepared", lambda *a: pytest.fail("encoded before validating"))
    with pytest.raises(ValueError, match="cloud 2 is empty"):
        encoder.embed([cloud(10), cloud(10), np.zeros((0, 3))])


def test_invalid_options(encoder):
    with pytest.raises(ValueError, match="up_axis 'w'"):
        encoder.embed(cloud(10), up_axis="w")
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        encoder.embed(cloud(10), batch_size=0)
    with pytest.raises(ValueError, match=r"expected prepared input \[B, 6, N\]"):
        encoder.encode_prepared(torch.zeros(2, 3, 100))


def test_progress_bar_shows_for_many_batches_on_a_terminal_and_can_be_turned_off(encoder, capsys, monkeypatch):
    clouds = [cloud(50, s) for s in range(3)]
    encoder.embed(clouds, batch_size=1)  # stderr is not a terminal here: no bar in logs
    assert "Encoding shapes" not in capsys.readouterr().err
    encoder.embed(clouds, batch_size=1, progress=True)
    assert "Encoding shapes" in capsys.readouterr().err
    monkeypatch.setattr("openshape_ood.progress._stderr_is_terminal", lambda: True)
    encoder.embed(clouds, batch_size=1)
    assert "Encoding shapes" in capsys.readouterr().err
    encoder.embed(clouds, batch_size=1, progress=False)
    assert "Encoding shapes" not in capsys.readouterr().err


def test_device_is_checked_before_use(monkeypatch):
    from openshape_ood.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'gpu7' is not a torch device"):
        resolve_device("gpu7")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU here; use 'cpu'"):
        resolve_device("cuda:0")


def test_one_view_is_the_plain_embedding(encoder):
    clouds = [cloud(700, s) for s in range(3)]
    plain = encoder.embed(clouds, seed=3)
    np.testing.assert_array_equal(encoder.embed(clouds, seed=3, views=1), plain)
    np.testing.assert_array_equal(encoder.embed(clouds, seed=3, views=1, rotate=True), plain)


def test_views_average_unit_view_embeddings_deterministically(encoder):
    clouds = [cloud(700, s) for s in range(3)]
    three = encoder.embed(clouds, seed=3, views=3, rotate=True)
    np.testing.assert_array_equal(encoder.embed(clouds, seed=3, views=3, rotate=True), three)
    # batching changes only float rounding, as for plain embeddings
    np.testing.assert_allclose(encoder.embed(clouds, seed=3, views=3, rotate=True, batch_size=2), three, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(three, axis=1), 1, atol=1e-6)
    plain = encoder.embed(clouds, seed=3)
    assert np.abs(three - plain).max() > 1e-4  # the extra views change the embedding
    assert np.abs(encoder.embed(clouds, seed=4, views=3, rotate=True) - three).max() > 1e-4


def test_rotated_view_is_the_turned_cloud_embedded(encoder):
    # views=2 with rotate: view 1 turns the cloud half a revolution about y, so (x, y, z) -> (-x, y, -z)
    from openshape_ood.encoders.shape import _view_seed

    raw = cloud(700)
    turned = raw * np.array([-1.0, 1.0, -1.0], dtype=np.float32)
    view_0 = encoder.embed(raw, seed=5)
    view_1 = encoder._embed_view([turned], _view_seed(5, 1), True, "y", 0).numpy()
    expected = (view_0 + view_1) / np.linalg.norm(view_0 + view_1)
    np.testing.assert_allclose(encoder.embed(raw, seed=5, views=2, rotate=True), expected, atol=1e-5)


@pytest.mark.parametrize("views", [0, -1, 1.5, True])
def test_views_must_be_a_positive_whole_number(encoder, views):
    with pytest.raises(ValueError, match="views must be"):
        encoder.embed(cloud(100), views=views)
