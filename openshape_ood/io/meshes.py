"""Meshes read by trimesh: OBJ (with MTL and textures), STL, glTF and GLB."""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import PIL.Image

from .common import (
    Cloud,
    Colouring,
    Request,
    Surface,
    check_indices,
    constant_colouring,
    decode_text,
    face_colouring,
    find_companion,
    texture_colouring,
    vertex_colouring,
)
from .contract import rgb_to_unit
from .formats import Format, register

if TYPE_CHECKING:
    import trimesh

# trimesh (2 s of imports with scipy) is imported when a mesh is read, not when the reader table is.


@functools.cache
def _resolver_class() -> type:
    """The resolver class, made on first use (it subclasses trimesh's)."""
    import trimesh

    class Resolver(trimesh.resolvers.FilePathResolver):
        """Finds a mesh's companion files as other tools do, and remembers what it could not find.

        Names written Windows-style (``.\\tex.jpg``) or in another case are matched to the
        files next to the mesh; MTL files are handed to trimesh as UTF-8.
        """

        def __init__(self, path: Path):
            super().__init__(str(path))
            self.mesh_path = path
            self.missing: list[str] = []
            self.damaged: list[str] = []

        def get(self, name: str) -> bytes:
            found = find_companion(self.mesh_path, name)
            if found is None:
                self.missing.append(name)
                raise FileNotFoundError(name)
            data = found.read_bytes()
            if found.suffix.lower() == ".mtl":
                return decode_text(data).encode("utf-8")
            if found.suffix.lower() in PIL.Image.registered_extensions():
                try:
                    PIL.Image.open(io.BytesIO(data)).load()
                except (OSError, ValueError, PIL.Image.DecompressionBombError):
                    self.damaged.append(name)  # trimesh would drop it silently
            return data

        __getitem__ = get

    return Resolver



def read_trimesh(path: Path, request: Request) -> Cloud | list[Surface]:
    """OBJ, STL and glTF through trimesh, after the checks and repairs trimesh does not make."""
    suffix = path.suffix.lower()
    import trimesh

    raw = path.read_bytes()
    if suffix == ".obj":
        text = decode_text(raw)
        _check_obj_vertices(path, text)
        raw = text.encode("utf-8")
    elif suffix == ".stl" and not _is_binary_stl(raw):
        if not raw.lstrip().startswith(b"solid"):
            declared = struct.unpack("<I", raw[80:84])[0] if len(raw) >= 84 else 0
            raise ValueError(
                f"{path}: a binary STL of {declared} triangles needs {84 + 50 * declared} bytes, "
                f"the file has {len(raw)}; it is truncated or damaged"
            )
        raw = decode_text(raw).encode("utf-8")
    elif suffix in (".gltf", ".glb"):
        raw = _prepare_gltf(path, raw, suffix)
    resolver = _resolver_class()(path)
    with np.errstate(all="ignore"):  # inf/NaN vertices are dealt with, by name, below
        loaded = trimesh.load(io.BytesIO(raw), file_type=suffix[1:], resolver=resolver, process=False)
        # dump() bakes each node's transform into a copy of its geometry.
        parts = loaded.dump() if isinstance(loaded, trimesh.Scene) else [loaded]
    if resolver.damaged:
        raise ValueError(f"{path}: its texture {resolver.damaged[0]!r} is damaged and cannot be decoded")
    for name in dict.fromkeys(resolver.missing):
        warnings.warn(
            f"{path} names {name!r}, which is not next to it; the colours it holds are lost",
            stacklevel=4,
        )
    meshes = [p for p in parts if isinstance(p, trimesh.Trimesh) and len(p.faces)]
    # An OBJ that uses no material but has vt lines gets trimesh's blank grey texture over its vertex colours.
    unmaterialled = suffix == ".obj" and re.search(rb"^[ \t]*usemtl[ \t]", raw, re.MULTILINE) is None
    if meshes:
        surfaces = []
        for mesh in meshes:
            vertices = np.asarray(mesh.vertices, dtype=np.float64)
            triangles = np.asarray(mesh.faces, dtype=np.int64)
            if vertices.ndim != 2 or vertices.shape[1] != 3:
                raise ValueError(f"{path}: its vertices do not have 3 coordinates")
            check_indices(path, triangles, len(vertices))
            colouring = _trimesh_colouring(path, mesh, triangles)
            if suffix == ".obj" and unmaterialled:
                colouring = _obj_vertex_colouring(mesh, triangles) or colouring
            surfaces.append(Surface(vertices, triangles, colouring))
        return surfaces
    clouds = [p for p in parts if isinstance(p, (trimesh.PointCloud, trimesh.Trimesh)) and len(p.vertices)]
    if not clouds:
        raise ValueError(f"{path} holds no triangles and no points")
    xyz = np.concatenate([np.asarray(c.vertices, dtype=np.float64) for c in clouds])
    colours = [_cloud_colours(c) for c in clouds]
    return Cloud(xyz, None if any(c is None for c in colours) else np.concatenate(colours))


