"""Seconds to read each of many damaged copies of a survey file: a fine result or one error naming the file, fast.

Mutates a valid file (default the COPC sample ``tests/data/real_samples_survey/laspy_laspy/simple.copc.laz``)
``--cases`` times, one seeded random mutation each, as ``tests/io/test_io_fuzz.py`` does: a truncation, 1 to 8
flipped bytes (twice as often), or a 32-bit field overwritten with 0, 1, 255, 65536, 2**31 or 2**32 - 1. Each copy
is read with ``load_points`` in this process and timed. Prints the CPU and numpy's float32 GEMM rate, how many
copies gave an array, a ``ValueError``/``OSError`` naming the file, or anything else (a defect), and the slowest
copies with their mutation. The first read includes laspy's import; on a busy machine the seconds include waiting
for a core.

    python -m benchmarks.damaged_survey                    # 1100 copies of simple.copc.laz
    python -m benchmarks.damaged_survey --file tests/data/real_samples_survey/laspy_laspy/simple.laz --cases 300
"""

from __future__ import annotations

import argparse
import random
import struct
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks.scene_speed import gemm_rate, machine
from openshape_ood.io import load_points

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_samples_survey" / "laspy_laspy" / "simple.copc.laz"
_WORDS = (0, 1, 255, 65536, 2**31, 2**32 - 1)


def mutate(data: bytes, case: int) -> tuple[bytes, str]:
    """Copy ``case`` of ``data`` (the same for the same case) and what was done to it."""
    rng = random.Random(case)
    damaged = bytearray(data)
    kind = rng.choice(["truncate", "flip", "flip", "word"])
    if kind == "truncate":
        keep = int(rng.random() * len(damaged))
        return bytes(damaged[:keep]), f"truncated to {keep} bytes"
    if kind == "flip":
        flipped = []
        for _ in range(rng.randint(1, 8)):
            at = min(int(rng.random() * len(damaged)), len(damaged) - 1)
            damaged[at] ^= rng.randint(1, 255)
            flipped.append(at)
        return bytes(damaged), "bytes flipped at " + ", ".join(map(str, flipped))
    at, value = rng.randrange(0, len(damaged) - 8), rng.choice(_WORDS)
    damaged[at : at + 4] = struct.pack("<I", value)
    return bytes(damaged), f"{value} written at byte {at}"


def read_case(path: Path) -> str:
    """``"array"``, ``"error"`` (a ValueError or OSError naming ``path``) or what else happened."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_points(path, num_samples=64)
    except (ValueError, OSError) as exc:
        return "error" if str(path) in str(exc) else f"error not naming the file: {exc}"
    except BaseException as exc:  # noqa: BLE001 - a panic or a crash is what this looks for
        return f"{type(exc).__name__}: {exc}"
    return "array"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=SAMPLE, help="the valid file to damage (default simple.copc.laz)")
    parser.add_argument("--cases", type=int, default=1100, help="damaged copies (default 1100)")
    parser.add_argument("--slowest", type=int, default=5, help="slowest copies printed (default 5)")
    args = parser.parse_args(argv)

    cpu, rate = machine(), gemm_rate()
    print(f"CPU: {cpu['model']}, AVX2 {'yes' if cpu['avx2'] else 'no'}, AVX-512 {'yes' if cpu['avx512f'] else 'no'}, "
          f"{cpu['cores']} cores usable, load average {cpu['load'][0]:.2f}; numpy float32 GEMM (1024): "
          f"{rate / 1e9:.1f} GFLOP/s")  # fmt: skip
    data = args.file.read_bytes()
    outcomes: dict[str, int] = {}
    timed = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{''.join(args.file.suffixes)}"
        for case in range(args.cases):
            damaged, what = mutate(data, case)
            path.write_bytes(damaged)
            start = time.perf_counter()
            outcome = read_case(path)
            timed.append((time.perf_counter() - start, case, what, outcome))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(f"{args.cases:,} damaged copies of {args.file.name} ({len(data):,} bytes): "
          + ", ".join(f"{count:,} {outcome}" for outcome, count in sorted(outcomes.items())))  # fmt: skip
    seconds = sorted(second for second, *_ in timed)
    print(f"seconds per read: median {seconds[len(seconds) // 2]:.3f}, slowest {seconds[-1]:.2f}; "
          f"{sum(s > 1 for s in seconds)} over 1 s, {sum(s > 5 for s in seconds)} over 5 s")  # fmt: skip
    for second, case, what, outcome in sorted(timed, reverse=True)[: args.slowest]:
        print(f"case {case}: {second:.2f} s, {outcome[:100]} ({what[:80]})")


if __name__ == "__main__":
    main()
