"""ocdr.OCR end to end on tiny models (PyTorch and ONNX Runtime give the same words), and reading order."""
import io
import json

import numpy as np
import pytest
from PIL import Image

import ocdr
from ocdr.errors import DataError
from ocdr.models.detection.postprocess import PostProcessConfig
from ocdr.pipeline.ocr import Word, group_lines, to_image


@pytest.fixture(scope="module")
def models(tiny_models):
    return tiny_models


def _page():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)


LOOSE = PostProcessConfig(thresh=0.0, box_thresh=0.0, min_size=1)  # an untrained map still yields boxes


def test_end_to_end_both_backends_agree(models):
    torch_ocr = ocdr.OCR(models / "det.pth", models / "rec.pth", postprocess=LOOSE, long_side=128)
    onnx_ocr = ocdr.OCR(models / "det.onnx", models / "rec.onnx", postprocess=LOOSE, long_side=128)
    pages = [torch_ocr([_page(), _page()[:64]]), onnx_ocr([_page(), _page()[:64]])]
    assert sum(len(p.words) for p in pages[0]) > 0  # the comparison below is not vacuous
    for a, b in zip(*pages):
        assert [w.text for w in a.words] == [w.text for w in b.words]
        for wa, wb in zip(a.words, b.words):
            np.testing.assert_allclose(wa.polygon, wb.polygon, atol=1.0)
            assert abs(wa.confidence - wb.confidence) < 1e-3
    page = pages[0][0]
    assert (page.width, page.height) == (128, 96)
    data = json.loads(json.dumps(page.to_dict()))
    assert set(data) == {"width", "height", "words", "lines", "text"}
    assert sum(len(ln["words"]) for ln in data["lines"]) == len(data["words"])


def test_accepts_paths_bytes_pil_and_arrays(models, tmp_path):
    ocr = ocdr.OCR(models / "det.pth", models / "rec.pth", postprocess=LOOSE, long_side=128)
    img = _page()
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    (tmp_path / "p.png").write_bytes(buf.getvalue())
    texts = {kind: ocr(x).text for kind, x in
             (("array", img), ("bytes", buf.getvalue()), ("pil", Image.fromarray(img)), ("path", tmp_path / "p.png"))}
    assert len(set(texts.values())) == 1
    assert isinstance(ocr(img), ocdr.pipeline.ocr.Page) and isinstance(ocr([img]), list)


def test_bad_inputs_are_clear():
    with pytest.raises(DataError, match="cannot read an image from a int"):
        to_image(3)
    with pytest.raises(DataError, match="not a readable image"):
        to_image(b"not an image")
    with pytest.raises(DataError, match="H x W"):
        to_image(np.zeros((4, 4, 5), np.uint8))


def test_paths_and_bytes_over_the_pixel_limit_are_refused(models, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_page()).save(buf, format="PNG")  # 128 x 96 = 12288 pixels
    with pytest.raises(DataError, match="<bytes>: image of 128x96 = 12,288 pixels exceeds the limit of 12,287 "):
        to_image(buf.getvalue(), max_pixels=12287)
    (tmp_path / "p.png").write_bytes(buf.getvalue())
    ocr = ocdr.OCR(models / "det.onnx", models / "rec.onnx", postprocess=LOOSE, long_side=128, max_pixels=12287)
    with pytest.raises(DataError, match=r"p.png: image of 128x96"):
        ocr(tmp_path / "p.png")
    assert isinstance(ocr(_page()), ocdr.pipeline.ocr.Page)  # an array is already decoded: no limit to apply


def _w(x0, y0, x1, y1, text):
    return Word(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float), text, 1.0)


def test_reading_order():
    """Two lines; the second line's words arrive first and out of order; a slightly raised word
    (overlapping its line by more than half its height) stays on its line."""
    words = [_w(60, 52, 100, 70, "line2b"), _w(0, 50, 50, 70, "line2a"), _w(60, 2, 100, 22, "line1b"),
             _w(0, 0, 50, 20, "line1a")]
    lines = group_lines(words)
    assert [ln.text for ln in lines] == ["line1a line1b", "line2a line2b"]


