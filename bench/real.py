"""One real-data benchmark: ocdr vs RapidOCR (PP-OCRv4) vs Tesseract on every set under ../shared/data, one run.

Validation split (fixed, documented, the only split anything is tuned on): in each set, every 10th item in
natural file-name order (img_2 before img_10), starting with the first: items 0, 10, 20, ... For page sets the
items are images; for crop sets the lines of ``gt.txt``. The test splits of these benchmarks are kept
elsewhere and never read here.

| set | what is measured |
|---|---|
| icdar2015, funsd, gw_pages | detection, recognition of ground-truth word crops, end to end |
| hme | detection (no transcriptions) |
| gw_words, names | recognition of the given crops |

Word crops of the page sets are cut from the ground-truth quads (legible words only) by ocdr's rectifier
(height 48); every engine reads the same crops. Each engine runs in its own process (so peak memory and
start-up are its own), over the same images:

- detection P/R/hmean: ICDAR 2015 protocol (one-to-one at IoU > 0.5, ``###`` regions don't care);
- recognition: exact and case-insensitive word accuracy, CER, on the crops;
- end to end: a word counts when its box matches a truth word (IoU > 0.5) and its text is the same,
  case-insensitive; P/R/hmean;
- speed: end-to-end images/s (one image per call) and crops/s (all crops of a set in one call, the
  engine's own batching; the median of ``--rounds`` such calls, 3 by default, each rate in the JSON),
  start-up seconds (process start to a ready engine, imports included), peak RSS.

Engines: ``ocdr`` (the defaults: ``ocdr.OCR()``; OpenVINO on a CPU, the recognizer in bf16-checked where
the CPU has bf16), ``ocdr-fp32`` (the same with ``precision=fp32``; not run unless named), ``ocdr-onnxruntime`` (the same with
``backend=onnxruntime``, to see what the engine is worth; not run unless named), ``ocdr-bf16`` (the same with
``precision=bf16``: OpenVINO in bfloat16, where the CPU has it; not run unless named), ``--ocdr NAME=DET,REC[@SET+SET]`` (more ocdr models, e.g.
the recipes' fine-tuned ones, optionally on some sets only; ``--lexicon NAME=FILE`` gives one of them a word
list for lexicon decoding), ``rapidocr``
(rapidocr-onnxruntime 1.4.4, its defaults, angle classifier on), ``tesseract`` (Debian tesseract-ocr, eng;
pages with --psm 3, crops with --psm 7). A missing engine or set is skipped with the reason.

    .venv/bin/python bench/real.py                       # everything; JSON in bench/results/real.json,
                                                         # the table into docs/benchmarks.md
    .venv/bin/python bench/real.py --sets icdar2015 --engines ocdr rapidocr --max-images 20
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()  # start-up is measured from here (before the heavy imports)

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
DOCS = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(HERE))  # the sibling bench scripts
import compare  # noqa: E402

BEGIN, END = "<!-- bench/real.py: begin -->", "<!-- bench/real.py: end -->"

# name -> (kind, folder under the data root); kind: pages (gt quads + text), det (gt quads only), crops (gt.txt)
SETS = {
    "icdar2015": ("pages", "icdar2015/train"),
    "funsd": ("pages", "funsd/train"),
    "gw_pages": ("pages", "gw/train/pages"),
    "hme": ("det", "hme_handwritten_det"),
    "gw_words": ("crops", "gw/train/words"),
    "names": ("crops", "names/train"),
}
CROP_HEIGHT = 48


# ----------------------------------------------------------------------------------------------- data
def every_10th(items: list, key=lambda x: x) -> list:
    """The validation split: ``ocdr data split``'s rule, so models trained on its train/ never saw these."""
    from ocdr.data.splits import every_nth

    return every_nth(items, 10, key)[1]


def page_items(folder: Path) -> list[tuple[Path, Path]]:
    """(image, gt file) pairs of the validation split of a page folder (images/ or img/, gt/); images without
    ground truth are left out (ocdr's own pairing, counted and skipped)."""
    from ocdr.data.icdar import find_pairs
    from ocdr.errors import BadRecords

    return every_10th(find_pairs(folder, BadRecords(skip=True)), key=lambda pair: pair[0].name)


