"""Turning raw point clouds into encoder input, as the upstream OpenShape code does.

Per cloud: validate, centre on the point mean, scale into the unit ball, bring colours
to [0, 1] (constant 0.4 when absent), resample to a fixed number of points in random
order, and rotate the caller's gravity axis onto the model's. Batches are
``[B, 6, N]`` float32 arrays (xyz then rgb), the layout the encoder consumes;
:func:`prepare_batch_on_device` makes the same batch as a tensor on an accelerator.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np

from .config import UP_AXES, check_up_axis
from .io.contract import DEFAULT_NUM_POINTS, DEFAULT_RGB, rgb_to_unit

__all__ = [
    "UP_AXES",
    "CloudLike",
    "convert_up_axis",
    "normalize_xyz",
    "prepare_batch",
    "prepare_cloud",
    "preparation_settings",
    "resample_indices",
    "split_clouds",
    "validate_cloud",
]

if TYPE_CHECKING:
    import torch

# torch is not imported here: file reading (and the command line's help) must not pay for it.
CloudLike = Union[np.ndarray, "torch.Tensor"]


def split_clouds(clouds: CloudLike | Sequence[CloudLike]) -> tuple[list[np.ndarray], bool]:
    """Normalise the accepted input forms to a list of ``(N, C)`` arrays.

    Accepts one cloud ``(N, C)``, a batch ``(B, N, C)``, or a sequence of clouds of any
    sizes, as numpy arrays or torch tensors. Returns the clouds and whether the input was
    torch (so that the output can be, too).
    """
    if isinstance(clouds, np.ndarray) or _is_tensor(clouds):
        is_torch = _is_tensor(clouds)
        array = _cloud_values(clouds, "clouds")
        if array.ndim == 2:
            return [array], is_torch
        if array.ndim == 3:
            return list(array), is_torch
        raise ValueError(
            f"expected one cloud (N, C), a batch (B, N, C) or a list of clouds; got an array of shape {array.shape}"
        )
    if isinstance(clouds, Sequence) and not isinstance(clouds, (str, bytes)):
        if len(clouds) == 0:
            raise ValueError("no point clouds given")
        is_torch = _is_tensor(clouds[0])
        arrays = []
        for i, cloud in enumerate(clouds):
            if not (isinstance(cloud, np.ndarray) or _is_tensor(cloud)):
                raise ValueError(f"cloud {i} is a {type(cloud).__name__}; pass numpy arrays or torch tensors")
            array = _cloud_values(cloud, f"cloud {i}")
            if array.ndim != 2:
                raise ValueError(f"cloud {i} has shape {array.shape}; each cloud must be (N, 3) or (N, 6)")
            arrays.append(array)
        return arrays, is_torch
    raise ValueError(f"cannot read point clouds from a {type(clouds).__name__}; pass arrays or tensors")


def _cloud_values(points, name: str) -> np.ndarray:
    """``points`` as a numpy array: a numpy array as it is, a torch tensor copied to the CPU.

    Raises a ``TypeError`` naming ``name`` for anything else (``None``, lists, strings), and for
    a tensor on torch's ``meta`` device, which has a shape but no values to copy.
    """
    if isinstance(points, np.ndarray):
        return points
    if _is_tensor(points):
        if points.device.type == "meta":
            raise TypeError(f"{name} is a torch tensor on the 'meta' device, which holds no values; pass real data")
        values = points.detach().cpu()
        # numpy has no bfloat16; float32 holds every bfloat16 value exactly.
        return (values.float() if values.dtype == sys.modules["torch"].bfloat16 else values).numpy()
    raise TypeError(
        f"{name} is a {type(points).__name__}; pass a numpy array or torch tensor of shape (N, 3) or (N, 6)"
        + (" (np.asarray(...) makes one from a list of rows)" if isinstance(points, (list, tuple)) else "")
    )


def _is_tensor(value) -> bool:
    """Whether ``value`` is a torch tensor; without torch imported, nothing can be one."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def validate_cloud(points: np.ndarray, index: int = 0, name: str | None = None) -> np.ndarray:
    """Check one ``(N, 3)`` / ``(N, 6)`` cloud and return it as float64 ``(N, 6)`` with rgb in [0, 1].

    Colours in [0, 1] are kept, colours in [0, 255] are divided by 255, absent colours
    become ``DEFAULT_RGB``. Refused with a ``ValueError`` naming the cloud (``name``, or
    ``cloud {index}``): other shapes, dtypes other than integers and floats (complex, bool,
    datetime, object), no points, non-finite values, colours out of range, and degenerate
    clouds (a single point, or all points identical), which have no shape to encode. Anything but a
    numpy array or a torch tensor with values is a ``TypeError`` naming the cloud.
    """
    name = name or f"cloud {index}"
    points = _cloud_values(points, name)
    if points.ndim != 2 or points.shape[1] not in (3, 6):
        raise ValueError(
            f"{name} has shape {points.shape}; expected (N, 3) xyz or (N, 6) xyz+rgb "
            f"(drop normals or other extra channels first)"
        )
    if points.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if points.dtype.kind not in "iuf":
        raise ValueError(f"{name} has dtype {points.dtype}; expected integers or floats")
    points = points.astype(np.float64)
    if not np.isfinite(points).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop those points first")
    xyz = points[:, :3]
    if len(xyz) == 1:
        raise ValueError(f"{name} has a single point; a shape needs some extent")
    if np.ptp(xyz, axis=0).max() == 0:
        raise ValueError(f"{name}: all points are identical ({len(xyz)} of them); a shape needs some extent")
    if points.shape[1] == 3:
        rgb = np.full_like(xyz, DEFAULT_RGB)
    else:
        rgb = rgb_to_unit(points[:, 3:])
        if rgb is None:
            raise ValueError(
                f"{name} has colours in [{points[:, 3:].min():g}, {points[:, 3:].max():g}]; "
                f"expected RGB in [0, 1] or in [0, 255]"
            )
    return np.concatenate([xyz, rgb], axis=1)


