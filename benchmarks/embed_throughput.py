"""Shapes per second of ``embed`` for 0, 1, 2, ... loader workers and 1, 2, ... torchrun processes.

    python -m benchmarks.embed_throughput                         # generated corpus, 200 shapes
    python -m benchmarks.embed_throughput --corpus DIR --workers 0 2 4 --nproc 1 2 --device cuda

The corpus is a folder of shape files (``--corpus``) or is generated: meshes (``.obj``,
``.ply``, ``.stl``, ``.off``, ``.glb``) and point clouds (``.npy``, ``.pcd``, ``.ply``,
``.xyz``) in the real formats, ``--mesh-share`` of them meshes. Each configuration runs
the library's :func:`openshape_ood.corpus.embed.embed_to_file` into a fresh output, timed from
the start to the written file (loader workers start inside that time; loading the model
does not). Two measures per configuration:

* ``prepare``: the loader alone (read, sample, prepare; no model): how many shapes/s the
  CPU side can feed an encoder;
* ``embed``: the whole run with the model, and the share of its time the encoder was busy
  (on a GPU, synchronised): below 100% the encoder waits for the loader.

The encoder has random weights at the chosen model's size (speed does not depend on the
weights; no checkpoint needed) and computes in ``--dtype`` (default ``auto``: bfloat16 where
the device computes it natively, recorded in the JSON settings). Process counts above 1 run this module under
``torchrun --standalone --nproc_per_node=K`` (gloo; each process takes ``cuda:LOCAL_RANK``
on a GPU machine, shares the CPU otherwise) and report the whole job's shapes/s. Prints a
table and writes JSON (``--json``) with the machine, its load average and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import trimesh

from openshape_ood import ShapeEncoder, get_entry, is_shape_file
from openshape_ood.corpus.embed import embed_to_file
from openshape_ood.corpus.dataset import ShapeFileDataset, expand_stacks, shape_loader
from openshape_ood.device import resolve_device, resolve_dtype
from openshape_ood.encoders.pointbert import build_point_bert

from .options import add_dtype_option

MESH_FORMATS = (".obj", ".ply", ".stl", ".off", ".glb")
CLOUD_FORMATS = (".npy", ".pcd", ".ply", ".xyz")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="a folder of shape files (default: generate one)")
    parser.add_argument("--generate", type=int, default=200, metavar="N", help="shapes to generate (default 200)")
    parser.add_argument("--mesh-share", type=float, default=0.75, help="share of meshes when generating (default 0.75)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="loader workers to try (default 0 1 2)")
    parser.add_argument("--nproc", type=int, nargs="+", default=[1], help="process counts; above 1 under torchrun")
    parser.add_argument("--model", default="vitb32", help="registry model whose size the encoder has (default vitb32)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-embed", action="store_true", help="measure the loader alone (the 'prepare' rows)")
    parser.add_argument("--json", type=Path, help="write the results here")
    add_dtype_option(parser)
    args = parser.parse_args(argv)

    if "RANK" in os.environ:  # one process of a torchrun job started below
        _run_rank(args)
        return
    machine = _machine()  # the load average before this benchmark adds its own
    with tempfile.TemporaryDirectory(prefix="embed-throughput-") as scratch:
        corpus = args.corpus or _generate(Path(scratch) / "corpus", args.generate, args.mesh_share)
        items = _items(corpus)
        rows = []
        if 1 in args.nproc:
            rows += [_prepare_row(items, workers, args) for workers in args.workers]
            if not args.no_embed:
                rows += _embed_rows(items, args, Path(scratch))
        for nproc in sorted(set(args.nproc) - {1}):
            if not args.no_embed:
                rows += _torchrun_rows(corpus, nproc, args, Path(scratch))
        document = {
            "machine": machine,
            "corpus": {
                "folder": str(args.corpus) if args.corpus else f"generated: {args.generate} shapes",
                "shapes": len(items),
                "by_suffix": _by_suffix(items),
            },
            "settings": {
                "model": args.model, "weights": "random", "batch_size": args.batch_size,
                "dtype": resolve_dtype(args.dtype, resolve_device(args.device)).name,
            },  # fmt: skip
            "rows": rows,
        }
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}")


# ----------------------------------------------------------------------------- corpus


def _generate(folder: Path, count: int, mesh_share: float) -> Path:
    """``count`` shapes in the real formats: meshes of a few thousand faces, clouds of 20,000 points."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    meshes = round(count * mesh_share)
    for i in range(count):
        mesh = _random_mesh(rng)
        if i < meshes:
            suffix = MESH_FORMATS[i % len(MESH_FORMATS)]
            mesh.export(folder / f"mesh{i:05d}{suffix}")
            continue
        points = mesh.sample(20000, seed=int(rng.integers(2**31))) + rng.normal(scale=0.005, size=(20000, 3))
        suffix = CLOUD_FORMATS[i % len(CLOUD_FORMATS)]
        path = folder / f"cloud{i:05d}{suffix}"
        if suffix == ".npy":
            np.save(path, points.astype(np.float32))
        elif suffix == ".pcd":
            _write_pcd(path, points.astype(np.float32))
        elif suffix == ".ply":
            trimesh.PointCloud(points).export(path)
        else:
            np.savetxt(path, points, fmt="%.6f")
    return folder


