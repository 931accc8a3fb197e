"""Data of the 3DOS synthetic-to-real benchmark (SR1, SR2), read from the 3DOS release.

Layout under the data root (default ``./3D_OS_release_data``, as the release's own
download script makes it; ``python -m benchmarks.download`` fetches it)::

    ScanObjectNN/h5_files/main_split/training_objectdataset.h5   real test data (part 1)
    ScanObjectNN/h5_files/main_split/test_objectdataset.h5       real test data (part 2)
    modelnet40_normal_resampled/ood_sets_cache/SR{1,2}_{train,test}.h5   synthetic shapes

Both ScanObjectNN files are evaluation data in 3DOS, the training file first. Known
classes are defined on ModelNet40 and mapped to ScanObjectNN ids; with source SR1 the
known samples are the real samples of the SR1 classes, unknown set 1 holds the SR2
classes and unknown set 2 the common set (and the SR sets swap roles for source SR2).

Points are returned as stored (xyz, Y up, not centred or scaled); the test-time
preparation belongs to the code that feeds an encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import h5py
import numpy as np

__all__ = [
    "CLASS_SETS",
    "COMMON",
    "DEFAULT_DATA_ROOT",
    "MODELNET40_CLASSES",
    "MODELNET_FILES",
    "RELEASE_COUNTS",
    "RELEASE_REFERENCE_COUNTS",
    "SCANOBJECTNN_CLASSES",
    "SCANOBJECTNN_FILES",
    "SR1",
    "SR2",
    "ClassSet",
    "Samples",
    "SyntheticToReal",
    "load_modelnet_reference",
    "load_scanobjectnn",
    "load_synthetic_to_real",
    "modelnet_reference_file",
    "release_count_differences",
]

DEFAULT_DATA_ROOT = Path("3D_OS_release_data")

SCANOBJECTNN_POINTS = 2048
MODELNET_POINTS = 10000

# Paths relative to the data root; the downloader extracts exactly these.
SCANOBJECTNN_FILES = (
    "ScanObjectNN/h5_files/main_split/training_objectdataset.h5",
    "ScanObjectNN/h5_files/main_split/test_objectdataset.h5",
)
SOURCES = ("SR1", "SR2")
MODELNET_SPLITS = ("train", "test")


def modelnet_reference_file(source: str, split: str = "train") -> str:
    """Path, relative to the data root, of the ModelNet40 shapes of ``source``'s classes."""
    _check_choice("source", source, SOURCES)
    _check_choice("split", split, MODELNET_SPLITS)
    return f"modelnet40_normal_resampled/ood_sets_cache/{source}_{split}.h5"


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


MODELNET_FILES = tuple(
    modelnet_reference_file(source, split) for source in SOURCES for split in MODELNET_SPLITS
)

#: Samples per set in the 3DOS release (both ScanObjectNN files; the SR training files).
#: A run on other totals is not comparable to the published figures.
RELEASE_COUNTS: Mapping[str, int] = MappingProxyType({"SR1": 1255, "SR2": 788, "common": 847})
RELEASE_REFERENCE_COUNTS: Mapping[str, int] = MappingProxyType({"SR1": 2378, "SR2": 1916})

