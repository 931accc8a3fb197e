"""ResumableEmbeddingWriter: chunks that survive interruptions, an output replaced only whole."""

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from openshape_ood.corpus import embedding_file
from openshape_ood.corpus.embedding_file import (
    SETTING_KEYS,
    ResumableEmbeddingWriter,
    read_embeddings,
)

SETTINGS = {
    "model": "vitb32",
    "checkpoint": "sha256:" + "ab" * 32,
    "embed_dim": 4,
    "up_axis": "y",
    "model_up_axis": "y",
    "seed": 0,
    "num_points": 10000,
    "rgb": 0.4,
    "fps_start": "point 0",
    "mesh_samples": 10000,
    "dtype": "float32",
}


def unit(i: int) -> np.ndarray:
    vector = np.arange(1, 5, dtype=np.float32) + i
    return vector / np.linalg.norm(vector)


def writer(path, chunk_size=2, **changes) -> ResumableEmbeddingWriter:
    return ResumableEmbeddingWriter(path, {**SETTINGS, **changes}, version="9.9", chunk_size=chunk_size)


def test_file_layout_and_attributes(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out) as w:
        for i, name in enumerate(["a.ply", "b.ply", "c.ply"]):
            w.add(name, unit(i))
        assert w.finish(order=["a.ply", "b.ply", "c.ply"], world_size=3) == 3
    with h5py.File(out) as h5:
        assert h5["embeddings"].dtype == np.float32 and h5["embeddings"].shape == (3, 4)
        assert list(h5["files"].asstr()[()]) == ["a.ply", "b.ply", "c.ply"]
        assert h5.attrs["openshape_ood_version"] == "9.9"
        assert h5.attrs["world_size"] == 3
    embeddings, files, attributes = read_embeddings(out)
    assert files == ["a.ply", "b.ply", "c.ply"]
    np.testing.assert_array_equal(embeddings, np.stack([unit(0), unit(1), unit(2)]))
    assert {key: attributes[key] for key in SETTING_KEYS} == SETTINGS
    assert not (tmp_path / "e.h5.partial").exists()
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_full_chunks_are_saved_as_they_fill(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=2) as w:
        for i in range(5):
            w.add(f"{i}.ply", unit(i))
        # Two full chunks on disk, the fifth embedding still queued; no output file yet.
        assert len(list((tmp_path / "e.h5.partial").glob("chunk-*.npz"))) == 2
        assert not out.exists()
    # A new writer (the next run) sees the saved chunks, not the queued embedding.
    with writer(out) as w:
        assert w.done == {"0.ply", "1.ply", "2.ply", "3.ply"}


def test_resume_merges_chunks_and_orders_rows(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1) as first:
        first.add("c.ply", unit(2))
        first.add("x.ply", unit(9))  # from an earlier run, not named in the next one
    with writer(out) as second:
        assert second.done == {"c.ply", "x.ply"}
        second.add("a.ply", unit(0))
        second.finish(order=["a.ply", "b.ply", "c.ply"])
    embeddings, files, _ = read_embeddings(out)
    assert files == ["a.ply", "c.ply", "x.ply"]
    np.testing.assert_array_equal(embeddings, np.stack([unit(0), unit(2), unit(9)]))


def test_existing_output_is_extended_and_keeps_its_rows(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out) as w:
        w.add("b.ply", unit(1))
        w.finish()
    with writer(out) as w:
        assert w.done == {"b.ply"}
        w.add("a.ply", unit(0))
        w.finish(order=["a.ply", "b.ply"])
    assert read_embeddings(out)[1] == ["b.ply", "a.ply"]


def test_nothing_new_leaves_the_output_untouched(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out) as w:
        w.add("a.ply", unit(0))
        w.finish()
    before = out.stat().st_mtime_ns, out.read_bytes()
    with writer(out) as w:
        assert w.finish(order=["a.ply"]) == 1
    assert (out.stat().st_mtime_ns, out.read_bytes()) == before


def test_failure_while_writing_the_output_keeps_the_old_one_and_the_chunks(tmp_path, monkeypatch):
    out = tmp_path / "e.h5"
    with writer(out) as w:
        w.add("a.ply", unit(0))
        w.finish()
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with writer(out) as w:
        w.add("b.ply", unit(1))
        monkeypatch.setattr(h5py.Group, "create_dataset", broken)
        with pytest.raises(OSError, match="disk full"):
            w.finish()
        monkeypatch.undo()
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.h5", "e.h5.lock", "e.h5.partial"]  # no temporary left
    with writer(out) as w:
        assert w.done == {"a.ply", "b.ply"}