def normalize_xyz(xyz: np.ndarray, index: int = 0) -> np.ndarray:
    """Centre on the mean and scale so that the farthest point has norm 1.

    Coordinates are first divided by the largest absolute one, so that clouds of huge
    (1e300) or tiny (1e-300) magnitude neither overflow nor underflow on the way.
    """
    magnitude = np.abs(xyz).max()
    unit = xyz / magnitude if magnitude > 0 else xyz
    centred = unit - unit.mean(axis=0)
    scale = np.linalg.norm(centred, axis=1).max()
    if scale == 0:
        raise ValueError(f"cloud {index}: all points are identical; a shape needs some extent")
    return centred / scale


def resample_indices(num_in: int, num_out: int, rng: np.random.Generator) -> np.ndarray:
    """Random order of ``num_out`` indices: a permutation subset, or all points plus random duplicates."""
    if num_in >= num_out:
        return rng.permutation(num_in)[:num_out]
    extra = rng.integers(0, num_in, num_out - num_in)
    return rng.permutation(np.concatenate([np.arange(num_in), extra]))


def convert_up_axis(xyz: np.ndarray, data_up: str, model_up: str) -> np.ndarray:
    """Swap coordinate columns so the data's up axis lands on the model's up axis.

    This is the convention of upstream OpenShape (``pc[:, [0, 2, 1]]`` for Y-up data fed
    to the Z-up vitg14).
    """
    order = _up_axis_order(data_up, model_up)
    return xyz if order == [0, 1, 2] else xyz[:, order]


def _up_axis_order(data_up: str, model_up: str) -> list[int]:
    """Column order that swaps the data's up axis with the model's (the identity when they agree)."""
    data_up, model_up = check_up_axis(data_up, "data up axis"), check_up_axis(model_up, "model up axis")
    order = [0, 1, 2]
    a, b = UP_AXES.index(data_up), UP_AXES.index(model_up)
    order[a], order[b] = order[b], order[a]
    return order


def prepare_cloud(
    points: np.ndarray,
    rng: np.random.Generator,
    *,
    up_axis: str = "y",
    model_up_axis: str = "y",
    num_points: int = DEFAULT_NUM_POINTS,
    index: int = 0,
) -> np.ndarray:
    """One raw cloud -> ``(6, num_points)`` float32 encoder input (xyz in the unit ball, rgb in [0, 1])."""
    cloud = validate_cloud(np.asarray(points), index)
    xyz = convert_up_axis(normalize_xyz(cloud[:, :3], index), up_axis, model_up_axis)
    prepared = np.concatenate([xyz, cloud[:, 3:]], axis=1)[resample_indices(len(cloud), num_points, rng)]
    return np.ascontiguousarray(prepared.T, dtype=np.float32)


