"""The demo workflow behind ``ocdr demo`` and ``make demo``: the whole product on a fresh machine, offline.

1. generate synthetic handwriting-like pages (detection layout, word crops, character list, LMDB);
2. train the DBNet detector and the CRNN recognizer on them, each within a time budget;
3. evaluate both (ICDAR 2015 P/R/hmean; exact/case-insensitive accuracy and CER);
4. export both to ONNX and check ONNX Runtime against PyTorch;
5. run the pipeline (ONNX Runtime) on held-out pages, with end-to-end word scores, and on the real
   images under ``real_data`` when present (detection scored where they have ground truth);
6. write ``report.html``: metrics, training curves, annotated images, the worst cases.

``minutes`` bounds the two trainings together (about 10 by default; more gives better models).
"""
from __future__ import annotations

import html
import importlib.util
import json
import logging
import os
import time
from pathlib import Path

from ocdr.commands.export import export_detector_command, export_recognizer_command
from ocdr.commands.ocdnet_evaluate import evaluate_detector
from ocdr.commands.ocrnet_evaluate import evaluate_recognizer
from ocdr.config import load_spec
from ocdr.config.demo import DemoSpec
from ocdr.config.ocdnet import OcdnetSpec
from ocdr.config.ocrnet import OcrnetSpec
from ocdr.data.charset import CharsetSpec, make_charset
from ocdr.data.formats import read_icdar_gt
from ocdr.data.icdar import IcdarSpec, convert_icdar
from ocdr.data.images import list_images, read_image, write_image
from ocdr.data.lmdb_io import LmdbConvertSpec, convert_to_lmdb
from ocdr.data.stats import StatsSpec, dataset_stats
from ocdr.data.synth import SynthSpec, generate
from ocdr.errors import ConfigError, OcdrError
from ocdr.eval.drawing import draw_ocr
from ocdr.eval.end_to_end import EndToEndMetric
from ocdr.eval.report import figure, html_table, plot_curves, read_curves, write_html_report
from ocdr.fileio import atomic_write_text
from ocdr.pipeline.ocr import OCR
from ocdr.train.detection import train_detector
from ocdr.train.recognition import train_recognizer

__all__ = ["run_demo"]
log = logging.getLogger("ocdr.demo")


def _start_from(spec: DemoSpec) -> str:
    """'ppocr-v4' or '' (from scratch)."""

    if spec.pretrained == "none":
        return ""
    if spec.pretrained == "auto" and importlib.util.find_spec("rapidocr_onnxruntime") is None:
        log.info("no rapidocr-onnxruntime wheel: both models train from scratch")
        return ""
    return "ppocr-v4"


def _stage(n: int, text: str, *args) -> None:
    log.info(f"[{n}/6] " + text, *args)


def _fresh(run_dir: Path, resume: bool) -> None:
    last = run_dir / "last.ckpt"
    if not resume and last.is_file():
        last.unlink()


def _det_spec(spec: DemoSpec, data: Path, out: Path, overrides: list[str] = ()) -> OcdnetSpec:
    start = ["model.pretrained_model_path=ppocr-v4-det"] if _start_from(spec) else []
    return load_spec(OcdnetSpec, None, [*start,
        f"model.backbone={spec.det_backbone}", f"dataset.train_data_path=[{data / 'train'}]",
        f"dataset.validate_data_path=[{data / 'test'}]", f"dataset.augmentation.crop_size={spec.det_crop}",
        "dataset.augmentation.scale_min=0.6", "dataset.augmentation.scale_max=1.6", "train.batch_size=8",
        f"train.num_epochs={spec.det_epochs}", f"train.max_minutes={0.5 * spec.minutes:.3f}",
        "train.validation_interval=1000", "train.checkpoint_interval=1000", "train.progress_bar=false",
        f"train.device={spec.device}", f"train.results_dir={out / 'detector'}",
        f"evaluate.checkpoint={out / 'detector/model_final.pth'}", f"evaluate.results_dir={out / 'detector/evaluate'}",
        "evaluate.num_worst=4", f"export.checkpoint={out / 'detector/model_final.pth'}",
        f"export.onnx_file={out / 'detector/detector.onnx'}", *overrides])


def _rec_backbone(spec: DemoSpec) -> str:
    # from scratch, the demo's budget suits the small CRNN better than ocdr's default ResNet
    return "small" if spec.rec_backbone == "auto" and not _start_from(spec) else spec.rec_backbone