def crop_items(folder: Path) -> list[tuple[Path, str]]:
    from ocdr.data.formats import read_gt_list

    return [(folder / rel, label) for rel, label in every_10th(read_gt_list(folder / "gt.txt"), key=lambda r: r[0])]


def load_set(name: str, root: Path, max_images: int, max_crops: int) -> dict:
    """Images, regions and crops of a set's validation split."""
    from ocdr.data.formats import read_icdar_gt
    from ocdr.data.images import read_image
    from ocdr.rectify import RectifyConfig, rectify

    kind, rel = SETS[name]
    folder = root / rel
    out = {"name": name, "kind": kind, "pages": [], "crops": [], "labels": []}
    if kind == "crops":
        for path, label in crop_items(folder)[: max_crops or None]:
            out["crops"].append(read_image(path))
            out["labels"].append(label)
        return out
    cfg = RectifyConfig(height=CROP_HEIGHT)
    for image_path, gt_path in page_items(folder)[: max_images or None]:
        rgb = read_image(image_path)
        regions = read_icdar_gt(gt_path)
        out["pages"].append({"id": image_path.name, "rgb": rgb, "polys": [r.points for r in regions],
                             "texts": [r.text for r in regions], "ignore": [r.ignore for r in regions]})
        if kind == "pages":
            for r in regions:
                if not r.ignore and r.text.strip():
                    crop = rectify(rgb, r.points, cfg)
                    if crop is not None:
                        out["crops"].append(crop)
                        out["labels"].append(r.text)
    if max_crops:
        out["crops"], out["labels"] = out["crops"][:max_crops], out["labels"][:max_crops]
    return out


# ----------------------------------------------------------------------------------------------- engines
class OcdrEngine:
    def __init__(self, det: str = "auto", rec: str = "auto", backend: str = "auto", precision: str = "auto",
                 lexicon: str | None = None):
        import ocdr

        self.ocr_ = ocdr.OCR(det, rec, backend=backend, precision=precision, lexicon=lexicon)

    def detect(self, rgb):
        return list(self.ocr_.detector([rgb])[0].polygons)

    def read(self, crops):
        return [t for t, _ in self.ocr_.recognizer(crops)]

    def ocr(self, rgb):
        return [(w.polygon, w.text) for w in self.ocr_(rgb).words]

    def describe(self) -> dict:
        d, r = self.ocr_.detector, self.ocr_.recognizer
        return {"detector_backend": d.backend, "recognizer_backend": r.backend,
                "detector_precision": d.precision, "recognizer_precision": r.precision,
                "lexicon": r.lexicon.source if r.lexicon else None}


class RapidEngine(compare.RapidEngine):
    """compare.py's RapidOCR engine; crops are read in one call with RapidOCR's own batching."""

    def read(self, crops):
        res, _ = self.engine.text_rec([self._bgr(c) for c in crops])
        return [t for t, *_ in res]

    def describe(self) -> dict:
        return {}


class TesseractEngine:
    """The tesseract command (TSV out): pages with --psm 3, its words (level 5) as the detections."""

    def __init__(self):
        if not shutil.which("tesseract"):
            raise RuntimeError("the tesseract command is not installed (make bench-deps: Debian tesseract-ocr)")
        self.tmp = Path(tempfile.mkdtemp(prefix="tess_"))

    def _tsv(self, rgb, psm: int) -> list[dict]:
        from PIL import Image

        path = self.tmp / "in.png"
        Image.fromarray(rgb).save(path)
        out = subprocess.run(["tesseract", str(path), "stdout", "--psm", str(psm), "-l", "eng", "tsv"],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        keys = out[0].split("\t") if out else []
        return [dict(zip(keys, r.split("\t"))) for r in out[1:] if len(r.split("\t")) == len(keys)]

    @staticmethod
    def _box(r) -> np.ndarray:
        x, y, w, h = (float(r[k]) for k in ("left", "top", "width", "height"))
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)

    def _words(self, rgb):
        return [(self._box(r), r["text"].strip()) for r in self._tsv(rgb, 3) if r["level"] == "5" and r["text"].strip()]

    def detect(self, rgb):
        return [b for b, _ in self._words(rgb)]

    def read(self, crops):
        return [" ".join(r["text"].strip() for r in self._tsv(c, 7) if r["level"] == "5" and r["text"].strip())
                for c in crops]

    def ocr(self, rgb):
        return self._words(rgb)

    def describe(self) -> dict:
        return {}

    @staticmethod
    def child_rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def make_engine(kind: str, det: str, rec: str, lexicon: str | None = None):
    if kind == "rapidocr":
        return RapidEngine()
    if kind == "tesseract":
        return TesseractEngine()
    return OcdrEngine(det, rec, **OCDR_VARIANTS[kind], lexicon=lexicon)


