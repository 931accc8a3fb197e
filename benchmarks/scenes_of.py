"""The scenes benchmark with the segmentation of another checkout: another commit's figures on today's copies.

Runs :mod:`benchmarks.scenes` (its scans, copies and views, and its evaluation) with the
:func:`~openshape_ood.segmentation.segment_scene` of the ``openshape_ood`` package in another folder,
for example a worktree of an older commit (``git worktree add /tmp/old 24a1052``). That commit's
segmentation runs in a worker process that imports the package from there; every scan, copy and view is
made here, so two commits are measured on the same inputs. Where the figures of an older commit on scans
kept out of sight are known, its figures on each copy and view say which of them foretold those: a copy
that tracked the unseen figure then is the one to watch now. The views that follow a frame's support
(``--orbit``, ``--surroundings``) turn about the support that commit's segmentation finds.

Leave-one-scan-out sets this checkout's constants (:mod:`openshape_ood.segmentation.tuning`), which the
other commit does not read, so it is not run (``--no-loso`` is implied); ``--set`` is refused for that reason.

    git worktree add /tmp/old 24a1052
    python -m benchmarks.scenes_of /tmp/old --seeds 0 --perturb 2 --sparser 0.7 0.5 --frames 4 --crops --orbit
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import scenes

# The worker: segment_scene of the package on sys.path[0] (the checkout), one scan per line of stdin, each an
# .npz written by the benchmark; the labels and settings go beside it, and one line says how it went.
_WORKER = r"""
import json, sys
import numpy as np
checkout = sys.argv[1]
sys.path.insert(0, checkout)
import openshape_ood
from openshape_ood.segmentation import segment_scene
print(openshape_ood.__file__, flush=True)
for line in sys.stdin:
    path = line.strip()
    with np.load(path, allow_pickle=False) as request:
        points, up, seed = request["points"], str(request["up"]) or None, int(request["seed"])
        settings = json.loads(str(request["settings"]))
    try:
        labels, chosen = segment_scene(points, up, seed=seed, return_settings=True, **settings)
    except Exception as exc:
        print("error " + json.dumps(f"{type(exc).__name__}: {exc}"), flush=True)
        continue
    np.save(path + ".labels.npy", np.asarray(labels, dtype=np.int64))
    with open(path + ".settings.json", "w") as handle:
        json.dump(chosen.to_dict(), handle)
    print("ok", flush=True)
"""


class _Settings:
    """What :func:`benchmarks.scenes.run_scan` reads of the settings a segmentation chose: their dict."""

    def __init__(self, document: dict):
        self.document = document

    def to_dict(self) -> dict:
        return self.document


class CheckoutSegmenter:
    """``segment_scene`` of the ``openshape_ood`` package in ``checkout``, called as this checkout's is, in a
    worker process started here and ended by :meth:`close` (or ``with``)."""

    def __init__(self, checkout: Path):
        checkout = Path(checkout).resolve()
        if not (checkout / "openshape_ood" / "__init__.py").is_file():
            raise SystemExit(f"{checkout} holds no openshape_ood package: give a checkout of the project "
                             "(git worktree add FOLDER COMMIT)")
        self.folder = tempfile.TemporaryDirectory(prefix="scenes_of_")
        self.worker = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(checkout)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        imported = self.worker.stdout.readline().strip()  # empty when the import failed (its error on stderr)
        if not imported or checkout not in Path(imported).parents:
            self.close()
            raise SystemExit(f"the worker imported openshape_ood from {imported or 'nowhere'}, not from {checkout}")
        self.calls = 0

    def __call__(self, points, up_axis=None, *, seed: int = 0, return_settings: bool = False, **settings):
        path = os.path.join(self.folder.name, f"scan{self.calls}.npz")
        self.calls += 1
        try:
            np.savez(path, points=np.asarray(points), up=up_axis or "", seed=seed, settings=json.dumps(settings))
            self.worker.stdin.write(path + "\n")
            self.worker.stdin.flush()
            answer = self.worker.stdout.readline().strip()
            if answer != "ok":
                # Raised as the segmentation raised: the benchmark records it in the scan's row and goes on.
                raise RuntimeError(json.loads(answer[len("error "):]) if answer.startswith("error ") else
                                   f"the worker ended (answer {answer!r})")
            labels = np.load(path + ".labels.npy")
            chosen = _Settings(json.loads(Path(path + ".settings.json").read_text()))
        finally:
            for name in (path, path + ".labels.npy", path + ".settings.json"):
                Path(name).unlink(missing_ok=True)
        return (labels, chosen) if return_settings else labels

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):  # a worker that ended takes no more input
            self.worker.stdin.close()
        self.worker.wait()
        self.folder.cleanup()

    def __enter__(self) -> CheckoutSegmenter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        raise SystemExit(f"usage: python -m benchmarks.scenes_of CHECKOUT [options of benchmarks.scenes]\n\n{__doc__}")
    if any(arg == "--set" or arg.startswith("--set=") for arg in argv):
        raise SystemExit("--set sets this checkout's constants, which the other checkout's segmentation does not read; "
                         "run benchmarks.scenes in that checkout with --set instead")
    with CheckoutSegmenter(Path(argv[0])) as segmenter:
        original = scenes.segment_scene
        scenes.segment_scene = segmenter  # the seam the benchmark's own tests use
        try:
            scenes.main([*argv[1:], *(["--no-loso"] if "--no-loso" not in argv else [])])
        finally:
            scenes.segment_scene = original


if __name__ == "__main__":
    main()
