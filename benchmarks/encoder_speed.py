"""Encoder speed against the hardware and against the upstream algorithm, in float32 and bfloat16.

    python -m benchmarks.encoder_speed                                  # all models, CPU batch 8
    python -m benchmarks.encoder_speed --models vitb32 vitg14 --batch-sizes 8 --repeats 5
    python -m benchmarks.encoder_speed --models vitb32 vitg14 --repeats 2 --no-embed   # a few minutes on 2 cores

Random weights at the released sizes (no checkpoint needed). Input: random Gaussian
clouds of ``--points`` points, prepared once (centred, unit ball, 10,000 points) for the
forward-pass timings; the ``embed`` column times ``ShapeEncoder.embed`` on the raw clouds
(preparation included). Per model, batch size and dtype (``--dtypes``, float32 and
bfloat16 by default, on a CPU as on a GPU) it reports:

- ``ms/cloud`` and ``clouds/s`` of the forward pass (``encode_prepared``);
- ``default``: whether this is the dtype ``dtype="auto"`` (or ``--dtype``) picks here;
- ``GFLOP/cloud``, counted from the config as 2 x the multiply-adds of the dense layers
  (S patches, K points per patch, T = S + 1 tokens, h heads of width d, i = h d)::

      patch MLP    2 S K (9*64 + 64*64 + 64*sa_dim)
      lift         2 S (sa_dim + 3) dim
      blocks       (depth - 1) (2 T dim (3 i + i + 2 mlp_dim) + 4 T^2 i)
      last block   2 dim (2 T i + i + i + 2 mlp_dim) + 4 T i
      projection   2 dim projection_out

  The last block is counted as this encoder runs it: keys and values for all tokens,
  everything else for the CLS token alone (the only output); upstream computes it for all
  T tokens. Uni3D models (G groups of K points, width D, T = G + 1 tokens) are counted from
  the weights of their dense layers: ``2 G K`` x the mini-PointNet's (as upstream computes it;
  this encoder multiplies the group maximum's half of the third layer once per group, not
  per point, so it does less than counted and its ``of GEMM`` overstates the share), ``2 G`` x the token and
  position layers', ``2 T`` x each block's (all tokens, as upstream and this encoder run them),
  ``4 T^2 D`` per block for attention, ``2 D embed_dim`` for the projection.
  FPS, ball query, kNN, norms, softmax and activations are not counted;
- ``GEMM GFLOP/s``: a square matrix multiply in the row's dtype (2048 on a CPU, 8192 on a
  GPU, or ``--gemm-size``) timed in the same process, interleaved with the encoder runs, and ``of GEMM``: the
  encoder's GFLOP/s as a fraction of it;
- ``sampling``: the share of the forward pass that farthest point sampling and ball query
  take (timed alone; they run in float32 whatever the dtype);
- ``upstream fp32 ms/cloud``: the upstream algorithm (:mod:`benchmarks.upstream_reference`) in
  float32 on the same weights and input, and the row's speed-up over it (OpenShape models only:
  upstream Uni3D's farthest point sampling is a CUDA kernel, and the rest of its forward pass is
  the operations this encoder runs, so there is no separate CPU reference to time);
- ``min cos to fp32``: the lowest cosine between the row's embeddings and float32's;
- on CUDA also the peak memory of one forward pass.

Every figure is the median of ``--repeats`` timed runs after one warm-up. The load average
of the machine is printed and saved: timings from a busy machine are not comparable. The
table and one summary line per model (the default dtype's speed-up over upstream float32 with
the range of its single repeats, each against the upstream run beside it; its cosine and its
sampling share) are printed and written to ``--json`` (atomically) and
beside it as Markdown (``.md``), under ``results/`` by default.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from openshape_ood import PointBertConfig, ShapeEncoder, Uni3DConfig, __version__, get_entry
from openshape_ood.atomic import write_bytes
from openshape_ood.config import DTYPES
from openshape_ood.device import BF16_CPU_FLAGS, cpu_has_native_bf16, resolve_device, resolve_dtype
from openshape_ood.encoders.sampling import ball_query, farthest_point_sample, gather_points, knn_query
from openshape_ood.encoders.shape import build_encoder
from openshape_ood.encoders.uni3d import FPS_SKIP_NORM_SQ, build_uni3d
from openshape_ood.io.contract import DEFAULT_NUM_POINTS
from openshape_ood.prepare import prepare_batch

from .options import add_dtype_option
from .upstream_reference import build_upstream_reference

__all__ = [
    "flops_per_cloud", "gemm_flops_per_second", "main", "measure", "paired_speedup_range", "sampling", "summary",
    "synchronize",
]


def flops_per_cloud(config: PointBertConfig | Uni3DConfig) -> int:
    """Floating-point operations of one forward pass (2 per multiply-add; formula in the module docstring)."""
    if isinstance(config, Uni3DConfig):
        return _uni3d_flops_per_cloud(config)
    c = config
    tokens, inner = c.patches + 1, c.heads * c.dim_head
    patch_mlp = 2 * c.patches * c.nsample * ((c.in_dim + 3) * 64 + 64 * 64 + 64 * c.sa_dim)
    lift = 2 * c.patches * (c.sa_dim + 3) * c.dim
    block = 2 * tokens * c.dim * (3 * inner + inner + 2 * c.mlp_dim) + 4 * tokens**2 * inner
    last_block = 2 * c.dim * (2 * tokens * inner + inner + inner + 2 * c.mlp_dim) + 4 * tokens * inner
    projection = 2 * c.dim * c.projection_out if c.projection_out is not None else 0
    return patch_mlp + lift + (c.depth - 1) * block + last_block + projection


def _uni3d_flops_per_cloud(config: Uni3DConfig) -> int:
    with torch.device("meta"):  # layer shapes only
        encoder = build_uni3d(config).point_encoder

    def weights(module: torch.nn.Module) -> int:
        return sum(m.weight.numel() for m in module.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d)))

    c, tokens = config, config.num_group + 1
    block = 2 * tokens * weights(encoder.visual.blocks[0]) + 4 * tokens**2 * c.width
    patches = 2 * c.num_group * c.group_size * weights(encoder.encoder)
    token_layers = 2 * c.num_group * (weights(encoder.encoder2trans) + weights(encoder.pos_embed))
    return patches + token_layers + c.depth * block + 2 * weights(encoder.trans2embed)


def _timed(function: Callable[[], object], device: torch.device) -> float:
    """Seconds one call takes, the device's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    function()
    synchronize(device)
    return time.perf_counter() - start


