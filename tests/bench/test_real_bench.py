"""bench/real.py on two tiny folders (a page set and a crop set), so the benchmark cannot rot."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rapidocr_onnxruntime", reason="the default ocdr engine needs rapidocr-onnxruntime (make test)")
BENCH = Path(__file__).resolve().parents[2] / "bench" / "real.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_real", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _word(text: str, w: int = 420, h: int = 90) -> np.ndarray:
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, text, (15, h - 25), cv2.FONT_HERSHEY_SIMPLEX, 1.8, (10, 10, 10), 4)
    return img


def _data(root: Path) -> None:
    pages = root / "icdar2015" / "train"
    (pages / "images").mkdir(parents=True)
    (pages / "gt").mkdir()
    page = np.full((300, 600, 3), 255, np.uint8)
    (tw, th), base = cv2.getTextSize("HELLO", cv2.FONT_HERSHEY_SIMPLEX, 1.8, 4)
    x0, y0 = 55, 115  # text origin (bottom-left) on the page
    cv2.putText(page, "HELLO", (x0, y0), cv2.FONT_HERSHEY_SIMPLEX, 1.8, (10, 10, 10), 4)
    x1, y1, x2, y2 = x0 - 4, y0 - th - 4, x0 + tw + 4, y0 + base
    cv2.imwrite(str(pages / "images" / "img_1.jpg"), page)
    # the word's box, and a don't-care region; a second image is item 1 of the split, so it is not evaluated
    (pages / "gt" / "img_1.txt").write_text(f"{x1},{y1},{x2},{y1},{x2},{y2},{x1},{y2},HELLO\n"
                                            "400,200,500,200,500,250,400,250,###\n")
    cv2.imwrite(str(pages / "images" / "img_2.jpg"), page)
    (pages / "gt" / "img_2.txt").write_text("40,60,260,60,260,130,40,130,HELLO\n")
    crops = root / "names" / "train"
    (crops / "c").mkdir(parents=True)
    lines = []
    for i, word in enumerate(["WORLD"] + ["SKIPPED"] * 9 + ["PAGE"]):
        cv2.imwrite(str(crops / "c" / f"{i:02d}.png"), _word(word))
        lines.append(f"c/{i:02d}.png\t{word}")
    (crops / "gt.txt").write_text("\n".join(lines) + "\n")


def test_real_bench_on_tiny_folders(tmp_path):
    real = _load()
    _data(tmp_path / "data")
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nearlier text\n")
    args = ["--data-root", str(tmp_path / "data"), "--engines", "ocdr", "--out", str(tmp_path / "real.json"),
            "--docs", str(docs)]
    assert real.main(args) == 0
    result = json.loads((tmp_path / "real.json").read_text())
    assert sorted(result["missing_sets"]) == ["funsd", "gw_pages", "gw_words", "hme"]
    (record,) = result["records"]
    assert record["engine"] == "ocdr (defaults)" and record["detector_backend"] == "openvino"
    assert 0 < record["startup_s"] < 30 and record["peak_rss_mb"] > 0
    icdar, names = record["sets"]
    assert (icdar["set"], icdar["images"], icdar["crops"]) == ("icdar2015", 1, 1)  # every 10th: img_1 only
    assert icdar["det_hmean"] == 1.0 and icdar["rec_accuracy"] == 1.0 and icdar["e2e_hmean"] == 1.0
    assert (names["set"], names["crops"]) == ("names", 2)  # lines 0 and 10 of gt.txt
    assert names["rec_accuracy"] == 1.0 and names["crops_per_s"] > 0
    assert len(names["crops_per_s_rounds"]) == 3 and names["crops_read_differently"] == 0
    text = docs.read_text()
    assert "earlier text" in text and "**icdar2015** (1 images, 1 crops)" in text
    assert real.main(args) == 0  # a second run replaces its block, never appends another
    assert docs.read_text().count(real.BEGIN) == 1


def test_crops_are_timed_in_rounds_read_once_for_accuracy_and_changes_counted():
    real = _load()

    class Flaky:  # reads "b" for the second crop in its third call (the warm-up is the first)
        calls = 0

        def read(self, crops):
            self.calls += 1
            return ["a", "b" if self.calls != 3 else "x"][:len(crops)] + ["c"] * (len(crops) - 2)

    engine = Flaky()
    preds, rates, changed = real.read_rounds(engine, [0, 1, 2], rounds=3)
    assert preds == ["a", "b", "c"] and changed == 1  # the accuracy is the first round's
    assert len(rates) == 3 and all(r > 0 for r in rates) and engine.calls == 4
    assert len(real.read_rounds(Flaky(), [0, 1], rounds=0)[1]) == 1  # at least one timed round


def test_natural_order_split():
    real = _load()
    names = [f"img_{i}.jpg" for i in range(1, 25)]
    assert real.every_10th(names) == ["img_1.jpg", "img_11.jpg", "img_21.jpg"]


def test_named_ocdr_models_run_after_the_defaults_or_alone():
    real = _load()
    tuned = ("ocdr", "tuned", "d.onnx", "r.pth", ["names", "gw_words"])
    assert real.engine_list(["rapidocr", "ocdr"], ["tuned=d.onnx,r.pth@names+gw_words"]) == [
        ("rapidocr", "RapidOCR 1.4.4 (PP-OCRv4)", "auto", "auto"), ("ocdr", "ocdr (defaults)", "auto", "auto"), tuned]
    # without the defaults the named models still run (they were silently dropped before)
    assert real.engine_list(["rapidocr"], ["tuned=d.onnx,r.pth@names+gw_words"])[-1] == tuned
    with pytest.raises(SystemExit, match="expected NAME=DET,REC"):
        real.engine_list([], ["tuned=d.onnx"])
    with pytest.raises(SystemExit, match="sets: icdar2015"):
        real.engine_list([], ["tuned=d.onnx,r.pth@nosuchset"])


def test_the_bf16_variant_is_the_defaults_in_bfloat16(tiny_models):
    real = _load()
    assert real.engine_list(["ocdr-bf16"], []) == [("ocdr-bf16", "ocdr (defaults, precision=bf16)", "auto", "auto")]
    engine = real.make_engine("ocdr-bf16", str(tiny_models / "det.onnx"), str(tiny_models / "rec.onnx"))
    described = engine.describe()
    assert described["detector_backend"] == described["recognizer_backend"] == "openvino"
    from ocdr.models import runtime

    assert described["recognizer_precision"] == ("bf16" if runtime._cpu_has_bf16() else "fp32")
    defaults = real.make_engine("ocdr", str(tiny_models / "det.onnx"), str(tiny_models / "rec.onnx")).describe()
    assert defaults["recognizer_precision"] == ("bf16-checked" if runtime.bf16_available() else "fp32")
    assert defaults["detector_precision"] == "fp32"


def test_lexicons_are_given_by_engine_name():
    real = _load()
    assert real.lexicon_map(["tuned=data/names/lexicon.txt"]) == {"tuned": "data/names/lexicon.txt"}
    with pytest.raises(SystemExit, match="expected NAME=FILE"):
        real.lexicon_map(["data/names/lexicon.txt"])
