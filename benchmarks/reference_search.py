"""Nearest-reference search at corpus scale: exact blocked search and the approximate IVF-PQ index of a
reference bank, against the machine's float32 matrix-multiply rate measured in the same run.

    python -m benchmarks.reference_search                                   # 10k, 100k, 1M references
    python -m benchmarks.reference_search --sizes 10000 100000 --dims 512 1280 --queries 10000

Data: CLUSTERED SYNTHETIC unit vectors, not shape embeddings: ``--clusters`` Gaussian clusters in a
``--latent``-dimensional space (embeddings of real shapes have a low intrinsic dimension), mapped to D
dimensions by a random linear map, with isotropic noise, L2-normalised; the queries are half new points of
the known clusters ("known") and half points of as many new clusters ("novel"). Speed does not
depend on the values; recall and AUROC do, so they are figures for this data only. The references are
written to an embeddings file (``embed``'s format, one folder per cluster as the class) and searched through
:class:`openshape_ood.corpus.bank.ReferenceBank`, as ``openshape-ood score --reference refs.h5`` does.

Per size and width: exact search (:func:`openshape_ood.methods.search.exact_search`, k=1) seconds, GFLOP/s
(``2 N R D`` per search) and its share of the float32 matrix-multiply rate (torch, 4096 x D by D x 4096
products repeated for 5 s just before and just after each exact search; their mean); peak resident
memory of each step (sampled every 20 ms); scikit-learn's brute force on ``--sklearn-queries`` queries where
``R <= --sklearn-max``; the IVF-PQ index (build seconds, search seconds for all queries, recall@1 against exact,
AUROC of known vs novel from exact and approximate k=1 distances, and their difference). Where ``R`` exceeds
``--exact-max`` the exact search runs on the first ``--exact-queries`` queries only and its time for all
queries is that time scaled linearly (the work is linear in the queries): the table says so. ``--search
NPROBE:RERANK ...`` measures more IVF-PQ search settings on the same index (the library's defaults first).

``--device cuda``: the exact search's multiplies and the matrix-multiply rate run on that GPU (float32,
the queue drained before each clock is read); the file is still read from disk, and the peak memory is the
host's. scikit-learn and IVF-PQ stay on the CPU.

``--build-only``: per size, write the file, then time the row check (SHA-256) and the IVF-PQ build from the
file at the library's defaults, with the peak resident memory of each: how a corpus-sized bank scales.

On a machine shared with other jobs run it with ``OMP_WAIT_POLICY=PASSIVE``: faiss's OpenMP threads otherwise
spin while they wait for each other, and its product-quantiser training ran 5x slower here (110 s instead of
21 s for 20k x 1280 rows on 2 busy cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from openshape_ood import __version__
from openshape_ood.corpus.bank import ReferenceBank
from openshape_ood.corpus.embedding_file import FORMAT, SETTING_KEYS
from openshape_ood.device import resolve_device
from openshape_ood.methods.search import exact_search

from .encoder_speed import synchronize

WRITE_ROWS = 65536


class PeakMemory:
    """Peak resident memory (bytes) of this process while the block runs, sampled every 20 ms: ``peak`` all of
    it, ``private`` its anonymous part (what must fit in memory; the rest are mapped pages of files, the
    embeddings file's among them, which the kernel drops under memory pressure)."""

    def __enter__(self):
        self.peak = _rss()
        self.private = _private()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())
            self.private = max(self.private, _private())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.private = max(self.private, _private())


def _private() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssAnon:"))


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def matmul_rate(dim: int, seconds: float = 5.0, device: str = "cpu") -> float:
    """Sustained GFLOP/s of torch's float32 product of a 4096 x dim and a dim x 4096 matrix on ``device``,
    repeated for at least ``seconds`` (on a shared machine a best-of-few burst overstates what a minutes-long
    search can get)."""
    a, b = torch.randn(4096, dim, device=device), torch.randn(dim, 4096, device=device)
    torch.mm(a, b)  # warm-up
    synchronize(device)
    products, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        products += 1
        if products % 16 == 0:  # a GPU queues products faster than it computes them
            synchronize(device)
    synchronize(device)
    return 2 * 4096 * 4096 * dim * products / (time.perf_counter() - start) / 1e9


