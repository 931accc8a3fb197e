"""benchmarks.data on a synthetic release in the exact 3DOS layout."""

import h5py
import numpy as np
import pytest

from benchmarks.data import (
    COMMON,
    MODELNET_FILES,
    SCANOBJECTNN_FILES,
    SR1,
    SR2,
    load_modelnet_reference,
    load_scanobjectnn,
    load_synthetic_to_real,
    modelnet_reference_file,
)

from ..synthetic_3dos import expected_counts, make_synthetic_release

SPC = 2  # samples per class in the synthetic release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release") / "3D_OS_release_data"
    return make_synthetic_release(root, SPC, seed=1)


def read(path):
    with h5py.File(path, "r") as handle:
        return handle["data"][()], handle["label"][()]


def test_release_layout_keys_and_dtypes(release):
    sizes = {**dict.fromkeys(SCANOBJECTNN_FILES, 2048), **dict.fromkeys(MODELNET_FILES, 10000)}
    for relative, points in sizes.items():
        with h5py.File(release / relative, "r") as handle:
            assert set(handle) == {"data", "label"}
            assert handle["data"].dtype == np.float32
            assert handle["data"].shape[1:] == (points, 3)
            assert handle["label"].shape == (handle["data"].shape[0],)


def test_expected_paths_are_the_release_paths():
    assert SCANOBJECTNN_FILES == (
        "ScanObjectNN/h5_files/main_split/training_objectdataset.h5",
        "ScanObjectNN/h5_files/main_split/test_objectdataset.h5",
    )
    assert modelnet_reference_file("SR2", "test") == "modelnet40_normal_resampled/ood_sets_cache/SR2_test.h5"
    assert len(MODELNET_FILES) == 4


def test_scanobjectnn_is_training_file_then_test_file(release):
    points, ids = load_scanobjectnn(release)
    train_points, train_ids = read(release / SCANOBJECTNN_FILES[0])
    test_points, test_ids = read(release / SCANOBJECTNN_FILES[1])
    np.testing.assert_array_equal(points, np.concatenate([train_points, test_points]))
    np.testing.assert_array_equal(ids, np.concatenate([train_ids, test_ids]))
    assert points.dtype == np.float32 and ids.dtype == np.int64


@pytest.mark.parametrize("source, other", [("SR1", "SR2"), ("SR2", "SR1")])
def test_set_counts_and_roles(release, source, other):
    counts = expected_counts(SPC)
    run = load_synthetic_to_real(source, release)
    assert run.source == source
    assert (len(run.known), len(run.unknown_1), len(run.unknown_2)) == (
        counts[source], counts[other], counts["common"],
    )  # fmt: skip
    assert run.known.class_set.name == source
    assert run.unknown_1.class_set.name == other
    assert run.unknown_2.class_set is COMMON
    assert sum(counts.values()) == 2 * 15 * SPC  # every real sample is in exactly one set


def test_mapped_labels_and_ids(release):
    sr1 = load_synthetic_to_real("SR1", release)
    # chair 4 -> 0, shelf 8 -> 1, door 7 -> 2, sink 12 -> 3, sofa 13 -> 4
    for scan_id, label in {4: 0, 8: 1, 7: 2, 12: 3, 13: 4}.items():
        assert set(sr1.known.labels[sr1.known.scanobjectnn_ids == scan_id]) == {label}
    assert set(np.unique(sr1.unknown_1.scanobjectnn_ids)) == {10, 14, 5, 6, 9}
    assert set(np.unique(sr1.unknown_2.scanobjectnn_ids)) == {0, 1, 2, 3, 11}

    sr2 = load_synthetic_to_real("SR2", release)
    # bed 10 -> 0, toilet 14 -> 1, desk 5 and table 9 -> 2, display 6 -> 3
    assert dict(zip(*np.unique(sr2.known.labels, return_counts=True))) == {
        0: 2 * SPC, 1: 2 * SPC, 2: 4 * SPC, 3: 2 * SPC,
    }  # fmt: skip
    for scan_id, label in {10: 0, 14: 1, 5: 2, 9: 2, 6: 3}.items():
        assert set(sr2.known.labels[sr2.known.scanobjectnn_ids == scan_id]) == {label}


