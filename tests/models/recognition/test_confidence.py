"""Recognition confidence: the mean probability of the emitted characters (``read_confidence``), the same for
every decoder and every consumer.

Charset ["a", "b"]: class 0 = blank, 1 = "a", 2 = "b".
"""
import numpy as np
import pytest

from ocdr.data.charset import Charset
from ocdr.models.recognition.decode import ctc_decode_steps, ctc_greedy_decode, read_confidence
from ocdr.models.recognition.heads import AttentionHead

CS = Charset(["a", "b"])


def test_hand_computed_confidence_ignores_blanks_and_padding():
    """Path  a a - b -  with maxima 0.9 0.5 0.99 0.7 0.99 reads "ab"; the characters were emitted at steps 0
    (0.9) and 3 (0.7): confidence (0.9 + 0.7) / 2 = 0.8. Padding the input with 100 sure blank columns changes
    nothing (the old product over all steps fell from 0.9*0.5*0.99*0.7*0.99 = 0.309 towards 0.309 * 0.99^100)."""
    rows = {0: [0.99, 0.005, 0.005], 1: [0.05, 0.9, 0.05], 2: [0.15, 0.15, 0.7]}
    probs = np.array([rows[1], [0.3, 0.5, 0.2], rows[0], rows[2], rows[0]])
    [(text, conf, char_probs)] = ctc_greedy_decode(probs, CS)
    assert (text, char_probs) == ("ab", pytest.approx([0.9, 0.7])) and conf == pytest.approx(0.8)
    padded = np.concatenate([probs, np.tile(rows[0], (100, 1))])
    assert ctc_greedy_decode(padded, CS)[0][1] == pytest.approx(0.8)


def test_every_decoder_scores_through_read_confidence():
    """The exported form (per-step argmax and its probability, what ONNX Runtime, Triton and the pipeline see)
    gives the same text and confidence as decoding the full probability matrix."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(3, 0.3), size=(4, 12))
    full = [(t, c) for t, c, _ in ctc_greedy_decode(probs, CS)]
    assert ctc_decode_steps(probs.argmax(-1), probs.max(-1), CS) == full
    assert read_confidence([]) == 0.0 and read_confidence([0.5, 1.0]) == pytest.approx(0.75)


def test_a_peaked_read_scores_high_and_a_flat_one_low():
    """A clean 10-character word over 80 steps (0.97 on the path class) versus noise (near-uniform over 37
    classes): the clean read is sure whatever its length, the noise read is not."""
    cs = Charset(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    rng = np.random.default_rng(1)
    path = np.zeros(80, int)
    path[4:74:7] = rng.integers(1, cs.num_classes_ctc, 10)  # one character every 7 steps, blanks between
    clean = np.full((80, cs.num_classes_ctc), 0.03 / (cs.num_classes_ctc - 1))
    clean[np.arange(80), path] = 0.97
    noise = rng.dirichlet(np.full(cs.num_classes_ctc, 5.0), size=80)
    (text, sure, _), (garbage, unsure, _) = ctc_greedy_decode(np.stack([clean, noise]), cs)
    assert len(text) == 10 and sure > 0.95
    assert len(garbage) > 10 and unsure < 0.2


def test_attention_confidence_is_the_mean_over_its_characters():
    """Attention classes: 0 = GO, 1 = EOS, 2 = "a", 3 = "b". Steps  a(0.8) b(0.6) EOS(0.9) a(0.2): reads "ab",
    confidence (0.8 + 0.6) / 2 = 0.7; the EOS and the steps after it do not count."""
    def step(cls, p):
        row = np.full(4, (1 - p) / 3)
        row[cls] = p
        return row
    probs = np.array([[step(2, 0.8), step(3, 0.6), step(1, 0.9), step(2, 0.4)]])
    [(text, conf)] = AttentionHead.decode(probs, CS)
    assert text == "ab" and conf == pytest.approx(0.7)
    [(empty, none)] = AttentionHead.decode(probs[:, 2:], CS)
    assert (empty, none) == ("", 0.0)


def test_ppocr_reads_a_rendered_word_surely_and_noise_not_at_all():
    """The PP-OCRv4 recognizer (ONNX Runtime, the pipeline's predictor) on a word drawn in DejaVu Sans scores
    above 0.9; on random noise it reads nothing (confidence 0). Measured: 0.98 for "ocdr 2041"."""
    pytest.importorskip("rapidocr_onnxruntime", reason="rapidocr-onnxruntime not installed (make test installs it)")
    from PIL import Image, ImageDraw, ImageFont

    from ocdr.pipeline.recognizer import RecognizerPredictor

    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 36)
    except OSError:
        pytest.skip("DejaVu Sans not installed (scripts/install_fonts.sh)")
    img = Image.new("RGB", (260, 56), "white")
    ImageDraw.Draw(img).text((16, 6), "ocdr 2041", font=font, fill=(20, 20, 20))
    noise = np.random.default_rng(0).integers(0, 256, (48, 300, 3), dtype=np.uint8)
    (word, sure), (nothing, unsure) = RecognizerPredictor("ppocr-v4-rec")([np.asarray(img), noise])
    assert word.strip() == "ocdr 2041" and sure > 0.9
    assert unsure < 0.5 and (nothing, unsure) == ("", 0.0)
