"""PP-OCRv4 imported into ocdr: does it behave like the original, and does fine-tuning from it pay?

A. parity: on the held-out 10% of ../shared/data/hme_handwritten_det, the imported detector vs RapidOCR's
   own detector, both with RapidOCR's pre-processing (min side 736, BGR, (x - 0.5) / 0.5) and its DB
   post-processing (thresh 0.3, box_thresh 0.5, unclip 1.6, dilation): ICDAR 2015 hmean of each, and the
   largest probability-map difference, of the converted graph alone on RapidOCR's input and of the whole
   ocdr model (RGB, ImageNet-normalised input folded into its first layer), and of each float32 run (the
   converted graph, ONNX Runtime) from the same graph evaluated in float64.
B. fine-tuning on the real handwriting (90% split), same architecture and budget: from the import vs from
   random initialisation; hmean on the 10% held out (ocdr evaluate, long side 640).
C. fine-tuning on synthetic handwriting-like pages and crops for a bounded time: held-out synthetic hmean and
   word accuracy before and after, and on printed text (pages rendered only with print fonts: there is no
   real printed text with ground truth under ../shared/data) before and after.

    .venv/bin/python bench/ppocr_import.py --workdir /tmp/ppocr_bench --parts A B C --minutes 8
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from common import RESULTS, report
from ocdr.config import load_spec
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.formats import read_icdar_gt
from ocdr.data.icdar import IcdarSpec, convert_icdar
from ocdr.data.images import list_images
from ocdr.data.images import read_image
from ocdr.data.synth import SynthSpec, find_fonts, generate
from ocdr.data.transforms import MEAN, STD
from ocdr.eval.detection import DetectionMetric
from ocdr.commands.ocdnet_evaluate import evaluate_detector
from ocdr.commands.ocrnet_evaluate import evaluate_recognizer
from ocdr.models.imported.pretrained import import_record
from ocdr.models.checkpoint import save_checkpoint
from ocdr.train.detection import train_detector
from ocdr.train.recognition import train_recognizer

HME = Path(__file__).resolve().parents[2] / "shared" / "data" / "hme_handwritten_det"
DET_BASE = ["dataset.augmentation.crop_size=384", "train.batch_size=8", "dataset.augmentation.scale_min=0.6",
            "dataset.augmentation.scale_max=1.6", "train.validation_interval=1000", "train.checkpoint_interval=1000",
            "train.progress_bar=false"]


def part_a(test: Path) -> dict:
    from rapidocr_onnxruntime import RapidOCR

    from ocdr.models.loading import load_detector

    td = RapidOCR().text_det
    model, _ = load_detector("ppocr-v4-det")
    metrics = {"rapidocr": DetectionMetric(), "ocdr import": DetectionMetric()}
    worst, worst_graph, worst_exact, ort_exact = 0.0, 0.0, 0.0, 0.0
    exact = copy.deepcopy(model.graph).double()  # the same graph in float64: what both float32 runs approximate
    for path in list_images(test / "img"):
        rgb = read_image(path)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        h, w = rgb.shape[:2]
        regions = read_icdar_gt(test / "gt" / f"gt_{path.stem}.txt")
        gts, ign = [r.points for r in regions], [r.ignore for r in regions]
        boxes, _ = td(bgr)
        metrics["rapidocr"].update(gts, ign, [] if boxes is None else list(boxes))
        x = td.get_preprocess(max(h, w))(bgr)  # RapidOCR's input, turned into ocdr's (RGB, ImageNet stats)
        rgb01 = (x[0] * 0.5 + 0.5)[::-1].transpose(1, 2, 0)
        ours_in = ((rgb01 - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
        with torch.no_grad():
            prob = model(torch.from_numpy(ours_in))["prob"].numpy()
            graph_prob = model.graph(torch.from_numpy(x)).numpy()  # the converted graph on RapidOCR's own input
            exact_prob = exact(torch.from_numpy(x).double()).numpy()
        reference = td.infer(x)[0]
        worst = max(worst, float(np.abs(prob - reference).max()))
        worst_graph = max(worst_graph, float(np.abs(graph_prob - reference).max()))
        worst_exact = max(worst_exact, float(np.abs(graph_prob - exact_prob).max()))
        ort_exact = max(ort_exact, float(np.abs(reference - exact_prob).max()))
        boxes, _ = td.postprocess_op(prob, (h, w))
        boxes = td.filter_tag_det_res(boxes, (h, w))
        metrics["ocdr import"].update(gts, ign, list(boxes))
    return {name: {**m.compute(), "max_abs_map_diff": worst, "max_abs_graph_diff": worst_graph,
                   "max_abs_graph_vs_float64": worst_exact, "max_abs_ort_vs_float64": ort_exact}
            for name, m in metrics.items()}


def random_init_checkpoint(path: Path) -> Path:
    """The imported detector's architecture with fresh weights (the 'without the import' baseline)."""
    record = copy.deepcopy(import_record("ppocr-v4-det"))
    gen = torch.Generator().manual_seed(0)
    state = {}
    for k, v in record["state_dict"].items():
        if k.startswith("thresh.") or not v.is_floating_point():
            state[k] = v
        elif v.dim() == 4:  # conv kernels: He initialisation
            fan_in = v.shape[1] * v.shape[2] * v.shape[3]
            state[k] = torch.randn(v.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif v.dim() >= 2:
            state[k] = torch.randn(v.shape, generator=gen) * 0.02
        elif "const_" in k:  # BatchNorm running statistics: mean 0 / var 1 for a fresh network
            state[k] = torch.ones_like(v) if v.min() > 0 else torch.zeros_like(v)
        else:  # BN scales (all positive in the import) -> 1, biases -> 0
            state[k] = torch.ones_like(v) if bool((v > 0).all()) and v.numel() > 1 else torch.zeros_like(v)
    record["state_dict"] = state
    return save_checkpoint(record, path)


def train_eval_det(work: Path, name: str, train: Path, test: Path, start: str, minutes: float, epochs: int,
                   eval_sets: dict[str, Path] | None = None) -> dict:
    spec = load_spec(OcdnetSpec, None, [*DET_BASE, f"dataset.train_data_path=[{train}]",
                                        f"dataset.validate_data_path=[{test}]", f"model.pretrained_model_path={start}",
                                        f"train.results_dir={work / name}", f"train.max_minutes={minutes}",
                                        f"train.num_epochs={epochs}", "postprocess.box_thresh=0.5"])
    shutil.rmtree(work / name, ignore_errors=True)  # a fresh run: never resume an earlier one's checkpoint
    t = time.perf_counter()
    trained = train_detector(spec)
    row = {"run": name, "steps": trained["steps"], "train_minutes": round((time.perf_counter() - t) / 60, 1)}
    for label, folder in (eval_sets or {"test": test}).items():
        spec.evaluate.checkpoint = str(work / name / "model_final.pth")
        spec.evaluate.data_path = [str(folder)]
        spec.evaluate.results_dir = str(work / name / f"eval_{label}")
        row[f"{label} hmean"] = evaluate_detector(spec)["hmean"]
    return row


def eval_det(work: Path, checkpoint: str, sets: dict[str, Path], name: str) -> dict:
    row = {"run": name, "steps": 0, "train_minutes": 0.0}
    for label, folder in sets.items():
        spec = load_spec(OcdnetSpec, None, [f"evaluate.checkpoint={checkpoint}", f"evaluate.data_path=[{folder}]",
                                            f"evaluate.results_dir={work / name / f'eval_{label}'}",
                                            "postprocess.box_thresh=0.5"])
        row[f"{label} hmean"] = evaluate_detector(spec)["hmean"]
    return row


def rec_row(work: Path, name: str, checkpoint: str, sets: dict[str, Path], charset: Path, minutes: float = 0,
            train: Path | None = None, epochs: int = 10) -> dict:
    common = [f"dataset.character_list_file={charset}", "train.batch_size=32", "train.num_workers=1",
              "train.progress_bar=false", "train.validation_interval=1000", "train.checkpoint_interval=1000"]
    row = {"run": name, "steps": 0, "train_minutes": 0.0}
    if train is not None:
        spec = load_spec(OcrnetSpec, None, [*common, f"model.pretrained_model_path={checkpoint}",
                                            f"dataset.train_dataset_dir=[{train}]",
                                            f"dataset.val_dataset_dir=[{next(iter(sets.values()))}]",
                                            f"train.results_dir={work / name}", f"train.max_minutes={minutes}",
                                            f"train.num_epochs={epochs}", "train.optim.lr=3e-4"])
        shutil.rmtree(work / name, ignore_errors=True)  # a fresh run: never resume an earlier one's checkpoint
        t = time.perf_counter()
        row["steps"] = train_recognizer(spec)["steps"]
        row["train_minutes"] = round((time.perf_counter() - t) / 60, 1)
        checkpoint = str(work / name / "model_final.pth")
    for label, folder in sets.items():
        spec = load_spec(OcrnetSpec, None, [*common, f"evaluate.checkpoint={checkpoint}",
                                            f"evaluate.test_dataset_dir=[{folder}]",
                                            f"dataset.train_dataset_dir=[{folder}]", f"dataset.val_dataset_dir=[{folder}]",
                                            f"evaluate.results_dir={work / name / f'eval_{label}'}"])
        row[f"{label} word acc"] = evaluate_recognizer(spec)["greedy/accuracy"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/ocdr_ppocr_bench")
    ap.add_argument("--parts", nargs="*", default=["A", "B", "C"])
    ap.add_argument("--minutes", type=float, default=8, help="budget of each training run")
    ap.add_argument("--rec-minutes", type=float, default=0, help="budget of the recognizer run of part C "
                    "(default: --minutes)")
    ap.add_argument("--epochs", type=int, default=6, help="LR schedule of each run (the budget may stop sooner)")
    ap.add_argument("--keep-other-parts", action="store_true",
                    help="keep the rows of parts not run from the previous bench/results/ppocr_import.json")
    args = ap.parse_args()
    work = Path(args.workdir)
    rows = []
    hme = work / "hme"
    if ("A" in args.parts or "B" in args.parts) and not (hme / "test" / "img").is_dir():
        if not HME.is_dir():
            raise SystemExit(f"{HME} not found: parts A and B need the real handwriting")
        convert_icdar(IcdarSpec(input_dir=str(HME), output_dir=str(hme), test_fraction=0.1))
    if "A" in args.parts:
        for engine, m in part_a(hme / "test").items():
            rows.append({"part": "A", "run": engine, "hme hmean": m["hmean"], "P": m["precision"], "R": m["recall"],
                         "max |graph diff|": m["max_abs_graph_diff"], "max |map diff|": m["max_abs_map_diff"],
                         "max |graph - f64|": m["max_abs_graph_vs_float64"],
                         "max |ORT - f64|": m["max_abs_ort_vs_float64"]})
    if "B" in args.parts:
        random_ckpt = random_init_checkpoint(work / "ppocr_det_random.pth")
        for name, start in (("from import", "ppocr-v4-det"), ("from random init", str(random_ckpt))):
            r = train_eval_det(work, f"B_{name.replace(' ', '_')}", hme / "train", hme / "test", start,
                               args.minutes, args.epochs)
            rows.append({"part": "B", **r, "run": f"HME fine-tune {name}"})
    if "C" in args.parts:
        synth = work / "synth"
        printed = work / "printed"
        generate(SynthSpec(output_dir=str(synth), num_pages=120, seed=3, overwrite=True))
        generate(SynthSpec(output_dir=str(printed), num_pages=21, seed=4, test_fraction=0.95, overwrite=True,
                           fonts=find_fonts()[1] or ["<pillow>"]))
        sets = {"synthetic": synth / "test", "printed": printed / "test"}
        rows.append({"part": "C", **eval_det(work, "ppocr-v4-det", sets, "C_det_import"), "run": "detector: import"})
        r = train_eval_det(work, "C_det_tuned", synth / "train", synth / "test", "ppocr-v4-det", args.minutes,
                           args.epochs, sets)
        rows.append({"part": "C", **r, "run": "detector: import + synthetic fine-tune"})
        charset = synth / "character_list.txt"
        crops = {"synthetic": synth / "test" / "crops", "printed": printed / "test" / "crops"}
        rows.append({"part": "C", **rec_row(work, "C_rec_import", "ppocr-v4-rec", crops, charset),
                     "run": "recognizer: import"})
        rows.append({"part": "C", **rec_row(work, "C_rec_tuned", "ppocr-v4-rec", crops, charset, args.rec_minutes or args.minutes,
                                             synth / "train" / "crops", args.epochs),
                     "run": "recognizer: import + synthetic fine-tune"})
    previous = RESULTS / "ppocr_import.json"
    if args.keep_other_parts and previous.is_file():  # rerunning some parts keeps the others' rows
        rows = [r for r in json.loads(previous.read_text())["rows"] if r["part"] not in args.parts] + rows
        rows.sort(key=lambda r: r["part"])
    report("ppocr_import", rows, {"command": "bench/ppocr_import.py " + " ".join(
        f"--{k} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(args).items())})


if __name__ == "__main__":
    main()
