"""Where a bf16-checked read's time goes, and what changes it: the recognizer read in fp32, in bf16, and
bf16-checked (bf16, then fp32 again for the unsure crops), at each ``--batch-sizes``, before and after the
detector has run over the set's photos in the same process. Every variant is timed once per round, the
rounds interleaved, so that a noisy machine slows them alike; the median rate of each is reported.

    .venv/bin/python bench/recheck_cost.py --crops data/icdar2015_crops/val --pages data/icdar2015/val/images \\
        --batch-sizes 6 12 --rounds 5

The predictors share their sessions (one process, as ``ocdr.OCR`` does); the recognizer's recorded
settings are used except the batch size. On a CPU without bf16 instructions every variant is fp32.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import report  # noqa: E402

from ocdr.data.formats import read_gt_list  # noqa: E402
from ocdr.data.images import list_images, read_image  # noqa: E402


def interleaved(calls: dict, rounds: int, count: int, clock=time.perf_counter) -> dict[str, list[float]]:
    """Items per second of each of ``calls`` (name -> callable handling ``count`` items), every call once per
    round, in the given order, ``rounds`` rounds."""
    rates: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = clock()
            call()
            rates[name].append(count / (clock() - start))
    return rates


def variants(crops: list, batch_sizes: list[int], predictors: dict) -> dict:
    """``name@batch`` -> a callable reading every crop with that predictor at that batch size."""
    def reader(predictor, size):
        def read():
            predictor.batch_size = size
            predictor(crops)
        return read
    return {f"{name}@{size}": reader(p, size) for size in batch_sizes for name, p in predictors.items()}


def rows_of(rates: dict[str, list[float]], when: str) -> list[dict]:
    return [{"when": when, "read": name, "crops_per_s": statistics.median(r), "rounds": " ".join(f"{x:.0f}" for x in r)}
            for name, r in rates.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", default="data/icdar2015_crops/val", help="a folder with gt_list.txt (ocdr data crops)")
    ap.add_argument("--pages", default="", help="photos the detector reads between the two passes ('': no detector)")
    ap.add_argument("--det", default="auto", help="detector model (with --pages)")
    ap.add_argument("--rec", default="auto", help="recognizer model")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[6])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    from ocdr.pipeline.recognizer import RecognizerPredictor

    folder = Path(args.crops)
    crops = [read_image(folder / rel) for rel, _ in read_gt_list(folder / "gt_list.txt")]
    predictors = {p: RecognizerPredictor(args.rec, precision=p) for p in ("fp32", "bf16", "bf16-checked")}
    checked = predictors["bf16-checked"]
    unsure = int(checked.unsure(crops).sum())
    calls = variants(crops, args.batch_sizes, predictors)
    for call in calls.values():  # warm-up: every shape a round will see
        call()
    rows = rows_of(interleaved(calls, args.rounds, len(crops)), "no detector yet")
    if args.pages:
        from ocdr.pipeline.detector import DetectorPredictor

        detector = DetectorPredictor(args.det)
        pages = list_images(args.pages)
        for page in pages:
            detector([read_image(page)])
        rows += rows_of(interleaved(calls, args.rounds, len(crops)), f"after the detector read {len(pages)} photos")
    report("recheck_cost", rows, {"crops": len(crops), "unsure_crops": unsure,
                                  "recheck_below": checked.recheck_below, "streams": checked.streams})
    print(f"{len(crops)} crops, {unsure} unsure ({unsure / max(len(crops), 1):.1%}) read again in fp32")


if __name__ == "__main__":
    main()