def clustered(rng, centres: np.ndarray, count: int, spread: float, lift: np.ndarray) -> np.ndarray:
    """``count`` unit vectors: points around latent ``centres`` (spread ``spread`` per latent axis), mapped to D
    dimensions by ``lift``, plus isotropic noise of norm about 0.1, renormalised; and the centre of each."""
    chosen = rng.integers(len(centres), size=count)
    latent = centres[chosen] + rng.normal(scale=spread, size=(count, centres.shape[1]))
    points = latent @ lift
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    points += rng.normal(scale=0.1 / np.sqrt(lift.shape[1]), size=points.shape)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32), chosen


def write_references(path: Path, count: int, centres: np.ndarray, spread: float, lift: np.ndarray, seed: int) -> None:
    """An embeddings file of ``count`` clustered rows, in embed's format, each row's file in its cluster's folder."""
    rng = np.random.default_rng(seed)
    dim = lift.shape[1]
    files = []
    with h5py.File(path, "w") as h5:
        h5.attrs["format"] = FORMAT
        h5.attrs["openshape_ood_version"] = __version__
        h5.attrs["world_size"] = 1
        for key in SETTING_KEYS:
            h5.attrs[key] = {"embed_dim": dim}.get(key, "synthetic")
        output = h5.create_dataset("embeddings", shape=(count, dim), dtype=np.float32)
        for start in range(0, count, WRITE_ROWS):
            rows, chosen = clustered(rng, centres, min(WRITE_ROWS, count - start), spread, lift)
            output[start : start + len(rows)] = rows
            files += [f"c{c}/{start + i}.npy" for i, c in enumerate(chosen)]
        h5.create_dataset("files", data=np.array(files, dtype=object), dtype=h5py.string_dtype("utf-8"))


