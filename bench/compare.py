"""ocdr vs RapidOCR (PP-OCRv4 mobile, ONNX Runtime) vs Tesseract, on the same images, in one run.

For every engine, each in its own fresh process (so that peak memory is its own):
- detection P/R/hmean with ocdr's ICDAR 2015 matcher (IoU > 0.5, one-to-one, don't-care dropped) on the test
  split of each ICDAR-style folder (``--det-data``; default: the fixed 90/10 split of
  ../shared/data/hme_handwritten_det, the same split the detector benchmark fine-tunes on);
- recognition exact accuracy, case-insensitive accuracy and CER on word crops with transcriptions
  (``--rec-data``: gt_list.txt files; ../shared/data has none with text, so the default is held-out synthetic
  handwriting crops);
- end-to-end images/s (detect + recognize every image, one at a time) and the process's peak RSS.

Engines: ``--ocdr NAME=DET,REC[,key=value...]`` (repeatable; .pth or .onnx; keys: long_side, thresh, box_thresh,
unclip_ratio, the detector's inference and post-processing settings), ``rapidocr`` (pip: rapidocr-onnxruntime, its
wheel ships the PP-OCRv4 ONNX models) and ``tesseract`` (Debian: tesseract-ocr, English model; boxes are its
text lines, since the ground truth has one box per expression or line). Missing engines are skipped with
the reason.

    .venv/bin/python bench/compare.py --ocdr ocdr-hme=/tmp/det_bench/hme_finetuned_more/model_final.pth,runs/demo/recognizer/model_final.pth
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HME = HERE.parents[1] / "shared" / "data" / "hme_handwritten_det"


# ----------------------------------------------------------------------------------------------- engines
class Engine:
    name = ""

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def read(self, rgb: np.ndarray) -> str:
        raise NotImplementedError

    def ocr(self, rgb: np.ndarray) -> list[tuple[np.ndarray, str]]:
        raise NotImplementedError


OCDR_OPTIONS = {"long_side": int, "thresh": float, "box_thresh": float, "unclip_ratio": float}


def parse_ocdr(spec: str) -> tuple[str, str, str, dict]:
    """``NAME=DET,REC[,key=value...]`` -> (name, det, rec, options)."""
    name, _, rest = spec.partition("=")
    det, _, rest = rest.partition(",")
    rec, *extra = rest.split(",")
    options = {}
    for item in extra:
        key, eq, value = item.partition("=")
        if not eq or key not in OCDR_OPTIONS:
            raise SystemExit(f"--ocdr {spec!r}: '{item}' is not key=value with a key in {', '.join(OCDR_OPTIONS)}")
        options[key] = OCDR_OPTIONS[key](value)
    if not (name and det and rec):
        raise SystemExit(f"--ocdr {spec!r}: expected NAME=DET,REC")
    return name, det, rec, options


class OcdrEngine(Engine):
    def __init__(self, det: str, rec: str, options: dict | None = None):
        from dataclasses import replace

        from ocdr.models.detection.postprocess import PostProcessConfig
        from ocdr.pipeline.ocr import OCR

        options = dict(options or {})
        long_side = options.pop("long_side", 736)
        self.ocr_ = OCR(det, rec, long_side=long_side, postprocess=replace(PostProcessConfig(), **options))

    def detect(self, rgb):
        return list(self.ocr_.detector([rgb])[0].polygons)

    def read(self, rgb):
        return self.ocr_.recognizer([rgb])[0][0]

    def ocr(self, rgb):
        return [(w.polygon, w.text) for w in self.ocr_(rgb).words]


class RapidEngine(Engine):
    def __init__(self):
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR()

    @staticmethod
    def _bgr(rgb):
        return np.ascontiguousarray(rgb[:, :, ::-1])

    def detect(self, rgb):
        res, _ = self.engine(self._bgr(rgb), use_det=True, use_cls=False, use_rec=False)
        return [np.asarray(b, np.float32) for b in (res or [])]

    def read(self, rgb):
        res, _ = self.engine(self._bgr(rgb), use_det=False, use_cls=False, use_rec=True)
        return res[0][0] if res else ""

    def ocr(self, rgb):
        res, _ = self.engine(self._bgr(rgb))
        return [(np.asarray(b, np.float32), t) for b, t, _ in (res or [])]


class TesseractEngine(Engine):
    """The tesseract command (as pytesseract does it): TSV out; level 4 = text lines, level 5 = words."""

    def __init__(self):
        if not shutil.which("tesseract"):
            raise RuntimeError("the tesseract command is not installed (Debian: apt-get install tesseract-ocr)")
        self.tmp = Path(tempfile.mkdtemp(prefix="tess_"))

    def _run(self, rgb, psm: int) -> list[dict]:
        from PIL import Image

        path = self.tmp / "in.png"
        Image.fromarray(rgb).save(path)
        out = subprocess.run(["tesseract", str(path), "stdout", "--psm", str(psm), "-l", "eng", "tsv"],
                             capture_output=True, text=True, check=True).stdout
        rows = [line.split("\t") for line in out.splitlines()[1:]]
        keys = out.splitlines()[0].split("\t") if out else []
        return [dict(zip(keys, r)) for r in rows if len(r) == len(keys)]

    @staticmethod
    def _box(r) -> np.ndarray:
        x, y, w, h = (float(r[k]) for k in ("left", "top", "width", "height"))
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)

    def _lines(self, rows):
        lines = {}
        for r in rows:
            key = (r["block_num"], r["par_num"], r["line_num"])
            if r["level"] == "4":
                lines.setdefault(key, [self._box(r), []])
            elif r["level"] == "5" and r.get("text", "").strip() and key in lines:
                lines[key][1].append(r["text"].strip())
        return [(box, " ".join(words)) for box, words in lines.values() if words]

    def detect(self, rgb):
        return [box for box, _ in self._lines(self._run(rgb, 3))]

    def read(self, rgb):
        return " ".join(r["text"].strip() for r in self._run(rgb, 7) if r["level"] == "5" and r["text"].strip())

    def ocr(self, rgb):
        return self._lines(self._run(rgb, 3))

    def peak_rss_mb(self) -> float:
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def make_engine(name: str, det: str = "", rec: str = "", options: dict | None = None) -> Engine:
    if name == "rapidocr":
        return RapidEngine()
    if name == "tesseract":
        return TesseractEngine()
    return OcdrEngine(det, rec, options)


# ----------------------------------------------------------------------------------------------- worker
def worker(args) -> dict:
    """One engine over every image and crop; prints a JSON record."""
    from ocdr.data.formats import read_gt_list, read_icdar_gt
    from ocdr.data.images import list_images
    from ocdr.data.images import read_image
    from ocdr.eval.detection import DetectionMetric
    from ocdr.eval.recognition import RecognitionMetric

    engine = make_engine(args.engine, args.det, args.rec, json.loads(args.options))
    record = {"engine": args.label}
    for folder in args.det_data:
        folder = Path(folder)
        images = list_images(folder / "img")
        metric = DetectionMetric()
        pictures = [read_image(p) for p in images]
        for path, rgb in zip(images, pictures):
            regions = read_icdar_gt(folder / "gt" / f"gt_{path.stem}.txt")
            metric.update([r.points for r in regions], [r.ignore for r in regions], engine.detect(rgb), path.name)
        m = metric.compute()
        engine.ocr(pictures[0])  # warm-up
        t = time.perf_counter()
        words = sum(len(engine.ocr(rgb)) for rgb in pictures)
        seconds = time.perf_counter() - t
        record[f"det:{folder.parent.name}"] = {"images": len(images), "precision": m["precision"],
                                               "recall": m["recall"], "hmean": m["hmean"],
                                               "e2e_images_per_s": len(images) / seconds, "words_read": words}
    for gt_list in args.rec_data:
        samples = read_gt_list(gt_list)[:args.max_crops]
        metric = RecognitionMetric()
        base = Path(gt_list).parent
        for rel, label in samples:
            metric.update([engine.read(read_image(base / rel))], [label])
        m = metric.compute()
        record[f"rec:{Path(gt_list).parent.parent.name}"] = {
            "crops": len(samples), "accuracy": m["accuracy"],
            "accuracy_case_insensitive": m["accuracy_case_insensitive"], "cer": m["cer"]}
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record["peak_rss_mb"] = max(own, engine.peak_rss_mb()) if isinstance(engine, TesseractEngine) else own
    return record


# ----------------------------------------------------------------------------------------------- driver
def split_test(folder: Path, work: Path) -> Path:
    """The fixed 90/10 split (natural file-name order) of an ICDAR-style folder; returns its test part."""
    from ocdr.data.icdar import IcdarSpec, convert_icdar

    out = work / folder.name
    if not (out / "test" / "img").is_dir():
        convert_icdar(IcdarSpec(input_dir=str(folder), output_dir=str(out), test_fraction=0.1, skip_bad=True))
    return out / "test"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ocdr", action="append", default=[], metavar="NAME=DET,REC[,key=value...]",
                    help="an ocdr engine: detector and recognizer checkpoints or .onnx files, then optional "
                    f"detector settings ({', '.join(OCDR_OPTIONS)})")
    ap.add_argument("--det-data", nargs="*", default=None, help="ICDAR-style folders (img/ + gt/ or train|test); "
                    "the test split of a folder without one is the last 10%% by file name")
    ap.add_argument("--rec-data", nargs="*", default=None, help="gt_list.txt files of word crops with text")
    ap.add_argument("--max-crops", type=int, default=300)
    ap.add_argument("--workdir", default="/tmp/ocdr_compare")
    ap.add_argument("--no-peers", action="store_true", help="only the ocdr engines")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--label", help=argparse.SUPPRESS)
    ap.add_argument("--det", default="", help=argparse.SUPPRESS)
    ap.add_argument("--rec", default="", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args)))
        return

    from common import report

    work = Path(args.workdir)
    det_data = [Path(p) for p in (args.det_data if args.det_data is not None else ([str(HME)] if HME.is_dir() else []))]
    det_tests = [p / "test" if (p / "test" / "img").is_dir() else split_test(p, work) for p in det_data]
    rec_data = args.rec_data
    if rec_data is None:
        from ocdr.data.synth import SynthSpec, generate

        synth = work / "synth_rec"
        if not (synth / "test" / "crops" / "gt_list.txt").is_file():
            generate(SynthSpec(output_dir=str(synth), num_pages=40, seed=7, test_fraction=0.5))
        rec_data = [str(synth / "test" / "crops" / "gt_list.txt")]
    engines = []
    for spec in args.ocdr:
        name, det, rec, options = parse_ocdr(spec)
        engines.append(("ocdr", name, det, rec, options))
    if not args.no_peers:
        engines += [("rapidocr", "rapidocr (PP-OCRv4 mobile)", "", "", {}), ("tesseract", "tesseract 5 (eng)", "", "", {})]
    rows, skipped = [], {}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    for engine, label, det, rec, options in engines:
        cmd = [sys.executable, __file__, "--worker", "--engine", engine, "--label", label, "--det", det, "--rec", rec,
               "--options", json.dumps(options),
               "--max-crops", str(args.max_crops), "--det-data", *map(str, det_tests), "--rec-data", *rec_data]
        print(f"running {label} ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            skipped[label] = reason
            print(f"  skipped {label}: {reason}")
            continue
        rec_ = json.loads(line[-1][len("RESULT "):])
        row = {"engine": label}
        for key, val in rec_.items():
            if isinstance(val, dict):
                kind, data = key.split(":", 1)
                if kind == "det":
                    row.update({f"{data} hmean": val["hmean"], f"{data} P": val["precision"], f"{data} R": val["recall"],
                                f"{data} img/s": val["e2e_images_per_s"]})
                else:
                    row.update({f"{data} acc": val["accuracy"], f"{data} acc(ci)": val["accuracy_case_insensitive"],
                                f"{data} CER": val["cer"]})
        row["peak MB"] = rec_["peak_rss_mb"]
        rows.append(row)
    report("compare", rows, {"skipped": skipped, "det_data": [str(p) for p in det_tests], "rec_data": rec_data,
                             "command": "bench/compare.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