# Class names indexed by the dataset's class id.
SCANOBJECTNN_CLASSES = (
    "bag", "bin", "box", "cabinet", "chair", "desk", "display", "door",
    "shelf", "table", "bed", "pillow", "sink", "sofa", "toilet",
)  # fmt: skip
MODELNET40_CLASSES = (
    "airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair",
    "cone", "cup", "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar",
    "keyboard", "lamp", "laptop", "mantel", "monitor", "night_stand", "person", "piano",
    "plant", "radio", "range_hood", "sink", "sofa", "stairs", "stool", "table", "tent",
    "toilet", "tv_stand", "vase", "wardrobe", "xbox",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ClassSet:
    """A 3DOS class set: which real and synthetic classes it holds, and their labels.

    Attributes:
        name: ``"SR1"``, ``"SR2"`` or ``"common"``.
        real_labels: ScanObjectNN class id -> label in this set. Several ids may share a
            label (SR2 merges desk and table into label 2).
        synthetic_labels: ModelNet40 class name -> label (empty for the common set, which
            has no synthetic counterpart).
    """

    name: str
    real_labels: Mapping[int, int]
    synthetic_labels: Mapping[str, int]

    @property
    def num_classes(self) -> int:
        """Number of distinct labels (4 for SR2, where desk and table are one class)."""
        return len(set(self.real_labels.values()))

    def real_names(self) -> dict[int, tuple[str, ...]]:
        """Label -> ScanObjectNN class names, e.g. SR2 ``{2: ("desk", "table"), ...}``.

        A text-prompt method should score a sample against every name of a label and keep
        the best, so that merged classes count as one.
        """
        pairs = ((SCANOBJECTNN_CLASSES[i], label) for i, label in self.real_labels.items())
        return _names_by_label(pairs)

    def synthetic_names(self) -> dict[int, tuple[str, ...]]:
        """Label -> ModelNet40 class names, e.g. SR1 ``{1: ("bookshelf",), ...}``."""
        return _names_by_label(self.synthetic_labels.items())


def _names_by_label(pairs) -> dict[int, tuple[str, ...]]:
    names: dict[int, tuple[str, ...]] = {}
    for name, label in pairs:
        names[label] = names.get(label, ()) + (name,)
    return dict(sorted(names.items()))


def _class_set(name: str, real: dict[int, int], synthetic: dict[str, int]) -> ClassSet:
    return ClassSet(name, MappingProxyType(real), MappingProxyType(synthetic))


SR1 = _class_set(
    "SR1",
    {4: 0, 8: 1, 7: 2, 12: 3, 13: 4},  # chair, shelf, door, sink, sofa
    {"chair": 0, "bookshelf": 1, "door": 2, "sink": 3, "sofa": 4},
)
SR2 = _class_set(
    "SR2",
    {10: 0, 14: 1, 5: 2, 6: 3, 9: 2},  # bed, toilet, desk, display, table
    {"bed": 0, "toilet": 1, "desk": 2, "monitor": 3, "table": 2},
)
# Real classes with no good ModelNet40 counterpart: unknown in every run. 3DOS labels
# them all 404; here each keeps its own label (bag 0 ... pillow 4), which no metric uses.
COMMON = _class_set("common", {0: 0, 1: 1, 2: 2, 3: 3, 11: 4}, {})
CLASS_SETS = MappingProxyType({"SR1": SR1, "SR2": SR2, "common": COMMON})


@dataclass(frozen=True, eq=False)
class Samples:
    """Point clouds of one class set.

    Attributes:
        points: ``[n, p, 3]`` float32 xyz as stored (Y up; p = 2048 for ScanObjectNN,
            10000 for ModelNet40).
        labels: ``[n]`` int64 label of each sample within ``class_set``.
        class_set: the set the labels refer to.
        scanobjectnn_ids: ``[n]`` int64 ScanObjectNN class id of each real sample; ``None``
            for ModelNet40 shapes, whose release files store only the set label.
        indices: ``[n]`` int64 row of each real sample in :func:`load_scanobjectnn`'s
            output (training file first), so that work done once on all real samples can
            be shared by the sets and by both sources; ``None`` for ModelNet40 shapes.
    """

    points: np.ndarray
    labels: np.ndarray
    class_set: ClassSet
    scanobjectnn_ids: np.ndarray | None = None
    indices: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class SyntheticToReal:
    """The real evaluation data of one 3DOS synthetic-to-real run.

    Attributes:
        source: ``"SR1"`` or ``"SR2"``, the set whose classes are known.
        known: real samples of the source classes, labelled in the source set.
        unknown_1: real samples of the other SR set (labels in that set, unused by metrics).
        unknown_2: real samples of the common set.
    """

    source: str
    known: Samples
    unknown_1: Samples
    unknown_2: Samples


def _hint(data_root: Path) -> str:
    return f"get the data with `python -m benchmarks.download --data-root {data_root}`"


def _missing(path: Path, data_root: Path) -> FileNotFoundError:
    if not data_root.is_dir():
        where = f"the data root {data_root} does not exist"
    else:
        where = (
            f"{path} does not exist; the data root must be the folder holding ScanObjectNN/ "
            "and modelnet40_normal_resampled/ as the 3DOS release extracts them"
        )
    return FileNotFoundError(f"{where}; {_hint(data_root)}")


def _read_h5(data_root: Path, relative: str, num_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (float32 ``[n, num_points, 3]``) and ``label`` (int ``[n]``) of one release file."""
    path = data_root / relative
    if not path.is_file():
        raise _missing(path, data_root)
    expected = (
        f"expected keys 'data' (floats, [n, {num_points}, 3]) and 'label' (integer, [n]); "
        f"the file is damaged or not from the 3DOS release; {_hint(data_root)}"
    )
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 file ({error}); {expected}") from error
    with handle:
        absent = [key for key in ("data", "label") if not isinstance(handle.get(key), h5py.Dataset)]
        if absent:
            raise ValueError(
                f"{path} has no dataset {', '.join(map(repr, absent))} "
                f"(found {sorted(handle.keys())}); {expected}"
            )
        data, label = handle["data"], handle["label"]
        # Other float widths are read and cast, as 3DOS's loaders do (np.float32(...)).
        if data.dtype.kind != "f" or data.ndim != 3 or data.shape[1:] != (num_points, 3):
            raise ValueError(f"{path}: 'data' is {data.dtype} {list(data.shape)}; {expected}")
        if label.dtype.kind not in "iu" or label.shape != (data.shape[0],):
            raise ValueError(
                f"{path}: 'label' is {label.dtype} {list(label.shape)} for {data.shape[0]} "
                f"samples; {expected}"
            )
        points = data[()].astype(np.float32, copy=False)
        labels = label[()].astype(np.int64)
    bad = np.flatnonzero(~np.isfinite(points).all(axis=(1, 2)))
    if bad.size:
        rows = ", ".join(map(str, bad[:10].tolist())) + (f" and {bad.size - 10} more" if bad.size > 10 else "")
        raise ValueError(
            f"{path}: the clouds in rows {rows} (0-based, of {len(points)}) hold NaN or infinite "
            f"coordinates; the file is damaged: {_hint(data_root)}"
        )
    return points, labels


def load_scanobjectnn(data_root: str | Path = DEFAULT_DATA_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """All ScanObjectNN main-split samples: the training file, then the test file.

    Returns:
        ``points`` float32 ``[n, 2048, 3]`` and ``ids`` int64 ``[n]`` (ScanObjectNN class ids).

    Raises:
        FileNotFoundError: when a file is missing (the message says how to download it).
        ValueError: when a file lacks a key, has the wrong shape or dtype, or holds a
            class id outside 0-14.
    """
    data_root = Path(data_root)
    parts = [_read_h5(data_root, relative, SCANOBJECTNN_POINTS) for relative in SCANOBJECTNN_FILES]
    for relative, (_, ids) in zip(SCANOBJECTNN_FILES, parts):
        _check_labels(data_root, relative, ids, len(SCANOBJECTNN_CLASSES))
    return np.concatenate([p for p, _ in parts]), np.concatenate([i for _, i in parts])


def _check_labels(data_root: Path, relative: str, labels: np.ndarray, num_labels: int) -> None:
    bad = np.unique(labels[(labels < 0) | (labels >= num_labels)])
    if bad.size:
        raise ValueError(
            f"{data_root / relative}: 'label' holds {bad.tolist()}, outside the expected "
            f"0-{num_labels - 1}; the file is not from the 3DOS release; {_hint(data_root)}"
        )


def _select(points: np.ndarray, ids: np.ndarray, class_set: ClassSet) -> Samples:
    keep = np.flatnonzero(np.isin(ids, list(class_set.real_labels)))
    label_of_id = np.full(len(SCANOBJECTNN_CLASSES), -1, np.int64)
    label_of_id[list(class_set.real_labels)] = list(class_set.real_labels.values())
    return Samples(points[keep], label_of_id[ids[keep]], class_set, ids[keep], keep.astype(np.int64))


def load_synthetic_to_real(
    source: str, data_root: str | Path = DEFAULT_DATA_ROOT
) -> SyntheticToReal:
    """Known and unknown real samples of a 3DOS run with ``source`` (``"SR1"`` or ``"SR2"``).

    Samples keep the file order (training file first), so the real release gives
    1255 SR1, 788 SR2 and 847 common-set samples.

    Raises:
        ValueError: for an unknown ``source``, malformed files, or a set with no samples.
        FileNotFoundError: when a file is missing.
    """
    _check_choice("source", source, SOURCES)
    data_root = Path(data_root)
    points, ids = load_scanobjectnn(data_root)
    other = SR2 if source == "SR1" else SR1
    sets = [_select(points, ids, class_set) for class_set in (CLASS_SETS[source], other, COMMON)]
    for samples in sets:
        if not len(samples):
            files = " and ".join(str(data_root / relative) for relative in SCANOBJECTNN_FILES)
            raise ValueError(
                f"no ScanObjectNN samples of the {samples.class_set.name} classes in {files}; "
                f"the files are incomplete; {_hint(data_root)}"
            )
    return SyntheticToReal(source, *sets)


def load_modelnet_reference(
    source: str, split: str = "train", data_root: str | Path = DEFAULT_DATA_ROOT
) -> Samples:
    """ModelNet40 shapes of ``source``'s classes (``SR{1,2}_{train,test}.h5``).

    Returns:
        :class:`Samples` with ``points`` float32 ``[n, 10000, 3]`` and the set labels
        (sizes in the release: SR1 train 2378, test 340; SR2 train 1916, test 486).

    Raises:
        ValueError: for an unknown ``source``/``split`` or a malformed file (wrong key,
            shape, dtype, or a label outside the set).
        FileNotFoundError: when the file is missing.
    """
    data_root = Path(data_root)
    relative = modelnet_reference_file(source, split)
    points, labels = _read_h5(data_root, relative, MODELNET_POINTS)
    class_set = CLASS_SETS[source]
    _check_labels(data_root, relative, labels, class_set.num_classes)
    return Samples(points, labels, class_set)


def release_count_differences(source: str, counts: Mapping[str, int]) -> list[str]:
    """How the set sizes of a run with ``source`` differ from the 3DOS release; empty when they match.

    Args:
        source: ``"SR1"`` or ``"SR2"``.
        counts: ``known``, ``unknown_1``, ``unknown_2`` and, when reference shapes were
            used, ``reference`` -> number of samples.

    Returns:
        One ``"<set> <n>, release <m>"`` per set whose size differs, e.g.
        ``"unknown set 2 (common) 512, release 847"``.
    """
    _check_choice("source", source, SOURCES)
    other = "SR2" if source == "SR1" else "SR1"
    expected = {
        "known": RELEASE_COUNTS[source], "unknown_1": RELEASE_COUNTS[other], "unknown_2": RELEASE_COUNTS["common"]
    }  # fmt: skip
    if "reference" in counts:
        expected["reference"] = RELEASE_REFERENCE_COUNTS[source]
    names = {"known": f"known ({source})", "unknown_1": f"unknown set 1 ({other})",
             "unknown_2": "unknown set 2 (common)", "reference": f"reference ({source}_train)"}  # fmt: skip
    return [f"{names[name]} {counts[name]}, release {n}" for name, n in expected.items() if counts[name] != n]