def _rec_spec(spec: DemoSpec, data: Path, out: Path) -> OcrnetSpec:
    # a pretrained recognizer is fine-tuned gently; from scratch it needs the full rate
    start = ["model.pretrained_model_path=ppocr-v4-rec", "train.optim.lr=3e-4"] if _start_from(spec) else []
    return load_spec(OcrnetSpec, None, [*start,
        f"model.backbone={_rec_backbone(spec)}", f"dataset.train_dataset_dir=[{data / 'train/lmdb'}]",
        f"dataset.val_dataset_dir=[{data / 'test/lmdb'}]", f"dataset.character_list_file={data / 'character_list.txt'}",
        "train.batch_size=64", "train.num_workers=1", f"train.num_epochs={spec.rec_epochs}",
        f"train.max_minutes={0.4 * spec.minutes:.3f}", "train.validation_interval=1000",
        "train.checkpoint_interval=1000", "train.progress_bar=false", f"train.device={spec.device}",
        f"train.results_dir={out / 'recognizer'}", f"evaluate.checkpoint={out / 'recognizer/model_final.pth'}",
        f"evaluate.results_dir={out / 'recognizer/evaluate'}", "evaluate.num_worst=12",
        f"export.checkpoint={out / 'recognizer/model_final.pth'}", f"export.onnx_file={out / 'recognizer/recognizer.onnx'}"])


