"""Which word crops a recognizer reads differently in bf16 than in fp32, and whether each change gains or
loses a word (case-insensitive), so that an accuracy difference of a few crops can be told from noise; the
same for bf16-checked at each ``--recheck-below`` (bf16, then fp32 again for the crops with a step whose
top class is below it), with the share of crops it reads twice: what the default gate was chosen by.

    .venv/bin/python bench/precision_diff.py --crops data/icdar2015_crops/train --every 4 \\
        --recheck-below 0.5 0.6 0.7

Every predictor reads the same crops with the model's recorded settings, on OpenVINO (bf16 needs a CPU
with bf16 instructions; elsewhere every column is fp32 and nothing changes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import machine, report  # noqa: E402

from ocdr.data.formats import read_gt_list  # noqa: E402
from ocdr.data.images import read_image  # noqa: E402
from ocdr.pipeline.recognizer import RecognizerPredictor  # noqa: E402


def compare(readings_a: list[str], readings_b: list[str], labels: list[str]) -> dict:
    """Counts of crops read differently, and of those, how many only ``b`` reads right (gained) or only ``a``
    (lost), case-insensitive."""
    changed = gained = lost = 0
    for a, b, truth in zip(readings_a, readings_b, labels, strict=True):
        if a == b:
            continue
        changed += 1
        right_a, right_b = a.lower() == truth.lower(), b.lower() == truth.lower()
        gained += right_b and not right_a
        lost += right_a and not right_b
    return {"crops": len(labels), "changed": changed, "gained": gained, "lost": lost}


def right(readings: list[str], labels: list[str]) -> int:
    return sum(r.lower() == t.lower() for r, t in zip(readings, labels))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", default="data/icdar2015_crops/val", help="a folder with gt_list.txt (ocdr data crops)")
    ap.add_argument("--every", type=int, default=1, help="read every n-th crop of the list")
    ap.add_argument("--model", default="ppocr-v4-rec", help="recognizer ONNX file or ppocr-v4-rec")
    ap.add_argument("--recheck-below", type=float, nargs="*", default=[], help="bf16-checked gates to compare")
    args = ap.parse_args()
    root = Path(args.crops)
    items = read_gt_list(root / "gt_list.txt")[::args.every]
    crops = [read_image(root / rel) for rel, _ in items]
    labels = [text for _, text in items]
    fp32 = RecognizerPredictor(args.model, backend="openvino", precision="fp32")
    reads_fp32 = [text for text, _ in fp32(crops)]
    rows = []
    readers = [("bf16", RecognizerPredictor(args.model, backend="openvino", precision="bf16"))]
    readers += [(f"bf16-checked, recheck_below={g}", RecognizerPredictor(
        args.model, backend="openvino", precision="bf16-checked", recheck_below=g)) for g in args.recheck_below]
    for name, rec in readers:
        reads = [text for text, _ in rec(crops)]
        row = {"precision": name, "computed_in": rec.precision, **compare(reads_fp32, reads, labels),
               "fp32_right": right(reads_fp32, labels), "right": right(reads, labels)}
        if rec.precision == "bf16-checked":
            row["read_twice"] = round(float(rec.unsure(crops).mean()), 4)
        rows.append(row)
    report("precision_diff", rows, {"command": "bench/precision_diff.py " + " ".join(sys.argv[1:]),
                                    "machine": machine(), "model": args.model})


if __name__ == "__main__":
    main()
