"""Peak resident memory of a TextEncoder against open_clip's full model, both with random weights.

Each case runs in its own fresh Python process; its peak RSS is the child's ``ru_maxrss``
as reported to this process by ``os.wait4``. Every case embeds one prompt, so the model is
built and used. This parent imports nothing heavy on purpose: Linux counts the parent's
peak in the ``ru_maxrss`` of a child it starts (fork or vfork, then exec). Run from the
repository root::

    python -m benchmarks.text_memory --model ViT-bigG-14

The ViT-bigG-14 full model needs about 11 GB of memory; run nothing else heavy meanwhile.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PROMPT = "a point cloud model of a chair."

# Each child prints its parameter count; {model} and {prompt} are filled in.
CASES = {
    "imports only": "import torch, open_clip, openshape_ood.encoders.text\nprint(0)",
    "TextEncoder (text tower)": """
from openshape_ood.encoders.text import TextEncoder
encoder = TextEncoder({model!r}, None, cache=False)
encoder.encode_text(encoder.tokenizer([{prompt!r}]))
print(sum(p.numel() for p in encoder.module.parameters()))
""",
    "open_clip full model": """
import torch, open_clip
model = open_clip.create_model({model!r}).eval()
with torch.no_grad():
    model.encode_text(open_clip.get_tokenizer({model!r})([{prompt!r}]))
print(sum(p.numel() for p in model.parameters()))
""",
}


def peak_rss(code: str) -> tuple[int, int]:
    """Run ``code`` in a fresh interpreter; return (peak RSS in bytes, the integer it printed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    if process.returncode != 0:
        raise RuntimeError(f"benchmark case failed with exit code {process.returncode}:\n{code}")
    return usage.ru_maxrss * 1024, int(output.split()[-1])  # Linux reports ru_maxrss in KiB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-bigG-14", help="open_clip architecture (default: ViT-bigG-14)")
    args = parser.parse_args(argv)
    print(f"model {args.model}, random weights, fp32, CPU; peak RSS per fresh process")
    for name, template in CASES.items():
        rss, parameters = peak_rss(template.format(model=args.model, prompt=PROMPT))
        print(f"{name:<26} peak RSS {rss / 2**30:7.2f} GiB   parameters {parameters:>13,}", flush=True)


if __name__ == "__main__":
    main()
