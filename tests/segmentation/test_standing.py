"""What stands on an object's flat top is split off (segmentation.standing), by hand: voxels of one object, a
night stand with a lamp on it, a chair whose back rises from its seat's rim, a neck going on below a back,
a dome, a fold rising out of a top."""

from __future__ import annotations

import math

import numpy as np

from openshape_ood.segmentation.standing import split_standing

STEP = 0.02  # m between voxels
BAND = REACH = 2 * STEP  # the plane distance and the cluster distance: two voxels
MIN_COS = math.cos(math.radians(45.0))
NOISE = math.radians(5.0)  # the median stray of the planes' normals: a top's may be 1.8 times that
UP = np.array([0.0, 0.0, 1.0])


def _plate(x: tuple[float, float], y: tuple[float, float], z: tuple[float, float], normal) -> tuple[np.ndarray, ...]:
    """Voxels ``STEP`` apart filling a box that is one voxel thin along ``normal``'s axis, and their normals."""
    axes = [np.arange(low, high + STEP / 2, STEP) for low, high in (x, y, z)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid, np.tile(np.asarray(normal, dtype=float), (len(grid), 1))


def _cylinder(radius: float, z: tuple[float, float], centre=(0.0, 0.0)) -> tuple[np.ndarray, ...]:
    """Voxels on the side of an upright cylinder, and their outward normals."""
    turns = np.arange(0.0, 2 * math.pi, STEP / radius)
    heights = np.arange(z[0], z[1] + STEP / 2, STEP)
    angle, height = np.meshgrid(turns, heights, indexing="ij")
    normal = np.stack([np.cos(angle.ravel()), np.sin(angle.ravel()), np.zeros(angle.size)], axis=1)
    points = np.c_[centre[0] + radius * normal[:, 0], centre[1] + radius * normal[:, 1], height.ravel()]
    return points, normal


def _split(*pieces: tuple[np.ndarray, np.ndarray], normal_radius: float = BAND) -> tuple[np.ndarray, np.ndarray]:
    """All ``pieces`` as one object (id 0), split (their normals fitted over ``normal_radius``): the voxels'
    centroids and their ids after."""
    centroids = np.concatenate([piece[0] for piece in pieces])
    normals = np.concatenate([piece[1] for piece in pieces])
    objects = np.zeros(len(centroids), dtype=np.int64)
    split_standing(
        objects, centroids, normals, UP, BAND, REACH, MIN_COS, part_voxels=10, normal_noise=NOISE,
        normal_radius=normal_radius,
    )  # fmt: skip
    return centroids, objects


Pieces = list[tuple[np.ndarray, np.ndarray]]  # voxels and their normals, per piece


def _night_stand_with_lamp(top_normals=None) -> tuple[Pieces, Pieces]:
    """A night stand 0.5 m square and 0.6 m high (its top and two sides; the top's normals ``top_normals``
    where given, else up), and a lamp in the middle of its top: a foot of 4 cm radius up to 0.88 m, and a
    shade of 15 cm radius from 0.9 to 1.1 m over a disc that holds it, wider than the foot. The night
    stand's pieces, and the lamp's."""
    top = _plate((-0.25, 0.25), (-0.25, 0.25), (0.6, 0.6), UP)
    if top_normals is not None:
        top = (top[0], top_normals(top[0]))
    sides = [_plate((-0.25, -0.25), (-0.25, 0.25), (0.0, 0.58), (-1, 0, 0)),
             _plate((-0.25, 0.25), (-0.25, -0.25), (0.0, 0.58), (0, -1, 0))]  # fmt: skip
    square, square_normals = _plate((-0.15, 0.15), (-0.15, 0.15), (0.9, 0.9), UP)
    round_ = np.linalg.norm(square[:, :2], axis=1) <= 0.15
    disc = (square[round_], square_normals[round_])
    return [top, *sides], [_cylinder(0.04, (0.62, 0.88)), disc, _cylinder(0.15, (0.92, 1.1))]


def _assert_lamp_split_off(night_stand: Pieces, lamp_pieces: Pieces, normal_radius: float = BAND) -> None:
    centroids, objects = _split(*night_stand, *lamp_pieces, normal_radius=normal_radius)
    heights = centroids[:, 2]
    lamp = np.arange(len(centroids)) >= sum(len(piece[0]) for piece in night_stand)
    # The lamp above the top's slab (beyond one band of 0.6 m) is one new object; the night stand, and the
    # lamp's foot within that band, keep theirs.
    assert np.unique(objects[lamp & (heights > 0.6 + BAND)]).tolist() == [1]
    assert (objects[~lamp] == 0).all() and (objects[lamp & (heights <= 0.6 + BAND)] == 0).all()


def test_a_lamp_standing_on_a_night_stands_top_is_an_object_of_its_own():
    _assert_lamp_split_off(*_night_stand_with_lamp())


def test_a_top_is_judged_flat_away_from_its_rim_where_its_normals_bend():
    # A normal fitted over a neighbourhood of 0.1 m that crosses the top's edge leans outwards: by 45 degrees
    # at the edge, less further in, none from 0.1 m in. On the night stand's top, 0.5 m square, that rim holds
    # 62 % of the voxels, and the whole top's median tilt is 18 degrees, over the 12.9 a top's normals may
    # stray by (NOISE times RAYLEIGH_99). Judged on the voxels beyond the normal radius within it, the top is
    # flat.
    radius = 0.1

    def bent_at_rim(points: np.ndarray) -> np.ndarray:
        from_edge = 0.25 - np.abs(points[:, :2])
        edge = np.argmin(from_edge, axis=1)
        tilt = np.radians(45.0) * np.clip(1 - from_edge.min(axis=1) / radius, 0.0, 1.0)
        outward = np.zeros((len(points), 3))
        outward[np.arange(len(points)), edge] = np.sign(points[np.arange(len(points)), edge])
        return np.cos(tilt)[:, None] * UP + np.sin(tilt)[:, None] * outward

    night_stand, lamp = _night_stand_with_lamp(bent_at_rim)
    _assert_lamp_split_off(night_stand, lamp, normal_radius=radius)
    # Judged over all of its voxels (a normal radius of 0), the same top is taken for rounded: the lamp stays.
    centroids, objects = _split(*night_stand, *lamp, normal_radius=0.0)
    assert (objects == 0).all()


def test_a_chairs_back_rising_from_its_seats_rim_stays_with_the_chair():
    # A seat 0.45 m square at 0.45 m, its front, and a back rising from its rim to 0.9 m a voxel in from the
    # seat's rear edge: the back's base lies on the rim, outside the seat's interior (the seat shrunk by the
    # cluster distance, 4 cm), though inside the seat.
    seat = _plate((-0.225, 0.225), (-0.225, 0.225), (0.45, 0.45), UP)
    front = _plate((-0.225, 0.225), (-0.225, -0.225), (0.0, 0.43), (0, -1, 0))
    back = _plate((-0.225, 0.225), (0.205, 0.205), (0.47, 0.9), (0, -1, 0))
    _, objects = _split(seat, front, back)
    assert (objects == 0).all()
    # Moved to the middle of the seat, the same plate stands on it: a board standing there, split off.
    board = (back[0] - [0.0, 0.205, 0.0], back[1])
    centroids, objects = _split(seat, front, board)
    assert np.unique(objects[centroids[:, 2] > 0.45 + BAND]).tolist() == [1]


def test_a_neck_going_on_below_the_top_stays_with_its_body():
    # A duck's neck rises from the middle of its back but goes on below it as its chest: the back (a top
    # 0.5 m square at 0.6 m with a notch in front, where the neck comes up), its side, and the neck's front,
    # a plate from the floor to 0.9 m at the notch's back. Without the top it is joined to the chest below
    # the top's slab, so nothing stands on the top.
    back, back_normals = _plate((-0.25, 0.25), (-0.25, 0.25), (0.6, 0.6), UP)
    kept = ~((np.abs(back[:, 0]) <= 0.07) & (back[:, 1] < -0.05))
    side = _plate((-0.25, 0.25), (0.25, 0.25), (0.0, 0.58), (0, 1, 0))
    neck = _plate((-0.05, 0.05), (-0.07, -0.07), (0.0, 0.9), (0, -1, 0))
    centroids, objects = _split((back[kept], back_normals[kept]), side, neck)
    assert (objects == 0).all()
    # Cut off below the top's slab, the same neck stands on the top (a plate standing in its notch).
    stub = (neck[0][neck[0][:, 2] >= 0.58], neck[1][neck[0][:, 2] >= 0.58])
    centroids, objects = _split((back[kept], back_normals[kept]), side, stub)
    assert np.unique(objects[centroids[:, 2] > 0.6 + BAND]).tolist() == [1]


def test_the_cap_of_a_dome_is_no_part_standing_on_its_top():
    # A dome (a hemisphere of 0.4 m radius, a voxel per STEP squared): its voxels facing up within 45 degrees
    # fill every slab of their heights about as much (a sphere's area is even along its axis), so its fullest
    # slab is a ring with the cap rising within it, held by the ring alone. The ring's median tilt from up,
    # about 36 degrees, is no flat top's: nothing is split off.
    count = int(2 * math.pi * 0.4**2 / STEP**2)
    k = np.arange(count) + 0.5
    height, turn = k / count, math.pi * (1 + math.sqrt(5)) * k  # a Fibonacci lattice on the upper half
    radius = np.sqrt(1 - height**2)
    normals = np.stack([radius * np.cos(turn), radius * np.sin(turn), height], axis=1)
    centroids, objects = 0.4 * normals, np.zeros(count, dtype=np.int64)
    split_standing(
        objects, centroids, normals, UP, BAND, REACH, MIN_COS, part_voxels=10, normal_noise=NOISE, normal_radius=BAND
    )
    assert (objects == 0).all()
    # Taken for flat whatever its tilt, the dome keeps its cap all the same: the cap rises out of the ring
    # without an edge (every voxel of it next to the ring faces up within the normal angle), the top's relief.
    # (That a top judged rounded keeps what stands on it is the night stand's test above.)
    split_standing(
        objects, centroids, normals, UP, BAND, REACH, MIN_COS, part_voxels=10, normal_noise=math.pi, normal_radius=BAND
    )
    assert (objects == 0).all()


def _bump(height: float, deviation: float) -> tuple[np.ndarray, np.ndarray]:
    """The night stand's top (0.5 m square at 0.6 m) raised in its middle into a round Gaussian bump of
    ``height`` and ``deviation`` (m), its voxels and their normals (the surface's, from its slope)."""
    top, _ = _plate((-0.25, 0.25), (-0.25, 0.25), (0.6, 0.6), UP)
    rise = height * np.exp(-(top[:, 0] ** 2 + top[:, 1] ** 2) / (2 * deviation**2))
    slope = -rise[:, None] * top[:, :2] / deviation**2  # the gradient of the rise
    normals = np.c_[-slope, np.ones(len(top))]
    return top + np.c_[np.zeros((len(top), 2)), rise], normals / np.linalg.norm(normals, axis=1, keepdims=True)


def test_a_fold_rising_out_of_a_top_without_an_edge_stays_with_it():
    # A fold of a duvet: a bump 8 cm high (7 cm deviation) in the top's middle, its sides sloping by at most
    # 35 degrees. Its part above the top's slab (beyond one band, 4 cm: 52 voxels) lies within the top and
    # nothing below holds it, as a lamp's shade; but every voxel of it next to the top faces up within the
    # normal angle, so the top goes on into it without an edge: it is the top's relief, and stays.
    night_stand, _ = _night_stand_with_lamp()
    sides = night_stand[1:]
    centroids, objects = _split(_bump(0.08, 0.07), *sides)
    assert (centroids[:, 2] > 0.6 + BAND).sum() >= 10 and (objects == 0).all()
    # Steeper (4 cm deviation: up to 50 degrees; 16 voxels above the slab), it meets the top at an edge and
    # stands on it, as a pillow.
    centroids, objects = _split(_bump(0.08, 0.04), *sides)
    assert np.unique(objects[centroids[:, 2] > 0.6 + BAND]).tolist() == [1]
