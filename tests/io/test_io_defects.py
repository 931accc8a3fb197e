"""One small file per class of trouble met in files from the wild, with the exact outcome.

Each test writes its file, then asserts either the array a correct reader returns (values
computed by hand) or a ValueError naming the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import re
import struct
import warnings
import zipfile

import h5py
import numpy as np
import PIL.Image
import pytest
import trimesh
from trimesh.visual.material import PBRMaterial

from openshape_ood.io import MAX_POINTS, load_points


def _silently(path, **kwargs) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_points(path, **kwargs)


def _refused(path, words: str, **kwargs) -> None:
    """load_points raises a ValueError naming ``path`` and containing ``words``."""
    with pytest.raises(ValueError) as caught:
        load_points(path, **kwargs)
    message = str(caught.value)
    assert str(path) in message and re.search(words, message), message


SQUARE = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float64)
PENTAGON = np.array([[0, 0, 2], [1, 0, 2], [1.5, 0.5, 2], [1, 1, 2], [0, 1, 2]], dtype=np.float64)


def _in_square(points, z=0.0):
    xyz = points[:, :3]
    return (np.abs(xyz[:, 2] - z) < 1e-6) & (xyz[:, 0] > -1e-6) & (xyz[:, 0] < 1 + 1e-6) & (xyz[:, 1] > -1e-6) & (xyz[:, 1] < 1 + 1e-6)


# ------------------------------------------------------------------------------ PLY


def _binary_polygon_ply(vertices, faces, order=">", extra_header="", newline="\n") -> bytes:
    lines = [
        "ply", f"format binary_{'big' if order == '>' else 'little'}_endian 1.0", *([extra_header] if extra_header else []),
        f"element vertex {len(vertices)}", "property double x", "property double y", "property double z",
        f"element face {len(faces)}", "property list uchar uint vertex_indices", "end_header",
    ]  # fmt: skip
    body = np.asarray(vertices, dtype=f"{order}f8").tobytes()
    for face in faces:
        body += bytes([len(face)]) + np.asarray(face, dtype=f"{order}u4").tobytes()
    return (newline.join(lines) + newline).encode() + body


MIXED_VERTICES = np.concatenate([SQUARE, PENTAGON, [[5, 0, 0], [6, 0, 0], [5, 1, 0]]])
MIXED_FACES = [[0, 1, 2, 3], [4, 5, 6, 7, 8], [9, 10, 11]]
# Areas: square 1, pentagon 1.25, triangle 0.5.


@pytest.mark.parametrize("order", [">", "<"])
@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_ply_mixed_polygons_any_line_end(tmp_path, order, newline):
    path = tmp_path / "mixed.ply"
    path.write_bytes(_binary_polygon_ply(MIXED_VERTICES, MIXED_FACES, order, "Created by an exporter", newline))
    points = _silently(path, num_samples=2750)
    square = _in_square(points)
    pentagon = np.abs(points[:, 2] - 2) < 1e-6
    triangle = points[:, 0] >= 5 - 1e-6
    assert (square | pentagon | triangle).all() and points.shape == (2750, 3)
    # Area-weighted: expected 1000 / 1250 / 500 points; 5 sigma bounds.
    assert abs(square.sum() - 1000) < 130 and abs(pentagon.sum() - 1250) < 130 and abs(triangle.sum() - 500) < 110
    # The pentagon fans from its first corner and covers the point (1.4, 0.5) only via corner 2.
    assert (points[pentagon, 0] > 1.0).any()


def test_ply_fewer_faces_than_declared(tmp_path):
    data = _binary_polygon_ply(MIXED_VERTICES, MIXED_FACES)
    (tmp_path / "short.ply").write_bytes(data[:-13])  # the last triangle cut off
    _refused(tmp_path / "short.ply", "could not read")


def test_ply_huge_declared_count_refused_before_reading(tmp_path):
    data = _binary_polygon_ply(SQUARE, [[0, 1, 2, 3]]).replace(b"element vertex 4", b"element vertex 4000000000")
    (tmp_path / "huge.ply").write_bytes(data)
    _refused(tmp_path / "huge.ply", "declares elements needing at least")


def test_ply_face_index_out_of_range(tmp_path):
    (tmp_path / "index.ply").write_bytes(_binary_polygon_ply(SQUARE, [[0, 1, 7]]))
    _refused(tmp_path / "index.ply", "a face refers to vertex 7, but the file has 4 vertices")


def test_ply_tristrips(tmp_path):
    # One strip over the unit square (0 1 3 2 = two triangles), a restart, then a lone triangle.
    header = (
        "ply\nformat ascii 1.0\nelement vertex 7\nproperty float x\nproperty float y\nproperty float z\n"
        "element tristrips 1\nproperty list int int vertex_indices\nend_header\n"
    )
    rows = "0 0 0\n1 0 0\n1 1 0\n0 1 0\n5 0 0\n6 0 0\n5 1 0\n"
    (tmp_path / "strips.ply").write_text(header + rows + "8 0 1 3 2 -1 4 5 6\n")
    points = _silently(tmp_path / "strips.ply", num_samples=1500)
    square, triangle = _in_square(points), points[:, 0] >= 5 - 1e-6
    assert (square | triangle).all()
    assert abs(square.sum() - 1000) < 100  # square area 1, triangle 0.5
    assert (points[square, 0] > points[square, 1]).any() and (points[square, 0] < points[square, 1]).any()


def test_ply_diffuse_colour_names_and_face_colours(tmp_path):
    header = (
        "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar diffuse_red\nproperty uchar diffuse_green\nproperty uchar diffuse_blue\nend_header\n"
    )
    (tmp_path / "cloud.ply").write_text(header + "0 0 0 255 0 51\n1 2 3 0 255 0\n")
    np.testing.assert_allclose(
        _silently(tmp_path / "cloud.ply"), [[0, 0, 0, 1, 0, 0.2], [1, 2, 3, 0, 1, 0]], rtol=1e-6
    )
    faces = (
        "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 1\nproperty list uchar int vertex_indices\nproperty uchar red\nproperty uchar green\n"
        "property uchar blue\nend_header\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3 0 0 255\n"
    )
    (tmp_path / "faces.ply").write_text(faces)
    np.testing.assert_array_equal(_silently(tmp_path / "faces.ply", num_samples=20)[:, 3:], [[0, 0, 1]] * 20)


def test_ply_without_colour_has_no_invented_colour(tmp_path):
    (tmp_path / "plain.ply").write_bytes(_binary_polygon_ply(SQUARE, [[0, 1, 2, 3]]))
    assert _silently(tmp_path / "plain.ply", num_samples=10).shape == (10, 3)


# ---------------------------------------------------------------------- colours


def test_coff_vertex_colours_and_off_face_colours(tmp_path):
    (tmp_path / "v.off").write_text(
        "COFF\n3 1 0\n0 0 0 255 0 0 255\n1 0 0 255 0 0 255\n0 1 0 255 0 0 255\n3 0 1 2\n"
    )
    np.testing.assert_allclose(_silently(tmp_path / "v.off", num_samples=30)[:, 3:], [[1, 0, 0]] * 30)
    (tmp_path / "f.off").write_text(
        "OFF\n# a comment\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2 0 0 1\n3 0 2 3 0.0 1.0 0.0 1.0\n"
    )
    points = _silently(tmp_path / "f.off", num_samples=200)
    lower = points[:, 0] > points[:, 1]  # triangle 0 1 2 lies below the diagonal
    np.testing.assert_array_equal(points[lower, 3:], [[0, 0, 1]] * lower.sum())
    np.testing.assert_array_equal(points[~lower, 3:], [[0, 1, 0]] * (~lower).sum())


def test_off_counts_and_indices_are_checked(tmp_path):
    (tmp_path / "few.off").write_text("OFF\n4 1 0\n0 0 0\n1 0 0\n0 1 0\n")
    _refused(tmp_path / "few.off", "declares 4 vertices and 1 faces, but the file holds 3 data lines")
    (tmp_path / "index.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n")
    _refused(tmp_path / "index.off", "a face refers to vertex 3, but the file has 3 vertices")


def _texture(mode: str) -> PIL.Image.Image:
    """Left half red, right half green, as an image of the given PIL mode."""
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[:, :2], rgb[:, 2:] = [255, 0, 0], [0, 255, 0]
    image = PIL.Image.fromarray(rgb)
    return image.quantize(2) if mode == "P" else image


def _quad_obj(tmp_path, map_kd: str, texture_name: str | None, mode: str = "RGB", kd: str = "") -> None:
    (tmp_path / "quad.mtl").write_text(f"newmtl m\n{kd}map_Kd {map_kd}\n")
    (tmp_path / "quad.obj").write_text(
        "mtllib quad.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
        "usemtl m\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n"
    )
    if texture_name is not None:
        _texture(mode).save(tmp_path / texture_name)


def _assert_half_red_half_green(points):
    left, right = points[:, 0] < 1 / 3 - 1e-3, points[:, 0] > 2 / 3 + 1e-3
    assert left.sum() > 50 and right.sum() > 50
    np.testing.assert_allclose(points[left, 3:], [[1, 0, 0]] * left.sum(), atol=1e-6)
    np.testing.assert_allclose(points[right, 3:], [[0, 1, 0]] * right.sum(), atol=1e-6)


@pytest.mark.parametrize(
    "map_kd, file_name, mode",
    [(".\\Tex.png", "Tex.png", "RGB"), ("TEX.PNG", "tex.png", "RGB"), ("sub\\t.png", "t.png", "P")],
)
def test_obj_texture_paths_windows_style_other_case_and_palette(tmp_path, map_kd, file_name, mode):
    if map_kd.startswith("sub"):
        (tmp_path / "sub").mkdir()
        file_name = "sub/t.png"
    _quad_obj(tmp_path, map_kd, file_name, mode)
    _assert_half_red_half_green(_silently(tmp_path / "quad.obj", num_samples=400))


def test_obj_missing_texture_warns_and_invents_no_grey(tmp_path):
    _quad_obj(tmp_path, "gone.png", None)
    with pytest.warns(UserWarning, match="names 'gone.png', which is not next to it"):
        points = load_points(tmp_path / "quad.obj", num_samples=50)
    assert points.shape == (50, 3)  # no Kd either: no colour rather than a made-up grey
    _quad_obj(tmp_path, "gone.png", None, kd="Kd 0 0 1\n")
    with pytest.warns(UserWarning, match="gone.png"):
        points = load_points(tmp_path / "quad.obj", num_samples=50)
    np.testing.assert_allclose(points[:, 3:], [[0, 0, 1]] * 50)


def test_obj_damaged_texture_is_an_error(tmp_path):
    _quad_obj(tmp_path, "bad.png", None)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    _refused(tmp_path / "quad.obj", "texture 'bad.png' is damaged")


def test_obj_vertex_colours_without_material(tmp_path):
    (tmp_path / "v.obj").write_text("v 0 0 0 0 0 1\nv 1 0 0 0 0 1\nv 0 1 0 0 0 1\nf 1 2 3\n")
    np.testing.assert_allclose(_silently(tmp_path / "v.obj", num_samples=20)[:, 3:], [[0, 0, 1]] * 20)


def _gltf_spec_gloss(tmp_path, image_bytes: bytes | None, embed: bool) -> None:
    """The textured quad as a .gltf whose material uses KHR_materials_pbrSpecularGlossiness."""
    quad = trimesh.Trimesh(
        SQUARE, [[0, 1, 2], [0, 2, 3]],
        visual=trimesh.visual.TextureVisuals(uv=SQUARE[:, :2], material=PBRMaterial(baseColorTexture=_texture("RGB"))),
        process=False,
    )  # fmt: skip
    files = trimesh.exchange.gltf.export_gltf(trimesh.Scene(quad))
    tree = json.loads(files["model.gltf"])
    material = tree["materials"][0]
    texture = material.pop("pbrMetallicRoughness")["baseColorTexture"]
    material["extensions"] = {"KHR_materials_pbrSpecularGlossiness": {"diffuseTexture": texture, "diffuseFactor": [1, 1, 1, 1]}}
    tree["extensionsUsed"] = ["KHR_materials_pbrSpecularGlossiness"]
    image = tree["images"][0]
    image.pop("bufferView", None)
    if image_bytes is not None:
        image["uri"] = "data:image/png;base64," + __import__("base64").b64encode(image_bytes).decode() if embed else "tex.png"
        if not embed:
            (tmp_path / "tex.png").write_bytes(image_bytes)
    else:
        image["uri"] = "tex.png"
    for name, data in files.items():
        if name != "model.gltf":
            (tmp_path / name).write_bytes(data)
    (tmp_path / "quad.gltf").write_text(json.dumps(tree))


def _png(image: PIL.Image.Image) -> bytes:
    stream = io.BytesIO()
    image.save(stream, format="PNG")
    return stream.getvalue()


@pytest.mark.parametrize("embed", [False, True])
def test_gltf_spec_gloss_palette_texture(tmp_path, embed):
    _gltf_spec_gloss(tmp_path, _png(_texture("P")), embed)
    _assert_half_red_half_green(_silently(tmp_path / "quad.gltf", num_samples=400))


def test_gltf_greyscale_texture(tmp_path):
    _gltf_spec_gloss(tmp_path, _png(_texture("RGB").convert("L")), embed=False)
    points = _silently(tmp_path / "quad.gltf", num_samples=100)
    np.testing.assert_allclose(points[:, 3], points[:, 4])  # grey stays grey, read as levels
    assert points[:, 3].max() > 0.2


def test_gltf_missing_and_damaged_textures(tmp_path):
    _gltf_spec_gloss(tmp_path, None, embed=False)
    with pytest.warns(UserWarning, match="names 'tex.png', which is not next to it"):
        points = load_points(tmp_path / "quad.gltf", num_samples=20)
    np.testing.assert_array_equal(points[:, 3:], [[1, 1, 1]] * 20)  # the diffuseFactor alone
    _gltf_spec_gloss(tmp_path, b"\x89PNG\r\n\x1a\nbroken", embed=True)
    _refused(tmp_path / "quad.gltf", "embedded image 0 is damaged")


def test_gltf_malformed_json(tmp_path):
    (tmp_path / "bad.gltf").write_text('{"asset": {"version": "2.0"}, "meshes": [')
    _refused(tmp_path / "bad.gltf", "glTF JSON is malformed")


def test_thin_triangles_give_finite_colours(tmp_path):
    # A needle triangle (height 1e-13) with vertex colours: barycentric weights recovered
    # from the points would divide by a determinant that rounds to 0.
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0.5, 1e-13, 0]])
    mesh = trimesh.Trimesh(vertices, [[0, 1, 2]], process=False)
    mesh.visual.vertex_colors = [[255, 0, 0, 255], [255, 0, 0, 255], [0, 0, 255, 255]]
    mesh.export(tmp_path / "thin.ply")
    points = _silently(tmp_path / "thin.ply", num_samples=2000)
    assert np.isfinite(points).all()
    np.testing.assert_allclose(points[:, 4], 0)
    np.testing.assert_allclose(points[:, 3] + points[:, 5], 1, atol=1e-6)  # red + blue weights


# ------------------------------------------------------------------ text formats


def _pcd(data_line: str, body: str, count: str = "1 1 1", points: int = 2) -> bytes:
    return (
        f"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT {count}\nWIDTH {points}\nHEIGHT 1\n"
        f"POINTS {points}\n{data_line}\n{body}"
    ).encode()


def test_pcd_first_row_glued_to_data_ascii(tmp_path):
    (tmp_path / "glued.pcd").write_bytes(_pcd("DATA ascii1 2 3", "4 5 6\n"))
    np.testing.assert_array_equal(_silently(tmp_path / "glued.pcd"), [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("count", ["1 0 1", "1 -2 1"])
def test_pcd_count_zero_or_negative(tmp_path, count):
    (tmp_path / "count.pcd").write_bytes(_pcd("DATA ascii", "1 2 3\n4 5 6\n", count))
    _refused(tmp_path / "count.pcd", f"PCD field 'y' has COUNT {count.split()[1]}; counts must be at least 1")


def test_pcd_declared_sizes_refused_before_allocating(tmp_path):
    header = _pcd("DATA binary_compressed", "", points=10)
    (tmp_path / "bomb.pcd").write_bytes(header + struct.pack("<II", 4, 2**31) + b"\x00" * 4)
    _refused(tmp_path / "bomb.pcd", "its LZF block declares 2147483648 bytes")
    (tmp_path / "many.pcd").write_bytes(_pcd("DATA binary", "", points=MAX_POINTS + 1))
    _refused(tmp_path / "many.pcd", f"declares {MAX_POINTS + 1} points, more than {MAX_POINTS}")


def test_pts_count_lines_are_checked(tmp_path):
    (tmp_path / "ok.pts").write_text("2\n1 2 3 -5 255 0 0\n4 5 6 -5 0 255 0\n1\n7 8 9 -5 0 0 255\n")
    np.testing.assert_array_equal(
        _silently(tmp_path / "ok.pts"), [[1, 2, 3, 1, 0, 0], [4, 5, 6, 0, 1, 0], [7, 8, 9, 0, 0, 1]]
    )
    (tmp_path / "bad.pts").write_text("3\n1 2 3\n4 5 6\n")
    _refused(tmp_path / "bad.pts", "a .pts block declares 3 points but holds 2")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_non_utf8_text_meshes(tmp_path, encoding):
    name = "Würfel – groß"  # ü, ß in Latin-1; the en dash exists in cp1252 only
    name = name if encoding == "cp1252" else name.replace("–", "-")
    (tmp_path / "a.obj").write_bytes(f"# {name}\no {name}\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".encode(encoding))
    (tmp_path / "a.off").write_bytes(f"OFF\n# {name}\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n".encode(encoding))
    facet = "facet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\n"
    (tmp_path / "a.stl").write_bytes(f"solid {name}\n{facet}endsolid {name}\n".encode(encoding))
    (tmp_path / "a.xyz").write_bytes(f"# {name}\n0 0 0\n1 0 0\n".encode(encoding))
    for suffix in ("obj", "off", "stl"):
        points = _silently(tmp_path / f"a.{suffix}", num_samples=50)
        assert points.shape == (50, 3) and (points[:, :2] >= -1e-7).all() and (points[:, :2].sum(1) <= 1 + 1e-6).all()
    np.testing.assert_array_equal(_silently(tmp_path / "a.xyz"), [[0, 0, 0], [1, 0, 0]])


# -------------------------------------------------------------- output contract


def test_coordinates_beyond_float32_are_dropped(tmp_path):
    (tmp_path / "big.xyz").write_text("1 2 3\n1e39 0 0\n4 5 6\n")
    with pytest.warns(UserWarning, match="big.xyz: dropped 1 of 3 points with non-finite"):
        points = load_points(tmp_path / "big.xyz")
    np.testing.assert_array_equal(points, [[1, 2, 3], [4, 5, 6]])
    assert points.dtype == np.float32


def test_obj_vertices_need_three_coordinates(tmp_path):
    (tmp_path / "v2.obj").write_text("v 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    _refused(tmp_path / "v2.obj", "OBJ line 1 gives a vertex with fewer than 3 coordinates")


def test_obj_face_index_out_of_range(tmp_path):
    (tmp_path / "f.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    _refused(tmp_path / "f.obj", "out of bounds|refers to vertex")


def test_npz_renamed_npy(tmp_path):
    np.savez(tmp_path / "a.npz", a=np.zeros((3, 3)))
    (tmp_path / "a.npz").rename(tmp_path / "a.npy")
    _refused(tmp_path / "a.npy", "is an .npz archive, not an .npy array; rename it to .npz")


@pytest.mark.parametrize("dtype", ["complex64", "bool", "datetime64[s]", "U3"])
def test_arrays_of_non_numbers_are_refused(tmp_path, dtype):
    np.save(tmp_path / "a.npy", np.zeros((4, 3), dtype=dtype))
    _refused(tmp_path / "a.npy", re.escape(f"has dtype {np.dtype(dtype)}; expected integers or floats"))


def test_hdf5_dataset_declared_but_never_written(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as h5:
        h5.create_dataset("data", shape=(10**9, 3), dtype="f4")
    assert (tmp_path / "a.h5").stat().st_size < 10_000
    _refused(tmp_path / "a.h5", r"declares shape \(1000000000, 3\) but no data were written")
    with h5py.File(tmp_path / "b.h5", "w") as h5:
        h5.create_dataset("data", shape=(10**9, 3), dtype="f4", chunks=(1024, 3), compression="gzip")
        h5["data"][:2] = 1.0
    _refused(tmp_path / "b.h5", "declares 1000000000 points, more than the limit")


def test_npz_decompression_bomb(tmp_path):
    # 100 MB of zeros in a ~100 kB deflated member.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (12_500_000 // 3, 3)})
    with (
        zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("data.npy", "w", force_zip64=True) as member,
    ):
        member.write(header.getvalue())
        zeros = bytes(2**20)
        for _ in range(100):
            member.write(zeros)
    assert (tmp_path / "bomb.npz").stat().st_size < 200_000
    _refused(tmp_path / "bomb.npz", "far more than a file of")


def test_truncated_binary_stl(tmp_path):
    data = trimesh.creation.box().export(file_type="stl")  # 12 triangles: 684 bytes
    (tmp_path / "cut.stl").write_bytes(data[:300])
    _refused(tmp_path / "cut.stl", "a binary STL of 12 triangles needs 684 bytes, the file has 300")


@pytest.mark.parametrize("layout", ["face texcoord", "vertex s t"])
def test_ply_texture_with_face_or_vertex_coordinates(tmp_path, layout):
    _texture("P").save(tmp_path / "Tex.PNG")
    vertex = "element vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
    rows = ["0 0 0", "1 0 0", "1 1 0", "0 1 0"]
    if layout == "vertex s t":
        vertex += "property float s\nproperty float t\n"
        rows = [f"{r} {r[:3]}" for r in rows]  # s, t = x, y
        faces = "element face 1\nproperty list uchar int vertex_indices\nend_header\n4 0 1 2 3\n"
    else:
        faces = (
            "element face 1\nproperty list uchar int vertex_indices\nproperty list uchar float texcoord\n"
            "end_header\n4 0 1 2 3 8 0 0 1 0 1 1 0 1\n"
        )
    text = "ply\nformat ascii 1.0\ncomment TextureFile tex.png\n" + vertex + faces.replace("end_header\n", "end_header\n" + "\n".join(rows) + "\n")
    (tmp_path / "quad.ply").write_text(text)
    _assert_half_red_half_green(_silently(tmp_path / "quad.ply", num_samples=400))


def test_glb_embedded_texture_palette_and_damaged(tmp_path):
    quad = trimesh.Trimesh(
        SQUARE, [[0, 1, 2], [0, 2, 3]],
        visual=trimesh.visual.TextureVisuals(uv=SQUARE[:, :2], material=PBRMaterial(baseColorTexture=_texture("P"))),
        process=False,
    )  # fmt: skip
    data = quad.export(file_type="glb")
    (tmp_path / "quad.glb").write_bytes(data)
    _assert_half_red_half_green(_silently(tmp_path / "quad.glb", num_samples=400))
    start = data.index(b"IHDR")  # the PNG inside the BIN chunk: break its header chunk
    (tmp_path / "broken.glb").write_bytes(data[:start] + b"XXXX" + data[start + 4 :])
    _refused(tmp_path / "broken.glb", "embedded image 0 is damaged")
