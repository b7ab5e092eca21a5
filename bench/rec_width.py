"""A recognizer read at several input geometries: minimum width, width rounding, batch spread and batch size.

    .venv/bin/python bench/rec_width.py --crops data/icdar2015_crops/val --widths 320 160 96 48
    .venv/bin/python bench/rec_width.py --model runs/recipes/icdar2015_rec/model_best.pth \\
        --multiples 1 8 --spreads 1.1 0 --batch-sizes 6 32
    .venv/bin/python bench/rec_width.py --backends openvino onnxruntime --batch-sizes 1 6 12 24
    .venv/bin/python bench/rec_width.py --crops data/funsd_crops/val --ladders 0 0.1 0.2 --multiples 1 64

A batch is as wide as its widest crop at height 48 (rounded up to ``width_multiple``), but never narrower
than the minimum ``width``; PaddleOCR (and RapidOCR) use 320. A batch also ends where a crop needs more than
``max_width_spread`` times its first crop's width (0: no limit). By default (no option given) the model is
read with the settings it records; each option given replaces that key for every row. ``--ladders``: the
batch width rounded up further to a ladder of widths that many times apart (``width_ladder``; 0: none).
Each row counts the distinct batch widths it read at and the crops it read differently from the first row.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import machine, report  # noqa: E402

from ocdr.data.images import read_image  # noqa: E402
from ocdr.pipeline.recognizer import RecognizerPredictor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", default="data/icdar2015_crops/val", help="a folder with gt_list.txt (ocdr data crops)")
    ap.add_argument("--model", default="ppocr-v4-rec", help="recognizer checkpoint, ONNX file or ppocr-v4-rec")
    ap.add_argument("--widths", nargs="+", type=int, default=[None], help="minimum widths (default: the model's)")
    ap.add_argument("--multiples", nargs="+", type=int, default=[None], help="width_multiple values")
    ap.add_argument("--spreads", nargs="+", type=float, default=[None], help="max_width_spread values")
    ap.add_argument("--ladders", nargs="+", type=float, default=[None], help="width_ladder values")
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[None], help="crops per batch (default: the model's)")
    ap.add_argument("--name", default="rec_width", help="bench/results/<name>.json")
    ap.add_argument("--backends", nargs="+", default=["auto"], help="engines (auto, openvino, onnxruntime, torch)")
    args = ap.parse_args()
    root = Path(args.crops)
    items = [line.split("\t") for line in (root / "gt_list.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    crops = [read_image(root / rel) for rel, _ in items]
    labels = [text for _, text in items]
    rows, first = [], None
    grid = itertools.product(args.backends, args.widths, args.multiples, args.spreads, args.ladders, args.batch_sizes)
    for backend, width, multiple, spread, ladder, batch in grid:
        settings = {"width": width, "width_multiple": multiple, "max_width_spread": spread, "width_ladder": ladder}
        rec = RecognizerPredictor(args.model, backend=backend, settings=settings, batch_size=batch)
        rec(crops[:12])  # warm-up
        start = time.perf_counter()
        out = rec(crops)
        seconds = time.perf_counter() - start
        s = rec.settings
        texts = [t for t, _ in out]
        first = first or texts
        rows.append({"backend": rec.backend, "min_width": s.width, "width_multiple": s.width_multiple, "max_width_spread": s.max_width_spread,
                     "width_ladder": s.width_ladder, "batch": rec.batch_size, "crops": len(crops),
                     "widths": len({w for _, w in rec.plan(crops)}), "changed": sum(a != b for a, b in zip(texts, first)),
                     "word_acc": round(float(np.mean([t == g for (t, _), g in zip(out, labels)])), 3),
                     "word_acc_ci": round(float(np.mean([t.lower() == g.lower() for (t, _), g in zip(out, labels)])), 3),
                     "crops_per_s": round(len(crops) / seconds, 1)})
    report(args.name, rows, {"command": "bench/rec_width.py " + " ".join(sys.argv[1:]), "machine": machine(),
                               "model": args.model})


if __name__ == "__main__":
    main()
