"""The indoor voxel floor: a denser scan of a room is not cut finer than 1/500 of its diagonal."""

from __future__ import annotations

import numpy as np

from openshape_ood.segmentation import segment_scene
from openshape_ood.segmentation.settings import MAX_VOXELS, ScanMeasures, choose_settings, coarser_voxels


def _settings(spacing: float, extent: tuple[float, float, float], single: bool = False, **given):
    measured = ScanMeasures(points=1_000_000, spacing=spacing, spacing_growth=0.0, single_viewpoint=single,
                            extent=extent)  # fmt: skip
    return choose_settings(measured, "z", np.eye(3)[2], given)


def test_a_dense_room_gets_voxels_of_its_diagonal_over_500():
    # diagonal of 6 x 8 x 0 m = 10 m; two spacings would be 2 mm (5 mm at least), the floor is 10 / 500 = 2 cm.
    chosen = _settings(0.001, (6.0, 8.0, 0.0))
    assert chosen.voxel_size == 0.005
    floored = coarser_voxels(chosen, voxels=1000)
    assert floored.voxel_size == 0.02
    assert floored.cluster_distance == floored.plane_distance == 0.04  # the distances follow the voxel


def test_the_floor_stops_at_a_rooms_size_and_never_binds_a_sparse_scan_a_street_or_a_given_voxel():
    # A hall 40 m long: the floor is that of a 10 m room, 10 / 500 = 2 cm.
    assert coarser_voxels(_settings(0.001, (40.0, 3.0, 0.0)), voxels=1000).voxel_size == 0.02
    # Spacing 3 cm: two spacings (6 cm) are coarser than the floor (2 cm).
    assert coarser_voxels(_settings(0.03, (6.0, 8.0, 0.0)), voxels=1000) is None
    # A LiDAR sweep 100 m wide is a street: its voxel is its spacing's, not 10 / 500.
    street = _settings(0.005, (100.0, 100.0, 10.0), single=True)
    assert street.ground == "grid" and coarser_voxels(street, voxels=1000) is None
    assert coarser_voxels(_settings(0.001, (6.0, 8.0, 0.0), voxel_size=0.003), voxels=1000) is None


def test_the_floor_is_a_least_size_not_a_start_for_the_coarsening():
    # 16 times too many 5 mm voxels: four times coarser for speed, capped at three times (1.05 x 15 mm,
    # 1.6 cm): below the floor of 2 cm, so 2 cm; and a coarsening past the floor keeps its own size.
    chosen = _settings(0.001, (6.0, 8.0, 0.0))
    assert coarser_voxels(chosen, voxels=16 * MAX_VOXELS).voxel_size == 0.02
    coarse = _settings(0.008, (6.0, 8.0, 0.0))  # 1.6 cm chosen, 2 cm floor, 4 times too many: 3.4 cm
    assert coarser_voxels(coarse, voxels=4 * MAX_VOXELS).voxel_size == 0.034


def test_a_four_times_denser_copy_of_a_scene_gives_the_same_objects():
    rng = np.random.default_rng(0)

    def scene(count: int) -> np.ndarray:
        floor = np.column_stack([rng.uniform(-3, 3, count), rng.uniform(-4, 4, count), np.zeros(count)])
        parts = [floor]
        for centre in ((-1.0, 0.0), (1.0, 0.0)):  # two boxes 60 cm wide, 1.4 m apart
            side = 0.6
            box = rng.uniform(0, side, (count // 20, 3))
            face = rng.integers(0, 5, len(box))
            box[face < 4, face[face < 4] % 2] = np.where(face[face < 4] < 2, 0.0, side)
            box[face == 4, 2] = side
            parts.append(box + [centre[0] - side / 2, centre[1] - side / 2, 0.0])
        return np.concatenate(parts).astype(np.float32)

    sparse, dense = scene(40_000), scene(160_000)
    _, sparse_settings = segment_scene(sparse, "z", return_settings=True)
    labels, dense_settings = segment_scene(dense, "z", return_settings=True)
    # Two spacings of the dense copy would be finer than the floor of 10 m / 500 = 2 cm; the floor binds.
    assert 2 * dense_settings.measured.spacing < 0.02 == dense_settings.voxel_size <= sparse_settings.voxel_size
    box_of = np.concatenate([np.full(160_000, -1), np.repeat([0, 1], 8_000)])
    assert labels.max() == 1  # two objects, no fragments
    for box in (0, 1):
        inside = labels[box_of == box]
        assert (inside == np.bincount(inside[inside >= 0]).argmax()).mean() > 0.9
