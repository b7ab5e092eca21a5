"""bf16-checked: the recognizer reads every crop in bf16, reads again in fp32 only those with a step whose top
class's probability is below ``recheck_below``, and keeps the fp32 reading for them; auto picks it where it can."""
import logging

import numpy as np
import pytest

from ocdr.models import runtime
from ocdr.models.recognition.decode import ctc_decode_steps
from ocdr.pipeline.recognizer import RECHECK_BELOW, RecognizerPredictor


@pytest.fixture(autouse=True)
def _fresh_sessions():
    runtime.clear_sessions()
    yield
    runtime.clear_sessions()


def _crops() -> list[np.ndarray]:
    # uniform grey crops, told apart by their value
    return [np.full((32, 60 + 10 * k, 3), 30 * k, np.uint8) for k in range(6)]


class _Fake:
    """A runner that reads the character ``char`` with probability ``prob[k]`` for crop k, recording which
    crops it was given."""

    def __init__(self, predictor, crops, char: int, probs: list[float]):
        self.key = {float(predictor.preprocess([c])[0].mean()): k for k, c in enumerate(crops)}
        self.char, self.probs, self.seen = char, probs, []

    def __call__(self, batch: np.ndarray):
        ks = [self.key[min(self.key, key=lambda m: abs(m - float(x.mean())))] for x in batch]
        self.seen += ks
        ids = np.array([[self.char, 0] for _ in ks])
        return ids, np.array([[self.probs[k], 0.99] for k in ks])


def test_only_the_unsure_crops_are_read_again_and_their_second_reading_is_kept(tiny_models):
    rec = RecognizerPredictor(str(tiny_models / "rec.onnx"), precision="fp32")
    crops = _crops()
    fast_probs = [0.95, 0.5, 0.99, 0.59, 0.6, 0.2]
    rec._fast = fast = _Fake(rec, crops, 1, fast_probs)
    rec._run = slow = _Fake(rec, crops, 2, [0.7] * 6)
    a = ctc_decode_steps(np.array([[1]]), np.array([[1.0]]), rec.charset)[0][0]
    b = ctc_decode_steps(np.array([[2]]), np.array([[1.0]]), rec.charset)[0][0]
    assert a != b
    got = rec(crops)
    assert sorted(fast.seen) == list(range(6))
    assert sorted(slow.seen) == [1, 3, 5]  # a step below 0.6; 0.6 itself is sure enough
    assert got == [(a, 0.95), (b, 0.7), (a, 0.99), (b, 0.7), (a, 0.6), (b, 0.7)]
    assert rec([]) == []
    assert rec.unsure(crops).tolist() == [False, True, False, True, False, True]


def test_auto_is_bf16_checked_where_the_cpu_has_bf16_and_its_bounds_are_the_two_precisions(tiny_models):
    path = str(tiny_models / "rec.onnx")
    crops = _crops() + [np.random.default_rng(k).integers(0, 255, (32, 90, 3), dtype=np.uint8) for k in range(6)]
    fp32 = RecognizerPredictor(path, precision="fp32")
    bf16 = RecognizerPredictor(path, precision="bf16")
    auto = RecognizerPredictor(path)
    assert fp32.precision == "fp32" and auto.recheck_below == RECHECK_BELOW
    assert auto.precision == ("bf16-checked" if runtime.bf16_available() else "fp32")
    # every crop read again: fp32's readings exactly; none: bf16's
    every = RecognizerPredictor(path, precision="bf16-checked", recheck_below=1.01)
    none = RecognizerPredictor(path, precision="bf16-checked", recheck_below=0.0)
    assert every(crops) == fp32(crops)
    assert none(crops) == bf16(crops)


def test_auto_keeps_fp32_where_bf16_is_missing_and_bf16_checked_says_so(tiny_models, monkeypatch, caplog):
    import ocdr.pipeline.recognizer as recognizer

    monkeypatch.setattr(recognizer, "bf16_available", lambda: False)
    path = str(tiny_models / "rec.onnx")
    assert RecognizerPredictor(path).precision == "fp32"
    assert "bf16-checked" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="ocdr.pipeline.recognizer"):
        checked = RecognizerPredictor(path, precision="bf16-checked")
    assert checked.precision == "fp32" and checked._fast is None and not checked.unsure(_crops()).any()
    assert "precision=bf16-checked: the recognizer runs on openvino without bf16; it reads in fp32" in caplog.text
    on_ort = RecognizerPredictor(path, backend="onnxruntime")
    assert on_ort.precision == "fp32" and on_ort._fast is None


class _ByContent:
    """A runner that tells crops apart by their first column (padding never reaches it), recording each crop
    it was given with the width of its batch."""

    def __init__(self, predictor, crops, unsure: set[int]):
        self.key = {float(predictor.preprocess([c])[0][..., 0].mean()): k for k, c in enumerate(crops)}
        self.unsure, self.seen = unsure, []

    def __call__(self, batch: np.ndarray):
        ks = [self.key[min(self.key, key=lambda m: abs(m - float(x[..., 0].mean())))] for x in batch]
        self.seen += [(k, batch.shape[-1]) for k in ks]
        probs = [0.3 if k in self.unsure else 0.9 for k in ks]
        return np.array([[1, 0] for _ in ks]), np.array([[p, 0.99] for p in probs])


def test_a_crop_read_again_is_padded_as_a_full_fp32_read_pads_it(tiny_models):
    # padding changes what a model reads: a crop read again alone, or beside other unsure crops only, would
    # get a narrower batch than in fp32's own read and could read differently from it
    rec = RecognizerPredictor(str(tiny_models / "rec.onnx"), precision="fp32", batch_size=3,
                              settings={"dynamic_width": True, "max_width_spread": 0})
    crops = [np.full((32, 40 + 40 * k, 3), 30 * k, np.uint8) for k in range(6)]
    plan = rec.plan(crops)
    width_of = {int(k): width for idx, width in plan for k in idx}
    assert [sorted(idx.tolist()) for idx, _ in plan] == [[0, 1, 2], [3, 4, 5]] and len(set(width_of.values())) == 2
    assert rec.batch_width([crops[0], crops[1]]) < width_of[0]  # alone they would be padded less
    rec._fast = _ByContent(rec, crops, unsure={0, 1, 5})
    rec._run = slow = _ByContent(rec, crops, unsure=set())
    rec(crops)
    assert sorted(slow.seen) == [(0, width_of[0]), (1, width_of[1]), (5, width_of[5])]