def _curves(run_dir: Path, keys: list[str], title: str) -> str:
    csvs = sorted(run_dir.glob("logs/version_*/metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not csvs:
        return ""
    png = plot_curves(read_curves(csvs[-1], keys), run_dir / "curves.png", title)
    return figure(os.path.relpath(png, run_dir.parent), title) if png else ""


def _pipeline_on_pages(ocr: OCR, folder: Path, out: Path, show: int, metric: EndToEndMetric | None) -> list[str]:
    """Run the pipeline over every image of ``folder`` (scored when gt/ is beside img/); draw the first ``show``."""
    images = list_images(folder / "img")
    gt_dir = folder / "gt"
    shown = []
    for start in range(0, len(images), 4):
        chunk = images[start:start + 4]
        pictures = [read_image(p) for p in chunk]
        for k, (path, image, page) in enumerate(zip(chunk, pictures, ocr(pictures))):
            polys, texts = [w.polygon for w in page.words], [w.text for w in page.words]
            atomic_write_text(out / f"{path.stem}.json", json.dumps({"image": str(path), **page.to_dict()},
                                                                   ensure_ascii=False, indent=1))
            gt_file = gt_dir / f"gt_{path.stem}.txt"
            if metric is not None and gt_file.is_file():
                regions = read_icdar_gt(gt_file)
                metric.update([r.points for r in regions], [r.text for r in regions], [r.ignore for r in regions],
                              polys, texts, image_id=path.name)
            if start + k < show:
                shown.append(str(write_image(out / f"{path.stem}_ocr.jpg", draw_ocr(image, polys, texts))))
    return shown


def run_demo(spec: DemoSpec) -> dict:
    t_start = time.perf_counter()
    out = Path(spec.output_dir)
    data = out / "data"
    _stage(1, "generating %d synthetic pages into %s", spec.num_pages, data)
    # the demo owns its data folder: a rerun replaces it
    synth = generate(SynthSpec(output_dir=str(data), num_pages=spec.num_pages, seed=spec.seed, overwrite=True))
    charset = make_charset(CharsetSpec(inputs=[str(data / s / "crops" / "gt_list.txt") for s in ("train", "test")],
                                       output=str(data / "character_list.txt")))
    for s in ("train", "test"):
        convert_to_lmdb(LmdbConvertSpec(gt_list=str(data / s / "crops" / "gt_list.txt"), output_dir=str(data / s / "lmdb")))
    stats = {s: dataset_stats(StatsSpec(path=str(data / s))) for s in ("train", "test")}

    det_spec, rec_spec = _det_spec(spec, data, out), _rec_spec(spec, data, out)
    start = _start_from(spec)
    trained = {}
    if spec.train:
        log.info("starting points: %s", "PP-OCRv4, imported from the installed rapidocr-onnxruntime wheel "
                 "(pretrained=none trains from scratch)" if start else "random initialisation")
        _stage(2, "training the detector (%s) for up to %.1f min", spec.det_backbone, 0.5 * spec.minutes)
        _fresh(out / "detector", spec.resume)
        trained["detector"] = train_detector(det_spec)
        _stage(2, "training the recognizer (%s) for up to %.1f min", spec.rec_backbone, 0.4 * spec.minutes)
        _fresh(out / "recognizer", spec.resume)
        trained["recognizer"] = train_recognizer(rec_spec)
    for role, path in (("detector", det_spec.evaluate.checkpoint), ("recognizer", rec_spec.evaluate.checkpoint)):
        if not Path(path).is_file():
            raise ConfigError(f"{path}: no {role} to reuse; run the demo with train=true first")

    _stage(3, "evaluating both on the held-out pages")
    det_metrics = evaluate_detector(det_spec)
    rec_metrics = evaluate_recognizer(rec_spec)

    _stage(4, "exporting both to ONNX (ONNX Runtime checked against PyTorch)")
    det_onnx = export_detector_command(det_spec)
    rec_onnx = export_recognizer_command(rec_spec)

    _stage(5, "running the pipeline (ONNX Runtime) on the held-out pages and the real images")
    ocr = OCR(det_spec.export.onnx_file, rec_spec.export.onnx_file, postprocess=det_spec.postprocess.given())
    e2e = EndToEndMetric()
    t = time.perf_counter()
    shown_synth = _pipeline_on_pages(ocr, data / "test", out / "pipeline" / "synthetic", spec.show_images, e2e)
    pipeline_seconds = time.perf_counter() - t
    e2e_metrics = e2e.compute()
    real = _real_data(spec, out, ocr, det_spec)

    _stage(6, "writing the report")
    result = {"output_dir": str(out), "started_from": start or "scratch",
              "synth": {k: synth[k] for k in ("pages", "words")},
              "characters": charset["characters"],
              "detector": {k: det_metrics[k] for k in ("precision", "recall", "hmean")},
              "recognizer": {k: rec_metrics[k] for k in ("greedy/accuracy", "greedy/accuracy_case_insensitive", "greedy/cer")},
              "end_to_end": {k: round(v, 4) if isinstance(v, float) else v for k, v in e2e_metrics.items()},
              "onnx": {"detector": det_onnx.get("onnx_file"), "detector_max_abs_diff": det_onnx.get("max_abs_diff"),
                       "recognizer": rec_onnx.get("onnx_file"), "recognizer_max_abs_diff": rec_onnx.get("max_abs_diff")},
              "pipeline_pages_per_second": round(len(list_images(data / "test" / "img")) / pipeline_seconds, 2),
              "real": {k: v for k, v in real.items() if k != "shown"},
              "trained": {role: {k: r.get(k) for k in ("epochs", "steps")} for role, r in trained.items()},
              "minutes": round((time.perf_counter() - t_start) / 60, 1)}
    report = _write_report(out, result, stats, det_spec, rec_spec, e2e, shown_synth, real.get("shown", []))
    result["report"] = str(report)
    atomic_write_text(out / "demo_summary.json", json.dumps(result, indent=2, ensure_ascii=False, default=str))
    log.info("report: %s", report)
    print(f"report: {report.resolve()}")
    print("real data: README.md, 'Recipes' (e.g. ocdr ocrnet train -e specs/recipes/gw_words_rec.yaml)")
    return result


def _real_data(spec: DemoSpec, out: Path, ocr: OCR, det_spec: OcdnetSpec) -> dict:
    project = Path(__file__).resolve().parents[2]  # the checkout, for relative paths when run elsewhere
    found = [c for p in spec.real_data for c in (Path(p), project / p) if c.is_dir()][:1]
    if not found:
        log.info("no real images (looked in %s): skipped", ", ".join(spec.real_data) or "nothing")
        return {"skipped": f"none of {spec.real_data} exists"}
    src = found[0]
    converted = out / "data" / "real"
    try:  # ICDAR-style images + gt: the fixed 90/10 split of the benchmarks; score detection on the 10%
        convert_icdar(IcdarSpec(input_dir=str(src), output_dir=str(converted), test_fraction=0.1, skip_bad=True))
    except OcdrError as exc:
        log.info("%s: no ICDAR ground truth usable (%s); images are only shown", src, exc)
        converted = None
    result: dict = {"source": str(src)}
    if converted is not None and (converted / "test" / "img").is_dir():
        real_spec = _det_spec(spec, out / "data", out, [f"evaluate.data_path=[{converted / 'test'}]",
                                                        f"evaluate.results_dir={out / 'detector/evaluate_real'}"])
        m = evaluate_detector(real_spec)
        result["detection_on_real_test_split"] = {k: m[k] for k in ("precision", "recall", "hmean", "images")}
        folder = converted / "test"
    else:
        folder = None
    out_dir = out / "pipeline" / "real"
    if folder is not None:
        shown = _pipeline_on_pages(ocr, folder, out_dir, spec.real_images, None)
    else:
        shown = []
        for path in sorted(p for p in src.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:spec.real_images]:
            image = read_image(path)
            page = ocr(image)
            shown.append(str(write_image(out_dir / f"{path.stem}_ocr.jpg",
                                         draw_ocr(image, [w.polygon for w in page.words], [w.text for w in page.words]))))
    result["shown"] = shown
    return result


def _write_report(out: Path, result: dict, stats: dict, det_spec, rec_spec, e2e: EndToEndMetric,
                  shown_synth: list[str], shown_real: list[str]) -> Path:
    rel = lambda p: os.path.relpath(p, out)  # noqa: E731
    det_eval = json.loads(Path(det_spec.evaluate.results_dir, "metrics.json").read_text())
    rec_eval = json.loads(Path(rec_spec.evaluate.results_dir, "metrics.json").read_text())
    worst_det = sorted(Path(det_spec.evaluate.results_dir, "worst").glob("*.jpg"))
    sections = [
        ("Summary", html_table([{"stage": "detector (held-out synthetic pages)", **result["detector"]},
                                {"stage": "recognizer (held-out synthetic crops)", **result["recognizer"]}])
         + html_table([result["end_to_end"]])
         + f"<p>ONNX Runtime vs PyTorch, max abs difference: detector {result['onnx']['detector_max_abs_diff']}, "
           f"recognizer {result['onnx']['recognizer_max_abs_diff']}. Pipeline speed: "
           f"{result['pipeline_pages_per_second']} pages/s. Demo time: {result['minutes']} min. Models started from: "
           f"{html.escape(result['started_from'])}.</p>"),
        ("Data", html_table([{"split": s, **{k: v for k, v in st.items() if not isinstance(v, (dict, list))}}
                             for s, st in stats.items()])),
        ("Training curves", _curves(out / "detector", ["train/loss_step", "train/loss_epoch", "lr-Adam"], "detector: loss and LR")
         + _curves(out / "recognizer", ["train/loss_step", "train/loss_epoch", "lr-Adam"], "recognizer: loss and LR")),
        ("Pipeline on held-out synthetic pages", "".join(figure(rel(p), Path(p).name) for p in shown_synth)),
        ("Pipeline on real images", (html_table([{k: v for k, v in result["real"].items()}])
                                     + "".join(figure(rel(p), Path(p).name) for p in shown_real))),
        ("Worst detections (green: truth, red: detected)",
         "".join(figure(rel(p), p.name) for p in worst_det)
         + html_table([{k: r[k] for k in ("image", "precision", "recall", "hmean", "num_gt", "num_det")}
                       for r in det_eval.get("worst", [])])),
        ("Worst recognitions", html_table([{"label": r["label"], "read": r["pred"], "edit distance": r["edit_distance"],
                                            "sample": r["name"]} for r in rec_eval.get("worst", [])])),
        ("Worst pages end to end", html_table([{"image": r["image"], "words": r["num_gt"], "read right": r["num_correct"],
                                                "some errors": "; ".join(f"{e['truth']} -> {e['read']}" for e in r["errors"][:6])}
                                               for r in e2e.worst(6)])),
        ("Next steps", "<pre>" + html.escape(
            f"ocdr pipeline inference detector={det_spec.export.onnx_file} recognizer={rec_spec.export.onnx_file} "
            "input=<your image or folder>\nocdr demo minutes=30   # longer training, better models\n"
            "ocdr ocrnet train -e specs/recipes/gw_words_rec.yaml   # a recipe on real data: README, 'Recipes'")
         + "</pre>"),
    ]
    return write_html_report(out / "report.html", "ocdr demo report", sections)
