"""A recognizer (by default the imported PP-OCRv4 one) read at PaddleOCR's minimum width (320) and narrower: accuracy and crops/s.

    .venv/bin/python bench/rec_width.py --crops data/icdar2015_crops/val --widths 320 160 96 48

A batch is as wide as its widest crop at height 48, but never narrower than ``width``; PaddleOCR (and
RapidOCR) use 320. Narrower batches cost fewer pixels; this measures what that does to the reading.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import machine, report  # noqa: E402

from ocdr.data.images import read_image  # noqa: E402
from ocdr.pipeline.recognizer import RecognizerPredictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crops", default="data/icdar2015_crops/val", help="a folder with gt_list.txt (ocdr data crops)")
    ap.add_argument("--widths", nargs="+", type=int, default=[320, 160, 96, 48])
    ap.add_argument("--batch-size", type=int, default=6)
    ap.add_argument("--model", default="ppocr-v4-rec", help="recognizer checkpoint, ONNX file or ppocr-v4-rec")
    args = ap.parse_args()
    root = Path(args.crops)
    items = [line.split("\t") for line in (root / "gt_list.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    crops = [read_image(root / rel) for rel, _ in items]
    labels = [text for _, text in items]
    rows = []
    for width in args.widths:
        rec = RecognizerPredictor(args.model, settings={"width": width}, batch_size=args.batch_size)
        rec(crops[:12])  # warm-up
        start = time.perf_counter()
        out = rec(crops)
        seconds = time.perf_counter() - start
        rows.append({"min_width": width, "crops": len(crops),
                     "word_acc": round(float(np.mean([t == g for (t, _), g in zip(out, labels)])), 3),
                     "word_acc_ci": round(float(np.mean([t.lower() == g.lower() for (t, _), g in zip(out, labels)])), 3),
                     "crops_per_s": round(len(crops) / seconds, 1)})
    report("rec_width", rows, {"command": "bench/rec_width.py " + " ".join(sys.argv[1:]), "machine": machine()})


if __name__ == "__main__":
    main()
