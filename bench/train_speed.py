"""Training speed of each starting point on real data: recognizer crops/s and detector images/s.

Each configuration runs the real command (``ocdr ocrnet train`` / ``ocdr ocdnet train``) for ``--steps``
optimizer steps in its own process, one after another (never two at once on a 2-core machine), and reads
``train_samples_per_second`` from the command's result: samples per second over the training steps, data
loading and augmentation included, validation and start-up excluded.

Data: the train splits of ``ocdr data split`` (every 10th item by name is validation), written under
``data/`` when absent: George Washington word crops for the recognizers, ICDAR 2015 photos for the
detectors.

    .venv/bin/python bench/train_speed.py                 # every configuration, JSON in bench/results/
    .venv/bin/python bench/train_speed.py --only ppocr_rec_dynamic --steps 20
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
OCDR = [sys.executable, "-m", "ocdr"]

REC = ["dataset.train_dataset_dir=[data/gw_words/train/gt_list.txt]",
       "dataset.val_dataset_dir=[data/gw_words/val/gt_list.txt]",
       "dataset.character_list_file=data/gw_words/character_list.txt", "train.batch_size=32"]
DET = ["dataset.train_data_path=[data/icdar2015/train]", "dataset.validate_data_path=[data/icdar2015/val]",
       "train.batch_size=8", "dataset.augmentation.crop_size=640"]
# PP-OCRv4 recognizer at each crop's own width, loading in the training process
INLINE = ["model.pretrained_model_path=ppocr-v4-rec", "model.dynamic_width=true", "train.num_workers=0"]
CONFIGS = {
    # name: (command, starting point, overrides)
    "ppocr_rec_320": ("ocrnet", "ppocr-v4-rec", REC + ["model.pretrained_model_path=ppocr-v4-rec"]),
    "ppocr_rec_dynamic": ("ocrnet", "ppocr-v4-rec", REC + ["model.pretrained_model_path=ppocr-v4-rec",
                                                           "model.dynamic_width=true"]),
    "ppocr_rec_dynamic_inline": ("ocrnet", "ppocr-v4-rec", REC + INLINE),
    "crnn_resnet_scratch": ("ocrnet", "none (ocdr ResNet+BiLSTM+CTC, 1x32x100)", REC + ["model.backbone=ResNet"]),
    # the first stages keep their pretrained weights and skip their backward (model.frozen_stages)
    **{f"ppocr_rec_dynamic_inline_frozen{n}": ("ocrnet", "ppocr-v4-rec", REC + INLINE + [f"model.frozen_stages={n}"])
       for n in (2, 3, 4)},
    # the depthwise filters keep their pretrained weights and skip their weight gradient (model.frozen_depthwise)
    "ppocr_rec_dynamic_inline_dw": ("ocrnet", "ppocr-v4-rec", REC + INLINE + ["model.frozen_depthwise=true"]),
    **{f"ppocr_rec_dynamic_inline_frozen{n}_dw": ("ocrnet", "ppocr-v4-rec", REC + INLINE + [
        f"model.frozen_stages={n}", "model.frozen_depthwise=true"]) for n in (2, 3)},
    # autocast to bfloat16 (train.precision=bf16-mixed): oneDNN's bf16 kernels on a CPU that has them
    "ppocr_rec_dynamic_inline_bf16": ("ocrnet", "ppocr-v4-rec", REC + INLINE + ["train.precision=bf16-mixed"]),
    "ppocr_rec_dynamic_inline_dw_bf16": ("ocrnet", "ppocr-v4-rec", REC + INLINE + [
        "model.frozen_depthwise=true", "train.precision=bf16-mixed"]),
    **{f"ppocr_rec_dynamic_inline_frozen{n}_bf16": ("ocrnet", "ppocr-v4-rec", REC + INLINE + [
        f"model.frozen_stages={n}", "train.precision=bf16-mixed"]) for n in (2, 3)},
    "ppocr_rec_dynamic_inline_frozen2_dw_bf16": ("ocrnet", "ppocr-v4-rec", REC + INLINE + [
        "model.frozen_stages=2", "model.frozen_depthwise=true", "train.precision=bf16-mixed"]),
    "ppocr_det": ("ocdnet", "ppocr-v4-det", DET + ["model.pretrained_model_path=ppocr-v4-det"]),
    "ppocr_det_frozen2": ("ocdnet", "ppocr-v4-det", DET + ["model.pretrained_model_path=ppocr-v4-det",
                                                           "model.frozen_stages=2"]),
    "ppocr_det_dw": ("ocdnet", "ppocr-v4-det", DET + ["model.pretrained_model_path=ppocr-v4-det",
                                                      "model.frozen_depthwise=true"]),
    "ppocr_det_bf16": ("ocdnet", "ppocr-v4-det", DET + ["model.pretrained_model_path=ppocr-v4-det",
                                                        "train.precision=bf16-mixed"]),
    "dbnet_r18_scratch": ("ocdnet", "none (ocdr DBNet ResNet-18)", DET + ["model.backbone=resnet18"]),
}


def ensure_splits() -> None:
    for src, dst in (("gw/train/words", "gw_words"), ("icdar2015/train", "icdar2015")):
        if not (ROOT / "data" / dst / "train").is_dir():
            subprocess.run(OCDR + ["data", "split", f"input_dir={DATA / src}", f"output_dir=data/{dst}"],
                           cwd=ROOT, check=True, capture_output=True)
    chars = ROOT / "data/gw_words/character_list.txt"
    if not chars.is_file():
        subprocess.run(OCDR + ["data", "charset", "inputs=[data/gw_words/train/gt_list.txt]", f"output={chars}"],
                       cwd=ROOT, check=True, capture_output=True)


def run(name: str, steps: int, workdir: Path) -> dict:
    command, start, overrides = CONFIGS[name]
    results = workdir / name
    shutil.rmtree(results, ignore_errors=True)  # a left-over last.ckpt would make it resume, not measure
    args = OCDR + [command, "train", "train.num_workers=1", *overrides, f"train.results_dir={results}",
                   f"train.max_steps={steps}", "train.num_epochs=100", "train.progress_bar=false",
                   "train.validation_interval=100"]
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"name": name, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    unit = "crops/s" if command == "ocrnet" else "images/s"
    return {"name": name, "command": command, "starting_point": start, "steps": result["steps"],
            "samples_per_second": result["train_samples_per_second"], "unit": unit, "wall_s": round(wall, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per configuration")
    ap.add_argument("--out", default=str(HERE / "results" / "train_speed.json"))
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (the real training data)")
        return 0
    ensure_splits()
    workdir = ROOT / "runs" / "bench_train_speed"
    rows = []
    for name in args.only:
        row = run(name, args.steps, workdir)
        print(json.dumps(row), flush=True)
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": f"{os.cpu_count()} CPU cores", "steps": args.steps, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
