"""The bad-input corpus, run against the commands: every case must end in a clear one-line error or a counted
skip, never a traceback, a substituted sample or a leftover file.

    .venv/bin/python bench/bad_input.py            # prints the table, writes docs/reliability.md

Each case builds its own bad input in a temp folder, runs the command in this process (``ocdr.cli.main``,
as the shell would), and checks the outcome it expects; the table says what happened and whether that holds.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ocdr.cli.main import main  # noqa: E402
from ocdr.fileio import atomic_write_text  # noqa: E402

CASES: list[tuple[str, Callable[[Path], tuple[str, str, bool]]]] = []


def case(name: str):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def run(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, last stderr line) of ``ocdr <argv>``; a traceback would escape and fail the case."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    return code, out.getvalue(), lines[-1] if lines else ""


def _json(stdout: str) -> dict:
    start = stdout.find("{")
    return json.loads(stdout[start:]) if start >= 0 else {}


# -- inputs -------------------------------------------------------------------------------------------

def _word_png(path: Path, text_seed: int = 0) -> Path:
    rng = np.random.default_rng(text_seed)
    img = np.full((32, 100, 3), 255, np.uint8)
    img[8:24, 10:90] = rng.integers(0, 80, (16, 80, 3))
    Image.fromarray(img).save(path)
    return path


def _page(path: Path) -> Path:
    img = np.full((128, 160, 3), 255, np.uint8)
    img[40:60, 20:120] = 0
    Image.fromarray(img).save(path)
    return path


def _header_only_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature and IHDR claiming ``width`` x ``height``: what a decompression bomb shows first."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def _models(root: Path) -> tuple[Path, Path]:
    import torch

    from ocdr.config import spec_to_dict
    from ocdr.config.ocdnet import OcdnetSpec
    from ocdr.config.ocrnet import OcrnetSpec
    from ocdr.data.charset import Charset
    from ocdr.models.checkpoint import make_model_record, save_checkpoint
    from ocdr.models.registry import build_model

    torch.manual_seed(0)
    det = build_model("dbnet_tiny").eval()
    det_path = save_checkpoint(make_model_record("detector", "dbnet_tiny", {}, det.state_dict(),
                                                 spec_to_dict(OcdnetSpec())), root / "det.pth")
    charset = Charset(list("abcdefghij "))
    rec = build_model("crnn_tiny", num_classes=charset.num_classes_ctc).eval()
    spec = spec_to_dict(OcrnetSpec())
    spec["model"]["backbone"] = "tiny"
    rec_path = save_checkpoint(make_model_record("recognizer", "crnn_tiny", {"num_classes": charset.num_classes_ctc},
                                                 rec.state_dict(), spec, charset.to_list()), root / "rec.pth")
    return det_path, rec_path


def _crops(root: Path, n: int = 10, missing: int | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        name = f"c{i}.png"
        if i != missing:
            _word_png(root / name, i)
        lines.append(f"{name}\tabc")
    (root / "gt_list.txt").write_text("\n".join(lines) + "\n")
    return root / "gt_list.txt"


def _det_folder(root: Path, truncated: bool = False) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    for i in range(4):
        _page(root / "img" / f"p{i}.png")
        (root / "gt" / f"gt_p{i}.txt").write_text("20,40,120,40,120,60,20,60,word\n")
    if truncated:
        data = (root / "img" / "p2.png").read_bytes()
        (root / "img" / "p2.png").write_bytes(data[: len(data) // 2])
    return root


# -- the corpus -----------------------------------------------------------------------------------------

@case("gt list of 10 crops, one file missing")
def _(tmp):
    _, rec = _models(tmp)
    gt = _crops(tmp / "crops", missing=3)
    cmd = ["ocrnet", "evaluate", f"evaluate.checkpoint={rec}", f"evaluate.test_dataset_dir=[{gt}]",
           f"evaluate.results_dir={tmp / 'eval'}"]
    code, _, err = run(cmd)
    return "ocdr ocrnet evaluate", f"exit {code}: {err}", code == 2 and "image not found" in err and "c3.png" in err


@case("the same, dataset.skip_bad=true")
def _(tmp):
    _, rec = _models(tmp)
    gt = _crops(tmp / "crops", missing=3)
    code, out, _ = run(["ocrnet", "evaluate", f"evaluate.checkpoint={rec}", f"evaluate.test_dataset_dir=[{gt}]",
                        f"evaluate.results_dir={tmp / 'eval'}", "dataset.skip_bad=true"])
    r = _json(out)
    outcome = f"exit {code}: evaluated {r.get('evaluated')}, skipped {r.get('skipped')}, total {r.get('total')}"
    return "ocdr ocrnet evaluate --skip-bad", outcome, code == 0 and r.get("evaluated") == 9 and r.get("total") == 10


@case("truncated image in a detection folder")
def _(tmp):
    det, _ = _models(tmp)
    folder = _det_folder(tmp / "pages", truncated=True)
    code, _, err = run(["ocdnet", "evaluate", f"evaluate.checkpoint={det}", f"evaluate.data_path=[{folder}]",
                        f"evaluate.results_dir={tmp / 'eval'}"])
    return "ocdr ocdnet evaluate", f"exit {code}: {err}", code == 2 and "p2.png" in err


@case("the same, dataset.skip_bad=true")
def _(tmp):
    det, _ = _models(tmp)
    folder = _det_folder(tmp / "pages", truncated=True)
    code, out, _ = run(["ocdnet", "evaluate", f"evaluate.checkpoint={det}", f"evaluate.data_path=[{folder}]",
                        f"evaluate.results_dir={tmp / 'eval'}", "dataset.skip_bad=true"])
    r = _json(out)
    outcome = f"exit {code}: evaluated {r.get('evaluated')}, skipped {r.get('skipped')}, total {r.get('total')}"
    return "ocdr ocdnet evaluate --skip-bad", outcome, code == 0 and r.get("evaluated") == 3 and r.get("total") == 4


@case("coordinate 1e308 in an ICDAR gt line")
def _(tmp):
    folder = _det_folder(tmp / "src")
    (folder / "gt" / "gt_p1.txt").write_text("20,40,1e308,40,120,60,20,60,word\n")
    code, _, err = run(["data", "icdar", f"input_dir={folder}", f"output_dir={tmp / 'out'}"])
    return "ocdr data icdar", f"exit {code}: {err}", code == 2 and "gt_p1.txt:1" in err


@case("self-intersecting and zero-area boxes")
def _(tmp):
    folder = _det_folder(tmp / "src")
    (folder / "gt" / "gt_p1.txt").write_text("20,40,120,60,120,40,20,60,bowtie\n10,10,10,10,10,10,10,10,dot\n")
    code, out, _ = run(["data", "stats", f"path={folder}"])
    problems = _json(out).get("box_problems")
    return "ocdr data stats", f"exit {code}: box_problems {problems}", code == 0 and bool(problems)


@case("non-UTF-8 gt file, --skip-bad")
def _(tmp):
    folder = _det_folder(tmp / "src")
    (folder / "gt" / "gt_p1.txt").write_bytes("20,40,120,40,120,60,20,60,caf\xe9\n".encode("latin-1"))
    code, out, _ = run(["data", "icdar", f"input_dir={folder}", f"output_dir={tmp / 'out'}", "--skip-bad"])
    skipped = _json(out).get("skipped")
    return "ocdr data icdar --skip-bad", f"exit {code}: skipped {skipped}", code == 0 and bool(skipped)


@case("gt list path leaving its folder (../)")
def _(tmp):
    gt = _crops(tmp / "crops", n=2)
    _word_png(tmp / "outside.png")
    gt.write_text("c0.png\tabc\n../outside.png\tabc\n")
    code, _, err = run(["ocrnet", "dataset_convert", f"gt_list={gt}", f"output_dir={tmp / 'lmdb'}"])
    return "ocdr ocrnet dataset_convert", f"exit {code}: {err}", code == 2 and "gt_list.txt:2" in err


@case("20000 x 20000 PNG (header only, a decompression bomb)")
def _(tmp):
    det, rec = _models(tmp)
    bomb = _header_only_png(tmp / "bomb.png", 20000, 20000)
    code, _, err = run(["pipeline", "inference", f"detector={det}", f"recognizer={rec}", f"input={bomb}",
                        f"results_dir={tmp / 'out'}"])
    return "ocdr pipeline inference", f"exit {code}: {err}", code == 2 and "20000x20000" in err


@case("folder with one corrupt image among good ones")
def _(tmp):
    det, rec = _models(tmp)
    folder = tmp / "imgs"
    folder.mkdir()
    _page(folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    code, out, _ = run(["pipeline", "inference", f"detector={det}", f"recognizer={rec}", f"input={folder}",
                        f"results_dir={tmp / 'out'}"])
    results = json.loads((tmp / "out" / "results.json").read_text()) if (tmp / "out" / "results.json").is_file() else {}
    failed = _json(out).get("failed")
    return ("ocdr pipeline inference", f"exit {code}: failed {failed}, results.json written: {bool(results)}",
            code == 0 and failed == 1 and bool(results))


@case("synthetic data into a non-empty folder")
def _(tmp):
    (tmp / "synth").mkdir()
    (tmp / "synth" / "old.txt").write_text("stale")
    code, _, err = run(["data", "synth", f"output_dir={tmp / 'synth'}", "num_pages=1"])
    return "ocdr data synth", f"exit {code}: {err}", code == 2 and "not empty" in err


@case("resume with another backbone and learning rate")
def _(tmp):
    from ocdr.data.synth import SynthSpec, generate
    generate(SynthSpec(output_dir=str(tmp / "data"), num_pages=3, test_fraction=0.34, min_width=128, max_width=160,
                       min_height=128, max_height=160, min_text_height=12, max_text_height=24, workers=1))
    common = [f"dataset.train_data_path=[{tmp / 'data/train'}]", f"dataset.validate_data_path=[{tmp / 'data/test'}]",
              "dataset.image_size=128", "dataset.augmentation.crop_size=64", "train.batch_size=2",
              "train.num_workers=0", "train.progress_bar=false", f"train.results_dir={tmp / 'run'}"]
    with contextlib.redirect_stderr(io.StringIO()):
        assert run(["ocdnet", "train", *common, "model.backbone=tiny", "train.num_epochs=1"])[0] == 0
    spec_before = (tmp / "run" / "ocdnet_train_spec.yaml").read_bytes()
    code, _, err = run(["ocdnet", "train", *common, "model.backbone=resnet18", "train.optim.lr=0.01",
                        "train.num_epochs=2"])
    untouched = (tmp / "run" / "ocdnet_train_spec.yaml").read_bytes() == spec_before
    return ("ocdr ocdnet train (resume)", f"exit {code}: {err[:150]}...; spec untouched: {untouched}",
            code == 2 and "model.backbone" in err and "train.optim.lr" in err and untouched)


@case("second training into a results_dir in use")
def _(tmp):
    run_dir = tmp / "run"
    run_dir.mkdir()
    (run_dir / ".ocdr_train.lock").write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(),
                                                          "started": "earlier"}))
    code, _, err = run(["ocdnet", "train", "model.backbone=tiny", f"train.results_dir={run_dir}",
                        f"dataset.train_data_path=[{_det_folder(tmp / 'pages')}]",
                        f"dataset.validate_data_path=[{tmp / 'pages'}]", "train.num_workers=0"])
    return "ocdr ocdnet train", f"exit {code}: {err}", code == 2 and "another training writes here" in err


@case("checkpoint that unpickles code")
def _(tmp):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    bad = tmp / "evil.pth"
    bad.write_bytes(pickle.dumps({"ocdr": Boom()}))
    code, _, err = run(["ocdnet", "evaluate", f"evaluate.checkpoint={bad}", f"evaluate.data_path=[{_det_folder(tmp / 'p')}]",
                        f"evaluate.results_dir={tmp / 'eval'}"])
    return "ocdr ocdnet evaluate", f"exit {code}: {err[:140]}", code == 2 and "weights only" in err


@case("pretrained checkpoint of another architecture")
def _(tmp):
    det, _ = _models(tmp)
    code, _, err = run(["ocdnet", "train", "model.backbone=resnet18", f"model.pretrained_model_path={det}",
                        f"dataset.train_data_path=[{_det_folder(tmp / 'p')}]", f"dataset.validate_data_path=[{tmp / 'p'}]",
                        f"train.results_dir={tmp / 'run'}"])
    return "ocdr ocdnet train", f"exit {code}: {err}", code == 2 and "resnet18" in err and "tiny" in err


@case("TAO spec with misspelt keys")
def _(tmp):
    spec = tmp / "train.yaml"
    spec.write_text("train:\n  num_epoch: 3\n  optimizer:\n    args:\n      lrr: 0.1\nmodle:\n  backbone: resnet18\n")
    code, _, err = run(["ocdnet", "train", "-e", str(spec), "--print-spec"])
    out = io.StringIO()
    with contextlib.redirect_stderr(out):
        main(["ocdnet", "train", "-e", str(spec), "--print-spec"])
    lines = [line for line in out.getvalue().splitlines() if "unknown key '" in line]
    return "ocdr ocdnet train -e", f"exit {code}: {len(lines)} unknown keys, each with file:line and a suggestion", \
        code == 2 and len(lines) == 3 and all("did you mean" in line for line in lines)


@case("TAO spec value left '??'")
def _(tmp):
    spec = tmp / "experiment.yaml"
    spec.write_text('results_dir: /r\ndataset:\n  train_dataset_dir: ["??"]\ntrain:\n  results_dir: "${results_dir}/train"\n')
    code, _, err = run(["ocrnet", "train", "-e", str(spec)])
    return "ocdr ocrnet train -e", f"exit {code}: {err}", code == 2 and "dataset.train_dataset_dir is '??'" in err


def _service_cases() -> list[tuple[str, str, str, bool]]:
    from fastapi.testclient import TestClient

    from ocdr.config.serve import ServeSpec
    from ocdr.serve.app import create_app

    class NoModel:
        def __call__(self, images, **kw):
            raise AssertionError("never reached")
    with TestClient(create_app(ServeSpec(), ocr=NoModel())) as client:   # the lifespan starts the decoders
        return _service_rows(client)


def _service_rows(client) -> list[tuple[str, str, str, bool]]:
    rows = []
    nested = "[" * 100000 + "]" * 100000
    r = client.post("/v1/ocr", content=nested, headers={"content-type": "application/json"})
    rows.append(("JSON body nested 100000 deep", "POST /v1/ocr", f"{r.status_code} {r.json()}",
                 r.status_code == 400 and set(r.json()) == {"error", "status"}))
    sgi = b"\x01\xda" + b"\x00" * 510
    r = client.post("/v1/ocr", files={"file": ("scan.sgi", sgi, "application/octet-stream")})
    rows.append(("SGI upload", "POST /v1/ocr -F file=@scan.sgi", f"{r.status_code} {r.json()['error'][:90]}",
                 r.status_code == 415 and "scan.sgi" in r.json()["error"]))
    r = client.get("/nowhere")
    rows.append(("unknown route", "GET /nowhere", f"{r.status_code} {r.json()}", r.status_code == 404
                 and set(r.json()) == {"error", "status"}))
    return rows


def main_bench() -> int:
    rows = []
    for name, fn in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                command, outcome, ok = fn(Path(tmp))
            except Exception as exc:  # a traceback is itself a failed case
                command, outcome, ok = "?", f"crashed: {type(exc).__name__}: {exc}", False
        rows.append((name, command, outcome, ok))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {outcome}", flush=True)
    for row in _service_cases():
        rows.append(row)
        print(f"{'ok  ' if row[3] else 'FAIL'} {row[0]}: {row[2]}", flush=True)
    write_report(rows)
    return 0 if all(ok for *_, ok in rows) else 1


def write_report(rows) -> None:
    def cell(text: str) -> str:
        text = re.sub(r"/tmp/tmp\w+", "<tmp>", str(text))   # the case's own temp folder
        return text.replace("|", "\\|").replace("\n", " ")
    table = "\n".join(f"| {cell(n)} | `{cell(c)}` | {cell(o)} | {'yes' if ok else '**no**'} |" for n, c, o, ok in rows)
    text = f"""# Reliability: the bad-input corpus