def run_case(args, count: int, dim: int, folder: Path) -> dict:
    rng = np.random.default_rng(args.seed)
    centres = rng.normal(size=(2 * args.clusters, args.latent))
    lift = rng.normal(size=(args.latent, dim))
    known_centres, novel_centres = centres[: args.clusters], centres[args.clusters :]
    path = folder / f"refs-{count}-{dim}.h5"
    write_references(path, count, known_centres, args.spread, lift, args.seed + 1)
    half = args.queries // 2
    known_queries, _ = clustered(rng, known_centres, half, args.spread, lift)
    novel_queries, _ = clustered(rng, novel_centres, args.queries - half, args.spread, lift)
    queries = np.concatenate([known_queries, novel_queries])
    is_novel = np.r_[np.zeros(half), np.ones(args.queries - half)]
    bank = ReferenceBank(path)
    row = {"references": count, "dim": dim, "queries": args.queries}

    exact_queries = args.queries if count <= args.exact_max else min(args.queries, args.exact_queries)
    # Known and novel queries alike in the subset: every other one from each half.
    subset = np.r_[np.arange(0, half, args.queries // exact_queries), np.arange(half, args.queries, args.queries // exact_queries)][:exact_queries]
    before = matmul_rate(dim, args.matmul_seconds, args.device)
    with PeakMemory() as memory:
        start = time.perf_counter()
        exact_distances, exact_indices = exact_search(queries[subset], bank.embeddings, 1, device=args.device)
        seconds = time.perf_counter() - start
    after = matmul_rate(dim, args.matmul_seconds, args.device)
    rate = (before + after) / 2
    gflops = 2 * len(subset) * count * dim / seconds / 1e9
    row.update(exact_queries=len(subset), exact_seconds=seconds, exact_seconds_all=seconds * args.queries / len(subset),
               exact_gflops=gflops, matmul_gflops=rate, matmul_before=before, matmul_after=after,
               exact_share=gflops / rate, exact_peak_gb=memory.peak / 1e9,
               exact_private_gb=memory.private / 1e9)  # fmt: skip

    if count <= args.sklearn_max:
        few = subset[: args.sklearn_queries]
        reference = bank.load()
        with PeakMemory() as memory:
            start = time.perf_counter()
            _, sk_indices = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference).kneighbors(queries[few].astype(np.float64))
            sk_seconds = time.perf_counter() - start
        del reference
        # scikit-learn runs on the CPU: its share is of the CPU's rate, measured again where the search ran elsewhere.
        cpu_after = after if args.device == "cpu" else matmul_rate(dim, args.matmul_seconds)
        sk_rate = (matmul_rate(dim, args.matmul_seconds) + cpu_after) / 2
        sk_gflops = 2 * len(few) * count * dim / sk_seconds / 1e9
        row.update(sklearn_queries=len(few), sklearn_seconds=sk_seconds, sklearn_gflops=sk_gflops,
                   sklearn_share=sk_gflops / sk_rate, sklearn_same=float((sk_indices[:, 0] == exact_indices[: len(few), 0]).mean()))  # fmt: skip

    if not args.no_approximate:
        index = build_index(bank, row)
        exact_auroc = roc_auc_score(is_novel[subset], exact_distances[:, 0])
        defaults = {name: index.options[name] for name in ("nprobe", "rerank")}
        row.update(exact_auroc=exact_auroc, ivfpq_sweep=[])
        for nprobe, rerank in [(defaults["nprobe"], defaults["rerank"])] + [s for s in args.search if s != tuple(defaults.values())]:
            index.options.update(nprobe=nprobe, rerank=rerank)  # search settings: no rebuild
            with PeakMemory() as memory:
                start = time.perf_counter()
                approx_distances, approx_indices = index.search(queries, 1)
                approx_seconds = time.perf_counter() - start
            approx_auroc = roc_auc_score(is_novel[subset], approx_distances[subset, 0])
            row["ivfpq_sweep"].append({
                "nprobe": nprobe, "rerank": rerank, "seconds": approx_seconds,
                "speedup": row["exact_seconds_all"] / approx_seconds,
                "recall_at_1": float((approx_indices[subset, 0] == exact_indices[:, 0]).mean()),
                "auroc": approx_auroc, "auroc_difference": approx_auroc - exact_auroc, "peak_gb": memory.peak / 1e9,
                "private_gb": memory.private / 1e9})
        first = row["ivfpq_sweep"][0]  # the library's defaults
        row.update(ivfpq_seconds=first["seconds"], ivfpq_speedup=first["speedup"], ivfpq_recall_at_1=first["recall_at_1"],
                   ivfpq_auroc=first["auroc"], auroc_difference=first["auroc_difference"],
                   ivfpq_peak_gb=max(row["ivfpq_build_peak_gb"], first["peak_gb"]))  # fmt: skip
    bank.embeddings.close()
    remove(folder, path)
    return row


def build_index(bank: ReferenceBank, row: dict):
    """Check the rows (SHA-256) and build the IVF-PQ index from the file at the library's defaults, timed, with
    the peak resident memory of each step; records them in ``row``."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        bank.checksum()
        checksum = time.perf_counter() - start
    with PeakMemory() as build_memory:
        start = time.perf_counter()
        index = bank.build_index("ivfpq", "euclidean")
        build = time.perf_counter() - start
    row.update(checksum_seconds=checksum, checksum_peak_gb=memory.peak / 1e9, ivfpq_options=dict(index.options),
               ivfpq_build_seconds=build, ivfpq_build_peak_gb=build_memory.peak / 1e9,
               ivfpq_build_private_gb=build_memory.private / 1e9,
               index_file_mb=bank.index_path("ivfpq", "euclidean").stat().st_size / 1e6)  # fmt: skip
    return index


def build_case(args, count: int, dim: int, folder: Path) -> dict:
    """``--build-only``: write the file, then check it and build its IVF-PQ index from disk (time, peak memory)."""
    rng = np.random.default_rng(args.seed)
    centres = rng.normal(size=(args.clusters, args.latent))
    lift = rng.normal(size=(args.latent, dim))
    path = folder / f"refs-{count}-{dim}.h5"
    start = time.perf_counter()
    write_references(path, count, centres, args.spread, lift, args.seed + 1)
    row = {"references": count, "dim": dim, "write_seconds": time.perf_counter() - start,
           "file_gb": path.stat().st_size / 1e9, "rss_before_gb": _rss() / 1e9}  # fmt: skip
    before = matmul_rate(dim, args.matmul_seconds)
    bank = ReferenceBank(path)
    build_index(bank, row)
    row.update(matmul_gflops=(before + matmul_rate(dim, args.matmul_seconds)) / 2)
    bank.embeddings.close()
    remove(folder, path)
    return row


def remove(folder: Path, path: Path) -> None:
    """Delete the reference file and everything written beside it."""
    for leftover in folder.glob(f"{path.name}*"):
        leftover.unlink()


def machine(device: str = "cpu") -> dict:
    gpu = torch.cuda.get_device_name(device) if torch.device(device).type == "cuda" else "not measured (no GPU)"
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    return {"cpu": model, "cores": os.cpu_count(), "avx2": "avx2" in flags, "avx512f": "avx512f" in flags,
            "torch_threads": torch.get_num_threads(), "faiss_threads": _faiss_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "torch": torch.__version__, "python": platform.python_version(),
            "load_average": os.getloadavg(), "gpu": gpu}  # fmt: skip


def _search_setting(text: str) -> tuple[int, int]:
    nprobe, rerank = text.split(":")
    return int(nprobe), int(rerank)


def _faiss_threads():
    try:
        import faiss
    except ImportError:
        return None
    return faiss.omp_get_max_threads()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 1280])
    parser.add_argument("--big-dims", type=int, nargs="+", default=[1280], help="widths run at sizes above 100k")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--exact-max", type=int, default=100_000, help="above this size, exact search on a subset")
    parser.add_argument("--exact-queries", type=int, default=2_000)
    parser.add_argument("--sklearn-max", type=int, default=100_000)
    parser.add_argument("--sklearn-queries", type=int, default=1_000)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--latent", type=int, default=16, help="dimensions of the latent space the clusters lie in")
    parser.add_argument("--spread", type=float, default=0.3, help="spread of a cluster per latent axis (centres ~ N(0, 1))")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu",
                        help="torch device of the exact search and its matmul rate, e.g. cuda (default: cpu)")
    parser.add_argument("--matmul-seconds", type=float, default=5.0, help="how long each matmul-rate measurement runs")
    parser.add_argument("--no-approximate", action="store_true")
    parser.add_argument("--search", type=_search_setting, nargs="*", default=[], metavar="NPROBE:RERANK",
                        help="IVF-PQ search settings measured besides the library's defaults (one build)")
    parser.add_argument("--build-only", action="store_true", help="only write the file and build its index from it")
    parser.add_argument("--folder", type=Path, default=None, help="where the reference files go (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        args.device = str(resolve_device(args.device))
    except ValueError as exc:
        parser.error(f"--device: {exc}")
    if args.build_only and args.device != "cpu":
        parser.error("--build-only times the IVF-PQ build, which runs on the CPU: leave out --device")
    rows = []
    case = build_case if args.build_only else run_case
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        for count in args.sizes:
            for dim in args.dims if count <= 100_000 else args.big_dims:
                row = case(args, count, dim, Path(folder))
                rows.append(row)
                print(json.dumps(row), flush=True)
    report = {"machine": machine(args.device),
              "settings": vars(args) | {"folder": str(args.folder), "json": str(args.json)},
              "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, "rows": rows}  # fmt: skip
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


def table(report: dict) -> str:
    m = report["machine"]
    lines = [(f"CPU {m['cpu']} ({m['cores']} cores, avx2 {m['avx2']}, avx512f {m['avx512f']}), torch "
              f"{m['torch_threads']} threads, faiss {m['faiss_threads']} threads, OMP_WAIT_POLICY "
              f"{m['omp_wait_policy']}, load average {m['load_average']}; GPU: {m['gpu']}. "
              "Clustered synthetic unit vectors.")]  # fmt: skip
    rows = report["rows"]
    if rows and "exact_seconds" not in rows[0]:  # --build-only
        lines += [("| references | D | file GB | check s | check peak GB | IVF-PQ build s | build peak GB (private) | index MB | "
                   "matmul GFLOP/s | settings |"), "|" + "---|" * 10]  # fmt: skip
        lines += [f"| {r['references']:,} | {r['dim']} | {r['file_gb']:.2f} | {r['checksum_seconds']:.0f} | "
                  f"{r['checksum_peak_gb']:.2f} | {r['ivfpq_build_seconds']:.0f} | {r['ivfpq_build_peak_gb']:.2f} ({r['ivfpq_build_private_gb']:.2f}) | "
                  f"{r['index_file_mb']:.0f} | {r['matmul_gflops']:.1f} | {r['ivfpq_options']} |" for r in rows]  # fmt: skip
        return "\n".join(lines)
    lines += ["| references | D | exact s (queries) | exact GFLOP/s | matmul GFLOP/s | share | exact peak GB | sklearn share "
              "(same nn) | IVF-PQ build s | IVF-PQ s (10k) | speed-up | recall@1 | AUROC exact / IVF-PQ (diff) | IVF-PQ peak GB |",
              "|" + "---|" * 14]  # fmt: skip
    for r in rows:
        exact = f"{r['exact_seconds']:.1f} ({r['exact_queries']})"
        if r["exact_queries"] != r["queries"]:
            exact += f", {r['exact_seconds_all']:.0f} scaled to {r['queries']}"
        sk = f"{r['sklearn_share']:.0%} ({r['sklearn_same']:.3f})" if "sklearn_share" in r else "-"
        approx = (f"{r['ivfpq_build_seconds']:.0f} | {r['ivfpq_seconds']:.2f} | {r['ivfpq_speedup']:.0f}x | "
                  f"{r['ivfpq_recall_at_1']:.3f} | {r['exact_auroc']:.4f} / {r['ivfpq_auroc']:.4f} ({r['auroc_difference']:+.4f}) | "
                  f"{r['ivfpq_peak_gb']:.2f}") if "ivfpq_seconds" in r else "- | - | - | - | - | -"  # fmt: skip
        lines.append(f"| {r['references']:,} | {r['dim']} | {exact} | {r['exact_gflops']:.1f} | {r['matmul_gflops']:.1f} | "
                     f"{r['exact_share']:.0%} | {r['exact_peak_gb']:.2f} | {sk} | {approx} |")  # fmt: skip
    sweeps = [(r, s) for r in rows for s in r.get("ivfpq_sweep", [])]
    if sweeps:
        lines += ["", "IVF-PQ search settings (the first of each size: the library's defaults)",
                  "| references | D | nprobe | rerank | s (10k) | speed-up | recall@1 | AUROC diff | peak GB (private) |", "|" + "---|" * 9]
        lines += [f"| {r['references']:,} | {r['dim']} | {s['nprobe']} | {s['rerank']} | {s['seconds']:.2f} | "
                  f"{s['speedup']:.0f}x | {s['recall_at_1']:.3f} | {s['auroc_difference']:+.4f} | {s['peak_gb']:.2f} ({s['private_gb']:.2f}) |"
                  for r, s in sweeps]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