def synchronize(device: str | torch.device) -> None:
    """Wait until ``device``'s queue is drained (a GPU computes after the call that queued the work returns)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def gemm_flops_per_second(
    device: torch.device, size: int | None = None, dtype: torch.dtype = torch.float32
) -> Callable[[], float]:
    """A function that times one ``size x size`` matrix multiply in ``dtype`` on ``device`` and returns FLOP/s."""
    size = size or (2048 if device.type == "cpu" else 8192)
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    (a @ b).sum().item()  # warm-up

    def run() -> float:
        return 2 * size**3 / _timed(lambda: a @ b, device)

    return run


def sampling(config: PointBertConfig | Uni3DConfig, prepared: torch.Tensor) -> torch.Tensor:
    """The encoder's FPS and ball query (Uni3D: kNN) on prepared input ``[B, 6, N]`` (float32, whatever the model's dtype)."""
    xyz = prepared[:, :3].transpose(1, 2).contiguous()
    if isinstance(config, Uni3DConfig):
        centres = gather_points(xyz, farthest_point_sample(xyz, config.num_group, skip_norm_sq=FPS_SKIP_NORM_SQ))
        return knn_query(xyz, centres, config.group_size)
    centres = gather_points(xyz, farthest_point_sample(xyz, config.patches))
    return ball_query(xyz, centres, config.radius, config.nsample)


def measure(
    name: str,
    config: PointBertConfig | Uni3DConfig,
    model_up_axis: str,
    batch_size: int,
    *,
    device: torch.device,
    points: int,
    repeats: int,
    gemm: dict[str, Callable[[], float]],
    upstream: bool,
    dtypes: Sequence[str] = ("float32", "bfloat16"),
    default_dtype: str | None = None,
    embed: bool = True,
) -> list[dict]:
    """Time one model at one batch size, one row per dtype in ``dtypes``.

    ``gemm`` maps each dtype name to its GEMM timer (:func:`gemm_flops_per_second`);
    ``default_dtype`` is the one ``dtype="auto"`` picks here (its row is flagged). Returns
    JSON-ready rows: medians in ms per cloud, and under ``samples`` every raw timing the
    row's figures come from (seconds per batch; the GEMM's in FLOP/s).
    """
    torch.manual_seed(0)
    model = build_encoder(config)
    upstream = upstream and isinstance(config, PointBertConfig)  # see the module docstring
    encoders = {
        dtype: ShapeEncoder(copy.deepcopy(model), config, model_up_axis=model_up_axis).to(device, getattr(torch, dtype))
        for dtype in dtypes
    }
    reference = build_upstream_reference(config).to(device) if upstream else None
    if reference is not None:
        reference.load_state_dict(model.state_dict())
    clouds = np.random.default_rng(0).normal(size=(batch_size, points, 3)).astype(np.float32)
    prepared = torch.from_numpy(prepare_batch(list(clouds), 0, num_points=DEFAULT_NUM_POINTS)).to(device)

    runs: dict[str, Callable[[], object]] = {"sampling": lambda: sampling(config, prepared)}
    for dtype, encoder in encoders.items():
        runs[f"forward_{dtype}"] = lambda encoder=encoder: encoder.encode_prepared(prepared)
        if embed:
            runs[f"embed_{dtype}"] = lambda encoder=encoder: encoder.embed(clouds, batch_size=batch_size,
                                                                           progress=False)  # fmt: skip
    if reference is not None:
        runs["upstream"] = lambda: _no_grad(reference, prepared)
    for key, run in list(runs.items()):  # warm-up
        try:
            run()
        except torch.cuda.OutOfMemoryError:  # upstream's [B, S, N] int64 sort at GPU batch sizes
            if key != "upstream":
                raise
            print(f"{name}, batch {batch_size}: the upstream algorithm runs out of GPU memory; not timed")
            del runs[key]
            torch.cuda.empty_cache()
    # Seconds per batch for each run, FLOP/s for the GEMMs.
    samples: dict[str, list[float]] = {key: [] for key in (*runs, *(f"gemm_{dtype}" for dtype in dtypes))}
    for _ in range(repeats):  # interleaved, so that load changes hit every figure alike
        for key, run in runs.items():
            samples[key].append(_timed(run, device))
        for dtype in dtypes:
            samples[f"gemm_{dtype}"].append(gemm[dtype]())
    median = {key: statistics.median(values) for key, values in samples.items()}
    embeddings = {dtype: encoder.encode_prepared(prepared) for dtype, encoder in encoders.items()}
    flops = flops_per_cloud(config)
    rows = []
    for dtype, encoder in encoders.items():
        forward = median[f"forward_{dtype}"] / batch_size
        row = {
            "model": name,
            "batch_size": batch_size,
            "dtype": dtype,
            "default": dtype == default_dtype,
            "ms_per_cloud": 1e3 * forward,
            "clouds_per_second": 1 / forward,
            "gflop_per_cloud": flops / 1e9,
            "gemm_gflop_per_second": median[f"gemm_{dtype}"] / 1e9,
            "fraction_of_gemm": flops / forward / median[f"gemm_{dtype}"],
            "sampling_share": median["sampling"] / median[f"forward_{dtype}"],
            "embed_ms_per_cloud": 1e3 * median[f"embed_{dtype}"] / batch_size if embed else None,
            "upstream_ms_per_cloud": 1e3 * median["upstream"] / batch_size if "upstream" in median else None,
            "samples": {
                key: samples[key]
                for key in (f"forward_{dtype}", f"embed_{dtype}", f"gemm_{dtype}", "sampling", "upstream")
                if key in samples
            },
        }
        if "float32" in embeddings:
            cosine = torch.nn.functional.cosine_similarity(embeddings[dtype], embeddings["float32"], dim=-1)
            row["min_cosine_to_float32"] = cosine.min().item()
        if row["upstream_ms_per_cloud"] is not None:
            row["speedup_over_upstream"] = row["upstream_ms_per_cloud"] / row["ms_per_cloud"]
            row["speedup_range"] = paired_speedup_range(samples["upstream"], samples[f"forward_{dtype}"])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            runs[f"forward_{dtype}"]()
            row["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        rows.append(row)
    return rows


def paired_speedup_range(upstream: Sequence[float], forward: Sequence[float]) -> list[float]:
    """The lowest and highest speed-up of one repeat's forward pass over the upstream run timed beside it.

    The repeats are interleaved, so each pair met the same load; how far the pairs spread shows how far
    the machine's own noise moves the median's speed-up."""
    speedups = [before / after for before, after in zip(upstream, forward, strict=True)]
    return [min(speedups), max(speedups)]


def _no_grad(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return module(x)


def _milliseconds(value: float) -> str:
    """Three significant figures, at least one decimal, never an exponent: 0.0321, 1.23, 23.8, 1234.5."""
    return f"{value:.{max(1, 2 - math.floor(math.log10(value)))}f}" if value > 0 else f"{value:.1f}"


COLUMNS = [
    ("model", "model", "{}"),
    ("batch", "batch_size", "{}"),
    ("dtype", "dtype", "{}"),
    ("default", "default", "{}"),
    ("ms/cloud", "ms_per_cloud", _milliseconds),
    ("clouds/s", "clouds_per_second", "{:.1f}"),
    ("GFLOP/cloud", "gflop_per_cloud", "{:.2f}"),
    ("GEMM GFLOP/s", "gemm_gflop_per_second", "{:.0f}"),
    ("of GEMM", "fraction_of_gemm", "{:.0%}"),
    ("sampling", "sampling_share", "{:.0%}"),
    ("upstream fp32 ms/cloud", "upstream_ms_per_cloud", _milliseconds),
    ("speed-up", "speedup_over_upstream", "{:.2f}x"),
    ("min cos to fp32", "min_cosine_to_float32", "{:.6f}"),
    ("embed ms/cloud", "embed_ms_per_cloud", _milliseconds),
    ("peak GB", "peak_memory_gb", "{:.2f}"),
]


def format_table(rows: list[dict]) -> str:
    """A Markdown table of the rows (columns no row has are left out)."""
    columns = [c for c in COLUMNS if any(row.get(c[1]) is not None for row in rows)]
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [
            "-" if row.get(key) is None else fmt(row[key]) if callable(fmt) else fmt.format(row[key])
            for _, key, fmt in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> list[str]:
    """One line per model and batch size: the default dtype's speed-up over upstream float32 and its cosine."""
    lines = []
    for row in rows:
        if not row["default"]:
            continue
        parts = [f"{row['model']}, batch {row['batch_size']}: default {row['dtype']}"]
        if row.get("speedup_over_upstream") is not None:
            low, high = row["speedup_range"]
            parts.append(f"{row['speedup_over_upstream']:.2f}x the upstream algorithm in float32 "
                         f"({low:.2f}-{high:.2f}x in single repeats, each against the upstream run beside it)")
        if row.get("min_cosine_to_float32") is not None:
            parts.append(f"lowest cosine to float32 {row['min_cosine_to_float32']:.6f}")
        parts.append(f"sampling {row['sampling_share']:.0%} of its forward pass")
        lines.append(", ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", nargs="+", default=["vitb32", "vitl14", "vitg14", "uni3d-ti", "uni3d-s", "uni3d-b", "uni3d-l", "uni3d-g"],
        help="registry names (default: the three OpenShape models and the five Uni3D sizes)",
    )
    parser.add_argument("--batch-sizes", nargs="+", type=int, help="default: 8 on a CPU, 256 512 1024 on a GPU")
    parser.add_argument("--points", type=int, default=10000, help="points per raw input cloud")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (the median is reported)")
    parser.add_argument("--device", help="torch device; default CUDA when available, else CPU")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument(
        "--dtypes", nargs="+", choices=DTYPES[1:], default=list(DTYPES[1:]),
        help="a row per dtype (default: float32 bfloat16); the --dtype one is added when missing",
    )  # fmt: skip
    add_dtype_option(parser)
    parser.add_argument(
        "--gemm-size", type=int, help="side of the square matrix multiply timed for the 'of GEMM' column "
        "(default 2048 on a CPU, 8192 on a GPU)",
    )  # fmt: skip
    parser.add_argument("--no-upstream", dest="upstream", action="store_false", help="skip the upstream algorithm")
    parser.add_argument("--no-embed", dest="embed", action="store_false", help="skip timing ShapeEncoder.embed")
    parser.add_argument(
        "--json", type=Path, default=Path("results/encoder_speed.json"),
        help="where to write the results (default results/encoder_speed.json; the table goes beside it as .md; results/ is git-ignored)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    default = resolve_dtype(args.dtype, device)
    dtypes = list(dict.fromkeys([*args.dtypes, default.name]))
    batch_sizes = args.batch_sizes or ([8] if device.type == "cpu" else [256, 512, 1024])
    header = {
        "openshape_ood": __version__,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu_bf16_flags": list(cpu_has_native_bf16()),
        "default_dtype": default.name,
        "default_dtype_reason": default.reason,
        "dtypes": dtypes,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "points": args.points,
        "repeats": args.repeats,
    }
    print(", ".join(f"{k} {v}" for k, v in header.items()), flush=True)
    gemm = {dtype: gemm_flops_per_second(device, args.gemm_size, getattr(torch, dtype)) for dtype in dtypes}
    rows = []
    for name in args.models:
        entry = get_entry(name)
        for batch_size in batch_sizes:
            measured = measure(
                name, entry.config, entry.model_up_axis, batch_size, device=device, points=args.points,
                repeats=args.repeats, gemm=gemm, upstream=args.upstream, dtypes=dtypes, default_dtype=default.name,
                embed=args.embed,
            )  # fmt: skip
            rows += measured
            print("\n".join(format_table(measured).splitlines()[2:]), flush=True)
    header["load_average_after"] = os.getloadavg()
    result = {**header, "rows": rows, "summary": summary(rows)}
    if device.type == "cpu" and "bfloat16" in dtypes and not header["cpu_bf16_flags"]:
        result["summary"].append(
            f"bfloat16 is emulated on this CPU (none of {', '.join(BF16_CPU_FLAGS)}): its rows time the emulation, "
            "and its 'of GEMM' compares with an emulated matrix multiply"
        )
    table = format_table(rows)
    print(f"\nload average before {header['load_average_before']}, after {header['load_average_after']}")
    print(table, *result["summary"], sep="\n")
    write_bytes(args.json, (json.dumps(result, indent=2) + "\n").encode())
    write_bytes(args.json.with_suffix(".md"), (table + "\n\n" + "\n".join(result["summary"]) + "\n").encode())
    print(f"wrote {args.json} and {args.json.with_suffix('.md')}")
    return result


if __name__ == "__main__":
    main()
