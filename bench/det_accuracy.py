"""Detector accuracy within a CPU budget: synthetic pages, then the real handwriting in ../shared/data.

1. DBNet-R18 trained from scratch on synthetic pages for --synth-minutes; hmean on held-out pages.
2. Fine-tuned from (1) on a fixed 90/10 split (natural file-name order) of
   ../shared/data/hme_handwritten_det for --real-minutes; hmean on the 10% held out.

    .venv/bin/python bench/det_accuracy.py --workdir /tmp/det_bench --synth-minutes 30 --real-minutes 25
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import report
from ocdr.config import load_spec
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.data.icdar import IcdarSpec, convert_icdar
from ocdr.data.synth import SynthSpec, generate
from ocdr.commands.ocdnet_evaluate import evaluate_detector
from ocdr.train.detection import train_detector

HME = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hme_handwritten_det"


def run(work: Path, name: str, train_dirs: list[str], val_dirs: list[str], minutes: float, overrides: list[str]) -> dict:
    common = [f"dataset.train_data_path=[{','.join(train_dirs)}]", f"dataset.validate_data_path=[{','.join(val_dirs)}]",
              f"train.results_dir={work / name}", f"evaluate.checkpoint={work / name / 'model_final.pth'}",
              f"evaluate.results_dir={work / name / 'evaluate'}", f"train.max_minutes={minutes}",
              "train.progress_bar=false", *overrides]
    spec = load_spec(OcdnetSpec, None, common)
    t = time.perf_counter()
    trained = train_detector(spec)
    minutes_used = (time.perf_counter() - t) / 60
    metrics = evaluate_detector(spec)
    return {"run": name, "train_images": trained["train_images"], "eval_images": metrics["images"],
            "epochs": trained["epochs"], "steps": trained["steps"], "train_minutes": round(minutes_used, 1),
            "precision": metrics["precision"], "recall": metrics["recall"], "hmean": metrics["hmean"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/ocdr_det_bench")
    ap.add_argument("--synth-pages", type=int, default=200)
    ap.add_argument("--synth-minutes", type=float, default=30)
    ap.add_argument("--real-minutes", type=float, default=20)
    ap.add_argument("--synth-epochs", type=int, default=15, help="sets the LR schedule; the time budget may stop sooner")
    ap.add_argument("--real-epochs", type=int, default=4)
    ap.add_argument("--crop", type=int, default=384)
    ap.add_argument("--set", nargs="*", default=[], help="extra spec overrides for both runs")
    ap.add_argument("--skip-synthetic", action="store_true", help="reuse <workdir>/synthetic from an earlier run")
    ap.add_argument("--real-init", default="", help="checkpoint the real-data run starts from "
                    "(default: <workdir>/synthetic/model_final.pth)")
    ap.add_argument("--real-name", default="hme_finetuned", help="run folder (and table row) of the real-data run")
    ap.add_argument("--real-lr", type=float, default=1e-3)
    args = ap.parse_args()
    work = Path(args.workdir)
    base = [f"dataset.augmentation.crop_size={args.crop}", "train.batch_size=8",
            "dataset.augmentation.scale_min=0.6", "dataset.augmentation.scale_max=1.6",
            "train.validation_interval=1000", "train.checkpoint_interval=5", *args.set]
    rows = []
    if not args.skip_synthetic:
        generate(SynthSpec(output_dir=str(work / "synth"), num_pages=args.synth_pages, seed=0, overwrite=True))
        rows.append(run(work, "synthetic", [str(work / "synth/train")], [str(work / "synth/test")], args.synth_minutes,
                        base + [f"train.num_epochs={args.synth_epochs}"]))
    if HME.is_dir():
        convert_icdar(IcdarSpec(input_dir=str(HME), output_dir=str(work / "hme"), test_fraction=0.1))
        pretrained = args.real_init or str(work / "synthetic" / "model_final.pth")
        row = run(work, args.real_name, [str(work / "hme/train")], [str(work / "hme/test")], args.real_minutes,
                  base + [f"model.pretrained_model_path={pretrained}", f"train.num_epochs={args.real_epochs}",
                          f"train.optim.lr={args.real_lr}"])
        rows.append({**row, "started_from": pretrained})
    else:
        print(f"skipped the real-data run: {HME} not found")
    report("det_accuracy" if not args.skip_synthetic else f"det_accuracy_{args.real_name}", rows, {"command": "bench/det_accuracy.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