def prepare_batch(
    clouds: Sequence[np.ndarray],
    seed: int | None,
    *,
    up_axis: str = "y",
    model_up_axis: str = "y",
    num_points: int = DEFAULT_NUM_POINTS,
    first_index: int = 0,
) -> np.ndarray:
    """Several raw clouds -> ``[B, 6, num_points]`` float32 encoder input.

    Each cloud is resampled with its own generator seeded by ``seed``, so that its input
    depends only on the cloud and the seed, not on the other clouds or the batching.
    """
    return np.stack(
        [
            prepare_cloud(
                c,
                np.random.default_rng(seed),
                up_axis=up_axis,
                model_up_axis=model_up_axis,
                num_points=num_points,
                index=first_index + i,
            )
            for i, c in enumerate(clouds)
        ]
    )


def preparation_settings(
    *,
    up_axis: str,
    model_up_axis: str,
    seed: int | None,
    num_points: int = DEFAULT_NUM_POINTS,
    views: int = 1,
    rotate: bool = False,
) -> dict[str, object]:
    """Every preparation setting an embedding depends on, besides the model and the input file.

    The one definition behind the command line's HDF5 attributes and the benchmark's
    embedding-cache key: two embeddings with equal settings (and model and input) are equal.

    Args:
        up_axis: the gravity axis of the data.
        model_up_axis: the gravity axis the model was trained with.
        seed: the resampling seed.
        num_points: points per cloud fed to the encoder.
        views, rotate: test-time views of ``ShapeEncoder.embed``; named only when ``views > 1``,
            so that single-view settings stay as they were.
    """
    settings = {
        "up_axis": check_up_axis(up_axis, "up_axis"),
        "model_up_axis": check_up_axis(model_up_axis, "model_up_axis"),
        "seed": seed,
        "num_points": num_points,
        "rgb": DEFAULT_RGB,
        "fps_start": "point 0",
    }
    if views > 1:
        settings.update(views=views, rotate=rotate, fps_start="point 0, then random per extra view")
    return settings


def prepare_batch_on_device(
    clouds: Sequence[np.ndarray],
    seed: int | None,
    device: str | torch.device,
    *,
    up_axis: str = "y",
    model_up_axis: str = "y",
    num_points: int = DEFAULT_NUM_POINTS,
    first_index: int = 0,
) -> torch.Tensor:
    """:func:`prepare_batch` with its arithmetic batched on ``device``: ``[B, 6, num_points]`` float32 there.

    Validation, the colour rule and each cloud's resampling order are the host steps of
    :func:`prepare_batch`, with the same generators, so the result equals it (to float32
    rounding). The validated clouds go to the device through pinned memory without
    blocking, padded to the longest; centring, scaling, resampling and the axis swap
    then run for the whole batch at once, in float64 like the host path.
    """
    import torch  # here: file reading and the command line's help must not pay for it

    device = torch.device(device)
    order = _up_axis_order(up_axis, model_up_axis)
    validated = [validate_cloud(np.asarray(c), first_index + i) for i, c in enumerate(clouds)]
    pin = device.type == "cuda"
    counts = torch.tensor([len(c) for c in validated], dtype=torch.float64, pin_memory=pin)
    padded = torch.zeros(len(validated), int(counts.max()), 6, dtype=torch.float64, pin_memory=pin)
    resample = torch.empty(len(validated), num_points, dtype=torch.long, pin_memory=pin)
    for i, cloud in enumerate(validated):
        padded[i, : len(cloud)] = torch.from_numpy(cloud)
        resample[i] = torch.from_numpy(resample_indices(len(cloud), num_points, np.random.default_rng(seed)))
    padded, counts, resample = (t.to(device, non_blocking=True) for t in (padded, counts, resample))
    # As normalize_xyz: divide by the largest absolute coordinate first, so nothing overflows.
    magnitude = padded[..., :3].abs().amax(dim=(1, 2), keepdim=True)
    xyz = padded[..., :3] / magnitude.clamp_min(torch.finfo(torch.float64).tiny)
    centred = xyz - xyz.sum(dim=1, keepdim=True) / counts[:, None, None]  # padding rows are zero
    is_point = torch.arange(padded.shape[1], device=device) < counts[:, None]
    scale = torch.linalg.vector_norm(centred, dim=-1).where(is_point, 0).amax(dim=1)
    if bool((scale == 0).any()):
        first = int((scale == 0).nonzero()[0])
        raise ValueError(f"cloud {first_index + first}: all points are identical; a shape needs some extent")
    prepared = torch.cat([(centred / scale[:, None, None])[..., order], padded[..., 3:]], dim=-1)
    prepared = prepared.gather(1, resample.unsqueeze(-1).expand(-1, -1, 6))
    return prepared.transpose(1, 2).to(torch.float32).contiguous()