# the ocdr defaults and their variants: what ocdr.OCR() is given besides the models
OCDR_VARIANTS = {"ocdr": {}, "ocdr-fp32": {"precision": "fp32"}, "ocdr-onnxruntime": {"backend": "onnxruntime"},
                 "ocdr-bf16": {"precision": "bf16"}}


# ----------------------------------------------------------------------------------------------- worker
def evaluate_set(engine, data: dict, rounds: int) -> dict:
    from ocdr.eval.detection import DetectionMetric
    from ocdr.eval.recognition import RecognitionMetric

    row: dict = {"set": data["name"]}
    if data["pages"]:
        det = DetectionMetric()
        for page in data["pages"]:
            det.update(page["polys"], page["ignore"], engine.detect(page["rgb"]), page["id"])
        m = det.compute()
        row.update(images=len(data["pages"]), det_precision=m["precision"], det_recall=m["recall"], det_hmean=m["hmean"])
    if data["pages"] and data["kind"] == "pages":
        row.update(end_to_end(engine, data["pages"]))
    if data["crops"]:
        preds, rates, changed = read_rounds(engine, data["crops"], rounds)
        rec = RecognitionMetric()
        rec.update(preds, data["labels"])
        m = rec.compute()
        row.update(crops=len(data["crops"]), rec_accuracy=m["accuracy"],
                   rec_accuracy_ci=m["accuracy_case_insensitive"], rec_cer=m["cer"],
                   crops_per_s=statistics.median(rates), crops_per_s_rounds=rates, crops_read_differently=changed)
    return row


def read_rounds(engine, crops: list, rounds: int) -> tuple[list[str], list[float], int]:
    """Read every crop ``rounds`` times, each a timed call over all of them. One pass on a shared 2-core
    machine is noisy, so every engine gets the same rounds and the median rate is reported. The accuracy is
    the first round's; the crops a later round read differently are counted (a deterministic engine: 0)."""
    engine.read(crops[:2])  # warm-up
    first, rates, changed = None, [], set()
    for _ in range(max(1, rounds)):
        t = time.perf_counter()
        preds = engine.read(crops)
        rates.append(len(preds) / (time.perf_counter() - t))
        first = preds if first is None else first
        changed |= {i for i, (a, b) in enumerate(zip(preds, first)) if a != b}
    return first, rates, len(changed)


def end_to_end(engine, pages: list[dict]) -> dict:
    from ocdr.eval.end_to_end import EndToEndMetric

    e2e = EndToEndMetric()
    engine.ocr(pages[0]["rgb"])  # warm-up
    t = time.perf_counter()
    results = [engine.ocr(page["rgb"]) for page in pages]
    seconds = time.perf_counter() - t
    for page, words in zip(pages, results):
        e2e.update(page["polys"], page["texts"], page["ignore"], [w[0] for w in words], [w[1] for w in words], page["id"])
    m = e2e.compute()
    return {"e2e_precision": m["e2e_precision_case_insensitive"], "e2e_recall": m["e2e_recall_case_insensitive"],
            "e2e_hmean": m["e2e_hmean_case_insensitive"], "e2e_words_correct": m["num_correct_case_insensitive"],
            "images_per_s": len(pages) / seconds}


