"""ShapeFileDataset, its loader, stacks as file#row items, and the library's embed_files/embed_to_file."""

from __future__ import annotations

import re
import warnings

import h5py
import numpy as np
import pytest
import torch
import trimesh

from openshape_ood import ShapeEncoder, load_points
from openshape_ood.corpus.embed import embed_files, embed_to_file
from openshape_ood.corpus.dataset import ShapeFileDataset, expand_stacks, shape_loader, split_item, stack_size
from openshape_ood.corpus.embedding_file import OutputInUseError, ResumableEmbeddingWriter, read_embeddings
from openshape_ood.prepare import prepare_batch

from ..helpers.parity import PARITY, parity_config

NUM_POINTS = 256  # small inputs keep the tiny encoder fast


@pytest.fixture(scope="module")
def encoder(parity_manifest) -> ShapeEncoder:
    encoder = ShapeEncoder.from_checkpoint(PARITY / "b32_tiny.pt", parity_config(parity_manifest, "b32"))
    encoder.num_points = NUM_POINTS
    return encoder


def blob(seed: int, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) * rng.uniform(0.5, 2.0, size=3)).astype(np.float32)


@pytest.fixture
def corpus(tmp_path) -> dict[str, str]:
    """Good files of several formats, a stack of three clouds and three bad files: {kind: path}."""
    files = {
        "npy": tmp_path / "a.npy",
        "mesh": tmp_path / "box.obj",
        "stack": tmp_path / "stack.h5",
        "identical": tmp_path / "identical.npy",
        "xyz": tmp_path / "b.xyz",
        "one_point": tmp_path / "one.xyz",
        "broken": tmp_path / "broken.ply",
    }
    np.save(files["npy"], blob(1))
    trimesh.creation.box(extents=(1, 2, 3)).export(files["mesh"])
    with h5py.File(files["stack"], "w") as h5:
        h5["data"] = np.stack([blob(10), blob(11), blob(12)])
    np.save(files["identical"], np.ones((50, 3), np.float32))
    np.savetxt(files["xyz"], blob(2))
    np.savetxt(files["one_point"], [[1.0, 2.0, 3.0]])
    files["broken"].write_bytes(b"no ply at all\n")
    return {kind: str(path) for kind, path in files.items()}


