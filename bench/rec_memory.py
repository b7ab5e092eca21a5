"""The recognizer's resident memory under a service-like load: ``--calls`` calls of ``--crops`` word crops of
random widths (height 48, aspect ratio uniform in 1-40, the same seed for every variant), each
``--ladders`` value in its own process (``default``: the recognizer's own setting; a number: the
``width_ladder`` override, 0 for PaddleOCR's exact batch widths). OpenVINO keeps memory for every input
width it has run, so with exact widths a long-running service grows with each new width.

    .venv/bin/python bench/rec_memory.py --ladders 0 default --calls 60 --crops 8

Reports per variant the distinct batch widths the calls used, the resident memory (MB) every 10 calls and
the seconds the calls took (a noisy figure: compare variants of one run only). The measured processes
import no torch, as ``ocdr.OCR`` on an ONNX engine does not.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from serve_load import rss_mb  # noqa: E402  (standard library only at import: no torch)


def random_calls(calls: int, per_call: int, seed: int = 0) -> list[list[tuple[int, int]]]:
    """(height, width) of the crops of each call: height 48, aspect ratio uniform in 1-40."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [[(48, int(48 * r)) for r in rng.uniform(1, 40, per_call)] for _ in range(calls)]


def ladder_settings(ladder: str) -> dict | None:
    """The predictor's settings override for a ``--ladders`` value."""
    return None if ladder == "default" else {"width_ladder": float(ladder)}


def measure(ladder: str, calls: int, per_call: int, backend: str) -> dict:
    """One variant, in this process."""
    import numpy as np

    from ocdr.pipeline.recognizer import RecognizerPredictor

    predictor = RecognizerPredictor(backend=backend, settings=ladder_settings(ladder))
    rng = np.random.default_rng(1)
    trace, widths, start = [int(rss_mb(os.getpid()))], set(), time.perf_counter()
    for k, shapes in enumerate(random_calls(calls, per_call)):
        crops = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
        widths |= {w for _, w in predictor.plan(crops)}
        predictor(crops)
        if k % 10 == 9:
            trace.append(int(rss_mb(os.getpid())))
    return {"ladder": ladder, "width_ladder": predictor.settings.width_ladder, "backend": predictor.backend,
            "precision": predictor.precision, "distinct_widths": len(widths), "seconds": round(time.perf_counter() - start, 1),
            "rss_mb_every_10_calls": " ".join(map(str, trace)), "final_rss_mb": trace[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ladders", nargs="+", default=["0", "default"])
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--crops", type=int, default=8, help="crops per call")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)  # a child process: measure this ladder, print JSON
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.calls, args.crops, args.backend)))
        return
    from common import report  # here, not above: it imports torch, which the measured processes must not hold

    rows = []
    for ladder in args.ladders:
        out = subprocess.run([sys.executable, __file__, "--one", ladder, "--calls", str(args.calls), "--crops",
                              str(args.crops), "--backend", args.backend], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    report("rec_memory", rows, {"command": "bench/rec_memory.py " + " ".join(sys.argv[1:]), "calls": args.calls,
                                "crops_per_call": args.crops})


if __name__ == "__main__":
    main()
