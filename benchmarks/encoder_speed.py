"""Encoder speed against the hardware and against the upstream algorithm.

    python -m benchmarks.encoder_speed                                  # all models, CPU batch 8
    python -m benchmarks.encoder_speed --models vitb32 vitg14 --batch-sizes 8 --repeats 5

Random weights at the released sizes (no checkpoint needed). Input: random Gaussian
clouds of ``--points`` points, prepared once (centred, unit ball, 10,000 points) for the
forward-pass timings; the ``embed`` column times ``ShapeEncoder.embed`` on the raw clouds
(preparation included). Per model and batch size it reports:

- ``ms/cloud`` and ``clouds/s`` of the forward pass (``encode_prepared``);
- ``GFLOP/cloud``, counted from the config as 2 x the multiply-adds of the dense layers
  (S patches, K points per patch, T = S + 1 tokens, h heads of width d, i = h d)::

      patch MLP    2 S K (9*64 + 64*64 + 64*sa_dim)
      lift         2 S (sa_dim + 3) dim
      blocks       (depth - 1) (2 T dim (3 i + i + 2 mlp_dim) + 4 T^2 i)
      last block   2 dim (2 T i + i + i + 2 mlp_dim) + 4 T i
      projection   2 dim projection_out

  The last block is counted as this encoder runs it: keys and values for all tokens,
  everything else for the CLS token alone (the only output); upstream computes it for all
  T tokens. FPS, ball query, norms, softmax and activations are not counted;
- ``GEMM GFLOP/s``: fp32 square matrix multiply (2048 on a CPU, 8192 on a GPU) timed in the
  same process, interleaved with the encoder runs, and ``of GEMM``: the encoder's
  GFLOP/s as a fraction of it;
- ``upstream ms/cloud``: the upstream algorithm (:mod:`benchmarks.upstream_reference`) on the
  same weights and input, and the speed-up over it;
- on CUDA also the peak memory of one forward pass and the bfloat16 forward pass.

Every figure is the median of ``--repeats`` timed runs after one warm-up. The load average
of the machine is printed and saved: timings from a busy machine are not comparable. The
table is printed and everything is written to ``--json`` (atomically).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from openshape_ood import PointBertConfig, ShapeEncoder, __version__, get_entry
from openshape_ood.atomic import write_bytes
from openshape_ood.device import resolve_device
from openshape_ood.model import build_point_bert
from openshape_ood.prepare import prepare_batch

from .upstream_reference import build_upstream_reference

__all__ = ["flops_per_cloud", "gemm_flops_per_second", "main", "measure"]


def flops_per_cloud(config: PointBertConfig) -> int:
    """Floating-point operations of one forward pass (2 per multiply-add; formula in the module docstring)."""
    c = config
    tokens, inner = c.patches + 1, c.heads * c.dim_head
    patch_mlp = 2 * c.patches * c.nsample * ((c.in_dim + 3) * 64 + 64 * 64 + 64 * c.sa_dim)
    lift = 2 * c.patches * (c.sa_dim + 3) * c.dim
    block = 2 * tokens * c.dim * (3 * inner + inner + 2 * c.mlp_dim) + 4 * tokens**2 * inner
    last_block = 2 * c.dim * (2 * tokens * inner + inner + inner + 2 * c.mlp_dim) + 4 * tokens * inner
    projection = 2 * c.dim * c.projection_out if c.projection_out is not None else 0
    return patch_mlp + lift + (c.depth - 1) * block + last_block + projection


def _timed(function: Callable[[], object], device: torch.device) -> float:
    """Seconds one call takes, the device's queue drained before and after."""
    _synchronize(device)
    start = time.perf_counter()
    function()
    _synchronize(device)
    return time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def gemm_flops_per_second(device: torch.device, size: int | None = None) -> Callable[[], float]:
    """A function that times one fp32 ``size x size`` matrix multiply on ``device`` and returns FLOP/s."""
    size = size or (2048 if device.type == "cpu" else 8192)
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    (a @ b).sum().item()  # warm-up

    def run() -> float:
        return 2 * size**3 / _timed(lambda: a @ b, device)

    return run


