"""Big files read in chunks: a point budget or voxel thinning decided while reading, memory bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import MAX_POINTS, Cloud, Request, local_origin

#: Bytes per point held while reading (float32 xyz and rgb): what the readers weigh a header's count by.
HELD_BYTES = 24

#: Points per chunk the big-file readers (LAS/LAZ, E57, .bin) read at a time.
CHUNK_POINTS = 1_000_000

# Voxel keys pack three signed 21-bit indices into one int64.
_KEY_BITS = 21
_KEY_LIMIT = 2 ** (_KEY_BITS - 1)


class ChunkedCloud:
    """Collects the chunks of one file into float32 arrays, keeping what the request asks for.

    Coordinates arrive in float64 and are shifted to the origin taken from the first
    chunk's points (never from a header's bounds, which real files get wrong) before the
    float32 cast. Without thinning the
    output is allocated once at the declared size; ``max_points`` keeps an exact,
    seeded uniform share of every chunk; ``voxel_size`` keeps the first point read in each
    voxel. Either way no more than the output and one chunk are held.

    Args:
        path: the file, for messages.
        declared: the point count its header declares (checked by the reader).
        request: ``max_points``, ``voxel_size`` and ``seed`` are used.
        colour: whether chunks bring rgb.
        fields: the per-point fields chunks bring, by name, with their dtypes.
    """

    def __init__(
        self,
        path: Path,
        declared: int,
        request: Request,
        colour: bool,
        fields: dict[str, np.dtype] | None = None,
    ):
        if declared > MAX_POINTS and request.max_points is None and request.voxel_size is None:
            raise ValueError(
                f"{path} declares {declared} points, more than the limit of {MAX_POINTS}; "
                "pass max_points= or voxel_size= to thin it while reading"
            )
        self.path = path
        self.declared = declared
        self.budget = None if request.max_points is None else min(request.max_points, declared)
        self.voxel = request.voxel_size
        self.rng = np.random.default_rng(request.seed)
        self.origin: np.ndarray | None = None
        self.read = 0  # rows seen so far
        self.used = 0  # rows stored so far
        self.seen = np.empty(0, dtype=np.int64)  # sorted voxel keys
        capacity = 0 if self.voxel is not None else (declared if self.budget is None else self.budget)
        # One table, xyz then rgb, so that the loader returns it without concatenating a copy.
        self.table = np.empty((capacity, 6 if colour else 3), dtype=np.float32)
        self.xyz = self.table[:, :3]
        self.rgb = self.table[:, 3:] if colour else None
        self.fields = {name: np.empty(capacity, dtype=dtype) for name, dtype in (fields or {}).items()}
        self.pieces: list[tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]] = []

    def add(
        self,
        xyz: np.ndarray,
        rgb: np.ndarray | None = None,
        fields: dict[str, np.ndarray] | None = None,
        rows: int | None = None,
    ) -> None:
        """One chunk: ``xyz`` float64 ``(n, 3)``, ``rgb`` in [0, 1] when colour, the fields.

        ``rows``: the file's records this chunk came from, when the reader dropped some
        (invalid E57 points); default ``len(xyz)``.
        """
        fields = fields or {}
        start, self.read = self.read, self.read + (len(xyz) if rows is None else rows)
        if self.read > self.declared:
            raise ValueError(f"{self.path} holds more points than the {self.declared} its header declares")
        if self.origin is None:
            self.origin = local_origin(xyz)  # from the first chunk, as read_cloud does from a whole cloud
        if self.budget is not None:
            # Exact share: rows [start, end) of the file get floor(end*k/n) - floor(start*k/n) of the budget.
            quota = self.read * self.budget // self.declared - start * self.budget // self.declared
            quota = min(quota, len(xyz))
            keep = np.sort(self.rng.choice(len(xyz), size=quota, replace=False))
        elif self.voxel is not None:
            keep = self._new_voxels(xyz)
        else:
            keep = slice(None)
        local = (xyz[keep] - self.origin).astype(np.float32)
        chosen_rgb = None if rgb is None else np.asarray(rgb[keep], dtype=np.float32)
        chosen = {name: np.asarray(fields[name][keep]) for name in self.fields}
        if self.voxel is not None:
            self.pieces.append((local, chosen_rgb, chosen))
            return
        end = self.used + len(local)
        self.xyz[self.used : end] = local
        if self.rgb is not None:
            self.rgb[self.used : end] = chosen_rgb
        for name, values in chosen.items():
            self.fields[name][self.used : end] = values
        self.used = end

    def _new_voxels(self, xyz: np.ndarray) -> np.ndarray:
        """Rows of the chunk that are the first in a voxel not seen before."""
        finite = np.isfinite(xyz).all(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            ijk = np.floor((xyz - self.origin) / self.voxel)
        ijk[~finite] = 0
        if np.abs(ijk).max(initial=0) >= _KEY_LIMIT:
            raise ValueError(
                f"{self.path}: voxel_size={self.voxel} makes more than {_KEY_LIMIT} voxels along an axis; "
                "pass a larger voxel_size"
            )
        ijk = ijk.astype(np.int64) + _KEY_LIMIT
        keys = (ijk[:, 0] << (2 * _KEY_BITS)) | (ijk[:, 1] << _KEY_BITS) | ijk[:, 2]
        rows = np.flatnonzero(finite)
        keys = keys[rows]
        unique, first = np.unique(keys, return_index=True)
        # Binary search and one sorted insertion: linear in the voxels seen, not a re-sort per chunk.
        at = np.searchsorted(self.seen, unique)
        known = self.seen[np.minimum(at, len(self.seen) - 1)] == unique if len(self.seen) else np.zeros(len(unique), bool)
        self.seen = np.insert(self.seen, at[~known], unique[~known])
        return np.sort(rows[first[~known]])

    def _gather_pieces(self) -> None:
        """Move the voxel-thinned pieces into one table, freeing each once copied.

        ``np.empty`` takes no memory until written, so the copy holds about one output's
        worth rather than the pieces and their concatenation at once.
        """
        self.seen = np.empty(0, dtype=np.int64)
        total = sum(len(piece[0]) for piece in self.pieces)
        self.table = np.empty((total, self.table.shape[1]), dtype=np.float32)
        self.xyz = self.table[:, :3]
        self.rgb = self.table[:, 3:] if self.rgb is not None else None
        self.fields = {name: np.empty(total, dtype=values.dtype) for name, values in self.fields.items()}
        self.pieces.reverse()
        while self.pieces:
            xyz, rgb, fields = self.pieces.pop()
            end = self.used + len(xyz)
            self.xyz[self.used : end] = xyz
            if self.rgb is not None:
                self.rgb[self.used : end] = rgb
            for name, values in fields.items():
                self.fields[name][self.used : end] = values
            self.used = end

    def cloud(self) -> Cloud:
        """The points kept, as a :class:`Cloud` relative to the origin."""
        if self.read < self.declared:
            raise ValueError(
                f"{self.path} declares {self.declared} points but holds {self.read}; the file is truncated or damaged"
            )
        if self.voxel is not None:
            self._gather_pieces()
        used = self.used
        rgb = None if self.rgb is None else self.rgb[:used]
        return Cloud(self.xyz[:used], rgb, {name: v[:used] for name, v in self.fields.items()},
                     np.zeros(3) if self.origin is None else self.origin, self.table[:used])
