"""Splitting touching objects where their surfaces meet at a concave edge.

In the spirit of PCL's locally convex connected patches (LCCP, Stein et al. 2014), at the scale of
voxels. A box standing on a box, or a cup against a book, meets its neighbour along a concave
edge: there the normals of neighbouring voxels turn towards each other. The voxels along such
edges (valley voxels: many of their joins concave) are set aside, the rest of the object falls
into the parts they separated, and the valley voxels go back to the nearest part. The faces of
one box meet at convex edges, so a convex object has no valley and stays whole. Cutting at valley
voxels rather than at single joins matters: one path of convex or flat joins (coplanar tops of two
boxes side by side) would otherwise link the two objects again. A concave join that is a crease (it
turns faster than the finest rounding the normals show: :func:`crease_angle`) is cut as well, even
between voxels short of a valley: one such join linked a book to the book it lay on. A smooth concave
rounding (a duck's neck) turns more slowly, and only the valley share cuts it. Where two objects touch
nearly tangent, a few voxels along their valley have too few concave joins to be valley voxels, and one path
through them holds the two together wherever the voxel grid happens to put them; the valley grown by one
concave join closes such a leak, and its split is kept where the boundaries it adds are mostly concave
(:data:`GROWN_CONCAVE_SHARE`), which the partial valley of a rounding is not.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .geometry import PATCH_VOXELS, median_by
from .planes import RAYLEIGH_99

# Neighbouring voxels: closer than this many voxel sizes.
_REACH = 1.8
# Normals closer than this angle (degrees) are the same smooth surface, whatever the sign of the bend:
# sensor noise on a flat face must not cut it. 15 finds the same on every view of the benchmark; 25 and 30
# lose table-top objects (rooms are set by the rounding term).
_SMOOTH_ANGLE = 20.0
# Radius (m) of the tightest smooth rounding of an object (a duck's neck, a handle): over one join a
# surface this curved turns by the join's length over it, and coarse voxels must not take that for an edge.
# Weighed at 0.015-0.04 (python -m benchmarks.scenes_sweep): below 0.025 the table tops lose objects; 0.03 finds
# 11 more over every view, but chosen with each scan left out it finds 9 fewer there (segmentation
# experiments, "One command for the rule").
_SMOOTH_RADIUS = 0.025
# Normals stray from a flat surface by a median angle; the normals of a join stray from each other by
# up to about twice that, so a bend well beyond twice it is no more noise. The margin is chosen on the
# real scans by leave-one-scan-out over 2, 2.5 and 3: at 3 (until this round) touching objects of the
# table tops merged once the frames were thinned to 90 % and jittered, at 2 the noisier stereo mug of
# PCL's table scene (tests/scenes) broke in two; 2.5 is chosen with any one scan left out. Rooms,
# whose smooth angle is set by the rounding term, are unchanged. Chosen again on today's views (2, 2.5, 3),
# with any one scan left out as well.
_NOISE_FACTOR = 2.5
# A voxel with more than this share of concave joins lies in a valley between two surfaces. Tried 0.1-0.3 on
# the rooms' copies and frames and the table tops' views: 0.1 finds the most over them, but the rooms themselves
# find 25.4 of 57 against 29.0 (desks merge with their chairs, beds break; segmentation experiments,
# "Constants chosen again by the benchmark's rule").
_VALLEY_SHARE = 0.2
#: A part is split off only when it holds this share of the object's voxels; smaller concave pieces
#: (a handle, a dent, noise at an edge) stay with the part they touch. At 0.05 the benchmark's views find 54
#: objects more with 200 false segments more, the rooms side by side more false segments than objects.
PART_SHARE = 0.1
#: An object that its valley leaves in fewer parts than the valley grown by one concave join makes (every voxel
#: with a concave join to a valley voxel added: a morphological dilation along the concave joins) takes those
#: parts when at least this share of the joins across the boundaries the growth added are concave: a majority.
#: Two objects held together by a leak of their valley meet along it mostly at concave joins (the two of
#: mosd_test60 that merged at four of six grid places: 0.61); a smooth rounding whose valley the growth
#: completes goes on across it at flat and convex joins too (the duck's neck of the tests' composed scene: 0.43
#: and 0.48), and stays whole.
GROWN_CONCAVE_SHARE = 0.5


class Joins(NamedTuple):
    """The joins of neighbouring voxels within the objects of a scan, and how their surfaces bend there."""

    labelled: np.ndarray  # the voxels of objects
    members: np.ndarray  # each labelled voxel's object, numbered 0..K-1
    sizes: np.ndarray  # voxels of each object
    first: np.ndarray  # the two ends of each join (indices into labelled)
    second: np.ndarray
    concave: np.ndarray  # the surface bends inwards at the join beyond noise and smooth rounding
    bend: np.ndarray  # (n_i - n_j) . (x_i - x_j) of the outward normals: > 0 outwards (convex), < 0 inwards
    cosine: np.ndarray  # of the angle between the two outward normals
    noise_angle: float  # normals differing by more (radians) are not one flat surface with noise


def join_radius(voxel_size: float) -> float:
    """How far apart (m) two voxels of ``voxel_size`` may be to be joined: neighbours in a surface."""
    return _REACH * voxel_size


def crease_angle(voxel_size: float, normal_radius: float) -> float:
    """The turn (radians) beyond which one join is a crease, not a rounding: a join's length over the
    radius of the neighbourhoods the normals were fitted on, the tightest rounding they show; at most pi
    (no crease), as without normals."""
    return min(join_radius(voxel_size) / normal_radius, math.pi) if normal_radius > 0 else math.pi


def object_joins(objects: np.ndarray, centroids: np.ndarray, normals: np.ndarray, voxel_size: float,
                 viewpoint: np.ndarray | None = None, noise: float = 0.0, normal_radius: float = 0.0,
                 up: np.ndarray | None = None) -> Joins | None:  # fmt: skip
    """The :class:`Joins` of the objects of ``objects`` (see :func:`split_concave` for the arguments and
    how a join is found concave), ``None`` with fewer than two labelled voxels."""
    labelled = np.flatnonzero(objects >= 0)
    if len(labelled) < 2:
        return None
    points = centroids[labelled]
    _, members = np.unique(objects[labelled], return_inverse=True)
    sizes = np.bincount(members)
    centre = np.stack([np.bincount(members, points[:, k]) for k in range(3)], axis=1) / sizes[:, None]
    inside = centre[members] if viewpoint is None else viewpoint
    facing = np.einsum("ij,ij->i", normals[labelled], points - inside) * (1 if viewpoint is None else -1)
    outward = normals[labelled] * np.where(facing < 0, -1.0, 1.0)[:, None]
    if viewpoint is None and up is not None:
        # The centre of two objects merged (a pillow on a bed, a lamp on a night stand) can lie above
        # a top surface and turn its normal down, making the edge between them look convex.
        along = normals[labelled] @ up
        top = np.abs(along) > math.sqrt(0.5)  # more up than sideways: within 45 degrees of up
        outward[top] = normals[labelled][top] * np.sign(along[top])[:, None]
    pairs = cKDTree(points).query_pairs(join_radius(voxel_size), output_type="ndarray")
    first, second = pairs[:, 0], pairs[:, 1]
    same = members[first] == members[second]
    first, second = first[same], second[same]
    bend = np.einsum("ij,ij->i", outward[first] - outward[second], points[first] - points[second])
    cosine = np.einsum("ij,ij->i", outward[first], outward[second])
    # Normals are fitted on neighbourhoods of normal_radius: a rounding tighter than that does not
    # show as such in them, it is smeared over the neighbourhood, so at coarse voxels (a room at a few
    # centimetres) the allowance for smooth roundings must not grow so large that no edge is concave.
    rounding = max(_SMOOTH_RADIUS, normal_radius)
    smooth = max(math.radians(_SMOOTH_ANGLE), join_radius(voxel_size) / rounding)
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    allowed = np.maximum(smooth, _noise_turn(members[first], angle, bend, len(sizes), noise))
    folded = angle > np.minimum(allowed, math.pi / 2)
    noise_angle = max(math.radians(_SMOOTH_ANGLE), _NOISE_FACTOR * noise)
    return Joins(labelled, members, sizes, first, second, (bend < 0) & folded, bend, cosine, noise_angle)


def _noise_turn(owner: np.ndarray, angle: np.ndarray, bend: np.ndarray, objects: int, noise: float) -> np.ndarray:
    """The turn (radians) each join's object allows its joins for noise: the smaller of two bounds, each of which
    can only come out too large. The planes' (:data:`_NOISE_FACTOR` times ``noise``, their normals' median
    stray) counts every flat surface of the scan, far ones too: a wall three metres behind a table top strays
    far more than the table at a metre. The object's own (:data:`~.planes.RAYLEIGH_99` times the median angle
    of its joins that bend outwards: on one noisy surface half the joins bend each way alike, so that median is
    the surface's, and a concave crease between two touching objects is not among them) counts its convex
    edges and roundings as well. An object without such joins has only the planes'."""
    outwards = bend > 0
    outward_joins = np.bincount(owner[outwards], minlength=objects)
    own = np.where(outward_joins > 0, RAYLEIGH_99 * median_by(angle[outwards], owner[outwards], objects), np.inf)
    return np.minimum(_NOISE_FACTOR * noise, own)[owner]