def measure(
    name: str,
    config: PointBertConfig,
    model_up_axis: str,
    batch_size: int,
    *,
    device: torch.device,
    points: int,
    repeats: int,
    gemm: Callable[[], float],
    upstream: bool,
) -> dict:
    """Time one model at one batch size.

    Returns a JSON-ready row: medians in ms per cloud, and under ``samples`` every raw
    timing (seconds per batch; the GEMM's in FLOP/s).
    """
    torch.manual_seed(0)
    model = build_point_bert(config)
    encoder = ShapeEncoder(model, config, model_up_axis=model_up_axis).to(device)
    reference = build_upstream_reference(config).to(device) if upstream else None
    if reference is not None:
        reference.load_state_dict(model.state_dict())
    clouds = np.random.default_rng(0).normal(size=(batch_size, points, 3)).astype(np.float32)
    prepared = torch.from_numpy(prepare_batch(list(clouds), 0, num_points=encoder.num_points)).to(device)

    runs: dict[str, Callable[[], object]] = {
        "forward": lambda: encoder.encode_prepared(prepared),
        "embed": lambda: encoder.embed(clouds, batch_size=batch_size, progress=False),
    }
    if reference is not None:
        runs["upstream"] = lambda: _no_grad(reference, prepared)
    half = None
    if device.type == "cuda":
        half = ShapeEncoder(copy.deepcopy(model), config, model_up_axis=model_up_axis).to(device, dtype=torch.bfloat16)
        runs["forward_bf16"] = lambda: half.encode_prepared(prepared)
    for key, run in list(runs.items()):  # warm-up
        try:
            run()
        except torch.cuda.OutOfMemoryError:  # upstream's [B, S, N] int64 sort at GPU batch sizes
            if key != "upstream":
                raise
            print(f"{name}, batch {batch_size}: the upstream algorithm runs out of GPU memory; not timed")
            del runs[key]
            torch.cuda.empty_cache()
    # Seconds per batch for each run, FLOP/s for the GEMM.
    samples: dict[str, list[float]] = {key: [] for key in (*runs, "gemm")}
    for _ in range(repeats):  # interleaved, so that load changes hit every figure alike
        for key, run in runs.items():
            samples[key].append(_timed(run, device))
        samples["gemm"].append(gemm())
    median = {key: statistics.median(values) for key, values in samples.items()}
    flops = flops_per_cloud(config)
    forward = median["forward"] / batch_size
    row = {
        "model": name,
        "batch_size": batch_size,
        "ms_per_cloud": 1e3 * forward,
        "clouds_per_second": 1 / forward,
        "gflop_per_cloud": flops / 1e9,
        "gemm_gflop_per_second": median["gemm"] / 1e9,
        "fraction_of_gemm": flops / forward / median["gemm"],
        "embed_ms_per_cloud": 1e3 * median["embed"] / batch_size,
        "upstream_ms_per_cloud": 1e3 * median["upstream"] / batch_size if "upstream" in median else None,
        "samples": samples,
    }
    if row["upstream_ms_per_cloud"] is not None:
        row["speedup_over_upstream"] = row["upstream_ms_per_cloud"] / row["ms_per_cloud"]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        runs["forward"]()
        row["peak_memory_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        bf16 = median["forward_bf16"] / batch_size
        row["bf16_ms_per_cloud"] = 1e3 * bf16
        row["bf16_clouds_per_second"] = 1 / bf16
    return row


def _no_grad(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return module(x)


COLUMNS = [
    ("model", "model", "{}"),
    ("batch", "batch_size", "{}"),
    ("ms/cloud", "ms_per_cloud", "{:.1f}"),
    ("clouds/s", "clouds_per_second", "{:.1f}"),
    ("GFLOP/cloud", "gflop_per_cloud", "{:.2f}"),
    ("GEMM GFLOP/s", "gemm_gflop_per_second", "{:.0f}"),
    ("of GEMM", "fraction_of_gemm", "{:.0%}"),
    ("upstream ms/cloud", "upstream_ms_per_cloud", "{:.1f}"),
    ("speed-up", "speedup_over_upstream", "{:.2f}x"),
    ("embed ms/cloud", "embed_ms_per_cloud", "{:.1f}"),
    ("peak GB", "peak_memory_gb", "{:.2f}"),
    ("bf16 ms/cloud", "bf16_ms_per_cloud", "{:.2f}"),
    ("bf16 clouds/s", "bf16_clouds_per_second", "{:.0f}"),
]


def format_table(rows: list[dict]) -> str:
    """A Markdown table of the rows (columns no row has are left out)."""
    columns = [c for c in COLUMNS if any(row.get(c[1]) is not None for row in rows)]
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = ["-" if row.get(key) is None else fmt.format(row[key]) for _, key, fmt in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["vitb32", "vitl14", "vitg14"], help="registry names")
    parser.add_argument("--batch-sizes", nargs="+", type=int, help="default: 8 on a CPU, 256 512 1024 on a GPU")
    parser.add_argument("--points", type=int, default=10000, help="points per raw input cloud")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (the median is reported)")
    parser.add_argument("--device", help="torch device; default CUDA when available, else CPU")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--no-upstream", dest="upstream", action="store_false", help="skip the upstream algorithm")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("results/encoder_speed.json"),
        help="where to write the results (default results/encoder_speed.json; results/ is git-ignored)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    batch_sizes = args.batch_sizes or ([8] if device.type == "cpu" else [256, 512, 1024])
    header = {
        "openshape_ood": __version__,
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "points": args.points,
        "repeats": args.repeats,
    }
    print(", ".join(f"{k} {v}" for k, v in header.items()), flush=True)
    gemm = gemm_flops_per_second(device)
    rows = []
    for name in args.models:
        entry = get_entry(name)
        for batch_size in batch_sizes:
            rows.append(
                measure(name, entry.config, entry.model_up_axis, batch_size, device=device, points=args.points,
                        repeats=args.repeats, gemm=gemm, upstream=args.upstream)
            )
            print(format_table(rows[-1:]).splitlines()[-1], flush=True)
    header["load_average_after"] = os.getloadavg()
    result = {**header, "rows": rows}
    print(f"\nload average before {header['load_average_before']}, after {header['load_average_after']}")
    print(format_table(rows))
    write_bytes(args.json, (json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