def test_selected_points_are_the_stored_points(release):
    points, ids = load_scanobjectnn(release)
    sr2 = load_synthetic_to_real("SR2", release)
    keep = np.isin(ids, [10, 14, 5, 6, 9])
    np.testing.assert_array_equal(sr2.known.points, points[keep])
    np.testing.assert_array_equal(sr2.known.scanobjectnn_ids, ids[keep])
    np.testing.assert_array_equal(sr2.known.indices, np.flatnonzero(keep))


@pytest.mark.parametrize("source", ["SR1", "SR2"])
def test_indices_place_every_real_sample_once(release, source):
    points, _ = load_scanobjectnn(release)
    run = load_synthetic_to_real(source, release)
    sets = (run.known, run.unknown_1, run.unknown_2)
    np.testing.assert_array_equal(np.sort(np.concatenate([s.indices for s in sets])), np.arange(len(points)))
    for samples in sets:
        assert samples.indices.dtype == np.int64
        np.testing.assert_array_equal(points[samples.indices], samples.points)
    assert load_modelnet_reference(source, "train", release).indices is None


def test_names_per_label():
    assert SR1.real_names() == {0: ("chair",), 1: ("shelf",), 2: ("door",), 3: ("sink",), 4: ("sofa",)}
    assert SR2.real_names() == {0: ("bed",), 1: ("toilet",), 2: ("desk", "table"), 3: ("display",)}
    assert SR1.synthetic_names()[1] == ("bookshelf",)
    assert SR2.synthetic_names() == {0: ("bed",), 1: ("toilet",), 2: ("desk", "table"), 3: ("monitor",)}
    assert COMMON.real_names() == {0: ("bag",), 1: ("bin",), 2: ("box",), 3: ("cabinet",), 4: ("pillow",)}
    assert (SR1.num_classes, SR2.num_classes, COMMON.num_classes) == (5, 4, 5)