def test_failure_while_saving_a_chunk_leaves_no_chunk(tmp_path, monkeypatch):
    out = tmp_path / "e.h5"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with writer(out, chunk_size=1) as w:
        w.add("a.ply", unit(0))
        monkeypatch.setattr(embedding_file.np, "savez", broken)
        with pytest.raises(OSError, match="disk full"):
            w.add("b.ply", unit(1))
        monkeypatch.undo()
    partial = tmp_path / "e.h5.partial"
    assert sorted(p.suffix for p in partial.iterdir()) == [".json", ".npz"]
    with writer(out) as w:
        assert w.done == {"a.ply"}


def test_leftover_temporary_chunk_is_ignored_and_removed(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1) as w:
        w.add("a.ply", unit(0))
    leftover = tmp_path / "e.h5.partial" / "chunk-killed.npz.tmp"
    leftover.write_bytes(b"PK\x03\x04 half a zip")
    with writer(out) as w:
        assert w.done == {"a.ply"}
    assert not leftover.exists()


def test_other_settings_are_refused(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1) as w:
        w.add("a.ply", unit(0))
    with pytest.raises(ValueError, match=r"e\.h5\.partial holds embeddings made with other settings \(seed=0 there, 1 now\)"):
        writer(out, seed=1)
    with writer(out) as w:
        w.finish()
    with pytest.raises(ValueError, match=r"model='vitb32' there, 'vitl14' now.*another output file"):
        writer(out, model="vitl14")


def test_bfloat16_and_float32_embeddings_never_share_a_file(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1, dtype="bfloat16") as w:
        w.add("a.ply", unit(0))
    with pytest.raises(ValueError, match=r"dtype='bfloat16' there, 'float32' now"):
        writer(out)
    with writer(out, dtype="bfloat16") as w:
        w.finish()
    assert read_embeddings(out)[2]["dtype"] == "bfloat16"
    with pytest.raises(ValueError, match=r"dtype='bfloat16' there, 'float32' now.*another output file"):
        writer(out)


def test_files_and_chunks_from_before_dtype_was_recorded_read_as_float32(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1) as w:
        w.add("a.ply", unit(0))
    settings_file = tmp_path / "e.h5.partial" / "settings.json"
    old_settings = {key: value for key, value in json.loads(settings_file.read_text()).items() if key != "dtype"}
    settings_file.write_text(json.dumps(old_settings))
    with pytest.raises(ValueError, match=r"dtype='float32' there, 'bfloat16' now"):
        writer(out, dtype="bfloat16")
    with writer(out) as w:  # the old chunk resumes as float32
        assert w.done == {"a.ply"}
        w.finish()
    with h5py.File(out, "a") as h5:
        del h5.attrs["dtype"]
    assert read_embeddings(out)[2]["dtype"] == "float32"
    with writer(out) as w:
        assert w.done == {"a.ply"}
    with pytest.raises(ValueError, match=r"dtype='float32' there, 'bfloat16' now"):
        writer(out, dtype="bfloat16")


def test_a_foreign_file_is_never_overwritten(tmp_path):
    out = tmp_path / "e.h5"
    out.write_bytes(b"precious")
    with pytest.raises(ValueError, match="not a readable openshape-ood embeddings file"):
        writer(out)
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["data"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match="not an openshape-ood embeddings file"):
        writer(tmp_path / "other.h5")
    assert out.read_bytes() == b"precious"


def test_embedding_of_wrong_width_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(3,\); expected \(4,\)"), writer(tmp_path / "e.h5") as w:
        w.add("a.ply", np.ones(3))


def test_a_second_run_on_the_same_output_is_refused_while_the_first_holds_it(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1) as first:
        first.add("a.ply", unit(0))
        with pytest.raises(embedding_file.OutputInUseError, match=r"e\.h5 is being written by another run .*e\.h5\.lock"):
            writer(out)
        # The refused writer touched nothing: the first still finishes with its rows.
        first.add("b.ply", unit(1))
        assert first.finish() == 2
    with writer(out) as second:  # free again once the first has closed
        assert second.done == {"a.ply", "b.ply"}