def oracle(encoder: ShapeEncoder, name: str, up_axis: str = "y") -> np.ndarray:
    """The embedding ShapeEncoder.embed gives the points load_points reads."""
    path, row = split_item(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropped points: the code under test is the one to warn
        points = load_points(path, index=row, seed=0)
    return encoder.embed(points, up_axis=up_axis, seed=0)[0]


def test_split_item_and_stack_expansion(corpus, tmp_path):
    assert split_item("scans/x.h5#12") == ("scans/x.h5", 12)
    assert split_item("x.HDF5#0") == ("x.HDF5", 0)
    assert split_item("x.npy#3") == ("x.npy", 3)
    for whole in ["a#1.ply", "x.h5#", "x.h5#-1", "x.h5#1a", "x.ply#2", "x.h5"]:
        assert split_item(whole) == (whole, None)
    np.save(tmp_path / "stack.npy", np.zeros((2, 5, 3)))
    assert stack_size(corpus["stack"]) == 3
    assert stack_size(tmp_path / "stack.npy") == 2
    assert stack_size(corpus["npy"]) is None  # one cloud
    assert stack_size(corpus["broken"]) is None  # not a stack format: loading reports the trouble
    assert expand_stacks([corpus["npy"], corpus["stack"]]) == [corpus["npy"]] + [f"{corpus['stack']}#{i}" for i in range(3)]


def test_items_are_the_encoders_own_preparation(corpus, encoder):
    dataset = ShapeFileDataset(
        [corpus["mesh"], f"{corpus['stack']}#1"], num_points=NUM_POINTS, up_axis="z", model_up_axis="y", seed=3
    )
    assert len(dataset) == 2
    for item in dataset:
        path, row = split_item(item.name)
        expected = prepare_batch(
            [load_points(path, index=row, seed=3)], 3, up_axis="z", model_up_axis="y", num_points=NUM_POINTS
        )[0]
        assert item.error is None and item.points.dtype == torch.float32
        np.testing.assert_array_equal(item.points.numpy(), expected)


def test_bad_and_degenerate_files_are_items_with_their_error(corpus):
    names = [corpus[kind] for kind in ("identical", "one_point", "broken")]
    items = [ShapeFileDataset(names, num_points=NUM_POINTS)[i] for i in range(3)]
    assert [item.points for item in items] == [None, None, None]
    assert re.fullmatch(rf"{re.escape(names[0])}: all points are identical \(\d+ of them\); a shape needs some extent",
                        items[0].error)  # fmt: skip
    assert items[1].error == f"{names[1]} has a single point; a shape needs some extent"
    assert items[2].error.startswith(f"could not read {names[2]}")


def test_loader_workers_give_the_same_batches_and_pass_on_warnings(corpus, tmp_path):
    with_nan = blob(5)
    with_nan[:7, 1] = np.nan
    np.save(tmp_path / "nan.npy", with_nan)
    names = [corpus["npy"], corpus["identical"], str(tmp_path / "nan.npy"), corpus["xyz"], corpus["mesh"]]
    dataset = ShapeFileDataset(names, num_points=NUM_POINTS)
    in_process = list(shape_loader(dataset, batch_size=2, num_workers=0))
    in_workers = list(shape_loader(dataset, batch_size=2, num_workers=2))
    for a, b in zip(in_process, in_workers, strict=True):
        assert (a.names, a.failed, a.warnings) == (b.names, b.failed, b.warnings)
        torch.testing.assert_close(a.points, b.points, rtol=0, atol=0)
    assert [batch.names for batch in in_workers] == [[names[0]], [names[2], names[3]], [names[4]]]
    assert [name for batch in in_workers for name, _ in batch.failed] == [names[1]]
    # The warning was raised in a worker process; it travels with the batch.
    assert [len(batch.warnings) for batch in in_workers] == [0, 1, 0]
    assert "7" in in_workers[1].warnings[0] and "nan.npy" in in_workers[1].warnings[0]


def test_embed_files_in_memory_matches_embed_and_reports_failures(corpus, encoder, tmp_path):
    with_nan = blob(6)
    with_nan[:3] = np.inf
    np.save(tmp_path / "inf.npy", with_nan)
    reported = []
    names = [corpus["npy"], corpus["broken"], corpus["stack"], str(tmp_path / "inf.npy"), corpus["identical"]]
    with pytest.warns(UserWarning, match="inf.npy"):
        result = embed_files(encoder, names, batch_size=3, num_workers=0, on_error=lambda *pair: reported.append(pair))
    good = [corpus["npy"]] + [f"{corpus['stack']}#{i}" for i in range(3)] + [str(tmp_path / "inf.npy")]
    assert result.files == good
    np.testing.assert_allclose(result.embeddings, np.stack([oracle(encoder, name) for name in good]), atol=1e-6)
    assert [name for name, _ in reported] == [corpus["broken"], corpus["identical"]]
    assert result.failed == dict(reported)


def test_embed_to_file_resumes_and_holds_the_lock(corpus, encoder, tmp_path):
    out = tmp_path / "out.h5"
    names = [corpus["npy"], corpus["stack"], corpus["identical"]]
    first = embed_to_file(encoder, names, out, checkpoint="sha256:cafe", batch_size=2)
    assert (first.rows, first.added, first.skipped, list(first.failed)) == (4, 4, 0, [corpus["identical"]])
    # While another writer holds the output, a second run is refused and changes nothing.
    before = out.read_bytes()
    with ResumableEmbeddingWriter(out, read_embeddings(out)[2], version="0"):
        with pytest.raises(OutputInUseError, match="being written by another run"):
            embed_to_file(encoder, names + [corpus["xyz"]], out, checkpoint="sha256:cafe")
    assert out.read_bytes() == before
    second = embed_to_file(encoder, names + [corpus["xyz"]], out, checkpoint="sha256:cafe", num_workers=1)
    assert (second.rows, second.added, second.skipped) == (5, 1, 4)
    embeddings, files, attributes = read_embeddings(out)
    assert files == [corpus["npy"], *(f"{corpus['stack']}#{i}" for i in range(3)), corpus["xyz"]]
    np.testing.assert_allclose(embeddings, np.stack([oracle(encoder, name) for name in files]), atol=1e-6)
    assert (attributes["model"], attributes["checkpoint"], attributes["world_size"]) == ("unregistered", "sha256:cafe", 1)
    with pytest.raises(ValueError, match="no registry entry.*checkpoint="):
        embed_to_file(encoder, names, out)
    with pytest.raises(ValueError, match="no shape files to embed"):
        embed_to_file(encoder, [], out, checkpoint="sha256:cafe")
