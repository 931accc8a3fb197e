"""Property test: damaged files of every supported format never crash or mislead load_points.

Hypothesis mutates one valid small file per format (truncation, byte flips, edits of the
numbers in its header) and checks that load_points either returns a valid array or raises
ValueError/OSError naming the file, in bounded time and memory.
"""

from __future__ import annotations

import io
import re
import struct
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import h5py
import laspy
import lzf
import numpy as np
import pye57
import trimesh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openshape_ood.io import load_points

SECONDS = 5.0  # per load; a healthy load of these files takes milliseconds
PEAK_BYTES = 256 * 2**20  # numpy and Python allocations during one load

SURVEY = Path(__file__).resolve().parents[1] / "data" / "real_samples_survey"
RNG = np.random.default_rng(0)
CLOUD = RNG.random((12, 3)).astype(np.float32)
RGB = RNG.integers(0, 256, (12, 3))


def _pcd(data: str) -> bytes:
    header = (
        "VERSION 0.7\nFIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F U\nCOUNT 1 1 1 1\n"
        f"WIDTH 12\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 12\nDATA {data}\n"
    ).encode()
    packed = (RGB[:, 0] << 16 | RGB[:, 1] << 8 | RGB[:, 2]).astype("<u4")
    if data == "ascii":
        return header + "".join(f"{x} {y} {z} {c}\n" for (x, y, z), c in zip(CLOUD, packed)).encode()
    if data == "binary":
        record = np.dtype([("xyz", "<f4", (3,)), ("rgb", "<u4")])
        return header + np.array(list(zip(CLOUD, packed)), dtype=record).tobytes()
    raw = CLOUD.T.astype("<f4").tobytes() + packed.tobytes()
    compressed = lzf.compress(raw, len(raw) + 64)  # random floats barely compress
    return header + struct.pack("<II", len(compressed), len(raw)) + compressed


def _array_file(suffix: str) -> bytes:
    table = np.concatenate([CLOUD, RGB], axis=1)
    stream = io.BytesIO()
    if suffix == ".npy":
        np.save(stream, table)
    elif suffix == ".npz":
        np.savez_compressed(stream, data=table)
    else:
        with h5py.File(stream, "w") as h5:
            h5.create_dataset("data", data=table, chunks=(4, 6), compression="gzip")
    return stream.getvalue()


def _mesh_file(suffix: str) -> bytes:
    mesh = trimesh.creation.box()
    mesh.visual.face_colors = RNG.integers(0, 256, (len(mesh.faces), 4))
    if suffix == ".ply_ascii":
        return trimesh.exchange.ply.export_ply(mesh, encoding="ascii")
    if suffix == ".stl_ascii":
        return trimesh.exchange.stl.export_stl_ascii(mesh).encode()
    if suffix == ".off":
        lines = ["COFF", f"{len(mesh.vertices)} {len(mesh.faces)} 0"]
        lines += [f"{x} {y} {z} 10 200 30" for x, y, z in mesh.vertices]
        lines += [f"3 {a} {b} {c}" for a, b, c in mesh.faces]
        return ("\n".join(lines) + "\n").encode()
    if suffix == ".gltf":
        return trimesh.exchange.gltf.export_gltf(trimesh.Scene(mesh), embed_buffers=True)["model.gltf"]
    exported = mesh.export(file_type=suffix.lstrip("."))
    return exported.encode() if isinstance(exported, str) else exported


def _survey_file(suffix: str) -> bytes:
    """LAS, LAZ and E57 files written by laspy and pye57; KITTI and nuScenes dumps."""
    xyz = CLOUD.astype(np.float64) * 100 + [500000.0, 6000000.0, 0.0]  # survey coordinates
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"a{suffix}"
        if suffix in (".las", ".laz"):
            las = laspy.LasData(laspy.LasHeader(point_format=3, version="1.2"))
            las.header.scales = [0.001] * 3
            las.header.offsets = [500000.0, 6000000.0, 0.0]
            las.x, las.y, las.z = xyz.T
            las.red, las.green, las.blue = RGB.T
            las.write(path)
        elif suffix == ".e57":
            with pye57.E57(str(path), mode="w") as e57:
                e57.write_scan_raw({
                    "cartesianX": xyz[:, 0], "cartesianY": xyz[:, 1], "cartesianZ": xyz[:, 2],
                    "colorRed": RGB[:, 0].astype(np.uint8), "colorGreen": RGB[:, 1].astype(np.uint8),
                    "colorBlue": RGB[:, 2].astype(np.uint8),
                })
        else:
            columns = 5 if suffix == ".pcd.bin" else 4
            table = np.concatenate([CLOUD, np.zeros((12, columns - 3), np.float32)], axis=1)
            table[:, 3:] = np.arange(12)[:, None] % 7  # intensity (and ring)
            return table.astype("<f4").tobytes()
        return path.read_bytes()