def _check_obj_vertices(path: Path, text: str) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(("v ", "v\t")) and len(line.split()) < 4:
            raise ValueError(f"{path}: OBJ line {number} gives a vertex with fewer than 3 coordinates")


def _is_binary_stl(raw: bytes) -> bool:
    return len(raw) >= 84 and len(raw) == 84 + 50 * struct.unpack("<I", raw[80:84])[0]


def _prepare_gltf(path: Path, raw: bytes, suffix: str) -> bytes:
    """Check a glTF's JSON and embedded images; read spec-gloss materials by their diffuse colour.

    trimesh converts ``KHR_materials_pbrSpecularGlossiness`` through a numpy array of the
    diffuse image, which turns palette indices into grey levels; the diffuse texture and
    factor are the material's base colour, so they are used as such.
    """
    binary = None
    if suffix == ".glb":
        tree_bytes, binary = _glb_chunks(path, raw)
    else:
        tree_bytes = raw
    try:
        tree = json.loads(decode_text(tree_bytes))
    except ValueError as exc:
        raise ValueError(f"{path}: its glTF JSON is malformed ({exc})") from None
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: its glTF JSON is not an object")
    for material in tree.get("materials", []):
        gloss = material.get("extensions", {}).pop("KHR_materials_pbrSpecularGlossiness", None)
        if isinstance(gloss, dict):
            pbr = material.setdefault("pbrMetallicRoughness", {})
            if "diffuseTexture" in gloss:
                pbr["baseColorTexture"] = gloss["diffuseTexture"]
            if "diffuseFactor" in gloss:
                pbr["baseColorFactor"] = gloss["diffuseFactor"]
    _check_gltf_images(path, tree, binary)
    text = json.dumps(tree).encode("utf-8")
    if binary is None:
        return text
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text
    chunks += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def _glb_chunks(path: Path, raw: bytes) -> tuple[bytes, bytes]:
    """The JSON and BIN chunks of a GLB container, lengths checked."""
    if len(raw) < 20 or raw[:4] != b"glTF":
        raise ValueError(f"{path}: not a GLB file (no 'glTF' magic)")
    version, length = struct.unpack("<II", raw[4:12])
    if version != 2 or length > len(raw):
        raise ValueError(f"{path}: GLB header declares version {version} and {length} bytes; the file has {len(raw)}")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= length:
        size, kind = struct.unpack("<I4s", raw[offset : offset + 8])
        if offset + 8 + size > length:
            raise ValueError(f"{path}: a GLB chunk declares {size} bytes beyond the end of the file")
        chunks.setdefault(kind, raw[offset + 8 : offset + 8 + size])
        offset += 8 + size
    if b"JSON" not in chunks:
        raise ValueError(f"{path}: the GLB file has no JSON chunk")
    return chunks[b"JSON"], chunks.get(b"BIN\x00", b"")


