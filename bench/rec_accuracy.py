"""Recognizer accuracy within a CPU budget: a CRNN trained on synthetic word crops.

Held-out crops come from other pages of the same generator (the test split). Real word crops with
transcriptions are used when ../shared/data has any (the HME set has boxes only, no text).

    .venv/bin/python bench/rec_accuracy.py --workdir /tmp/rec_bench --pages 600 --minutes 25
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import report
from ocdr.config import load_spec
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.synth import SynthSpec, generate
from ocdr.commands.ocrnet_evaluate import evaluate_recognizer
from ocdr.train.recognition import train_recognizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/ocdr_rec_bench")
    ap.add_argument("--pages", type=int, default=600)
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--epochs", type=int, default=30, help="sets the LR schedule; the time budget may stop sooner")
    ap.add_argument("--backbone", default="small")
    ap.add_argument("--set", nargs="*", default=[], help="extra spec overrides")
    args = ap.parse_args()
    work = Path(args.workdir)
    data = generate(SynthSpec(output_dir=str(work / "synth"), num_pages=args.pages, seed=1, overwrite=True))
    overrides = [f"dataset.train_dataset_dir=[{work / 'synth/train/crops'}]",
                 f"dataset.val_dataset_dir=[{work / 'synth/test/crops'}]",
                 f"dataset.character_list_file={work / 'synth/character_list.txt'}",
                 f"model.backbone={args.backbone}", f"train.num_epochs={args.epochs}", f"train.max_minutes={args.minutes}",
                 "train.batch_size=64", "train.num_workers=1", "train.progress_bar=false", "train.validation_interval=5",
                 f"train.results_dir={work / 'run'}", f"evaluate.checkpoint={work / 'run/model_final.pth'}",
                 f"evaluate.results_dir={work / 'eval'}", "evaluate.decoding=beam", *args.set]
    spec = load_spec(OcrnetSpec, None, overrides)
    t = time.perf_counter()
    trained = train_recognizer(spec)
    minutes = (time.perf_counter() - t) / 60
    metrics = evaluate_recognizer(spec)
    row = {"data": "synthetic held-out", "train_crops": trained["train_samples"], "test_crops": metrics["samples"],
           "epochs": trained["epochs"], "train_minutes": round(minutes, 1),
           **{k: v for k, v in metrics.items() if "/" in k}}
    report("rec_accuracy", [row], {"words_generated": data["words"], "command": "bench/rec_accuracy.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "set"),
        "real_word_crops": "none with transcriptions under ../shared/data (hme_handwritten_det has boxes only)"})


if __name__ == "__main__":
    main()