def test_secondary_writers_save_chunks_that_the_primary_gathers(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, chunk_size=1) as old:
        old.add("z.ply", unit(9))  # left by an earlier, interrupted run
    with writer(out, chunk_size=2) as primary:
        # Another rank: no lock, nothing read.
        other = ResumableEmbeddingWriter(out, SETTINGS, version="9.9", chunk_size=2, primary=False)
        assert other.done == set()
        for i, name in enumerate(["a.ply", "c.ply"]):
            primary.add(name, unit(i))
        other.add("b.ply", unit(5))
        other.flush()
        with pytest.raises(RuntimeError, match="only the primary writer finishes"):
            other.finish()
        assert primary.finish(order=["a.ply", "b.ply", "c.ply"], world_size=2) == 4
    embeddings, files, attributes = read_embeddings(out)
    assert files == ["a.ply", "b.ply", "c.ply", "z.ply"]
    np.testing.assert_array_equal(embeddings, np.stack([unit(0), unit(5), unit(1), unit(9)]))
    assert attributes["world_size"] == 2


def test_existing_rows_are_copied_in_blocks_and_new_rows_placed_from_every_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_file, "_COPY_ROWS", 2)
    out = tmp_path / "e.h5"
    with writer(out) as w:
        for i in range(5):
            w.add(f"old{i}.ply", unit(i))
        w.finish(order=[f"old{i}.ply" for i in range(5)])
    with writer(out, chunk_size=2) as w:
        for i, name in [(13, "n3.ply"), (11, "n1.ply"), (12, "n2.ply"), (3, "old3.ply")]:
            w.add(name, unit(i))  # chunks hold rows out of order, and a row the output has already
        assert w.finish(order=["n1.ply", "n2.ply", "n3.ply"]) == 8
    embeddings, files, _ = read_embeddings(out)
    assert files == [f"old{i}.ply" for i in range(5)] + ["n1.ply", "n2.ply", "n3.ply"]
    np.testing.assert_array_equal(embeddings, np.stack([unit(i) for i in [0, 1, 2, 3, 4, 11, 12, 13]]))


def test_a_kill_during_clean_up_does_not_block_the_next_run(tmp_path, monkeypatch):
    out = tmp_path / "e.h5"

    def killed(path, *args, **kwargs):  # the run dies while deleting the partial folder
        (Path(path) / "settings.json").unlink()
        raise KeyboardInterrupt

    with writer(out, chunk_size=1) as w:
        w.add("a.ply", unit(0))
        w.add("b.ply", unit(1))
        monkeypatch.setattr(embedding_file.shutil, "rmtree", killed)
        with pytest.raises(KeyboardInterrupt):
            w.finish()
        monkeypatch.undo()
    assert read_embeddings(out)[1] == ["a.ply", "b.ply"]  # written before the clean-up began
    assert not (tmp_path / "e.h5.partial").exists()  # renamed away first: no chunks without settings
    with writer(out) as w:
        assert w.done == {"a.ply", "b.ply"}
        w.add("c.ply", unit(2))
        assert w.finish() == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.h5", "e.h5.lock"]


def test_temporaries_of_a_killed_final_write_are_removed(tmp_path):
    out = tmp_path / "e.h5"
    stray = tmp_path / ".e.h5.k1ll3d.tmp"  # as atomic.replacing names them
    stray.write_bytes(b"\x89HDF half a file")
    other = tmp_path / ".other.h5.x.tmp"  # another output's: not ours to remove
    other.write_bytes(b"busy")
    with writer(out) as w:
        assert w.done == set()
    assert not stray.exists() and other.exists()


def test_every_setting_is_recorded_and_checked_unknown_keys_included(tmp_path):
    out = tmp_path / "e.h5"
    with writer(out, views=3, rotate=[0.0, 90.0]) as w:
        w.add("a.ply", unit(0))
        w.finish(order=["a.ply"])
    attributes = read_embeddings(out)[2]
    assert attributes["views"] == 3 and list(attributes["rotate"]) == [0.0, 90.0]
    with writer(out, views=3, rotate=[0.0, 90.0]) as w:  # the same settings resume
        assert w.done == {"a.ply"}
    with pytest.raises(ValueError, match=r"views=3 there, 4 now"):
        writer(out, views=4, rotate=[0.0, 90.0])
    with pytest.raises(ValueError, match=r"rotate=.* there, \(missing\) now"):
        writer(out, views=3)  # a setting the file has but this run lacks
    with pytest.raises(ValueError, match=r"normals=\(missing\) there, True now"):
        writer(out, views=3, rotate=[0.0, 90.0], normals=True)  # a key the file predates
    with writer(out, **attributes) as w:  # a file's own attributes read back are its settings again
        assert w.done == {"a.ply"}