def _check_gltf_images(path: Path, tree: dict, binary: bytes | None) -> None:
    """Decode every embedded image (GLB buffer view or data URI): a damaged one is an error."""
    views = tree.get("bufferViews", [])
    for number, image in enumerate(tree.get("images", [])):
        if "bufferView" in image and binary is not None:
            view = views[image["bufferView"]]
            start = view.get("byteOffset", 0)
            blob = binary[start : start + view["byteLength"]]
        elif str(image.get("uri", "")).startswith("data:"):
            blob = base64.b64decode(image["uri"].split(",", 1)[1])
        else:
            continue  # external files are checked as the resolver fetches them
        try:
            PIL.Image.open(io.BytesIO(blob)).load()
        except (OSError, ValueError, PIL.Image.DecompressionBombError) as exc:
            raise ValueError(f"{path}: its embedded image {number} is damaged ({exc})") from None


def _trimesh_colouring(path: Path, mesh: trimesh.Trimesh, triangles: np.ndarray) -> Colouring | None:
    """How to colour a trimesh mesh: texture, material colour, vertex or face colours."""
    from trimesh.visual.color import to_rgba
    from trimesh.visual.material import PBRMaterial
    from trimesh.visual.texture import TextureVisuals

    visual = mesh.visual
    if isinstance(visual, TextureVisuals):
        material = visual.material
        if isinstance(material, PBRMaterial):
            image = material.baseColorTexture
            # glTF's default baseColorFactor is opaque white.
            factor = to_rgba(
                material.baseColorFactor if material.baseColorFactor is not None else [1.0, 1.0, 1.0, 1.0]
            )[:3] / 255.0
        else:
            image = getattr(material, "image", None)
            # An MTL without Kd gets trimesh's default grey, which the file never had.
            has_kd = "kd" in getattr(material, "kwargs", {})
            factor = to_rgba(material.diffuse)[:3] / 255.0 if has_kd else None
        if image is not None and visual.uv is not None and len(visual.uv) == len(mesh.vertices):
            uv = np.asarray(visual.uv, dtype=np.float64)
            texture_factor = factor if isinstance(material, PBRMaterial) else np.ones(3)
            return texture_colouring(path, uv[triangles], image, texture_factor)
        return None if factor is None else constant_colouring(factor)
    if visual.kind == "vertex":
        return vertex_colouring(triangles, np.asarray(visual.vertex_colors, dtype=np.float64)[:, :3] / 255.0)
    if visual.kind == "face":
        return face_colouring(np.asarray(visual.face_colors, dtype=np.float64)[:, :3] / 255.0)
    return None


def _obj_vertex_colouring(mesh: trimesh.Trimesh, triangles: np.ndarray) -> Colouring | None:
    """The per-vertex colours of an OBJ (``v x y z r g b``) that uses no material: with ``vt`` lines trimesh
    builds a texture visual from a blank grey image and keeps the colours only as the ``color`` vertex
    attribute. ``None`` without them, or when they are not colours."""
    colours = mesh.vertex_attributes.get("color")
    if colours is None or len(colours) != len(mesh.vertices):
        return None
    unit = rgb_to_unit(np.asarray(colours, dtype=np.float64)[:, :3])  # OBJ writers use [0, 1] or [0, 255]
    return None if unit is None else vertex_colouring(triangles, unit)


def _cloud_colours(cloud) -> np.ndarray | None:
    import trimesh

    colours = (
        cloud.colors
        if isinstance(cloud, trimesh.PointCloud)
        else (cloud.visual.vertex_colors if cloud.visual.kind == "vertex" else None)
    )
    if colours is None or len(colours) != len(cloud.vertices):
        return None
    return np.asarray(colours, dtype=np.float64)[:, :3] / 255.0


register(Format(
    "OBJ", (".obj",), read_trimesh,
    "meshes; MTL material colours and textures (`map_Kd` written Windows-style or in another case is found; palette "
    "and greyscale images); vertex colours; Latin-1/cp1252 text",
    "vertices with fewer than 3 coordinates; out-of-range faces; damaged textures",
))
register(Format(
    "STL", (".stl",), read_trimesh, "binary and ascii meshes", "binary files shorter than their triangle count",
))
register(Format(
    "glTF", (".glb", ".gltf"), read_trimesh,
    "scenes flattened with their transforms; base colour textures and factors, "
    "`KHR_materials_pbrSpecularGlossiness` read by its diffuse colour; vertex colours",
    "malformed glTF JSON or GLB chunks; out-of-range faces; damaged textures",
))