def _random_mesh(rng: np.random.Generator) -> trimesh.Trimesh:
    kind = rng.integers(4)
    if kind == 0:
        mesh = trimesh.creation.icosphere(subdivisions=4)
    elif kind == 1:
        mesh = trimesh.creation.capsule(height=1.0, radius=0.4, count=[48, 48])
    elif kind == 2:
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.5, sections=96)
    else:
        mesh = trimesh.creation.box(extents=(1, 2, 3)).subdivide().subdivide().subdivide()
    mesh.apply_scale(rng.uniform(0.5, 2.0, size=3))
    return mesh


def _write_pcd(path: Path, points: np.ndarray) -> None:
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
        f"COUNT 1 1 1\nWIDTH {len(points)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(points)}\nDATA binary\n"
    )
    path.write_bytes(header.encode("ascii") + points.astype("<f4").tobytes())


def _items(corpus: Path) -> list[str]:
    files = sorted(str(path) for path in corpus.rglob("*") if is_shape_file(path))
    if not files:
        raise SystemExit(f"no shape files in {corpus}")
    return expand_stacks(files)


def _by_suffix(items: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        suffix = Path(item.split("#")[0]).suffix.lower()
        counts[suffix] = counts.get(suffix, 0) + 1
    return counts


# ---------------------------------------------------------------------------- measure


def _encoder(args: argparse.Namespace, device: torch.device) -> ShapeEncoder:
    torch.manual_seed(0)
    entry = get_entry(args.model)
    encoder = ShapeEncoder(build_point_bert(entry.config), entry.config, model_up_axis=entry.model_up_axis, name=entry.name)
    return encoder.to(device, resolve_dtype(args.dtype, device).dtype)


def _prepare_row(items: list[str], workers: int, args: argparse.Namespace) -> dict:
    """The loader alone: read, sample and prepare every item."""
    dataset = ShapeFileDataset(items, model_up_axis=get_entry(args.model).model_up_axis)
    start = time.perf_counter()
    loaded = sum(len(batch.names) for batch in shape_loader(dataset, batch_size=args.batch_size, num_workers=workers))
    seconds = time.perf_counter() - start
    return _row("prepare", 1, workers, loaded, seconds, None)


def _embed_rows(items: list[str], args: argparse.Namespace, scratch: Path) -> list[dict]:
    encoder = _encoder(args, resolve_device(args.device))
    busy = _time_encoder(encoder)
    encoder.embed(np.random.default_rng(0).normal(size=(1000, 3)), progress=False)  # warm-up
    rows = []
    for workers in args.workers:
        busy[0] = 0.0
        out = scratch / f"embed-1-{workers}.h5"
        start = time.perf_counter()
        report = embed_to_file(
            encoder, items, out, batch_size=args.batch_size, num_workers=workers, checkpoint="random-weights"
        )
        seconds = time.perf_counter() - start
        rows.append(_row("embed", 1, workers, report.added, seconds, busy[0] / seconds))
    return rows


def _time_encoder(encoder: ShapeEncoder) -> list[float]:
    """Count the seconds spent in the encoder's forward pass (synchronised on a GPU) into the returned cell."""
    busy = [0.0]
    forward = encoder.encode_prepared

    def timed(points, fps_start=None):
        start = time.perf_counter()
        result = forward(points, fps_start)
        if result.is_cuda:
            torch.cuda.synchronize(result.device)
        busy[0] += time.perf_counter() - start
        return result

    encoder.encode_prepared = timed
    return busy


def _torchrun_rows(corpus: Path, nproc: int, args: argparse.Namespace, scratch: Path) -> list[dict]:
    result_file = scratch / f"torchrun-{nproc}.json"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
        "-m", "benchmarks.embed_throughput", "--corpus", str(corpus), "--model", args.model,
        "--batch-size", str(args.batch_size), "--workers", *map(str, args.workers), "--json", str(result_file),
        "--dtype", args.dtype, *(["--device", args.device] if args.device else []),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return json.loads(result_file.read_text())["rows"]


def _run_rank(args: argparse.Namespace) -> None:
    """One rank of a torchrun job: embed with each worker count; rank 0 times the whole job."""
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    on_gpu = torch.cuda.is_available() and args.device in (None, "cuda")
    device = resolve_device(f"cuda:{local_rank}" if on_gpu else args.device or "cpu")
    encoder = _encoder(args, device)
    busy = _time_encoder(encoder)
    encoder.embed(np.random.default_rng(0).normal(size=(1000, 3)), progress=False)  # warm-up
    items = _items(args.corpus)
    scratch = Path(args.json).parent
    rows = []
    for workers in args.workers:
        busy[0] = 0.0
        dist.barrier()
        start = time.perf_counter()
        report = embed_to_file(
            encoder, items, scratch / f"embed-{world_size}-{workers}.h5", batch_size=args.batch_size,
            num_workers=workers, checkpoint="random-weights",
        )  # fmt: skip
        seconds = time.perf_counter() - start  # embed_to_file returns once rank 0 has written the file
        shares = [None] * world_size
        dist.all_gather_object(shares, busy[0] / seconds)
        rows.append(_row("embed", world_size, workers, report.added, seconds, float(np.mean(shares))))
    if rank == 0:
        Path(args.json).write_text(json.dumps({"rows": rows}))
    dist.destroy_process_group()


def _row(measure: str, processes: int, workers: int, shapes: int, seconds: float, busy: float | None) -> dict:
    return {
        "measure": measure,
        "processes": processes,
        "loader_workers": workers,
        "shapes": shapes,
        "seconds": round(seconds, 3),
        "shapes_per_s": round(shapes / seconds, 2),
        "encoder_busy": None if busy is None else round(busy, 3),
        "torch_threads": torch.get_num_threads(),  # per process; torchrun sets OMP_NUM_THREADS=1 by default
    }


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def _table(rows: list[dict]) -> str:
    lines = ["measure  processes  threads  workers  shapes  seconds  shapes/s  speed-up  encoder busy"]
    base: dict[str, float] = {}
    for row in rows:
        base.setdefault(row["measure"], row["shapes_per_s"])
        busy = "" if row["encoder_busy"] is None else f"{row['encoder_busy']:.0%}"
        lines.append(
            f"{row['measure']:<7}  {row['processes']:>9}  {row['torch_threads']:>7}  {row['loader_workers']:>7}  {row['shapes']:>6}  "
            f"{row['seconds']:>7.1f}  {row['shapes_per_s']:>8.2f}  {row['shapes_per_s'] / base[row['measure']]:>7.2f}x  "
            f"{busy:>12}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
