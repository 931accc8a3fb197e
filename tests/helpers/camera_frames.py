"""Small synthetic camera frames rendered by ray casting: a camera at the origin looks along +z (y down,
as in an RGB-D frame) at a table top before a wall, with boxes standing on it and poles; or at a table
standing in a room, the floor seen beside it."""

from __future__ import annotations

import math

import numpy as np

TABLE_Y = 0.25  # the table's height below the camera (y points down)
STEP = 0.004  # radians between pixels: a coarse Kinect
WALL_Z = 1.5  # a wall behind the table, so that every ray meets something
GREY, RED, BLUE, GREEN = (0.5, 0.5, 0.5), (0.8, 0.2, 0.2), (0.2, 0.3, 0.8), (0.2, 0.7, 0.3)


def standing_box(centre_x, centre_z, half_x, half_z, height, colour, yaw=0.0, table_y=TABLE_Y):
    """A box standing on the table (``table_y`` below the camera), turned by ``yaw`` degrees about the vertical."""
    return ("box", np.array([centre_x, table_y - height / 2, centre_z]), np.array([half_x, height / 2, half_z]),
            math.radians(yaw), colour)  # fmt: skip


def standing_pole(centre_x, centre_z, radius, height, colour):
    return ("pole", np.array([centre_x, centre_z]), radius, height, colour)


def render_table_frame(
    things, seed=0, step=STEP, along_rays=False, rows=(-0.12, 0.2), room=None, pitch=0.0, table_y=TABLE_Y
):
    """Points ``(N, 6)`` (xyz, rgb) seen from the origin, one per ray ``step`` radians apart, and the index of
    the thing each point lies on (-1: the table, the floor or the wall). The depth noise moves each point off
    its ray, or with ``along_rays`` only along it, as a depth camera's does: its points stay on its pixels' rays.
    ``rows``: y / z of the highest and the lowest rays (by default the boxes are cut off above the table).
    ``room``: ``(columns, half_width, far, floor_y, wall_z)``, a table ``2 half_width`` wide ending ``far`` from
    the camera in a room whose floor lies ``floor_y`` below it and whose wall stands ``wall_z`` before it, seen
    by rays from x / z = ``-columns`` to ``columns``; by default a table 1.2 m wide reaching the wall at
    :data:`WALL_Z`, seen from -0.45 to 0.45. ``pitch``: degrees the camera looks down, turned about its x axis
    (``rows`` are then the image's, and the points stay in the camera's coordinates); ``table_y``: how far the
    table lies below the camera."""
    columns, half_width, far, floor_y, wall_z = (0.45, 0.6, WALL_Z, None, WALL_Z) if room is None else room
    u, v = np.meshgrid(np.arange(-columns, columns, step), np.arange(*rows, step))
    rays = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    camera_rays = rays
    down = math.radians(pitch)
    rays = rays @ np.array([[1, 0, 0], [0, math.cos(down), -math.sin(down)], [0, math.sin(down), math.cos(down)]])
    hit = np.where(rays[:, 1] > 0, table_y / np.maximum(rays[:, 1], 1e-9), np.inf)
    table_hit = rays * hit[:, None]
    hit[(np.abs(table_hit[:, 0]) > half_width) | (table_hit[:, 2] > far)] = np.inf  # the table's edges
    if floor_y is not None:
        hit = np.minimum(hit, np.where(rays[:, 1] > 0, floor_y / np.maximum(rays[:, 1], 1e-9), np.inf))
    hit = np.minimum(hit, wall_z / rays[:, 2])  # the wall behind it
    owner = np.full(len(rays), -1)
    for index, thing in enumerate(things):
        if thing[0] == "box":
            _, centre, half, yaw, _ = thing
            turn = np.array([[math.cos(yaw), 0, -math.sin(yaw)], [0, 1, 0], [math.sin(yaw), 0, math.cos(yaw)]])
            origin, direction = -centre @ turn.T, rays @ turn.T  # into the box's frame
            with np.errstate(divide="ignore", invalid="ignore"):
                near = np.nanmax(np.minimum((-half - origin) / direction, (half - origin) / direction), axis=1)
                far = np.nanmin(np.maximum((-half - origin) / direction, (half - origin) / direction), axis=1)
            distance = np.where((near <= far) & (near > 0), near, np.inf)
        else:
            _, (cx, cz), radius, height, _ = thing
            a = rays[:, 0] ** 2 + rays[:, 2] ** 2
            b = -2 * (rays[:, 0] * cx + rays[:, 2] * cz)
            c = cx**2 + cz**2 - radius**2
            root = np.sqrt(np.maximum(b * b - 4 * a * c, 0))
            distance = np.where(b * b - 4 * a * c >= 0, (-b - root) / (2 * a), np.inf)
            y = rays[:, 1] * distance
            distance[(y < table_y - height) | (y > table_y)] = np.inf
        closer = distance < hit
        hit[closer], owner[closer] = distance[closer], index
    seen = np.isfinite(hit)
    rng = np.random.default_rng(seed)
    if along_rays:
        xyz = camera_rays[seen] * (hit[seen] + rng.normal(0, 0.0005, seen.sum()))[:, None]
    else:
        xyz = camera_rays[seen] * hit[seen, None] + rng.normal(0, 0.0005, (seen.sum(), 3))
    colours = np.array([GREY] + [thing[-1] for thing in things])[owner[seen] + 1]
    colours = np.clip(colours + rng.normal(0, 0.01, colours.shape), 0, 1)
    return np.concatenate([xyz, colours], axis=1), owner[seen]