def _text(suffix: str) -> bytes:
    rows = [f"{x} {y} {z} {r} {g} {b}" for (x, y, z), (r, g, b) in zip(CLOUD, RGB)]
    if suffix == ".pts":
        rows = [f"{x} {y} {z} -7 {r} {g} {b}" for (x, y, z), (r, g, b) in zip(CLOUD, RGB)]
        return ("12\n" + "\n".join(rows) + "\n").encode()
    return ("\n".join(rows) + "\n").encode()


# name on disk -> valid file bytes
SEEDS = {
    "a.npy": _array_file(".npy"),
    "a.npz": _array_file(".npz"),
    "a.h5": _array_file(".h5"),
    "ascii.pcd": _pcd("ascii"),
    "binary.pcd": _pcd("binary"),
    "compressed.pcd": _pcd("binary_compressed"),
    "a.xyz": _text(".xyz"),
    "a.pts": _text(".pts"),
    "binary.ply": _mesh_file(".ply"),
    "ascii.ply": _mesh_file(".ply_ascii"),
    "a.obj": _mesh_file(".obj"),
    "a.off": _mesh_file(".off"),
    "binary.stl": _mesh_file(".stl"),
    "ascii.stl": _mesh_file(".stl_ascii"),
    "a.glb": _mesh_file(".glb"),
    "a.gltf": _mesh_file(".gltf"),
    "a.las": _survey_file(".las"),
    "a.laz": _survey_file(".laz"),
    # A COPC file (LAS 1.4, point format 7, 65 layered chunks) by another writer: its chunk headers declare layer
    # sizes that lazrs allocated before reading (a flipped high byte: seconds of zero-filling 4 GB).
    "a.copc.laz": (SURVEY / "laspy_laspy" / "simple.copc.laz").read_bytes(),
    "a.e57": _survey_file(".e57"),
    "kitti.bin": _survey_file(".bin"),
    "sweep.pcd.bin": _survey_file(".pcd.bin"),
}
SURVEY_SEEDS = ["a.las", "a.laz", "a.copc.laz", "a.e57", "kitti.bin", "sweep.pcd.bin"]


def _edit_number(data: bytes, which: int, value: int) -> bytes:
    """Replace the ``which``-th run of digits in the first 512 bytes with ``value``."""
    runs = list(re.finditer(rb"\d+", data[:512]))
    if not runs:
        return data
    run = runs[which % len(runs)]
    return data[: run.start()] + str(value).encode() + data[run.end() :]


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("number"), st.tuples(st.integers(0, 40), st.sampled_from([0, 1, 2, 7, 255, 65536, 2**31, 2**32 + 3, 10**12]))),
)


def _mutate(data: bytes, mutation) -> bytes:
    kind, arg = mutation
    if kind == "truncate":
        return data[: int(arg * len(data))]
    if kind == "flip":
        buffer = bytearray(data)
        for position, mask in arg:
            buffer[min(int(position * len(buffer)), len(buffer) - 1)] ^= mask
        return bytes(buffer)
    return _edit_number(data, *arg)


def test_seed_files_are_valid():
    with tempfile.TemporaryDirectory() as folder:
        for name, data in SEEDS.items():
            path = Path(folder) / name
            path.write_bytes(data)
            points = load_points(path, num_samples=64)
            assert points.shape[1] == (3 if name.endswith((".stl", ".bin")) else 6), name
            assert np.isfinite(points).all(), name


@settings(
    max_examples=500,
    deadline=None,  # time is bounded below, per load, including the first-call imports
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(SEEDS)), mutation=MUTATIONS)
def test_damaged_files_give_a_valid_array_or_a_clear_error(name, mutation):
    _check_damaged(name, mutation)


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SURVEY_SEEDS), mutation=MUTATIONS)
def test_damaged_survey_and_lidar_files_give_a_valid_array_or_a_clear_error(name, mutation):
    # The binary survey formats get more examples: their headers hold counts, offsets and scales.
    _check_damaged(name, mutation)


def _check_damaged(name: str, mutation) -> None:
    data = _mutate(SEEDS[name], mutation)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                points = load_points(path, num_samples=64)
        except (ValueError, OSError) as exc:
            assert str(path) in str(exc), f"{type(exc).__name__} does not name the file: {exc}"
        else:
            assert points.dtype == np.float32 and points.ndim == 2 and points.shape[1] in (3, 6)
            assert len(points) >= 1 and np.isfinite(points).all()
            if points.shape[1] == 6:
                assert points[:, 3:].min() >= 0 and points[:, 3:].max() <= 1
        finally:
            elapsed = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert elapsed < SECONDS, f"{name} took {elapsed:.1f} s"
        assert peak < PEAK_BYTES, f"{name} allocated {peak / 2**20:.0f} MiB"
