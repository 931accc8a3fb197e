"""``python -m benchmarks.sr2``: the 3DOS synthetic-to-real benchmark with SR2 as the known classes.

See :mod:`benchmarks.synthetic_to_real` for what it measures and ``--help`` for the options.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from benchmarks.synthetic_to_real import main as run_main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the SR2 benchmark with command-line arguments ``argv``; returns the exit status."""
    return run_main("SR2", argv)


if __name__ == "__main__":
    sys.exit(main())
