"""``ShapeEncoder``: raw point clouds in, L2-normalised embeddings out (OpenShape PointBERT or Uni3D)."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ._checkpoint import CheckpointError, fetch_checkpoint, load_weights_strict, read_encoder_state_dict, verify_checkpoint
from ..config import UP_AXES, Uni3DConfig, check_up_axis
from ..device import COMPUTE_DTYPES, DtypeChoice, dtype_name, resolve_device, resolve_dtype
from .pointbert import PointBertConfig, build_point_bert
from ..io.contract import DEFAULT_NUM_POINTS, check_seed
from .uni3d import build_uni3d
from ..prepare import (
    CloudLike,
    prepare_batch,
    prepare_batch_on_device,
    split_clouds,
    validate_cloud,
)
from ..progress import progress_bar
from ._registry import ModelEntry, get_entry

__all__ = ["COMPUTE_DTYPES", "ShapeEncoder", "build_encoder"]

EncoderConfig = PointBertConfig | Uni3DConfig
#: The gravity axis each family's released models were trained with, when a checkpoint loaded by
#: path does not say: OpenShape's B/32 and L/14 Y up; Uni3D Z up (inferred from its code and data).
DEFAULT_MODEL_UP_AXIS = {PointBertConfig: "y", Uni3DConfig: "z"}


def build_encoder(config: EncoderConfig) -> torch.nn.Module:
    """The module of ``config``'s family with random weights: ``[B, 6, N]`` prepared points -> ``[B, embed_dim]``."""
    if isinstance(config, Uni3DConfig):
        return build_uni3d(config)
    if isinstance(config, PointBertConfig):
        return build_point_bert(config)
    raise TypeError(f"config must be a PointBertConfig or a Uni3DConfig, not {type(config).__name__}")