def test_pipeline_inference_command_writes_json_and_pictures(models, tmp_path):
    from ocdr.cli.main import main

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_page()).save(folder / "a.png")
    Image.fromarray(_page()[:64]).save(folder / "b.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    rc = main(["pipeline", "inference", f"detector={models / 'det.onnx'}", f"recognizer={models / 'rec.pth'}",
               f"input={folder}", f"results_dir={out}", "long_side=128", "postprocess.thresh=0.0",
               "postprocess.box_thresh=0.0", "postprocess.min_size=1", "batch_size=2"])
    assert rc == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["images"] == 2 and summary["failed"] == 1
    assert "broken.png" in summary["errors"][0]["image"]
    page = json.loads((out / "a.json").read_text())
    # same answer as the API on the same image
    api = ocdr.OCR(models / "det.onnx", models / "rec.pth", postprocess=LOOSE, long_side=128)(_page())
    assert [w["text"] for w in page["words"]] == [w.text for w in api.words]
    assert summary["words"] == len(page["words"]) + len(json.loads((out / "b.json").read_text())["words"])
    drawn = np.asarray(Image.open(out / "a_ocr.jpg"))
    assert drawn.shape == (96, 256, 3)  # the image and the text panel side by side
    assert (out / "pipeline_inference_spec.yaml").is_file()


def test_pipeline_inference_names_a_missing_model(tmp_path, capsys):
    from ocdr.cli.main import main

    rc = main(["pipeline", "inference", f"detector={tmp_path / 'nope.pth'}", f"input={tmp_path}"])
    assert rc == 2
    assert "nope.pth" in capsys.readouterr().err


def test_onnxruntime_backend_needs_an_onnx_file(models):
    from ocdr.errors import ConfigError

    with pytest.raises(ConfigError, match="export"):
        ocdr.OCR(models / "det.pth", models / "rec.pth", backend="onnxruntime")


def test_draw_ocr_puts_text_on_the_right_panel():
    from ocdr.eval.drawing import draw_ocr

    img = np.full((60, 120, 3), 255, np.uint8)
    quad = np.array([[10, 10], [100, 10], [100, 40], [10, 40]], np.float32)
    out = draw_ocr(img, [quad], ["Hello"])
    assert out.shape == (60, 240, 3)
    left, right = out[:, :120], out[:, 120:]
    assert (left[10, 10:100, 0] > 200).all() and (left[10, 10:100, 1] < 100).mean() > 0.5  # red outline
    ink = (right[12:40, 12:100] < 128).any(axis=2)
    assert ink.sum() > 20  # the text was written inside the box's place
    assert not (right[45:, :] < 128).any()  # and nowhere else


def test_a_lexicon_turns_uncertain_readings_into_its_words(models, tmp_path):
    from ocdr.errors import ConfigError
    from ocdr.pipeline.recognizer import RecognizerPredictor

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (32, w, 3), np.uint8) for w in (40, 80, 120, 160)]
    rec = str(models / "rec.pth")
    reads = RecognizerPredictor(rec, device="cpu")(crops)
    assert all(len(t) == 1 for t, _ in reads)  # the untrained model reads one character: the cases below mean something
    # no list word within max_edits of a reading: it stays as it is, confidence included
    assert RecognizerPredictor(rec, device="cpu", lexicon=["abcdefghij"], lexicon_bonus=1e6)(crops) == reads
    # with a strong prior and a wide radius every reading becomes a list word (none of them is one)
    words = ["bb", "cij", "jj"]
    forced = RecognizerPredictor(rec, device="cpu", lexicon=words, lexicon_max_edits=5, lexicon_bonus=1e6)(crops)
    assert all(t in words for t, _ in forced)
    # the pipeline takes a word-list file
    (tmp_path / "words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    ocr = ocdr.OCR(models / "det.pth", rec, lexicon=tmp_path / "words.txt", lexicon_max_edits=5, lexicon_bonus=1e6)
    assert ocr.recognizer.lexicon.words == words
    assert all(t in words for t, _ in ocr.recognizer(crops))
    # an ocdr export gives only the best class per step: refused when the predictor is made
    with pytest.raises(ConfigError, match="lexicon decoding needs the class probabilities of every step"):
        RecognizerPredictor(str(models / "rec.onnx"), lexicon=words)
