"""Large planes of a voxelised scan (floors, walls, table tops): found, removed, and given back to objects."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .geometry import (
    SHEET, column_bounds, fullest_slab, median_by, outside_hull, plane_basis, rises_smoothly, rough_above,
)
from .scan_checks import robust_range

# RANSAC: planes tried per round, and voxels they are scored on.
_HYPOTHESES = 200
_SCORED_VOXELS = 5000
# Objects with this share of their voxels within plane_distance of one removed plane (or at the support's
# level: Planes.drop_flat) are part of it. Tried 0.7-0.95: each step up keeps a few more objects against walls
# and more pieces of wall (0.9: 13 more objects, 83 more false segments over the benchmark's views; at 0.95
# the frames of furniture show more false segments than objects found; segmentation experiments, "Constants
# chosen again by the benchmark's rule"). Weighed again by the rule once an object must touch the plane
# (stop 98): 0.7 loses the rooms' own objects, 0.9 lowers AP50.
_FLAT_SHARE = 0.8
#: An upright plane (a wall's, a furniture front's: across the support) bounds the scan when at most
#: this share of the scan's voxels within its span lie beyond it, more than two plane distances on its
#: far side. What a scanner sees behind a wall is what comes through its openings and the
#: reconstruction's stray points; a dresser's front has the wall it stands against behind it. The span
#: is the robust extent of the plane's patches across up (scan_checks.robust_range, as for a scan's
#: robust box: the few voxels with which a patch rounds a corner do not stretch it into the next
#: wall): a wall that ends (an L-shaped room, an alcove beside a jutting wall) has the rest of the room
#: beyond its infinite extension, not behind it. Horizontal planes are not tested: a floor at another
#: level has the room above it and the floor below, as a bed's top has, so the test cannot tell them
#: apart (a small flat object is tested in either orientation: Planes._structure_pieces). 1.0 takes
#: every large plane for structure. Tried by leave-one-scan-out (segmentation.tuning,
#: python -m benchmarks.scenes): both values find the same objects on every scan we have, 1.0 with three
#: false segments fewer on one seed; 0.05 finds more on every copy and on the virtual frames, and stays.
BOUNDING_SHARE = 0.05
#: The 99th percentile of a Rayleigh distribution over its median, sqrt(ln 100 / ln 2): the angles between
#: the noisy normals of a flat surface's voxels and its plane's normal have that law (two independent
#: Gaussian tilts), so this many times their median is what 99 % of them stay within.
RAYLEIGH_99 = math.sqrt(math.log(100) / math.log(2))


#: A sheet's span (Planes._structure_pieces) is widened by this share of it on each side: in a camera's
#: frame nothing is seen behind any object, which hides it, and the front of a box reaching above the view
#: is told from a wall by the wall seen beside it. Tried 0.25, 0.5 and 1.0 (virtual frames, seeds 0-2:
#: 152.0, 153.0 and 154.7 false segments against 151.7 unwidened, 45.3 found each); 0.25 is the least of
#: them that keeps the boxes of tests/segmentation/test_occlusion.py, and 1.0 takes a wall piece at the
#: end of a floor for a front (tests/segmentation/test_planes_structure.py).
_BESIDE = 0.25


class Plane(NamedTuple):
    normal: np.ndarray
    offset: float
    voxels: np.ndarray  # indices of its inlier voxels


class Planes:
    """The large planes of a voxelised scan, found one by one and removed from ``remaining``."""

    def __init__(
        self, centroids, normals, distance: float, min_cos: float, voxel_size: float, spacing: float,
        viewpoint: np.ndarray | None = None, up: np.ndarray | None = None, max_size: float = math.inf,
    ):
        self.centroids, self.normals = centroids, normals
        self.distance, self.min_cos, self.voxel_size = distance, min_cos, voxel_size
        # The sensor's place in a scan seen from one (a camera's frame, a sweep): what lies behind an upright
        # plane is what lies on its side away from it. None (a reconstruction): the side holding fewer.
        self.viewpoint = viewpoint
        # The up direction of a scan given its axis: where no support is found (too little of it in view),
        # the planes across it are still tested as walls or fronts. None: only the support's normal says.
        self.up = up
        # The largest object (m, the setting): an upright patch wider than it is no object's face.
        self.max_size = max_size
        # Cells of the grid on which plane patches are connected: two voxel spacings, so that a
        # patch does not fall apart between the points of a sparse scan.
        self.cell = max(voxel_size, 2 * spacing)
        self.remaining = np.ones(len(centroids), dtype=bool)
        # Voxels of planes found but kept (faces of furniture): not searched again for planes.
        self.searchable = np.ones(len(centroids), dtype=bool)
        # Voxels of planes told apart from them (by colour: segmentation.colour): objects lying in a plane.
        self.apart = np.zeros(len(centroids), dtype=bool)
        self.found: list[Plane] = []
        # Planes passed over as faces of objects (not bounding the scan): judged again room by room.
        self.fronts: list[Plane] = []
        # Upright planes that bound a reconstruction but are folded (curtains): removed from the planes, and each
        # of their patches an object of its own (add_sheets).
        self.sheets: list[Plane] = []
        # Whether found[0] is the support (added with support=True): without one, it is a wall's plane.
        self.has_support = False
        # The patches of tops given to what holds them up (give_tops), with their levels: held up again by the
        # objects later steps cut from what rose above the top (hold_tops).
        self.tops_given: list[tuple[np.ndarray, float]] = []
        # The direction from the support to what stands on it, when the support was added with it.
        self.support_up: np.ndarray | None = None

    @property
    def band(self) -> float:
        """Two plane distances (m): how far beyond a plane or a level a voxel lies off it, past the noise that
        puts a plane's own voxels up to a plane distance on either side."""
        return 2 * self.distance

    def horizontal(self, up: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The horizontal plane holding the most remaining voxels whose normal is vertical."""
        flat = np.flatnonzero(self.remaining & self.searchable & (np.abs(self.normals @ up) >= self.min_cos))
        if len(flat) < 3:
            return None
        in_slab = flat[fullest_slab(self.centroids[flat] @ up, self.distance)]
        return _fitted(self.centroids[in_slab], up)

    def ransac(self, rng: np.random.Generator, across: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        """The plane through one remaining voxel, along its normal, that holds the most remaining voxels,
        refitted to its inliers while that gains inliers (locally optimised RANSAC, Chum et al. 2003).
        With ``across`` (a unit vector: up, once :meth:`horizontal` has searched the planes along it),
        only the voxels whose normals lie across it, beyond the normal angle, are searched: the seats of
        a row of chairs hold more voxels than a wall, and proposed again they would end the search.

        A hypothesis is one voxel's normal, which noise tilts: on a noisy wall its band of inliers cuts
        across the wall, and one fit to them is still tilted. Refitted, the band turns into the wall, and
        the wall is one plane, not slices of it with the rest of it beyond each. As in Chum et al., every
        hypothesis that was the best so far (in the order drawn) is refitted, and the refitted plane that
        holds the most wins: a tilted band across a table and the top of a flat box on it can score best
        on the sample and refit to itself, while an earlier record refits to the whole table. A voxel counts
        by how well its normal agrees with the plane's (:meth:`_agreement`), not as one."""
        searched = self.remaining & self.searchable
        if across is not None:
            searched &= np.abs(self.normals @ across) < self.min_cos
        candidates = np.flatnonzero(searched)
        if len(candidates) < 3:
            return None
        scored = rng.choice(candidates, min(len(candidates), _SCORED_VOXELS), replace=False)
        seeds = rng.choice(candidates, min(len(candidates), _HYPOTHESES), replace=False)
        normals = self.normals[seeds]
        offsets = np.einsum("hd,hd->h", normals, self.centroids[seeds])
        near = np.abs(self.centroids[scored] @ normals.T - offsets) <= self.distance
        best_so_far = np.maximum.accumulate((near * self._agreement(self.normals[scored] @ normals.T)).sum(axis=0))
        records = np.flatnonzero(np.diff(best_so_far, prepend=-1) > 0)  # each beats every hypothesis before it
        best, best_held = None, -1.0
        # Gathered once: every refit scores all of them (a million-point room: 60 refits of 200,000 voxels).
        centroids, voxel_normals = self.centroids[candidates], self.normals[candidates]
        for record in records:
            refitted = self._refitted(normals[record], offsets[record], centroids, voxel_normals)
            if refitted is not None and refitted[1] > best_held:
                best, best_held = refitted
        return best

    def _refitted(
        self, normal: np.ndarray, offset: float, centroids: np.ndarray, voxel_normals: np.ndarray
    ) -> tuple[tuple[np.ndarray, float], int] | None:
        """The plane ``normal . x = offset`` refitted to its inliers among the candidate voxels (their
        ``centroids`` and ``voxel_normals``) while that gains inliers, and how many it holds; ``None`` when
        it holds fewer than three."""
        plane = _fitted(centroids[self._within(normal, offset, centroids, voxel_normals)], normal)
        if plane is None:
            return None
        held, score = self._held(plane, centroids, voxel_normals)
        while True:  # each round scores more than the last, so it ends
            refitted = _fitted(centroids[held], plane[0])
            if refitted is None:
                return plane, score
            held_refitted, score_refitted = self._held(refitted, centroids, voxel_normals)
            if score_refitted <= score:
                return plane, score
            plane, held, score = refitted, held_refitted, score_refitted

    def _held(
        self, plane: tuple[np.ndarray, float], centroids: np.ndarray, voxel_normals: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """The inliers of ``plane`` among the candidate voxels (a mask over them) and their summed
        :meth:`_agreement`."""
        held = self._within(*plane, centroids, voxel_normals)
        return held, float(self._agreement(voxel_normals[held] @ plane[0]).sum())

    def _agreement(self, cosines: np.ndarray) -> np.ndarray:
        """How far inside the normal angle each voxel's normal lies (``cosines``: with a plane's normal): 1
        along it, 0 at the angle and beyond. Counted so, a plane whose voxels' normals agree with it (a floor
        seen at a slant) outweighs a larger one whose normals stray to the angle (a far wall of a depth
        frame, its noise across the surface): the count of a truncated cost, as MSAC's of distances
        (Torr and Zisserman 2000)."""
        return np.clip((np.abs(cosines) - self.min_cos) / (1 - self.min_cos), 0.0, 1.0)

    def add(
        self, plane: tuple[np.ndarray, float] | None, min_area: float, bounding: bool = False, support: bool = False,
        up: np.ndarray | None = None, below_area: float | None = None,
    ) -> bool:
        """Remove the connected patches of ``plane`` that cover ``min_area`` each; whether there were any.

        Patches, not the whole infinite plane: the seats of a row of chairs are coplanar but
        each is small, so none of them is taken for a floor. With ``bounding``, a plane that does
        not bound the scan (:meth:`bounds_scan`) is a face of an object: it stays, and its
        voxels are not searched again (the result is still ``True``: look for the next plane).
        With ``support`` (the first plane along up, the fullest slab: the floor, the table), when no
        patch covers ``min_area`` but all of them together do, all are removed: seen from one camera
        at a slant, the objects standing on a table and the shadows they cast cut it into pieces, none
        of which need be large. So are the patches of a plane along the support that lies below it (the
        floor under a table, seen past its edge between the table's legs and what stands on the floor),
        and there ``below_area`` (where given: the least area of any plane) is enough instead of
        ``min_area`` (the larger area a horizontal plane needs, so that the top of a seat standing on the
        support stays an object's): nothing stands on a table below its top. ``up`` (with ``support``): the
        direction from the support to what stands on it, which says what lies below it. With ``bounding``, a
        plane that bounds the scan but is a folded sheet (:meth:`folded_sheet`: a curtain) goes to ``sheets``.
        """
        if plane is None:
            return False
        normal, offset = plane
        candidates = np.flatnonzero(self.remaining)
        voxels = candidates[self._within(normal, offset, self.centroids[candidates], self.normals[candidates])]
        if len(voxels) < 3:
            return False
        below = self._below_support(normal, voxels)
        if below and below_area is not None:
            min_area = min(min_area, below_area)
        voxels = self._large_patches(voxels, normal, min_area, together=support or below)
        if len(voxels) == 0:
            return False
        if bounding and not self.bounds_scan(normal, offset, voxels):
            self.searchable[voxels] = False
            self.fronts.append(Plane(normal, offset, voxels))
            return True
        self.remaining[voxels] = False
        if bounding and self.folded_sheet(normal, voxels):
            self.sheets.append(Plane(normal, offset, voxels))
            return True
        self.found.append(Plane(normal, offset, voxels))
        if support and len(self.found) == 1:
            self.has_support, self.support_up = True, up
        return True

    def _below_support(self, normal: np.ndarray, voxels: np.ndarray) -> bool:
        """Whether the plane of ``normal`` through ``voxels`` lies along the support and below it, by more than
        the band of two plane distances that :meth:`give_tops` leaves round a level."""
        if not self.has_support or self.support_up is None or not self._horizontal(normal, self.support_up):
            return False
        level = float(np.median(self.centroids[self.found[0].voxels] @ self.support_up))
        return float(np.median(self.centroids[voxels] @ self.support_up)) < level - self.band

    def grow_support(self, up: np.ndarray, variation: np.ndarray | None = None) -> None:
        """Extend the first plane found (the support) over the smooth floor joined to it: remaining
        voxels facing up (within the normal angle), reached from it through such voxels one voxel
        at a time with height steps within the plane distance (region growing on smoothness, Rabbani
        et al. 2006). A reconstructed floor that sags or tilts by decimetres across a room is one
        floor; the top of a bed or a seat is reached only over its upright side, and stays.

        With ``variation`` (each voxel's surface variation, :func:`.geometry.normals`), only voxels that are
        not rough (:func:`.geometry.rough_above` the median of the support's own voxels) carry the growth
        on, as Rabbani's seed points do: a rough voxel facing up is taken in but reaches no further. A far
        wall facing a depth camera is noisy across its plane, and some of its voxels face up whichever way
        their neighbours lie: through them the growth climbed it."""
        if not self.has_support:
            return
        support = self.found[0]
        on_support = np.zeros(len(self.remaining), dtype=bool)
        on_support[support.voxels] = True
        facing_up = np.abs(self.normals @ up) >= self.min_cos
        candidates = np.flatnonzero(on_support | (facing_up & self.remaining))
        points = self.centroids[candidates]
        pairs = cKDTree(points).query_pairs(1.5 * self.cell, output_type="ndarray")
        if len(pairs) == 0:
            return
        step = np.abs((points[pairs[:, 0]] - points[pairs[:, 1]]) @ up)
        pairs = pairs[step <= self.distance]
        seeded = on_support[candidates]
        carries = np.ones(len(candidates), dtype=bool) if variation is None else (
            seeded | (variation[candidates] <= rough_above(np.median(variation[support.voxels])))
        )
        carrying = pairs[carries[pairs[:, 0]] & carries[pairs[:, 1]]]
        graph = coo_matrix((np.ones(len(carrying)), (carrying[:, 0], carrying[:, 1])), shape=(len(points),) * 2)
        _, component = connected_components(graph, directed=False)
        reached = carries & np.isin(component, np.unique(component[seeded]))
        # A rough voxel is reached from a carrying one beside it, and goes no further.
        leaves = np.concatenate([pairs[reached[pairs[:, 0]], 1], pairs[reached[pairs[:, 1]], 0]])
        reached[leaves] = True
        grown = candidates[reached & ~seeded]
        if len(grown):
            self.remaining[grown] = False
            self.found[0] = Plane(support.normal, support.offset, np.concatenate([support.voxels, grown]))

    def set_apart(self, apart: np.ndarray) -> None:
        """Take the voxels ``apart`` (a mask) out of their planes: something lying in a plane (a picture
        on a wall), an object of its own that :meth:`drop_flat` never takes for the plane's flat noise."""
        self.apart |= apart
        self.found = [Plane(plane.normal, plane.offset, plane.voxels[~apart[plane.voxels]]) for plane in self.found]

    def bounds_scan(self, normal: np.ndarray, offset: float, patches: np.ndarray) -> bool:
        """Whether the plane of the large ``patches`` (voxel indices) is structure (:data:`BOUNDING_SHARE`):
        always with the test off, before a support is found (unless ``up`` was given) or for a plane along
        the support (horizontal); a plane across it when it stands upright (:meth:`leans`, with a support),
        and either one of its patches is wider along it than the largest object (``max_size``) or at most
        that share of the voxels within its span lie beyond it (and, once every plane is found, no wall
        stands behind it: :meth:`fronts_before_walls`).

        A patch wider than any object is no object's face, whatever lies beyond it: in a scan of several
        rooms (an apartment, a room seen through its door into the next) the wall between two rooms has a
        whole room beyond it (two copies of a bedroom side by side: 19 of their 76 objects found with this,
        15 without, 14 of 38 alone; docs/scenes-segmentation-log.md, stop 76)."""
        up = self._tested_up()
        if up is None or self._horizontal(normal, up):
            return True
        if self.has_support and self.leans(normal, patches):
            return False
        return self.wider_than_objects(normal, patches, up) or (
            self.beyond_share(normal, offset, patches, up) <= BOUNDING_SHARE
        )

    def fronts_before_walls(self) -> None:
        """Give back to the scan each upright plane removed as a wall (:meth:`bounds_scan`) that has another
        one standing behind it (:meth:`wall_behind`), once every plane is found: in a scan seen from one
        place, a television standing on a desk before a wall hides the wall behind it, so nothing lay behind
        its face within its span and the face bounded the scan as a wall does. The wall seen beside it says
        the scan goes on behind the face (frames of ScanNet's scene0006: a television's best IoU 0.06, 0.96
        with this). Judged once all are found, since planes are found largest first and a television can
        show more of itself than the wall does beside it. A patch wider than any object stays structure."""
        up = self._tested_up()
        if self.viewpoint is None or up is None:
            return
        walls = []
        for plane in self.found:  # the support lies along up: never upright
            upright = not self._horizontal(plane.normal, up)
            if upright and not self.wider_than_objects(plane.normal, plane.voxels, up) and self.wall_behind(plane, up):
                self.remaining[plane.voxels] = True
                self.searchable[plane.voxels] = False
            else:
                walls.append(plane)
        self.found = walls

    def fronts_room_by_room(self) -> None:
        """Judge again, room by room, each upright plane passed over as a face of an object (:meth:`bounds_scan`)
        whose patches a wall parts: each room's patches are removed where they bound the scan on their own span.

        A plane through several rooms holds a patch in each where their walls share a line (an apartment, rooms
        side by side). Judged together, the patches' span reaches across the wall between the rooms, whose
        voxels lie beyond the plane there, and every room's wall stays as a front: the alcove wall of ScanNet's
        scene0006 laid out twice side by side has 13 % of the voxels within its joint span beyond it, 1-3 %
        within either room's. A wall found across the plane's line, reaching it, parts the rooms, and each
        patch goes to the room of its middle voxel along the line (the one holding most of it). The patches of one room are never parted: two curtains side
        by side before a window stay a front, as before (docs/scenes-segmentation-log.md, stop 101)."""
        up = self._tested_up()
        if up is None:
            return
        walls = [wall for wall in self.found if not self._horizontal(wall.normal, up)]
        for front in self.fronts:
            voxels = front.voxels[self.remaining[front.voxels]]  # a later plane may have taken some
            if len(voxels) < 3:
                continue
            along = _along_upright(front.normal, up)
            between = np.sort([float(np.median(self.centroids[wall.voxels] @ along)) for wall in walls
                               if abs(wall.normal @ along) >= self.min_cos and self._reaches(wall, front)])
            patch, count = self._patches(self._in_plane(voxels, front.normal))
            room = np.searchsorted(between, self.centroids[voxels] @ along)
            rooms = median_by(room, patch - 1, count).round().astype(int)[patch - 1]
            if len(np.unique(rooms)) < 2:
                continue
            for each in np.unique(rooms):
                in_room = voxels[rooms == each]
                if self.bounds_scan(front.normal, front.offset, in_room):
                    self.remaining[in_room] = False
                    self.found.append(Plane(front.normal, front.offset, in_room))

    def _reaches(self, wall: Plane, front: Plane) -> bool:
        """Whether ``wall`` reaches the plane of ``front``: its voxels' robust range along the front's normal
        comes within two plane distances of it."""
        low, high = robust_range(self.centroids[wall.voxels] @ front.normal)
        return low - self.band <= front.offset <= high + self.band

    def wall_behind(self, front: Plane, up: np.ndarray) -> bool:
        """Whether another upright plane found, parallel to ``front`` (within the normal angle), lies more
        than two plane distances and at most ``max_size`` (the deepest object) beyond it, on its side away
        from the sensor (``viewpoint``, which a scan seen from one place has; a reconstruction, seen from
        all round, holds the wall behind a front within the front's span, where :meth:`beyond_share`
        counts it)."""
        normal, offset = front.normal, front.offset
        away = -1.0 if float(self.viewpoint @ normal) >= offset else 1.0
        for plane in self.found:
            if plane is front or self._horizontal(plane.normal, up) or abs(plane.normal @ normal) < self.min_cos:
                continue
            depth = away * (float(np.median(self.centroids[plane.voxels] @ normal)) - offset)
            if self.band < depth <= self.max_size:
                return True
        return False

    def upright(self, normal: np.ndarray) -> bool:
        """Whether a plane of ``normal`` stands upright on the support (a wall, a front): across the support's
        normal beyond the normal angle. False without a support."""
        return self.has_support and not self._horizontal(normal, self.found[0].normal)

    def _horizontal(self, normal: np.ndarray, up: np.ndarray) -> bool:
        """Whether a plane of ``normal`` lies along the support (its normal within the normal angle of
        ``up``: a floor, a ceiling, a top); otherwise it stands across it (a wall, a front)."""
        return abs(float(normal @ up)) >= self.min_cos

    def _tested_up(self) -> np.ndarray | None:
        """The up across which planes are tested as walls (:meth:`bounds_scan`): the support's normal, else
        the given axis; ``None`` with the test off (:data:`BOUNDING_SHARE` 1) or neither known."""
        if BOUNDING_SHARE >= 1 or not (self.has_support or self.up is not None):
            return None
        return self.found[0].normal if self.has_support else self.up

    def wider_than_objects(self, normal: np.ndarray, patches: np.ndarray, up: np.ndarray) -> bool:
        """Whether one connected patch of ``patches`` (voxel indices; :meth:`_patches`) of an upright plane
        spans more than ``max_size`` along the plane across ``up`` (its robust extent: a few voxels with
        which it rounds a corner do not stretch it)."""
        along = self.centroids[patches] @ _along_upright(normal, up)
        patch, count = self._patches(self._in_plane(patches, normal))
        return any(np.ptp(robust_range(along[patch == k])) > self.max_size for k in range(1, count + 1))

    def folded_sheet(self, normal: np.ndarray, patches: np.ndarray) -> bool:
        """Whether an upright plane of ``patches`` (voxel indices) that bounds a reconstruction is a sheet hanging
        in folds (a curtain before a window), not a wall: its voxels' normals turn off its ``normal`` by more, at
        the median, than 99 % of the support's voxels' normals turn off the support's (:data:`RAYLEIGH_99` times
        their median angle, the law of a flat surface's noisy normals). A wall is built flat and reconstructed as
        smoothly as the floor; a curtain's folds turn its normals by 20 degrees and more at the median (ScanNet's
        scene0006: its curtains 19.7 and 22.3 degrees, its walls and door 4.8-8.8, its floor 5.2).

        Only in a reconstruction (no ``viewpoint``) with a support and the bounding test on: in a camera's frame
        the noise grows with range, so a far wall's normals stray further than the nearer support's (tried there,
        the frames found fewer objects: docs/scenes-segmentation-log.md, stop 115)."""
        up = self._tested_up()
        if self.viewpoint is not None or not self.has_support or up is None or self._horizontal(normal, up):
            return False
        support = self.found[0]
        flat = float(np.median(self._turns(support.voxels, support.normal)))
        return float(np.median(self._turns(patches, normal))) > RAYLEIGH_99 * flat

    def add_sheets(self, objects: np.ndarray) -> None:
        """Give each connected patch of each of ``sheets`` (:meth:`folded_sheet`) a new object id in ``objects`` (in
        place): a curtain is an object of its own, not one with what stands before it, and two curtains drawn
        apart are two."""
        for sheet in self.sheets:
            patch, _ = self._patches(self._in_plane(sheet.voxels, sheet.normal))
            objects[sheet.voxels] = objects.max(initial=-1) + patch

    def in_sheets(self) -> np.ndarray:
        """A mask over the voxels: those of the ``sheets`` (:meth:`folded_sheet`)."""
        mask = np.zeros(len(self.centroids), dtype=bool)
        for sheet in self.sheets:
            mask[sheet.voxels] = True
        return mask

    def drop_folds(self, objects: np.ndarray, reach: float) -> None:
        """Make background the objects (other than the sheets' own: :meth:`add_sheets`) that touch a sheet (one voxel
        within ``reach``, the cluster distance) and have :data:`_FLAT_SHARE` of their voxels within two plane
        distances of it: the folds of a curtain that reach past its plane's band, as :meth:`drop_flat` takes
        what lies flat against a wall. Kept, they came out as false segments or joined two curtains."""
        if not self.sheets:
            return
        sheet_ids = np.unique(objects[self.in_sheets()])
        labelled = np.flatnonzero((objects >= 0) & ~np.isin(objects, sheet_ids))
        ids, members = np.unique(objects[labelled], return_inverse=True)
        voxels = np.bincount(members, minlength=len(ids))
        folds = np.zeros(len(ids), dtype=bool)
        for sheet in self.sheets:
            in_band = self._in_band_touching(sheet, self.centroids[labelled], members, len(ids), self.band, reach)
            folds |= np.bincount(members, in_band, len(ids)) >= _FLAT_SHARE * voxels
        objects[np.isin(objects, ids[folds])] = -1

    def leans(self, normal: np.ndarray, patches: np.ndarray) -> bool:
        """Whether the plane of ``patches`` (voxel indices), across the support, leans off the support's
        perpendicular by more than can be told from noise, and less than 45 degrees.

        Walls are built plumb, and a reconstruction's drift tilts its floor with them: a wall stands
        perpendicular to the support within the noise. A plane leaning further is no wall. Where a scan ends
        in the middle of furniture (a partial scan, a frame's edge), RANSAC finds such planes through the
        cut-off beds and sofas, with nothing beyond them. Within the noise means within either of two limits:

        - the scatter of the support's own voxel normals about its plane (:data:`RAYLEIGH_99` times their
          median angle);
        - the lean by which the plane stays within its band (two plane distances) over the patches' robust
          height (:func:`.scan_checks.robust_range`).

        A plane nearer level than upright (a sloped ceiling) is judged as walls are: it is not tested.
        """
        support = self.found[0]
        tilt = math.asin(min(1.0, abs(float(normal @ support.normal))))
        if tilt >= math.pi / 4:
            return False
        scatter = self._turns(support.voxels, support.normal)
        low, high = robust_range(self.centroids[patches] @ support.normal)
        resolved = math.atan2(self.band, max(high - low, 0.0))
        return tilt > max(RAYLEIGH_99 * float(np.median(scatter)), resolved)

    def beyond_share(
        self, normal: np.ndarray, offset: float, patches: np.ndarray, up: np.ndarray, widen: float = 0.0
    ) -> float:
        """Share of the scan's voxels within the span of ``patches`` (their robust extent across ``up``:
        :data:`BOUNDING_SHARE`, widened by ``widen`` times itself on each side) that lie more than two plane
        distances beyond the plane: for an upright plane, the span along it and its side away from the sensor
        where the scan has one (``viewpoint``), else its side holding fewer of them (behind a wall); for a
        horizontal one, the span in both directions and below it (under a floor).

        Seen from a sensor, a wall has nothing beyond its far side, and the front of a piece of furniture has
        the room behind it. Its near side can be as empty: a camera's frame ends below the nearest furniture,
        with nothing in front of it in view, and the side holding fewer would take its front for a wall."""
        horizontal = self._horizontal(normal, up)
        if horizontal:
            across = self.centroids @ plane_basis(up).T
        else:
            across = (self.centroids @ _along_upright(normal, up))[:, None]
        within = np.ones(len(self.centroids), dtype=bool)
        for column in across.T:
            low, high = robust_range(column[patches])
            margin = widen * (high - low)
            within &= (column >= low - margin) & (column <= high + margin)
        signed = self.centroids[within] @ normal - offset
        band = self.band
        if horizontal:
            beyond = (np.sign(normal @ up) * signed < -band).sum()
        elif self.viewpoint is not None:
            near_side = 1.0 if float(self.viewpoint @ normal) >= offset else -1.0
            beyond = (near_side * signed < -band).sum()
        else:
            beyond = min((signed > band).sum(), (signed < -band).sum())
        return float(beyond / max(1, within.sum()))

    def give_back(self, objects: np.ndarray) -> None:
        """Give an object the plane voxels it stands on or leans against, by region growing.

        A plane voxel is part of an object, not of the plane, when it lies off the plane by
        more than the plane's own noise (three robust standard deviations of its voxels'
        distances) and is reached from the object through such voxels, one voxel at a time.
        """
        raised = []
        for plane in self.found:
            height = np.abs(self.centroids[plane.voxels] @ plane.normal - plane.offset)
            noise = 1.4826 * np.median(height)  # the median absolute deviation of the plane's voxels
            raised.append(plane.voxels[height > max(3 * noise, self.voxel_size / 4)])
        candidates = np.unique(np.concatenate(raised)) if raised else np.empty(0, dtype=np.int64)
        reach = 1.5 * self.voxel_size
        while len(candidates):
            owners = np.flatnonzero(objects >= 0)
            if len(owners) == 0:
                return
            gap, nearest = cKDTree(self.centroids[owners]).query(
                self.centroids[candidates], distance_upper_bound=reach
            )
            reached = np.isfinite(gap)
            if not reached.any():
                return
            objects[candidates[reached]] = objects[owners[nearest[reached]]]
            candidates = candidates[~reached]

    def give_tops(self, objects: np.ndarray, up: np.ndarray, reach: float, max_size: float) -> None:
        """Give each patch of a removed horizontal plane that is not the scan's ceiling (a bed's top, a
        desk's) to the objects that hold it up, joined into one with it.

        Removing such a top separates what lies on it (pillows on a bed, a lamp on a desk) and what stands
        by it; what is left of the furniture are its sides and legs, in pieces. An object holds a patch up
        when it has a voxel within ``reach`` (the cluster distance) of the patch and its robust top
        (:func:`.scan_checks.robust_range` of its heights) lies within the plane's distance above the
        patch's level: a bed's sides, a desk's legs, not the pillow on it or the chair whose back rises
        beside it. An object touching the patch that is its relief (:func:`.geometry.rises_smoothly`: a
        fold of the duvet, the surface going on from the patch without an edge) joins too: it is the same
        surface as the top, which removing the top cut off. An object that holds the furniture's side together
        with what lies on the top (a pillow flush with a bed's end) is cut at the patch's level, and the side
        holds the patch up (:meth:`_sides_under`). A plane with at most :data:`BOUNDING_SHARE` of the
        scan's voxels above it bounds the scan from above, as a ceiling does, and stays removed; so does one
        with as few below it, a floor (where a bed's top is the support, the floor round the bed: its own
        ragged pieces lying in it hold it up by the test above, and with them it came out as an object); so
        does a patch that nothing holds up, or whose joined object would be larger than ``max_size`` (m): no
        one piece of furniture. ``up`` points from the support to the scan standing on it.

        The support can be such a top: a camera beside a bed sees the bed's top as the largest plane facing up
        and the floor round it too little to be one (a virtual frame of ScanNet's scene0006: 16,462 voxels of
        the beds' tops, 807 of floor, 17 % of the scan's voxels under them); the top still gives the up
        direction. Where the scan's up axis was given (gravity), the support is judged by the same test as the
        other planes, on the whole scan: a camera at a bed's foot sees the floor before the bed, beyond the
        top's span, and the bed's side at its rim (the same frame sampled to 50,000 points, whose support is one
        bed's top: 4.5 % of the voxels within its span under it, 16 % of the scan's). Without an axis, up is
        the support's own normal, and the support may be a wall the camera faces, beyond whose plane a room goes
        on (7 % of a frame of scene0006 lay behind such a wall, which then took its pictures as what held it
        up; that frame's camera stood behind the wall, past which the bedroom lay, until the benchmark took
        its frames from where a person stands at stop 114); there it is a top when more of the voxels within
        its span than :data:`BOUNDING_SHARE` lie under it.
        """
        owners = np.flatnonzero(objects >= 0)
        if not self.has_support or len(owners) == 0:
            return
        heights = self.centroids @ up
        tree = cKDTree(self.centroids[owners])  # once: a top held up by another top alone (rare) stays apart
        support = self.found[0]  # beyond_share counts below it along up, whichever way its normal points
        top = len(support.voxels) > 0 and (self.up is not None or self.beyond_share(*support, up) > BOUNDING_SHARE)
        for plane in self.found if top else self.found[1:]:
            if not self._horizontal(plane.normal, up) or len(plane.voxels) == 0:
                continue
            level, above, below = self._level_shares(plane, heights)
            if min(above, below) <= BOUNDING_SHARE:  # a ceiling, or a floor below the support
                continue
            patch, count = self._patches(self._in_plane(plane.voxels, plane.normal))
            for number in range(1, count + 1):
                free = plane.voxels[(patch == number) & (objects[plane.voxels] < 0)]
                if len(free) == 0:
                    continue
                near = tree.query_ball_point(self.centroids[free], reach)
                contact = owners[np.unique(np.concatenate(near).astype(np.int64))]  # objects' voxels touching it
                touching = np.unique(objects[contact])
                holding = [object_id for object_id in touching if self._holds(objects == object_id, heights, level)]
                # ... the patch's own relief, which holds nothing up: a fold of a duvet on a bed ...
                relief = [
                    object_id for object_id in touching if object_id not in holding
                    and rises_smoothly(contact[objects[contact] == object_id], self.normals, up, self.min_cos)
                ]  # fmt: skip
                # ... and the sides of the furniture held in one object with what lies on the top.
                outline = np.concatenate([free, np.flatnonzero(np.isin(objects, holding))])
                taken = holding + relief
                lying = [object_id for object_id in touching if object_id not in taken]
                sides = self._sides_under(objects, lying, outline, contact, heights, level, reach, up)
                if not holding and not sides:
                    continue
                joined = np.concatenate([outline, np.flatnonzero(np.isin(objects, relief)), *sides])
                if self._wider(joined, max_size):
                    continue
                objects[joined] = holding[0] if holding else objects.max() + 1
                self.tops_given.append((free, level))

    def hold_tops(self, objects: np.ndarray, up: np.ndarray, reach: float, max_size: float) -> None:
        """Join to each top that :meth:`give_tops` gave back the objects that hold it up once later steps have
        cut them from what rose above it: a bed's side held in one object with the night stand beside it, taller
        than the bed, held nothing up; the colour split (:mod:`.colour_split`) parts the two, and the side holds
        the top up. The test is :meth:`give_tops`' own: an object with a voxel within ``reach`` of the top's
        patch whose robust top lies within the plane distance above its level. The top's object is the one
        holding most of the patch; a join wider than ``max_size`` (m) is not made. ``up`` points from the support
        to the scan standing on it."""
        heights = self.centroids @ up
        for patch, level in self.tops_given:
            owners = objects[patch]
            if not (owners >= 0).any():
                continue
            top = np.bincount(owners[owners >= 0]).argmax()
            others = np.flatnonzero((objects >= 0) & (objects != top))
            if len(others) == 0:
                continue
            near = cKDTree(self.centroids[others]).query_ball_point(self.centroids[patch], reach)
            contact = others[np.unique(np.concatenate(near).astype(np.int64))]
            for object_id in np.unique(objects[contact]):
                members = objects == object_id
                if self._holds(members, heights, level) and not self._wider(
                    np.flatnonzero(members | (objects == top)), max_size
                ):
                    objects[members] = top

    def _holds(self, members: np.ndarray, heights: np.ndarray, level: float) -> bool:
        """Whether an object (``members``, a mask of its voxels; ``heights``, every voxel's along up) touching a top
        at ``level`` holds it up: its robust top (:func:`.scan_checks.robust_range`) lies within the plane distance
        above the level."""
        return bool(robust_range(heights[members])[1] <= level + self.distance)

    def _wider(self, voxels: np.ndarray, max_size: float) -> bool:
        """Whether ``voxels`` (indices) span more than ``max_size`` (m) along some axis: no one piece of furniture."""
        return bool(np.ptp(self.centroids[voxels], axis=0).max() + self.voxel_size > max_size)

    def raised_top(self, up: np.ndarray) -> tuple[int, float] | None:
        """The horizontal top raised off the floor whose objects a camera's frame may cut too coarsely, as the
        index of its plane in :attr:`found` and its level along ``up`` (pointing from the support to the scan
        standing on it; its voxels' median height); ``None`` where there is none. A top is raised where more than
        :data:`BOUNDING_SHARE` of the scan's voxels lie below its band of two plane distances (as
        :meth:`give_tops` tells a floor). It is the support where that is raised (a table's top, a bed's), else
        the largest other horizontal plane that is (a table seen from farther away, the floor round it the
        largest plane).

        Seen from a camera above a table, the floor under the table is hidden by it; the floor, the legs and the
        room seen beside and beyond it lie below its level (more than half of the voxels of the mOSD table tops
        with the room round them); the room's floor has nothing under it."""
        heights = self.centroids @ up
        support = [0] if self.has_support else []
        others = [
            index for index, plane in enumerate(self.found)
            if index not in support and self._horizontal(plane.normal, up)
        ]  # fmt: skip
        candidates = support + sorted(others, key=lambda index: -len(self.found[index].voxels))
        for index in candidates:
            if len(self.found[index].voxels) == 0:
                continue
            level, _, below = self._level_shares(self.found[index], heights)
            if below > BOUNDING_SHARE:
                return index, level
        return None

    def support_level(self, up: np.ndarray) -> float | None:
        """The support's level along ``up``: its voxels' median height; ``None`` without a support."""
        if not self.has_support or len(self.found[0].voxels) == 0:
            return None
        return float(np.median(self.centroids[self.found[0].voxels] @ up))

    def _level_shares(self, plane: Plane, heights: np.ndarray) -> tuple[float, float, float]:
        """The level of a horizontal ``plane`` along up (its voxels' median ``heights``), and the shares of the
        scan's voxels more than the band above it and below it."""
        level = float(np.median(heights[plane.voxels]))
        return level, float((heights > level + self.band).mean()), float((heights < level - self.band).mean())

    def _sides_under(
        self, objects: np.ndarray, lying: list, outline: np.ndarray, contact: np.ndarray, heights: np.ndarray,
        level: float, reach: float, up: np.ndarray,
    ) -> list[np.ndarray]:
        """The voxels of furniture under a top at ``level`` held in one object with what lies on the top: a
        pillow at a bed's head lies flush with the bed's end, and the two are one object that neither holds the
        top up nor is its relief. Each of the objects ``lying`` (touching the top) is cut at the level when
        most of its voxels above it (beyond the plane distance) lie over the ``outline`` seen along ``up``
        (the top's voxels and those of what holds it up): what lies on a top lies over the furniture, and a
        chair's back rising by a desk's edge does not. What is cut off are its voxels up to that height in
        the pieces (joined within ``reach``) that touch the top (``contact``) and reach under the top's band
        of two plane distances, as a side does; the lowest rim of what lies on the top does not."""
        basis = plane_basis(up)
        flat_outline, sides = self.centroids[outline] @ basis.T, []
        for object_id in lying:
            voxels = np.flatnonzero(objects == object_id)
            up_to_level = heights[voxels] <= level + self.distance
            if up_to_level.all() or not up_to_level.any():
                continue
            outside = outside_hull(flat_outline, self.centroids[voxels[~up_to_level]] @ basis.T)
            if outside is None or (outside <= 0).mean() < 0.5:
                continue
            low = voxels[up_to_level]
            pairs = cKDTree(self.centroids[low]).query_pairs(reach, output_type="ndarray")
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(low),) * 2)
            _, piece = connected_components(graph, directed=False)
            under = heights[low] < level - self.band
            side = low[np.isin(piece, np.intersect1d(piece[np.isin(low, contact)], piece[under]))]
            if len(side):
                sides.append(side)
        return sides

    def normal_noise(self) -> float:
        """Median angle (radians) between the normals of the removed planes' voxels and their plane's:
        how noisy the scan's normals are on surfaces known to be flat (0 without planes)."""
        if not self.found:
            return 0.0
        return float(np.median(np.concatenate([self._turns(plane.voxels, plane.normal) for plane in self.found])))

    def drop_flat(self, objects: np.ndarray, reach: float, up: np.ndarray | None = None) -> None:
        """Make background the objects lying in a plane: its ragged edges and the noise on it.

        An object lies in a plane when it touches the plane's voxels (one within ``reach``, the cluster
        distance) and :data:`_FLAT_SHARE` of its voxels lie in that one plane's band. The band runs on beyond
        the plane's patches: a coffee table metres from a raised floor, its top at the floor's level, lies in
        that floor's band and is neither its edge nor noise on it. Bands of several planes are not pooled, since
        together they cover a room's corners and the space above its furniture tops, where objects stand (a lamp
        on a night stand against a wall). With ``up``, the band of a wall (a plane that is not horizontal) is
        twice as thick: walls of reconstructed rooms bulge, and what lies flat against one is trim, not an
        object. What lies at the support's level, facing along it (:meth:`_on_support_level`), counts as lying
        in each plane: it is floor, also where it meets a wall; an object with most of its voxels there is floor
        as well, whatever else it holds (a stretch of floor the support's growth did not reach, with a wall's or
        a chair's foot in it), since no object it might hold can be most of it. An object set apart by its
        colour (:meth:`set_apart`) that lies in the bands of two planes is where they meet, its voxels' colour a
        mix of theirs (a wall's foot on a floor of another colour). With ``up`` and a support, an object that is
        a flat sheet and bounds the scan as a wall or a floor does (:meth:`_structure_pieces`) is a piece of
        structure that no removed plane reached.
        """
        labelled = np.flatnonzero(objects >= 0)
        ids, members = np.unique(objects[labelled], return_inverse=True)
        voxels = np.bincount(members, minlength=len(ids))
        free, centroids = ~self.apart[labelled], self.centroids[labelled]
        level = self._on_support_level()[labelled] & free
        level_voxels = np.bincount(members, level, len(ids))
        flat_share = level_voxels / voxels
        bands_holding = np.zeros(len(labelled), dtype=np.int64)
        for plane in self.found:
            upright = up is not None and not self._horizontal(plane.normal, up)
            band = self.band if upright else self.distance
            in_band = self._in_band_touching(plane, centroids, members, len(ids), band, reach)
            bands_holding += in_band
            flat_share = np.maximum(flat_share, np.bincount(members, level | (in_band & free), len(ids)) / voxels)
        # Voxels set apart by colour where two planes meet hold points of both: their colour is the mix.
        seam_share = np.bincount(members, ~free & (bands_holding >= 2), len(ids)) / voxels
        # Mostly floor, with the foot of something standing in it: no object is most of it.
        flat = (flat_share >= _FLAT_SHARE) | (seam_share >= _FLAT_SHARE) | (2 * level_voxels > voxels)
        dropped = ids[flat]
        if self.has_support and up is not None:
            dropped = np.concatenate([dropped, self._structure_pieces(objects, ids[~flat])])
        objects[np.isin(objects, dropped)] = -1

    def _turns(self, voxels: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """The angle (radians) between each of ``voxels``' normals and ``normal``, either way round."""
        return np.arccos(np.clip(np.abs(self.normals[voxels] @ normal), 0.0, 1.0))

    def _in_band_touching(
        self, plane: Plane, centroids: np.ndarray, members: np.ndarray, count: int, band: float, reach: float
    ) -> np.ndarray:
        """Which voxels (their ``centroids``; ``members``: their object's index, of ``count``) lie within ``band`` of
        ``plane`` and belong to an object touching its voxels (one within ``reach``)."""
        touching = np.zeros(count, dtype=bool)
        if len(plane.voxels):
            gap, _ = cKDTree(self.centroids[plane.voxels]).query(centroids, distance_upper_bound=reach)
            touching[members[np.isfinite(gap)]] = True
        return (np.abs(centroids @ plane.normal - plane.offset) <= band) & touching[members]

    def _structure_pieces(self, objects: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The ``candidates`` (object ids) that are pieces of structure: a sheet no thicker than
        :data:`~.geometry.SHEET` voxels (the standard deviation of their voxels across their own plane) that bounds
        the scan within its span widened by :data:`_BESIDE` (:meth:`beyond_share` at most
        :data:`BOUNDING_SHARE`, with the support's normal as up): nothing behind it, as behind a wall, or
        below it, as below a floor. A wall or a floor seen in patches smaller than ``min_plane_area``
        between furniture, or beside a nearer object in a camera's frame, is such; a furniture front has
        the wall it stands against behind it, a table's top its legs and the floor below it, and an
        object's visible surface bends."""
        up = self.found[0].normal
        order = np.argsort(objects, kind="stable")
        starts = np.searchsorted(objects[order], candidates)
        ends = np.searchsorted(objects[order], candidates, side="right")
        pieces = []
        for object_id, start, end in zip(candidates, starts, ends):
            voxels = order[start:end]
            if len(voxels) < 3 or self.apart[voxels].any():
                continue
            points = self.centroids[voxels]
            centre = points.mean(axis=0)
            variance, axes = np.linalg.eigh(np.cov((points - centre).T))
            if math.sqrt(max(variance[0], 0.0)) > SHEET * self.voxel_size:
                continue
            normal = axes[:, 0]
            if self.beyond_share(normal, float(normal @ centre), voxels, up, _BESIDE) <= BOUNDING_SHARE:
                pieces.append(object_id)
        return np.array(pieces, dtype=candidates.dtype)

    def _on_support_level(self) -> np.ndarray:
        """Voxels facing along the support (within the normal angle) whose height over its plane lies in
        the robust range of the support's own voxels' heights (:func:`.scan_checks.robust_range`); none
        without planes. The support grown over a floor that sags spans heights its plane's band does
        not; a stretch of that floor the growth did not reach (cut off by furniture standing on it, seen
        beyond it in a camera's frame) is floor all the same."""
        if not self.has_support or len(self.found[0].voxels) == 0:
            return np.zeros(len(self.centroids), dtype=bool)
        support = self.found[0]
        height = self.centroids @ support.normal - support.offset
        low, high = robust_range(height[support.voxels])
        return (height >= low) & (height <= high) & (np.abs(self.normals @ support.normal) >= self.min_cos)

    def _within(
        self, normal: np.ndarray, offset: float, centroids: np.ndarray, voxel_normals: np.ndarray
    ) -> np.ndarray:
        """Which voxels (their ``centroids`` and ``voxel_normals``) lie in the plane's band, facing along it."""
        near = np.abs(centroids @ normal - offset) <= self.distance
        return near & (np.abs(voxel_normals @ normal) >= self.min_cos)

    def _in_plane(self, voxels: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """The 2-D coordinates ``(n, 2)`` of ``voxels`` in the plane of ``normal``."""
        return self.centroids[voxels] @ plane_basis(normal).T

    def _patches(self, flat: np.ndarray) -> tuple[np.ndarray, int]:
        """The connected patch (1..count) of each voxel at ``flat`` (:meth:`_in_plane`), and how many:
        8-connected cells on a grid in the plane, two voxel spacings wide (:meth:`_large_patches`)."""
        cells = np.floor(flat / self.cell).astype(np.int64)
        low, high = column_bounds(cells)
        cells -= low
        grid = np.zeros(high - low + 1, dtype=bool)
        grid[cells[:, 0], cells[:, 1]] = True
        patches, count = ndimage.label(grid, structure=np.ones((3, 3)))
        return patches[cells[:, 0], cells[:, 1]], count

    def _large_patches(
        self, voxels: np.ndarray, normal: np.ndarray, min_area: float, together: bool = False
    ) -> np.ndarray:
        """The ``voxels`` in connected patches of at least ``min_area`` square metres, seen along the normal;
        with ``together``, all of them where no patch covers that much but all of them together do.

        Patches are 8-connected cells on a grid in the plane, two voxel spacings wide, so that a sparse
        scan's patch does not fall apart between its points. A patch's area is measured on the finer
        grid of the voxels: the voxel-sized squares of the plane its voxels fall in. Counted in cells, a
        cell on the rim would count whole, and a sparser scan of the same plane (wider cells) would
        measure a larger patch: at half the points, a coffee table's top came out as large as a wall.
        """
        flat = self._in_plane(voxels, normal)
        patch, count = self._patches(flat)
        squares = np.floor(flat / self.voxel_size).astype(np.int64)
        low, high = column_bounds(squares)
        squares -= low
        rows, columns = high - low + 1
        covered = np.unique((patch * rows + squares[:, 0]) * columns + squares[:, 1]) // (rows * columns)
        area = np.bincount(covered, minlength=count + 1) * self.voxel_size**2
        large = area[patch] >= min_area
        if together and not large.any() and area.sum() >= min_area:
            return voxels
        return voxels[large]


def _along_upright(normal: np.ndarray, up: np.ndarray) -> np.ndarray:
    """The unit direction along an upright plane of ``normal`` and across ``up``: its span's axis."""
    direction = np.cross(up, normal)
    return direction / np.linalg.norm(direction)


def _fitted(points: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least-squares plane through ``points``, its normal oriented like ``guess``; ``None`` for fewer than three."""
    if len(points) < 3:
        return None
    # Coordinates as contiguous rows: numpy reduces an (n, 3) array along its first axis several times slower,
    # and RANSAC fits planes of 100,000 voxels some 60 times on a million-point room.
    rows = np.ascontiguousarray(points.T)
    centre = rows.mean(axis=1)
    centred = rows - centre[:, None]
    normal = np.linalg.eigh(centred @ centred.T)[1][:, 0]
    normal = normal if normal @ guess >= 0 else -normal
    return normal, float(normal @ centre)