Every case below is built and run by `.venv/bin/python bench/bad_input.py` (this file is its output): a bad
input, the command a user would run on it, what happened (exit status and the last line on stderr, or the
counts of the summary), and whether that is what ocdr promises: a clear one-line error, or a counted skip,
never a traceback, a substituted sample or a leftover file. The test suite covers each case too
(`tests/faults/`, `tests/data/`, `tests/serve/`).

| case | command | outcome | as promised |
|---|---|---|---|
{table}

Rules behind the table (README, "Bad input"):

- A bad record stops the command with one line naming the file (and line), or with `dataset.skip_bad=true` /
  `--skip-bad` is left out and counted by reason; it is never replaced by another record. Summaries state
  evaluated, skipped by reason and total.
- Images are checked from their header against a pixel limit (100 MP, `OCDR_MAX_PIXELS`) before decoding.
- Folder inference keeps going past a bad file and lists it; a single bad input exits 2.
- Training refuses a second run in its results folder, a resume that would continue another run, and says
  "no space left on device" when the disk is full; temp files of killed writes are removed at the next start.
- The service answers every error as `{{"error", "status"}}`, decodes off the event loop and times out slow
  clients (`tests/faults/test_service_faults.py`).
"""
    atomic_write_text(ROOT / "docs" / "reliability.md", text)


if __name__ == "__main__":
    sys.exit(main_bench())