def split_concave(objects: np.ndarray, centroids: np.ndarray, normals: np.ndarray, voxel_size: float,
                  part_voxels: int, viewpoint: np.ndarray | None = None, noise: float = 0.0,
                  normal_radius: float = 0.0, up: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Labels with each object split into the parts its concave edges separate, when it has two or
    more parts of ``part_voxels`` voxels (and at least :data:`~.geometry.PATCH_VOXELS`, enough for normals of
    their own) and a tenth of the object each.

    Normals are turned outwards: towards the ``viewpoint`` of a scan taken from one place (a
    sensor sees the outside of surfaces). Without one, those of surfaces facing more up than
    sideways are turned up when ``up`` is given (a room is scanned from above its furniture: the
    tops of beds, seats and tables are seen, their undersides hardly), the others away from the
    object's centre. The join of voxels ``i`` and ``j`` is concave when ``(n_i - n_j) . (x_i - x_j) < 0``
    and the normals differ by more than the smooth angle, than a rounding of :data:`_SMOOTH_RADIUS`
    (or of ``normal_radius``, the radius of the neighbourhoods the normals were fitted on, when that
    is larger) turns over the join, and than the object's noise: a few times ``noise`` (the median angle
    by which normals stray on the scan's flat surfaces), or less where the object's own joins that bend
    outwards show less (:func:`_noise_turn`). Voxels with more than :data:`_VALLEY_SHARE` of their joins
    concave, and concave joins that turn by more than :func:`crease_angle`, separate the parts; so does the
    valley grown by one concave join, where most joins across the boundaries it adds are concave
    (:data:`GROWN_CONCAVE_SHARE`).
    """
    joins = object_joins(objects, centroids, normals, voxel_size, viewpoint, noise, normal_radius, up)
    if joins is None:
        return objects
    first, second, members = joins.first, joins.second, joins.members
    count_voxels = len(joins.labelled)
    edges = np.bincount(first, minlength=count_voxels) + np.bincount(second, minlength=count_voxels)
    concave_joins = np.bincount(first, joins.concave, count_voxels) + np.bincount(second, joins.concave, count_voxels)
    valley = concave_joins > _VALLEY_SHARE * np.maximum(edges, 1)
    creased = joins.concave & (joins.cosine <= math.cos(crease_angle(voxel_size, normal_radius)))
    split = _split_at(objects, joins, centroids, valley, creased, part_voxels)
    grown = valley.copy()
    grown[first[joins.concave & valley[second]]] = True
    grown[second[joins.concave & valley[first]]] = True
    if np.array_equal(grown, valley):  # no voxel added: the same parts
        return split
    return _open_leaks(split, _split_at(objects, joins, centroids, grown, creased, part_voxels), joins)


def _split_at(objects: np.ndarray, joins: Joins, centroids: np.ndarray, valley: np.ndarray, creased: np.ndarray,
              part_voxels: int) -> np.ndarray:  # fmt: skip
    """Labels with each object split into the parts that its ``valley`` voxels and ``creased`` joins separate
    (masks over ``joins.labelled`` and the joins; :func:`split_concave`)."""
    first, second, members = joins.first, joins.second, joins.members
    count_voxels = len(joins.labelled)
    kept = ~valley[first] & ~valley[second] & ~creased
    graph = coo_matrix((np.ones(kept.sum()), (first[kept], second[kept])), shape=(count_voxels,) * 2)
    count, part = connected_components(graph, directed=False)
    part_size = np.bincount(part[~valley], minlength=count)
    part_owner = np.zeros(count, dtype=np.int64)
    part_owner[part] = members  # joins stay within an object: each part has one owner
    # A part is told from the rest of its object by its normals: one too small to have normals of its own is
    # the normals' noise round a valley, and coarse voxels (a room sampled sparsely) make many.
    smallest = max(part_voxels, PATCH_VOXELS)
    part_big = part_size >= np.maximum(smallest, PART_SHARE * joins.sizes[part_owner])
    # Valley voxels and small pieces join the nearest large part.
    return split_into_parts(objects, joins, centroids, part, part_big[part] & ~valley)


def _open_leaks(split: np.ndarray, opened: np.ndarray, joins: Joins) -> np.ndarray:
    """``split`` (the labels of the valley) with each object that ``opened`` (those of the grown valley) parts
    into more pieces taken from ``opened`` where at least :data:`GROWN_CONCAVE_SHARE` of the joins across the
    boundaries that only ``opened`` draws are concave; renumbered 0..K-1 in order."""
    members, labelled = joins.members, joins.labelled
    first, second = joins.first, joins.second
    added = (opened[labelled[first]] != opened[labelled[second]]) & (split[labelled[first]] == split[labelled[second]])
    owner = members[first[added]]
    across = np.bincount(owner, minlength=len(joins.sizes))
    concave = np.bincount(owner, joins.concave[added], minlength=len(joins.sizes))

    def pieces(labels: np.ndarray) -> np.ndarray:
        pairs = np.unique(np.stack([members, labels[labelled]], axis=1), axis=0)
        return np.bincount(pairs[:, 0], minlength=len(joins.sizes))

    taken = (pieces(opened) > pieces(split)) & (across > 0) & (concave >= GROWN_CONCAVE_SHARE * across)
    if not taken.any():
        return split
    result = split.copy()
    for owner_id in np.flatnonzero(taken):
        voxels = labelled[members == owner_id]
        result[voxels] = opened[voxels] + int(result.max()) + 1
    _, result[result >= 0] = np.unique(result[result >= 0], return_inverse=True)
    return result


def split_into_parts(objects: np.ndarray, joins: Joins, centroids: np.ndarray, part: np.ndarray,
                     anchor: np.ndarray) -> np.ndarray:  # fmt: skip
    """Labels with each object whose ``anchor`` voxels (a mask over ``joins.labelled``) lie in two or
    more ``part`` ids split into those parts, every other voxel of it going to the part of its nearest
    anchor; the other objects as they were. Ids are renumbered 0..K-1 in their order."""
    owners = np.unique(np.stack([joins.members[anchor], part[anchor]], axis=1), axis=0)[:, 0]
    result = objects.copy()
    next_id = int(objects.max()) + 1
    points = centroids[joins.labelled]
    for owner in np.flatnonzero(np.bincount(owners, minlength=len(joins.sizes)) >= 2):  # one part: as it was
        voxels = np.flatnonzero(joins.members == owner)
        anchors = voxels[anchor[voxels]]
        nearest = cKDTree(points[anchors]).query(points[voxels])[1]
        _, new = np.unique(part[anchors[nearest]], return_inverse=True)
        result[joins.labelled[voxels]] = next_id + new
        next_id += int(new.max()) + 1
    _, result[result >= 0] = np.unique(result[result >= 0], return_inverse=True)
    return result