@pytest.mark.parametrize("source", ["SR1", "SR2"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_modelnet_reference(release, source, split):
    shapes = load_modelnet_reference(source, split, release)
    classes = {"SR1": 5, "SR2": 5}[source]  # ModelNet40 classes (SR2 table and desk are two)
    assert shapes.points.shape == (classes * SPC, 10000, 3) and shapes.points.dtype == np.float32
    assert shapes.labels.dtype == np.int64
    assert shapes.scanobjectnn_ids is None
    assert shapes.class_set.name == source
    expected_labels = {"SR1": {0, 1, 2, 3, 4}, "SR2": {0, 1, 2, 3}}[source]
    assert set(shapes.labels.tolist()) == expected_labels
    np.testing.assert_array_equal(shapes.points, read(release / modelnet_reference_file(source, split))[0])


# ---- errors ----------------------------------------------------------------------------


def test_missing_root_says_how_to_download(tmp_path):
    hint = r"python -m benchmarks\.download --data-root .*nowhere`"
    with pytest.raises(FileNotFoundError, match=rf"data root .*nowhere does not exist; .*{hint}"):
        load_synthetic_to_real("SR1", tmp_path / "nowhere")


def test_missing_file_names_path_and_layout(tmp_path):
    root = make_synthetic_release(tmp_path / "root", 1)
    (root / SCANOBJECTNN_FILES[1]).unlink()
    with pytest.raises(FileNotFoundError, match=r"test_objectdataset\.h5 does not exist.*ScanObjectNN/"):
        load_scanobjectnn(root)
    with pytest.raises(FileNotFoundError, match=r"SR1_train\.h5 does not exist"):
        load_modelnet_reference("SR1", "train", tmp_path)


def write(path, data=None, label=None, **extra):
    with h5py.File(path, "w") as handle:
        if data is not None:
            handle["data"] = data
        if label is not None:
            handle["label"] = label
        for key, value in extra.items():
            handle[key] = value


CLOUDS = np.zeros((2, 2048, 3), np.float32)
IDS = np.array([4, 10])


@pytest.mark.parametrize(
    "contents, match",
    [
        ({"data": CLOUDS, "points": IDS}, r"no dataset 'label' \(found \['data', 'points'\]\)"),
        ({"data": CLOUDS[:, :1024], "label": IDS}, r"'data' is float32 \[2, 1024, 3\].*\[n, 2048, 3\]"),
        ({"data": CLOUDS.astype(np.int32), "label": IDS}, r"'data' is int32"),
        ({"data": CLOUDS, "label": IDS[:, None]}, r"'label' is int64 \[2, 1\] for 2 samples"),
        ({"data": CLOUDS, "label": IDS.astype(np.float32)}, r"'label' is float32"),
        ({"data": CLOUDS, "label": np.array([3, 15])}, r"'label' holds \[15\], outside the expected 0-14"),
    ],
)
def test_malformed_scanobjectnn_file(tmp_path, contents, match):
    root = make_synthetic_release(tmp_path / "root", 1)
    path = root / SCANOBJECTNN_FILES[0]
    write(path, **contents)
    with pytest.raises(ValueError, match=match) as error:
        load_synthetic_to_real("SR1", root)
    assert str(path) in str(error.value) and "benchmarks.download" in str(error.value)


def test_float64_data_is_read_and_cast(tmp_path):
    root = make_synthetic_release(tmp_path / "root", 1)
    path = root / SCANOBJECTNN_FILES[0]
    data, label = read(path)
    write(path, data=data.astype(np.float64), label=label)
    points, ids = load_scanobjectnn(root)
    assert points.dtype == np.float32
    np.testing.assert_array_equal(points[: len(data)], data)
    np.testing.assert_array_equal(ids[: len(data)], label)


def test_non_finite_clouds_are_named_by_file_and_row(tmp_path):
    root = make_synthetic_release(tmp_path / "root", 1)
    path = root / SCANOBJECTNN_FILES[1]
    data, label = read(path)
    data[3, 100, 1] = np.nan
    data[7, 0, 0] = np.inf
    write(path, data=data, label=label)
    with pytest.raises(ValueError, match=rf"test_objectdataset\.h5: the clouds in rows 3, 7 \(0-based, of {len(data)}\) "
                                         r"hold NaN or infinite coordinates; the file is damaged"):  # fmt: skip
        load_synthetic_to_real("SR2", root)


def test_not_hdf5(tmp_path):
    root = make_synthetic_release(tmp_path / "root", 1)
    (root / SCANOBJECTNN_FILES[1]).write_bytes(b"<html>dropbox error page</html>")
    with pytest.raises(ValueError, match="is not a readable HDF5 file"):
        load_scanobjectnn(root)


def test_modelnet_label_outside_set(tmp_path):
    root = make_synthetic_release(tmp_path / "root", 1)
    # SR2 has 4 labels (desk and table merged): label 4 cannot occur.
    shapes = np.zeros((2, 10000, 3), np.float32)
    write(root / modelnet_reference_file("SR2", "train"), shapes, np.array([0, 4]))
    with pytest.raises(ValueError, match="outside the expected 0-3"):
        load_modelnet_reference("SR2", "train", root)


def test_set_without_samples(tmp_path):
    root = make_synthetic_release(tmp_path / "root", 1)
    for relative in SCANOBJECTNN_FILES:
        write(root / relative, np.zeros((2, 2048, 3), np.float32), np.array([4, 0]))  # no SR2 class
    with pytest.raises(ValueError, match="no ScanObjectNN samples of the SR2 classes"):
        load_synthetic_to_real("SR1", root)


@pytest.mark.parametrize("call", [
    lambda: load_synthetic_to_real("SR3"),
    lambda: load_modelnet_reference("sr1"),
    lambda: modelnet_reference_file("SR1", "val"),
])  # fmt: skip
def test_bad_choices(call):
    with pytest.raises(ValueError, match="must be one of"):
        call()