def worker(args) -> dict:
    engine = make_engine(args.engine, args.det, args.rec, args.lexicon_file)
    startup = time.perf_counter() - T_START
    record = {"engine": args.label, "startup_s": startup, **engine.describe(), "sets": []}
    for name in args.sets:
        data = load_set(name, Path(args.data_root), args.max_images, args.max_crops)
        record["sets"].append(evaluate_set(engine, data, args.rounds))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record["peak_rss_mb"] = max(own, engine.child_rss_mb()) if isinstance(engine, TesseractEngine) else own
    return record


# ----------------------------------------------------------------------------------------------- driver
COLUMNS = [("det_precision", "det P"), ("det_recall", "det R"), ("det_hmean", "det hmean"),
           ("rec_accuracy", "word acc"), ("rec_accuracy_ci", "word acc (ci)"), ("rec_cer", "CER"),
           ("e2e_hmean", "e2e hmean (ci)"), ("images_per_s", "img/s"), ("crops_per_s", "crops/s")]


def markdown(records: list[dict], command: str, machine: str) -> str:
    lines = [f"Command: `{command}`", "", f"Machine: {machine}. Split: every 10th item in natural file-name order "
             "(validation split of the training folders). crops/s: the median of the timed passes over all "
             "crops (`--rounds`).", ""]
    sets = list(dict.fromkeys(s["set"] for r in records for s in r["sets"]))
    for name in sets:
        rows = [(r, next(s for s in r["sets"] if s["set"] == name)) for r in records if any(s["set"] == name for s in r["sets"])]
        cols = [(k, h) for k, h in COLUMNS if any(k in s for _, s in rows)]
        counts = rows[0][1]
        what = ", ".join(f"{counts[k]} {k}" for k in ("images", "crops") if k in counts)
        lines += [f"**{name}** ({what})", "", "| engine | " + " | ".join(h for _, h in cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for r, s in rows:
            lines.append(f"| {r['engine']} | " + " | ".join(_fmt(s.get(k)) for k, _ in cols) + " |")
        lines.append("")
    lines += ["| engine | start-up s | peak RSS MB |", "|---|---|---|"]
    lines += [f"| {r['engine']} | {r['startup_s']:.2f} | {r['peak_rss_mb']:.0f} |" for r in records]
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.1f}" if isinstance(v, float) and v >= 10 else (f"{v:.3f}" if isinstance(v, float) else str(v))


def write_docs(path: Path, text: str) -> None:
    """Replace the block between the markers (appended under a heading when absent), atomically."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip() + "\n\n## Real data, every set, one run (`bench/real.py`)\n\n" + block + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)


def run_engines(args, engines: list[tuple]) -> tuple[list[dict], dict]:
    records, skipped = [], {}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    for kind, label, det, rec, *only in engines:
        sets = [n for n in args.sets if not only or not only[0] or n in only[0]]
        if not sets:
            continue
        cmd = [sys.executable, __file__, "--worker", "--engine", kind, "--label", label, "--det", det, "--rec", rec,
               "--data-root", str(args.data_root), "--max-images", str(args.max_images),
               "--max-crops", str(args.max_crops), "--rounds", str(args.rounds), "--sets", *sets]
        if label in args.lexicons:
            cmd += ["--lexicon-file", args.lexicons[label]]
        print(f"running {label} ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            skipped[label] = reason
            print(f"  skipped {label}: {reason}", flush=True)
            continue
        records.append(json.loads(line[-1][len("RESULT "):]))
    return records, skipped


LABELS = {"ocdr": "ocdr (defaults)", "ocdr-onnxruntime": "ocdr (defaults, backend=onnxruntime)",
          "ocdr-bf16": "ocdr (defaults, precision=bf16)", "ocdr-fp32": "ocdr (defaults, precision=fp32)",
          "rapidocr": "RapidOCR 1.4.4 (PP-OCRv4)", "tesseract": "Tesseract (eng)"}


def engine_list(kinds: list[str], ocdr_specs: list[str]) -> list[tuple]:
    """The engines to run, in order: each of ``kinds``, and the ``--ocdr`` models right after the ocdr defaults
    (or last, when the defaults are not asked for: named models always run)."""
    extra = [_ocdr_models(spec) for spec in ocdr_specs]
    engines = []
    for kind in kinds:
        engines.append((kind, LABELS[kind], "auto", "auto"))
        if kind == "ocdr":
            engines += extra
    return engines if "ocdr" in kinds else engines + extra


def lexicon_map(values: list[str]) -> dict[str, str]:
    """``--lexicon NAME=FILE`` values as {engine label: file}."""
    out = {}
    for value in values:
        name, _, path = value.partition("=")
        if not (name and path):
            raise SystemExit(f"--lexicon {value!r}: expected NAME=FILE (NAME: an --ocdr model's name)")
        out[name] = path
    return out


def _ocdr_models(spec: str) -> tuple:
    """An ``--ocdr NAME=DET,REC[@SET+SET]`` value as an engine entry."""
    name, _, models = spec.partition("=")
    models, _, only = models.partition("@")
    det, _, rec = models.partition(",")
    only_sets = [n for n in only.split("+") if n]
    if not (name and det and rec) or any(n not in SETS for n in only_sets):
        raise SystemExit(f"--ocdr {spec!r}: expected NAME=DET,REC or NAME=DET,REC@SET+SET (sets: {', '.join(SETS)})")
    return ("ocdr", name, det, rec, only_sets)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, default=DATA)
    ap.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    ap.add_argument("--engines", nargs="*", default=["ocdr", "rapidocr", "tesseract"],
                    choices=[*OCDR_VARIANTS, "rapidocr", "tesseract"],
                    help="ocdr-fp32: the defaults with precision=fp32; ocdr-onnxruntime: the defaults with backend=onnxruntime (the engine's share of the speed); "
                         "ocdr-bf16: the defaults with precision=bf16 (OpenVINO in bfloat16)")
    ap.add_argument("--ocdr", action="append", default=[], metavar="NAME=DET,REC[@SET+SET]",
                    help="more ocdr models (e.g. fine-tuned ones), on the named sets only when @ is given")
    ap.add_argument("--lexicon", action="append", default=[], metavar="NAME=FILE",
                    help="the ocdr engine NAME (an --ocdr name) reads with this word list (lexicon decoding)")
    ap.add_argument("--max-images", type=int, default=0, help="at most this many validation images per set (0: all)")
    ap.add_argument("--max-crops", type=int, default=0, help="at most this many crops per set (0: all)")
    ap.add_argument("--rounds", type=_positive, default=3,
                    help="timed passes over each set's crops; crops/s is their median (accuracy: the first pass)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "real.json")
    ap.add_argument("--docs", type=Path, default=DOCS, help="markdown file whose bench/real.py block is replaced")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--label", help=argparse.SUPPRESS)
    ap.add_argument("--det", default="auto", help=argparse.SUPPRESS)
    ap.add_argument("--rec", default="auto", help=argparse.SUPPRESS)
    ap.add_argument("--lexicon-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.lexicons = lexicon_map(args.lexicon)
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return 0
    present = {n: args.data_root / SETS[n][1] for n in args.sets}
    missing = {n: f"{p} is absent" for n, p in present.items() if not p.is_dir()}
    for name, why in missing.items():
        print(f"skipping set {name}: {why}")
    args.sets = [n for n in args.sets if n not in missing]
    if not args.sets:
        print("no data sets found under", args.data_root)
        return 1
    engines = engine_list(args.engines, args.ocdr)
    unknown = set(args.lexicons) - {label for _, label, *_ in engines}
    if unknown:
        raise SystemExit(f"--lexicon: no engine named {', '.join(sorted(unknown))} (name an --ocdr model)")
    records, skipped = run_engines(args, engines)
    command = "bench/real.py " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{os.cpu_count()} CPU cores ({_cpu()}), no GPU used"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": command, "machine": machine, "split": "every 10th, natural order",
                                    "records": records, "skipped": skipped, "missing_sets": missing}, indent=1))
    text = markdown(records, command, machine) + "".join(f"\nSkipped {k}: {v}\n" for k, v in skipped.items())
    print(text)
    if not args.no_docs and records:
        write_docs(args.docs, text)
    print(f"written: {args.out}")
    return 0 if records else 1


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