class ShapeEncoder:
    """A shape encoder (OpenShape PointBERT or Uni3D) with the input preparation it expects.

    Build one with :meth:`from_pretrained` (a registered model, e.g. ``"vitl14"`` or
    ``"uni3d-b"``) or :meth:`from_checkpoint` (a local file); then :meth:`embed` point clouds.
    Both families take the same prepared input (xyz centred and scaled into the unit ball, rgb
    in [0, 1] or 0.4 without colour, 10,000 points, the data's up axis turned onto the
    model's): OpenShape's and Uni3D's zero-shot evaluations prepare clouds alike.

    Attributes:
        model: the ``torch.nn.Module`` (eval mode).
        config: its :class:`PointBertConfig` or :class:`~openshape_ood.config.Uni3DConfig`.
        model_up_axis: the gravity axis the model was trained with (your data's axis is
            the ``up_axis`` argument of :meth:`embed`).
        name: registry name, or ``None`` for a checkpoint loaded by path.
        entry: the registry entry (text tower pairing), or ``None``.
        num_points: points per cloud fed to the model.
        dtype_reason: why the model computes in :attr:`dtype` (one line, for display).
        checkpoint: the file the weights were read from, or ``None``; named by the error
            when the weights turn embeddings into NaN or infinity.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: EncoderConfig,
        *,
        model_up_axis: str = "y",
        name: str | None = None,
        entry: ModelEntry | None = None,
        num_points: int = DEFAULT_NUM_POINTS,
        checkpoint: Path | None = None,
    ):
        self.model = model.eval()
        self.config = config
        self.model_up_axis = check_up_axis(model_up_axis, "model_up_axis")
        self.name = name
        self.entry = entry
        self.num_points = num_points
        self.dtype_reason = "the dtype of the model given"
        self.checkpoint = checkpoint

    def __repr__(self) -> str:
        return (
            f"ShapeEncoder(name={self.name!r}, embed_dim={self.embed_dim}, model_up_axis={self.model_up_axis!r}, "
            f"device={str(self.device)!r}, dtype={dtype_name(self.dtype)!r})"
        )

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    @property
    def family(self) -> str:
        """``"uni3d"`` or ``"openshape-pointbert"``, from :attr:`config`."""
        return "uni3d" if isinstance(self.config, Uni3DConfig) else "openshape-pointbert"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the network computes in (sampling and grouping are always float32); see :attr:`dtype_reason`."""
        return next(self.model.parameters()).dtype

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "ShapeEncoder":
        """Move the model to ``device`` and/or cast it to ``dtype`` (in place); return self.

        ``dtype`` is ``torch.float32`` (the reference), or ``torch.bfloat16`` / ``torch.float16``
        for speed on GPUs and on CPUs with native bfloat16: farthest point sampling and ball
        query stay float32, so the patches are the same; embeddings stay within cosine 0.999
        of float32.
        """
        if dtype is not None and dtype not in COMPUTE_DTYPES:
            raise ValueError(f"dtype {dtype} is not supported; use one of {COMPUTE_DTYPES}")
        self.model.to(device=None if device is None else resolve_device(device), dtype=dtype)
        if dtype is not None:
            self.dtype_reason = "set with ShapeEncoder.to()"
        return self

    def _computing_in(self, choice: DtypeChoice) -> "ShapeEncoder":
        """Cast to ``choice.dtype`` and remember its reason; return self."""
        self.model.to(dtype=choice.dtype)
        self.dtype_reason = choice.reason
        return self

    @classmethod
    def from_pretrained(
        cls,
        name: str,
        *,
        device: str | torch.device = "cpu",
        cache_dir: str | os.PathLike | None = None,
        revision: str | None = None,
        registry: str | os.PathLike | None = None,
        dtype: str | torch.dtype = "auto",
    ) -> "ShapeEncoder":
        """Load a registered encoder (``"vitb32"``, ``"vitl14"``, ``"vitg14"``, ``"uni3d-b"``, ..., or your own).

        The checkpoint is downloaded into the Hugging Face Hub cache (``cache_dir``
        overrides it; ``HF_HUB_OFFLINE=1`` uses only the cache), its size and SHA-256
        are checked, and only then is it loaded with ``weights_only=True``.

        Args:
            name: registry key; see ``openshape-ood models`` or :func:`load_registry`.
            device: where the model runs.
            cache_dir: Hub cache directory.
            revision: Hub branch, tag or commit overriding the registry's.
            registry: a registry TOML file instead of ``$OPENSHAPE_OOD_REGISTRY`` / the packaged one.
            dtype: what the network computes in: ``"auto"`` (bfloat16 where ``device``
                computes it natively, else float32; ``$OPENSHAPE_OOD_DTYPE`` overrides it),
                ``"float32"`` (exactly upstream's arithmetic) or ``"bfloat16"``; see
                :func:`~openshape_ood.device.resolve_dtype`. Sampling stays float32.
        """
        entry = get_entry(name, registry)
        device = resolve_device(device)
        choice = resolve_dtype(dtype, device)  # a wrong dtype fails before any download
        path = fetch_checkpoint(entry, cache_dir=cache_dir, revision=revision)
        verify_checkpoint(path, sha256=entry.sha256, size=entry.size)
        weights = read_encoder_state_dict(path, container=entry.container, prefix=entry.prefix)
        model = build_encoder(entry.config)
        load_weights_strict(model, weights, path)
        return cls(
            model.to(device),
            entry.config,
            model_up_axis=entry.model_up_axis,
            name=entry.name,
            entry=entry,
            checkpoint=path,
        )._computing_in(choice)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        config: EncoderConfig,
        *,
        model_up_axis: str | None = None,
        container: str | None = None,
        prefix: str | None = None,
        sha256: str | None = None,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "auto",
    ) -> "ShapeEncoder":
        """Load an encoder from a local checkpoint file.

        Args:
            path: the ``.pt`` file (a dict of tensors; never unpickled beyond that).
            config: its architecture: a :class:`PointBertConfig`, or a
                :class:`~openshape_ood.config.Uni3DConfig` (whose ``img_size``, when ``None``,
                is read off the file's unused ``visual.pos_embed``).
            model_up_axis: the gravity axis the model was trained with; ``None``: ``"y"``
                for PointBERT, ``"z"`` for Uni3D.
            container: where the encoder weights sit in the file (with ``prefix``); ``None``
                detects the released layouts (flat with ``pc_encoder.``, ``state_dict`` with
                ``module.``, Uni3D's ``module`` with or without ``module.``).
            prefix: the prefix of the encoder's weight names in the file; ``None`` detects it.
            sha256: expected SHA-256, checked before loading when given.
            device: where the model runs.
            dtype: what the network computes in; as for :meth:`from_pretrained`.
        """
        path = Path(path)
        device = resolve_device(device)
        choice = resolve_dtype(dtype, device)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} does not exist")
        verify_checkpoint(path, sha256=sha256, size=None)
        weights = read_encoder_state_dict(path, container=container, prefix=prefix)
        if isinstance(config, Uni3DConfig) and config.img_size is None:
            config = _with_image_size_of(config, weights)
        model = build_encoder(config)
        load_weights_strict(model, weights, path)
        if model_up_axis is None:
            model_up_axis = DEFAULT_MODEL_UP_AXIS[type(config)]
        return cls(model.to(device), config, model_up_axis=model_up_axis, checkpoint=path)._computing_in(choice)

    def encode_prepared(self, points: torch.Tensor, fps_start: torch.Tensor | None = None) -> torch.Tensor:
        """Raw (unnormalised) float32 embeddings ``[B, D]`` of already prepared input ``[B, 6, N]``.

        No centring, resampling or axis change happens here: this is the model's forward
        pass, as upstream runs it. ``fps_start`` gives each cloud's first FPS centre
        (index 0 when ``None``).

        Raises:
            ValueError: the input holds NaN or infinite values (checked only once an
                embedding came out non-finite, so the common case costs nothing more).
            CheckpointError: an embedding is NaN or infinite from finite input, so the
                weights are to blame: a finite but huge value (a flipped exponent bit)
                passes every check of the file and overflows here. Raised rather than
                returned, so that no caller stores or scores such rows.
        """
        if points.ndim != 3 or points.shape[1] != self.config.in_dim:
            raise ValueError(
                f"expected prepared input [B, {self.config.in_dim}, N], got {tuple(points.shape)}"
            )
        with torch.inference_mode():
            embeddings = self.model(points.to(self.device, torch.float32, non_blocking=True), fps_start).float()
        if not torch.isfinite(embeddings).all():
            if not torch.isfinite(points).all():
                raise ValueError("prepared input holds NaN or infinite values; prepare clouds with prepare_batch")
            source = f"checkpoint {self.checkpoint}" if self.checkpoint is not None else "the model's weights"
            raise CheckpointError(
                f"the encoder turned finite input into NaN or infinite embeddings ({self.dtype}): {source} holds "
                f"values too large to compute with, so it is damaged. Delete it and download or copy it again"
                + ("; or compute in float32" if self.dtype == torch.float16 else "")
            )
        return embeddings

    def embed(
        self,
        clouds: CloudLike | Sequence[CloudLike],
        *,
        up_axis: str = "y",
        batch_size: int = 16,
        seed: int | None = 0,
        random_fps_start: bool = False,
        views: int = 1,
        rotate: bool = False,
        progress: bool | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Embed raw point clouds.

        Args:
            clouds: one cloud ``(N, 3)`` / ``(N, 6)`` (xyz, or xyz + rgb in [0, 1] or
                [0, 255]), a batch ``(B, N, C)``, or a list of clouds of any sizes;
                numpy arrays or torch tensors.
            up_axis: the gravity axis of *your* data; it is moved onto the model's
                (:attr:`model_up_axis`).
            batch_size: clouds per forward pass.
            seed: seeds each cloud's resampling (and its FPS start when random): a cloud's
                embedding depends only on the cloud and the seed, not on the other clouds
                in the call or the batch size. ``None`` draws fresh randomness.
            random_fps_start: start farthest point sampling at a random point per cloud
                (as upstream does) instead of point 0.
            views: test-time views per cloud. View 0 is the plain embedding (``views=1``
                gives it exactly); each further view draws its own resampling and a random
                FPS start from a seed derived from ``seed`` and the view number. The views'
                L2-normalised embeddings are averaged and normalised again, which damps the
                1-3 % cosine jitter that sampling alone causes.
            rotate: also turn view ``v`` by ``360 * v / views`` degrees about the gravity
                axis (``up_axis``), for shapes whose heading is arbitrary.
            progress: show a progress bar on stderr; ``None`` shows one when there is more than one
                batch and stderr is a terminal (or this runs in Jupyter).

        Returns:
            ``(B, D)`` float32 L2-normalised embeddings, numpy for numpy input and torch
            (on the input's device) for torch input. A single cloud gives ``B = 1``.
        """
        up_axis = check_up_axis(up_axis, "up_axis")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (a whole number), got {batch_size!r}")
        check_seed(seed)
        arrays, is_torch = split_clouds(clouds)
        for i, cloud in enumerate(arrays):  # fail before any encoding, not half-way through
            validate_cloud(cloud, i)
        if isinstance(views, bool) or not isinstance(views, numbers.Integral) or views < 1:
            raise ValueError(f"views must be a whole number of at least 1, got {views!r}")
        starts = range(0, len(arrays), batch_size)
        show = progress if progress is not None or len(starts) > 1 else False
        outputs = []
        for start in progress_bar(starts, desc="Encoding shapes", unit="batch", progress=show):
            chunk = arrays[start : start + batch_size]
            total = self._embed_view(chunk, seed, random_fps_start, up_axis, start)
            for view in range(1, views):
                turned = [_turn(cloud, up_axis, 2 * np.pi * view / views) for cloud in chunk] if rotate else chunk
                total += self._embed_view(turned, _view_seed(seed, view), True, up_axis, start)
            outputs.append(torch.nn.functional.normalize(total, dim=-1) if views > 1 else total)
        result = torch.cat(outputs)
        if is_torch:
            device = clouds.device if isinstance(clouds, torch.Tensor) else clouds[0].device
            return result.to(device)
        return result.numpy()

    def _embed_view(
        self, clouds: list[np.ndarray], seed: int | None, random_fps_start: bool, up_axis: str, first_index: int
    ) -> torch.Tensor:
        """L2-normalised float32 CPU embeddings ``[B, D]`` of one view of raw clouds."""
        settings = dict(
            up_axis=up_axis, model_up_axis=self.model_up_axis, num_points=self.num_points, first_index=first_index
        )
        # On an accelerator the batch is prepared there; the CPU keeps the numpy reference path.
        batch = (
            torch.from_numpy(prepare_batch(clouds, seed, **settings))
            if self.device.type == "cpu"
            else prepare_batch_on_device(clouds, seed, self.device, **settings)
        )
        fps_start = torch.tensor([_fps_start(seed, self.num_points) for _ in clouds]) if random_fps_start else None
        embedding = self.encode_prepared(batch, fps_start)
        return torch.nn.functional.normalize(embedding.float(), dim=-1).cpu()


def _with_image_size_of(config: Uni3DConfig, weights: dict[str, torch.Tensor]) -> Uni3DConfig:
    """``config`` with the backbone image size that the file's position table ``[1, 1 + P, D]`` was made for.

    The table is never used (points are not image patches), but strict loading needs its
    shape: a grid of ``sqrt(P)`` patches of the file's patch size per side. Files without
    one keep the architecture's default, and strict loading says what differs.
    """
    table, patch = weights.get("point_encoder.visual.pos_embed"), weights.get("point_encoder.visual.patch_embed.proj.weight")
    if table is None or patch is None or table.ndim != 3:
        return config
    side = math.isqrt(table.shape[1] - 1)
    if side * side != table.shape[1] - 1:
        return config
    return dataclasses.replace(config, img_size=side * patch.shape[-1])


def _view_seed(seed: int | None, view: int) -> int | None:
    """The seed of test-time view ``view`` (>= 1): its own stream, fixed by ``seed``; ``None`` stays fresh."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, view]).generate_state(1, np.uint64)[0])


def _turn(cloud: np.ndarray, up_axis: str, angle: float) -> np.ndarray:
    """``cloud`` (xyz first) turned by ``angle`` radians about the ``up_axis`` through the origin.

    A rotation about an axis through the origin commutes with the centring and unit-ball
    scaling that preparation applies afterwards, so this turns the shape about its own centre.
    """
    first, second = [i for i in range(3) if i != UP_AXES.index(up_axis)]
    cos, sin = np.cos(angle), np.sin(angle)
    turned = np.array(cloud, dtype=np.float64)
    a, b = turned[:, first].copy(), turned[:, second].copy()
    turned[:, first] = cos * a - sin * b
    turned[:, second] = sin * a + cos * b
    return turned


def _fps_start(seed: int | None, num_points: int) -> int:
    """A seeded random first FPS centre, from a stream apart from the resampling one."""
    return int(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]).integers(num_points))
