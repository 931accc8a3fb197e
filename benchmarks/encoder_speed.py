"""Encoder throughput with random weights at the released sizes (no checkpoint needed).

    python -m benchmarks.encoder_speed --models vitb32 vitg14 --clouds 8 --device cpu

Prints seconds per cloud for ``ShapeEncoder.embed`` (preparation included) and for the
forward pass alone, after one warm-up batch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from openshape_ood import ShapeEncoder, get_entry
from openshape_ood.model import build_point_bert


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["vitb32", "vitl14", "vitg14"])
    parser.add_argument("--clouds", type=int, default=8)
    parser.add_argument("--points", type=int, default=10000, help="points per raw input cloud")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    clouds = np.random.default_rng(0).normal(size=(args.clouds, args.points, 3)).astype(np.float32)
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"{args.clouds} clouds x {args.points} points, best of {args.repeats}")
    for name in args.models:
        entry = get_entry(name)
        model = build_point_bert(entry.config)
        encoder = ShapeEncoder(model, entry.config, model_up_axis=entry.model_up_axis).to(args.device)
        prepared = torch.rand(args.clouds, 6, encoder.num_points) * 2 - 1
        encoder.embed(clouds, batch_size=args.clouds, progress=False)  # warm-up
        embed_times, forward_times = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            encoder.embed(clouds, batch_size=args.clouds, progress=False)
            embed_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            encoder.encode_prepared(prepared)
            if args.device != "cpu":
                torch.cuda.synchronize()
            forward_times.append(time.perf_counter() - start)
        print(f"{name}: embed {min(embed_times) / args.clouds:.3f} s/cloud, "
              f"forward {min(forward_times) / args.clouds:.3f} s/cloud")


if __name__ == "__main__":
    main()
